package main

import (
	"fmt"
	"io"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/source"
)

// outputs are where a run's results go: the result lines, the failed-items
// file, the checkpoint, and the counts behind the progress line and
// --max-failures. record takes one result at a time (it is segloop.Run's
// OnResult); a write error, or the failure limit, stops the run through stop.
type outputs struct {
	results  *resultWriter
	failed   *failedFile    // nil without --failed
	ck       *runCheckpoint // nil without --checkpoint
	mark     bool           // mark delivered items in ck: never in a dry run, which delivers nothing
	limit    failureLimit
	counts   statusCounts
	lastLine int // the last source line with a result: reading stopped after it
	stop     func(error)
}

// openOutputs creates the --results and --failed files (stdout for results
// when none is named).
func openOutputs(f *importFlags, stdout io.Writer, src source.Reader, ck *runCheckpoint, stop func(error)) (*outputs, error) {
	results, err := createOutput(f.results, stdout)
	if err != nil {
		return nil, withCode(exitAborted, fmt.Errorf("import: --results: %w", err))
	}
	o := &outputs{results: newResultWriter(results), ck: ck, mark: ck != nil && !f.dryRun, limit: f.maxFailures, stop: stop}
	if f.failed != "" {
		fw, err := createOutput(f.failed, nil)
		if err != nil {
			o.results.Close()
			return nil, withCode(exitAborted, fmt.Errorf("import: --failed: %w", err))
		}
		var header []string
		if h, ok := src.(interface{ Header() []string }); ok {
			header = h.Header()
		}
		o.failed = &failedFile{FailedWriter: segloop.NewFailedWriter(fw, f.format, f.delimiter, header), file: fw}
	}
	return o, nil
}

// record writes r everywhere it belongs.
func (o *outputs) record(r segloop.Result) {
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
	// Skipped items were judged by an earlier run: they do not dilute the share.
	if bad, judged := o.counts.bad(), o.counts.done()-o.counts.skipped.Load(); o.limit.exceeded(bad, judged) {
		o.stop(fmt.Errorf("%w: %d of %d items", errFailureLimit, bad, judged))
	}
}

// close flushes and closes every output, reporting a failure through stop.
func (o *outputs) close() {
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
