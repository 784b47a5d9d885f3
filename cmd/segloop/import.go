package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/ratelimit"
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

	in, size, closeIn, err := openInput(ctx, f.file, stdin)
	if err != nil {
		return usageError("import: %v", err)
	}
	defer closeIn()
	counted := &countingReader{r: in}
	src, err := source.Open(counted, f.format, source.Options{Delimiter: f.delimiter, AllowShortRows: f.shortRows})
	if err != nil {
		return withCode(exitAborted, fmt.Errorf("import: %s: %w", displayName(f.file), err))
	}
	m, mapBytes, err := loadMapping(f.mapFile)
	if err != nil {
		return err
	}
	trigger, trigBytes, err := loadTrigger(f.triggerFile)
	if err != nil {
		return err
	}

	fingerprint := runFingerprint(f, mapBytes, trigBytes)
	ck, err := openCheckpoint(f.checkpoint, checkpointFingerprint(f, fingerprint), f.ckptEvery)
	if err != nil {
		return err
	}
	runKey := f.runKey
	switch {
	case runKey != "":
	case ck != nil && ck.RunKey() != "":
		runKey = ck.RunKey()
	default:
		runKey = defaultRunKey(f, fingerprint)
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
	lim := ratelimit.New(ratelimit.Config{Rate: f.rate, Burst: f.burst, Adaptive: f.adaptive})

	var outErr atomic.Pointer[error] // what stopped the run from the outputs' side
	stop := func(err error) {
		if outErr.CompareAndSwap(nil, &err) {
			cancel(err)
		}
	}
	out, err := openOutputs(f, stdout, src, ck, stop)
	if err != nil {
		return err
	}
	prog := startProgress(stderr, f.quiet, size, counted, &out.counts, lim)
	defer prog.Stop()

	cfg := segloop.Config{
		Source:       src,
		Mapping:      m,
		Trigger:      trigger,
		RunKey:       runKey,
		BatchSize:    f.batch,
		Workers:      f.concurrency,
		MaxAttempts:  f.maxAttempts,
		Limiter:      lim,
		DrainTimeout: f.timeout + time.Second,
		DryRun:       f.dryRun,
		KeepSource:   out.failed != nil,
		OnResult:     out.record,
	}
	if client != nil {
		cfg.Client = client
	}
	if ck != nil {
		cfg.Done = ck.Done
	}
	start := time.Now()
	sum, runErr := segloop.Run(ctx, cfg)
	prog.Stop()
	out.close() // every output on disk before the run is judged: a result not written is not done

	rep := report{
		Summary:  sum,
		Elapsed:  time.Since(start),
		Sandbox:  sandbox,
		DryRun:   f.dryRun,
		Endpoint: endpoint,
		LastLine: out.lastLine,
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

// openInput opens the input file, or stdin for "-". size is the file's size
// in bytes, or 0 when unknown. A pipe (stdin or a FIFO) stops blocking the
// reader when ctx ends, so an interrupt is not stuck behind a stalled writer.
func openInput(ctx context.Context, name string, stdin io.Reader) (r io.Reader, size int64, closeFn func(), err error) {
	if name == "-" {
		if f, ok := stdin.(*os.File); ok {
			if st, err := f.Stat(); err == nil && st.Mode()&os.ModeNamedPipe != 0 {
				fd := f.Fd() // (puts it in blocking mode; made pollable below)
				if syscall.SetNonblock(int(fd), true) == nil {
					p := os.NewFile(fd, "stdin")
					return p, 0, unblockOnDone(ctx, p), nil
				}
			}
		}
		return stdin, 0, func() {}, nil
	}
	file, err := os.Open(name)
	if err != nil {
		return nil, 0, nil, err
	}
	st, err := file.Stat()
	if err != nil {
		file.Close()
		return nil, 0, nil, err
	}
	if st.IsDir() {
		file.Close()
		return nil, 0, nil, fmt.Errorf("%s is a directory", name)
	}
	stop := unblockOnDone(ctx, file)
	return file, st.Size(), func() { stop(); file.Close() }, nil
}

// unblockOnDone makes reads of f fail once ctx ends (for files the runtime
// poller handles, such as pipes; a no-op for regular files, whose reads do
// not block). The returned func releases it.
func unblockOnDone(ctx context.Context, f *os.File) func() {
	stop := context.AfterFunc(ctx, func() { f.SetReadDeadline(time.Now()) })
	return func() { stop() }
}

func displayName(file string) string {
	if file == "-" {
		return "stdin"
	}
	return file
}

// loadMapping reads and checks the --map file; no file means the default
// mapping.
func loadMapping(name string) (*mapping.Mapping, []byte, error) {
	if name == "" {
		return mapping.Default(), nil, nil
	}
	data, err := os.ReadFile(name)
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
func loadTrigger(name string) (map[string]any, []byte, error) {
	if name == "" {
		return nil, nil, nil
	}
	data, err := os.ReadFile(name)
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

// runFingerprint identifies what a run sends: the input file (its path, size
// and modification time; for stdin, the --run-key that names the stream), its
// format and delimiter, and the mapping and trigger that shape its events.
func runFingerprint(f *importFlags, mapBytes, trigBytes []byte) string {
	h := sha256.New()
	name := f.file
	if abs, err := filepath.Abs(name); err == nil && name != "-" {
		name = abs
	}
	fmt.Fprintf(h, "input %q %s %q\n", name, f.format, f.delimiter)
	if f.file == "-" {
		fmt.Fprintf(h, "stream %q\n", f.runKey)
	} else if st, err := os.Stat(f.file); err == nil {
		fmt.Fprintf(h, "size %d modified %d\n", st.Size(), st.ModTime().UnixNano())
	}
	fmt.Fprintf(h, "map %d:%s\ntrigger %d:%s\n", len(mapBytes), mapBytes, len(trigBytes), trigBytes)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// checkpointFingerprint is the run fingerprint plus where the events go (the
// sandbox or the endpoint): a checkpoint of items delivered to one place must
// not skip them when sending to another. A dry run computes the same
// fingerprint as the real run it previews, and marks nothing.
func checkpointFingerprint(f *importFlags, fingerprint string) string {
	dest := f.endpoint
	if f.sandbox {
		dest = "sandbox"
	}
	sum := sha256.Sum256([]byte(fingerprint + "\nto " + dest))
	return hex.EncodeToString(sum[:16])
}

// defaultRunKey is the run key when neither --run-key nor a checkpoint gives
// one: derived from the run fingerprint, so re-running an unchanged file re-sends the same
// messageIds (Segment drops the duplicates) while a changed file gets new
// ones. Stdin gets a fresh key each run.
func defaultRunKey(f *importFlags, fingerprint string) string {
	h := sha256.New()
	fmt.Fprintln(h, fingerprint)
	if f.file == "-" {
		fmt.Fprintln(h, time.Now().UnixNano(), os.Getpid())
	}
	return hex.EncodeToString(h.Sum(nil)[:12])
}

// newLogger returns the logger of the command's diagnostics on stderr.
func newLogger(stderr io.Writer, format string) *slog.Logger {
	if format == "json" {
		return slog.New(slog.NewJSONHandler(stderr, nil))
	}
	return slog.New(slog.NewTextHandler(stderr, nil))
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
