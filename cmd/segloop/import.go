package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/internal/safefile"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

var (
	// errFailureLimit is the cause of a run stopped by --max-failures.
	errFailureLimit = errors.New("too many failed or invalid items (--max-failures)")
	// errWriteResults is the cause of a run stopped because its results could not be written.
	errWriteResults = errors.New("writing results")
)

// runImport is segloop import.
func runImport(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	f, err := parseImportFlags(args, os.Getenv, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, f.logFormat)
	// cancel stops the run for a fault of its own (a write error, --max-failures);
	// ctx also ends on an interrupt.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var files safefile.Set // the run's files, by identity: no output may be another
	in, err := openInput(ctx, f.file, stdin, &files)
	if err != nil {
		if errors.Is(err, errInterrupted) {
			return withCode(exitInterrupted, fmt.Errorf("import: %s: %w before it had a writer", displayName(f.file), err))
		}
		return usageError("import: %v", err)
	}
	defer in.close()
	counted := &countingReader{r: in}
	src, err := source.Open(counted, f.format, source.Options{Delimiter: f.delimiter, AllowShortRows: f.shortRows})
	if err != nil {
		if errors.Is(err, errInterrupted) {
			return withCode(exitInterrupted, fmt.Errorf("import: %s: %w", displayName(f.file), err))
		}
		return withCode(exitAborted, fmt.Errorf("import: %s: %w", displayName(f.file), err))
	}
	m, mapBytes, err := loadMapping(f.mapFile, &files)
	if err != nil {
		return err
	}
	trigger, trigBytes, err := loadTrigger(f.triggerFile, &files)
	if err != nil {
		return err
	}
	if err := checkOutputs(f, stdout, &files); err != nil {
		return err
	}
	diff, err := openDiff(ctx, f)
	if err != nil {
		return err
	}
	defer diff.close()

	fingerprint, err := runFingerprint(f, mapBytes, trigBytes)
	if err != nil {
		return err
	}
	ck, err := openCheckpoint(f.checkpoint, segloop.DestinationFingerprint(fingerprint, destination(f)), f.ckptEvery, &files)
	if err != nil {
		return err
	}
	runKey := f.runKey
	switch {
	case runKey != "":
	case ck != nil && ck.RunKey() != "":
		runKey = ck.RunKey()
	case f.file == "-":
		runKey = segloop.NewRunKey() // one stream cannot be told from another
	default:
		runKey = segloop.DerivedRunKey(fingerprint)
	}
	if ck != nil {
		if err := ck.SetRunKey(runKey); err != nil {
			return err
		}
		defer ck.Close()
	}

	endpoint, writeKey := f.endpoint, f.writeKey
	var sandbox *sandboxServer
	if f.sandbox {
		sandbox = startSandbox(sandboxOptions())
		defer sandbox.Close()
		endpoint, writeKey = sandbox.URL, sandboxWriteKey
	}
	var client *segment.Client
	if !f.dryRun {
		client, err = segment.NewClient(segment.Config{
			WriteKey:  writeKey,
			Endpoint:  endpoint,
			Timeout:   f.timeout,
			UserAgent: "segloop/" + version,
		})
		if err != nil {
			return usageError("import: %v", err)
		}
	}
	if f.rate > recommendedRate {
		log.Warn("rate above Segment's recommended 1,000 requests/s per workspace; expect 429s from Segment", "rate", f.rate)
	}
	lim, err := openBudget(ctx, f, endpoint, writeKey, log)
	if err != nil {
		return err
	}
	defer lim.Close()

	var outErr atomic.Pointer[error] // what stopped the run from the outputs' side
	stop := func(err error) {
		if outErr.CompareAndSwap(nil, &err) {
			cancel(err)
		}
	}
	out, err := openOutputs(ctx, f, stdout, src, ck, &files, stop)
	if err != nil {
		if ck != nil {
			ck.Close()
		}
		return err
	}
	defer onQuit(ctx, func() { out.quit(stderr) })()
	prog := startProgress(stderr, f.quiet, in.size, counted, &out.counts, lim)
	defer prog.Stop()

	read := &readWatch{Reader: src}
	cfg := segloop.Config{
		Source:         read,
		Mapping:        m,
		Trigger:        trigger,
		RunKey:         runKey,
		BatchSize:      f.batch,
		Concurrency:    int(f.concurrency),
		MaxConcurrency: f.maxConc,
		MaxAttempts:    f.maxAttempts,
		Limiter:        lim,
		DrainTimeout:   f.timeout + time.Second,
		DryRun:         f.dryRun,
		KeepSource:     out.failed != nil,
		OnResult:       out.record,
	}
	if client != nil {
		cfg.Client = client
	}
	if ck != nil {
		cfg.Done = ck.Done
	}
	cfg.Ledger = diff.ledger()
	start := time.Now()
	sum, runErr := segloop.Run(ctx, cfg)
	runErr = explainRefusal(runErr)
	prog.Stop()
	out.close() // every output on disk before the run is judged: a result not written is not done

	rep := report{
		Summary:  sum,
		Elapsed:  time.Since(start),
		Sandbox:  sandbox,
		DryRun:   f.dryRun,
		Endpoint: endpoint,
		LastLine: out.lastLine,
		Budget:   lim,
		AtEnd:    read.atEnd.Load(),
	}
	if p := outErr.Load(); p != nil {
		runErr = *p
		rep.OutputFailed = errors.Is(runErr, errWriteResults)
	}
	if !f.quiet || runErr != nil {
		rep.print(stderr, log, f.logFormat, runErr)
	}
	return importOutcome(sum, runErr)
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

func displayName(file string) string {
	if file == "-" {
		return "stdin"
	}
	return file
}

// loadMapping reads and checks the --map file; no file means the default
// mapping.
func loadMapping(name string, files *safefile.Set) (*mapping.Mapping, []byte, error) {
	if name == "" {
		return mapping.Default(), nil, nil
	}
	data, err := os.ReadFile(name)
	if err == nil {
		err = files.InputPath("--map", name)
	}
	if err != nil {
		return nil, nil, usageError("import: --map: %v", err)
	}
	m, err := mapping.Parse(data)
	if err != nil {
		return nil, nil, usageError("import: --map %s: %v", name, err)
	}
	return m, data, nil
}

// loadTrigger reads the --trigger file: one JSON object.
func loadTrigger(name string, files *safefile.Set) (map[string]any, []byte, error) {
	if name == "" {
		return nil, nil, nil
	}
	data, err := os.ReadFile(name)
	if err == nil {
		err = files.InputPath("--trigger", name)
	}
	if err != nil {
		return nil, nil, usageError("import: --trigger: %v", err)
	}
	var obj map[string]any
	if err := json.Unmarshal(data, &obj); err != nil || obj == nil {
		if err == nil {
			err = errors.New("not a JSON object")
		}
		return nil, nil, usageError("import: --trigger %s: want a JSON object: %v", name, err)
	}
	return obj, data, nil
}

// runFingerprint is segloop.Fingerprint of the run f describes.
func runFingerprint(f *importFlags, mapBytes, trigBytes []byte) (string, error) {
	input := segloop.StreamInput(f.runKey, f.format, f.delimiter)
	if f.file != "-" {
		var err error
		if input, err = segloop.FileInput(f.file, f.format, f.delimiter); err != nil {
			return "", usageError("import: %v", err)
		}
	}
	return segloop.Fingerprint(input, mapBytes, trigBytes), nil
}

// destination names where the run sends, for checkpoints. Diff mode is part
// of it: its messageIds differ, so a checkpoint of a run in one mode must
// not resume a run in the other.
func destination(f *importFlags) string {
	d := f.endpoint
	if f.sandbox {
		d = "sandbox"
	}
	if f.diff.location != "" {
		d += " (diff mode)"
	}
	return d
}

// newLogger returns the logger of the command's diagnostics on stderr.
func newLogger(stderr io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
}

// readWatch notes whether the source was read to its end, for the summary.
type readWatch struct {
	source.Reader
	atEnd atomic.Bool
}

func (w *readWatch) Next() (source.Record, error) {
	rec, err := w.Reader.Next()
	if errors.Is(err, io.EOF) {
		w.atEnd.Store(true)
	}
	return rec, err
}

// countingReader counts the bytes read through it, for the progress display.
type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
