package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/internal/safefile"
)

var (
	// errFailureLimit is the cause of a run stopped by --max-failures.
	errFailureLimit = errors.New("too many failed or invalid items (--max-failures)")
	// errWriteResults is the cause of a run stopped because its results could not be written.
	errWriteResults = errors.New("writing results")
)

// runImport is segloop import.
func runImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseImportFlags(args, os.Getenv, stdout, stderr)
	if err != nil {
		return err
	}
	// cancel stops the run for a fault of its own (a write error, --max-failures);
	// ctx also ends on an interrupt.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	r := &importRun{f: f, log: newLogger(stderr, f.logFormat), stderr: stderr}
	defer r.close()
	if err := r.open(ctx, cancel, stdin, stdout); err != nil {
		return err
	}
	return r.send(ctx)
}

// importRun is one segloop import: the parts open prepares, in its order,
// and send uses. close releases whatever was opened.
type importRun struct {
	f      *importFlags
	log    *slog.Logger
	stderr io.Writer
	files  safefile.Set // the run's files, by identity: no output may be another

	in     *inputReader
	spec   *runSpec
	ck     *runCheckpoint // nil without --checkpoint
	runKey string
	dest   *destination
	diff   runLedger // --diff (diff.go); the zero value is none
	lim    *budget
	out    *outputs
}

// open prepares the run: the input, the mapping, a check of every output,
// the checkpoint and run key, the destination, the rate budget, and last the
// outputs, which are truncated only once everything else is ready.
func (r *importRun) open(ctx context.Context, cancel context.CancelCauseFunc, stdin io.Reader, stdout io.Writer) error {
	var err error
	if r.in, err = openReader(ctx, r.f, stdin, &r.files); err != nil {
		return err
	}
	if r.spec, err = loadSpec(r.f, &r.files); err != nil {
		return err
	}
	if err = checkOutputs(r.f, stdout, &r.files); err != nil {
		return err
	}
	if r.diff, err = openDiff(ctx, r.f); err != nil {
		return err
	}
	if r.ck, r.runKey, err = resume(r.f, r.spec, &r.files); err != nil {
		return err
	}
	if r.dest, err = openDestination(r.f); err != nil {
		return err
	}
	if r.lim, err = openBudget(ctx, r.f, r.dest.endpoint, r.dest.writeKey, r.log); err != nil {
		return err
	}
	r.out, err = openOutputs(ctx, r.f, stdout, r.in, r.ck, &r.files, cancel)
	return err
}

// close releases what open opened, the last first.
func (r *importRun) close() {
	r.lim.Close()
	if r.dest != nil {
		r.dest.Close()
	}
	r.ck.Close()
	r.diff.close()
	if r.in != nil {
		r.in.Close()
	}
}

// send runs the import and reports it: the summary on stderr, and the error
// that gives the exit code.
func (r *importRun) send(ctx context.Context) error {
	defer onQuit(ctx, func() { r.out.quit(r.stderr) })()
	prog := startProgress(r.stderr, r.f.quiet, r.in.size, &r.in.read, &r.out.counts, r.lim)
	defer prog.Stop()
	start := time.Now()
	sum, err := segloop.Run(ctx, r.config())
	err = explainRefusal(err)
	prog.Stop()
	r.out.close() // every output on disk before the run is judged: a result not written is not done

	rep := report{Summary: sum, Elapsed: time.Since(start), Sandbox: r.dest.sandbox, DryRun: r.f.dryRun,
		Endpoint: r.dest.endpoint, LastLine: r.out.lastLine, Budget: r.lim, AtEnd: r.in.atEnd.Load()}
	if stopped := r.out.stopped(); stopped != nil {
		err, rep.OutputFailed = stopped, errors.Is(stopped, errWriteResults)
	}
	if !r.f.quiet || err != nil {
		rep.print(r.stderr, r.log, r.f.logFormat, err)
	}
	return importOutcome(sum, err)
}

// config is the run's segloop.Config.
func (r *importRun) config() segloop.Config {
	f := r.f
	cfg := segloop.Config{
		Source:         r.in,
		Mapping:        r.spec.mapping,
		Trigger:        r.spec.trigger,
		RunKey:         r.runKey,
		BatchSize:      f.batch,
		Concurrency:    int(f.concurrency),
		MaxConcurrency: f.maxConc,
		MaxAttempts:    f.maxAttempts,
		Limiter:        r.lim,
		DrainTimeout:   f.timeout + time.Second,
		DryRun:         f.dryRun,
		KeepSource:     r.out.failed != nil,
		OnResult:       r.out.record,
	}
	if r.dest.client != nil { // (a nil *Client in the interface would not be nil)
		cfg.Client = r.dest.client
	}
	if r.ck != nil {
		cfg.Done = r.ck.Done
	}
	cfg.Ledger = r.diff.ledger()
	return cfg
}

// importOutcome maps a finished run to the error run returns (and so the
// exit code).
func importOutcome(sum segloop.Summary, err error) error {
	switch {
	case err == nil && sum.Failed+sum.Invalid == 0:
		return nil
	case err == nil:
		return withCode(exitIncomplete, errReported)
	case errors.Is(err, errInterrupted):
		return withCode(exitInterrupted, errReported)
	default:
		return withCode(exitAborted, errReported)
	}
}

// newLogger returns the logger of the command's diagnostics on stderr.
func newLogger(stderr io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
}
