package serve

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/segloop/segloop/runstore"
)

// partArgs is a River job: work one part of a run at one epoch. Jobs are
// unique by their arguments, so handing a part out twice inserts one job;
// a takeover (a new epoch) is a new job, while the old one may still be
// "running" in River's table for a worker that died.
type partArgs struct {
	Run   int64 `json:"run" river:"unique"`
	Part  int   `json:"part" river:"unique"`
	Epoch int64 `json:"epoch" river:"unique"`
}

func (partArgs) Kind() string { return "segloop_part" }

func (partArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{UniqueOpts: river.UniqueOpts{ByArgs: true}, MaxAttempts: 100}
}

// handBack is the least pause of a part handed back after a slice, and
// pollEvery how often each replica looks for parts (River also hears of
// new jobs at once, through LISTEN/NOTIFY).
const (
	handBack  = 100 * time.Millisecond
	pollEvery = 200 * time.Millisecond
)

// partWorker works a part for one slice per job attempt, then snoozes the
// job (at once, when the part has more to do): every attempt is short, a
// replica that dies loses at most a slice of work in flight, and any
// replica may take the next slice.
type partWorker struct {
	river.WorkerDefaults[partArgs]
	x *executor
}

func (w *partWorker) Work(ctx context.Context, job *river.Job[partArgs]) error {
	ref := runstore.PartRef{Run: job.Args.Run, Part: job.Args.Part, Epoch: job.Args.Epoch}
	out, err := w.x.work(ctx, ref)
	if err != nil {
		w.x.log.Warn("working a part", "part", ref.String(), "err", err)
	}
	switch out {
	case partDone:
		return nil
	case partAgain:
		// Not at once: the replica that just released the part would take
		// it again before any other polled. A short pause lets every
		// replica's next poll compete for it, so the parts of a run spread
		// over the replicas slice after slice.
		return river.JobSnooze(handBack + time.Duration(rand.Int64N(int64(handBack))))
	}
	// Held by another worker, or the store failed: not River's retry
	// schedule (its backoff grows to hours), a short pause.
	return river.JobSnooze(min(w.x.cfg.Timings.Lease/2, 5*time.Second))
}

// Timeout bounds one attempt: a slice, its drain, and room to store.
func (w *partWorker) Timeout(*river.Job[partArgs]) time.Duration {
	t := w.x.cfg.Timings
	return t.Slice + t.Lease + 30*time.Second
}

// riverQueue hands parts out as River jobs in the PostgreSQL store, worked
// by every replica's River client.
type riverQueue struct {
	client *river.Client[pgx.Tx]
	x      *executor
	log    *slog.Logger
}

// newRiverQueue migrates River's tables (under the store's advisory lock,
// so replicas starting at once take turns) and makes the client, which
// works at most slots parts at once.
func newRiverQueue(ctx context.Context, st *runstore.Store, x *executor, slots int, log *slog.Logger) (*riverQueue, error) {
	err := st.Migrate(ctx, func() error {
		m, err := rivermigrate.New(riverpgxv5.New(st.Pool()), &rivermigrate.Config{Logger: quiet(log), Schema: runstore.PostgresSchema})
		if err != nil {
			return err
		}
		_, err = m.Migrate(ctx, rivermigrate.DirectionUp, nil)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("migrating River's tables: %w", err)
	}
	workers := river.NewWorkers()
	river.AddWorker(workers, &partWorker{x: x})
	t := x.cfg.Timings
	jobTimeout := t.Slice + t.Lease + 30*time.Second
	client, err := river.NewClient(riverpgxv5.New(st.Pool()), &river.Config{
		ID:                   fmt.Sprintf("%s-%04x", x.cfg.Replica, rand.IntN(1<<16)), // unique even if two replicas share a name
		Queues:               map[string]river.QueueConfig{river.QueueDefault: {MaxWorkers: slots}},
		Workers:              workers,
		JobTimeout:           jobTimeout,
		RescueStuckJobsAfter: jobTimeout + t.Lease,
		FetchCooldown:        20 * time.Millisecond,
		FetchPollInterval:    pollEvery,
		Logger:               quiet(log),
		Schema:               runstore.PostgresSchema,
	})
	if err != nil {
		return nil, err
	}
	return &riverQueue{client: client, x: x, log: log}, nil
}

func (q *riverQueue) enqueue(ctx context.Context, parts []runstore.PartRef) error {
	if len(parts) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(parts))
	for i, p := range parts {
		params[i] = river.InsertManyParams{Args: partArgs{Run: p.Run, Part: p.Part, Epoch: p.Epoch}}
	}
	_, err := q.client.InsertMany(ctx, params)
	return err
}

func (q *riverQueue) run(ctx context.Context) error {
	if err := q.client.Start(context.WithoutCancel(ctx)); err != nil {
		return fmt.Errorf("starting River: %w", err)
	}
	reconcile(ctx, q.x.store, q.x.cfg.Timings.Reconcile, q, q.log)
	stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	// Cancel the jobs under way: each slice stops, stores its results,
	// releases its part and snoozes its job for another replica.
	if err := q.client.StopAndCancel(stopCtx); err != nil {
		return fmt.Errorf("stopping River: %w", err)
	}
	return nil
}

// quiet is log for River's own messages: warnings and errors only.
func quiet(log *slog.Logger) *slog.Logger {
	return slog.New(minLevel{log.Handler(), slog.LevelWarn})
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}

func (h minLevel) WithGroup(name string) slog.Handler {
	return minLevel{h.Handler.WithGroup(name), h.min}
}
