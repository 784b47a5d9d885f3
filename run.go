package segloop

import (
	"context"
	"errors"
	"fmt"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
)

// Run reads every item of cfg.Source, maps, validates and sends it, and calls
// cfg.OnResult once per item read. It returns when every item read has its
// result. The error is nil when the run completed (some items may still be
// invalid or failed: see the Summary); otherwise it is the cause that stopped
// the run: ctx's cause, a fatal answer from Segment (errors.Is(err,
// segment.ErrUnauthorized)), an endpoint that refused every request for a
// reason of its own (errors.As(err, new(*loop.RefusedError)): a wrong URL,
// an untrusted certificate), or an unreadable source.
func Run(ctx context.Context, cfg Config) (Summary, error) {
	if err := cfg.check(); err != nil {
		return Summary{}, err
	}
	m := cfg.Mapping
	if m == nil {
		m = mapping.Default()
	}
	batch := cfg.BatchSize
	if batch <= 0 {
		batch = DefaultBatchSize
	}
	batch = min(batch, segment.MaxBatchEvents)

	items := &items{cfg: &cfg, mapping: m}
	var src loop.Source[payload] = items
	var diff *diffItems
	var commits *committer
	if cfg.Ledger != nil {
		diff = newDiffItems(items, cfg.Ledger, cfg.RunKey, batch)
		src = diff
		var stop context.CancelCauseFunc
		ctx, stop = context.WithCancelCause(ctx)
		defer stop(nil)
		if !cfg.DryRun {
			commits = newCommitter(ctx, cfg.Ledger, stop)
		}
	}
	var act loop.Action[payload] = newSender(cfg.Client, batch == 1)
	if cfg.DryRun {
		act = dryRun{}
	}
	opts := loop.Options[payload]{
		Concurrency:     cfg.Concurrency,
		MaxConcurrency:  cfg.MaxConcurrency,
		BatchSize:       batch,
		BatchBytes:      segment.MaxBatchBytes - segment.BatchOverhead,
		MaxAttempts:     cfg.MaxAttempts,
		RateLimitBudget: cfg.RateLimitBudget,
		DrainTimeout:    cfg.DrainTimeout,
		Limiter:         cfg.Limiter,
		Classify:        classify,
		OnResult: func(r loop.Result[payload]) {
			if commits != nil {
				commits.add(r)
			}
			if diff != nil && r.Status == loop.StatusUnchanged {
				diff.reported()
			}
			if cfg.OnResult != nil {
				cfg.OnResult(cfg.result(r))
			}
		},
	}
	if cfg.DryRun {
		opts.Limiter = nil
		opts.Concurrency = 1 // nothing is sent: more in flight would only hold more batches
	}
	sum, err := loop.Run(ctx, src, act, opts)
	if diff != nil {
		cfg.settleLeftovers(ctx, diff.stop(), err, &sum)
	}
	if commits != nil {
		if cerr := commits.close(); cerr != nil && err == nil {
			err = cerr // the last commit (an earlier one stopped the run with its error)
		}
	}
	if cfg.DryRun {
		sum.Requests = 0 // the loop called the dry-run action; nothing went out
	}
	return Summary{Summary: sum}, err
}

func (cfg *Config) check() error {
	switch {
	case cfg.Source == nil:
		return fmt.Errorf("%w: no source", ErrConfig)
	case cfg.RunKey == "":
		return fmt.Errorf("%w: no run key", ErrConfig)
	case cfg.Client == nil && !cfg.DryRun:
		return fmt.Errorf("%w: no client", ErrConfig)
	}
	return nil
}

// settleLeftovers reports the items of a diff run that were read from the
// source but never taken by the loop, because it stopped reading (runErr
// says why): each gets its result, as the loop gives the items it read and
// did not send.
func (cfg *Config) settleLeftovers(ctx context.Context, left []loop.Item[payload], runErr error, sum *loop.Summary) {
	reason := runErr
	if reason == nil {
		reason = errors.New("reading stopped")
	}
	var ae *loop.AbortError
	if !errors.As(runErr, &ae) && ctx.Err() != nil {
		reason = fmt.Errorf("%w: %w", loop.ErrInterrupted, context.Cause(ctx))
	}
	for _, it := range left {
		r := loop.Result[payload]{Item: it}
		switch {
		case it.Err != nil:
			r.Status, r.Err = loop.StatusInvalid, it.Err
		case it.Settled != "":
			r.Status = it.Settled
		default:
			r.Status, r.Err = loop.StatusFailed, fmt.Errorf("%w: %w", loop.ErrNotSent, reason)
		}
		sum.Read++
		switch r.Status {
		case loop.StatusInvalid:
			sum.Invalid++
		case loop.StatusSkipped:
			sum.Skipped++
		case loop.StatusUnchanged:
			sum.Unchanged++
		default:
			sum.Failed++
		}
		if cfg.OnResult != nil {
			cfg.OnResult(cfg.result(r))
		}
	}
}

// result turns the loop's result for one item into the caller's.
func (cfg *Config) result(r loop.Result[payload]) Result {
	p := &r.Item.Value
	res := Result{
		Index:     r.Item.Index,
		Line:      r.Item.Line,
		UserID:    p.userID,
		MessageID: p.messageID,
		Status:    r.Status,
		Attempts:  r.Attempts,
		Code:      r.Code,
		Err:       r.Err,
		Duration:  r.Duration,
	}
	if cfg.DryRun || r.Attempts == 0 {
		res.Attempts, res.Duration = 0, 0 // nothing was sent
	}
	if cfg.KeepSource {
		res.Cells, res.Raw, res.Fields = p.cells, p.raw, p.fields
	}
	return res
}
