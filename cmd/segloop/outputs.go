package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/internal/safefile"
	"github.com/segloop/segloop/source"
)

// outputs are where a run's results go: the result lines, the failed-items
// file, the checkpoint, and the counts behind the progress line and
// --max-failures. record takes one result at a time (it is segloop.Run's
// OnResult); a write error, or the failure limit, stops the run (see stop).
// quit (the second interrupt) may come from another goroutine: mu keeps it
// and record apart.
type outputs struct {
	mu       sync.Mutex
	results  *resultWriter
	failed   *failedFile    // nil without --failed
	ck       *runCheckpoint // nil without --checkpoint
	mark     bool           // mark delivered items in ck: never in a dry run, which delivers nothing
	limit    failureLimit
	counts   statusCounts
	lastLine int  // the last source line with a result: reading stopped after it
	quitting bool // quit has flushed: nothing more is written
	cancel   context.CancelCauseFunc
	cause    atomic.Pointer[error] // what stopped the run from the outputs' side
}

// checkOutputs refuses, before anything is opened for writing, an output
// that is an input or another output by any name (see safefile). stdout
// counts as an output when the results go there.
func checkOutputs(f *importFlags, stdout io.Writer, files *safefile.Set) error {
	if toStdout(f.results) {
		if out, ok := stdout.(*os.File); ok {
			if st, err := out.Stat(); err == nil {
				if err := files.Output("the results (stdout)", "stdout", st); err != nil {
					return usageError("import: %v", err)
				}
			}
		}
	}
	for _, o := range []struct{ role, name string }{{"--results", f.results}, {"--failed", f.failed}, {"--checkpoint", f.checkpoint}, {"--diff", f.diff.file()}} {
		if o.name == "" || (o.role == "--results" && toStdout(o.name)) {
			continue
		}
		if err := files.Check(o.role, o.name); err != nil {
			return usageError("import: %v", err)
		}
	}
	return nil
}

func toStdout(results string) bool { return results == "" || results == "-" }

// openOutputs creates the --results and --failed files (stdout for results
// when none is named) and commits files: only then is any of them truncated.
// A fault of the outputs during the run stops it through cancel.
func openOutputs(ctx context.Context, f *importFlags, stdout io.Writer, src source.Reader, ck *runCheckpoint, files *safefile.Set, cancel context.CancelCauseFunc) (*outputs, error) {
	var results io.WriteCloser = nopCloser{stdout}
	if !toStdout(f.results) {
		rf, err := files.Create(ctx, "--results", f.results)
		if err != nil {
			return nil, outputError("--results", err)
		}
		results = rf
	}
	o := &outputs{results: newResultWriter(results), ck: ck, mark: ck != nil && !f.dryRun, limit: f.maxFailures, cancel: cancel}
	if f.failed != "" {
		fw, err := files.Create(ctx, "--failed", f.failed)
		if err != nil {
			o.results.Close()
			return nil, outputError("--failed", err)
		}
		o.failed = &failedFile{FailedWriter: segloop.NewFailedWriter(fw, f.failedFormat(), f.delimiter, headerOf(src)), file: fw}
	}
	if err := files.Commit(); err != nil {
		o.closeFiles()
		return nil, withCode(exitAborted, fmt.Errorf("import: %w", err))
	}
	return o, nil
}

// headerOf is the header row of a CSV input, nil for others.
func headerOf(src source.Reader) []string {
	if in, ok := src.(*inputReader); ok {
		src = in.Reader
	}
	if h, ok := src.(interface{ Header() []string }); ok {
		return h.Header()
	}
	return nil
}

// stop ends the run with err, the first fault of the outputs; later ones
// are dropped.
func (o *outputs) stop(err error) {
	if o.cause.CompareAndSwap(nil, &err) {
		o.cancel(err)
	}
}

// stopped is what stopped the run from the outputs' side, or nil.
func (o *outputs) stopped() error {
	if p := o.cause.Load(); p != nil {
		return *p
	}
	return nil
}

// outputError is the error of an output that could not be opened: a usage
// error when it is another file of the run, an interruption while it waited
// (a FIFO without a reader), else the run cannot start (exit 3).
func outputError(flag string, err error) error {
	switch {
	case errors.Is(err, safefile.ErrSameFile):
		return usageError("import: %v", err)
	case errors.Is(err, errInterrupted):
		return withCode(exitInterrupted, fmt.Errorf("import: %s: %w before it had a reader", flag, err))
	}
	return withCode(exitAborted, fmt.Errorf("import: %s: %w", flag, err))
}

// record writes r everywhere it belongs.
func (o *outputs) record(r segloop.Result) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.quitting {
		return
	}
	o.counts.add(r.Status)
	o.lastLine = max(o.lastLine, r.Line)
	if err := o.results.Write(r); err != nil {
		o.stop(fmt.Errorf("%w: %w", errWriteResults, err))
	}
	if o.failed != nil {
		if err := o.failed.Write(r); err != nil {
			o.stop(fmt.Errorf("writing failed items: %w", err))
		}
	}
	if o.mark {
		if err := o.ck.Record(r); err != nil {
			o.stop(fmt.Errorf("writing checkpoint: %w", err))
		}
	}
	if bad, judged := o.counts.bad(), o.counts.judged(); o.limit.exceeded(bad, judged) {
		o.stop(fmt.Errorf("%w: %d of %d items", errFailureLimit, bad, judged))
	}
}

// quit is the second interrupt: it writes out the results recorded so far
// (giving a stalled output quitGrace at most, where the output allows a
// deadline) and makes the checkpoint durable; nothing is written after it.
// It reports what it did on w.
func (o *outputs) quit(w io.Writer) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.quitting {
		return
	}
	o.quitting = true
	o.results.deadline(time.Now().Add(quitGrace))
	err := o.results.Flush()
	if o.failed != nil {
		err = errors.Join(err, o.failed.FailedWriter.Close()) // a complete file, as far as it goes
	}
	if o.ck != nil {
		err = errors.Join(err, o.ck.Flush())
	}
	if err != nil {
		fmt.Fprintf(w, "segloop: writing the outputs: %v\n", err)
	}
	fmt.Fprintf(w, "segloop: %d items have their result; items in flight have none (a resumed run sends them again under the same messageIds)\n", o.counts.done())
}

// close flushes and closes every output, reporting a failure through stop.
func (o *outputs) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.quitting {
		return // quit wrote what there was; the process is exiting
	}
	if err := o.results.Close(); err != nil {
		o.stop(fmt.Errorf("%w: %w", errWriteResults, err))
	}
	if o.failed != nil {
		if err := o.failed.Close(); err != nil {
			o.stop(fmt.Errorf("writing failed items: %w", err))
		}
	}
	if o.ck != nil {
		if err := o.ck.Close(); err != nil {
			o.stop(fmt.Errorf("writing checkpoint: %w", err))
		}
	}
}

// closeFiles closes the files of a run that never started.
func (o *outputs) closeFiles() {
	o.results.Close()
	if o.failed != nil {
		o.failed.Close()
	}
}

// failedFile is --failed: the failed items written to their file.
type failedFile struct {
	*segloop.FailedWriter
	file io.Closer
}

// Close finishes and closes the file, reporting the first error.
func (f *failedFile) Close() error {
	err := f.FailedWriter.Close()
	if cerr := f.file.Close(); err == nil {
		err = cerr
	}
	return err
}
