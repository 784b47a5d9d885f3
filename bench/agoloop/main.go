// Command agoloop is the baseline of the segloop benchmark: the plain
// analytics-go v3.3.0 Client loop a user writes by following that library's
// README. It reads a CSV file with encoding/csv, enqueues one
// analytics.Identify per row (userId from the id column, every other
// non-empty column as a trait, a JSON traits column merged in: the same
// payload segloop's default mapping builds), then calls Close, which flushes
// and waits for the sends.
//
// Usage:
//
//	agoloop --endpoint URL --write-key KEY [--batch N] FILE
//
// Config.Interval keeps its default (5 s): the client flushes whenever a batch
// reaches --batch items, so the interval only matters for the last partial
// batch, which Close flushes anyway. Config.BatchSize is --batch, the same
// batch size segloop is given. Everything else (retries, concurrency, HTTP
// transport, logger) is analytics-go's default, as in its README.
//
// On exit it prints one line on stdout:
//
//	agoloop: enqueued N, succeeded S, failed F, rejected R
//
// where S and F are what analytics.Callback reported and R counts rows
// Enqueue refused. The exit code is 0 when nothing failed, 1 otherwise, 2 on
// a usage or input error.
package main

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sync/atomic"

	analytics "github.com/segmentio/analytics-go/v3"
)

// counter is the analytics.Callback that counts outcomes. The client calls it
// from its sending goroutines, hence the atomics.
type counter struct {
	ok, failed atomic.Int64
}

// Success implements analytics.Callback.
func (c *counter) Success(analytics.Message) { c.ok.Add(1) }

// Failure implements analytics.Callback.
func (c *counter) Failure(analytics.Message, error) { c.failed.Add(1) }

// errUsage marks command line errors (exit code 2).
var errUsage = errors.New("usage")

// tally is what one run did.
type tally struct {
	enqueued, rejected int64
}

func main() {
	code := 0
	cb, t, err := run(os.Args[1:], os.Stderr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "agoloop: %v\n", err)
		code = 2
	}
	if cb != nil {
		fmt.Printf("agoloop: enqueued %d, succeeded %d, failed %d, rejected %d\n",
			t.enqueued, cb.ok.Load(), cb.failed.Load(), t.rejected)
		if code == 0 && (cb.failed.Load() > 0 || t.rejected > 0) {
			code = 1
		}
	}
	os.Exit(code)
}

// run parses args, sends the file and returns the callback counts.
func run(args []string, stderr io.Writer) (*counter, tally, error) {
	fs := flag.NewFlagSet("agoloop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("endpoint", "", "Segment endpoint URL (default analytics-go's)")
	writeKey := fs.String("write-key", os.Getenv("SEGMENT_WRITE_KEY"), "Segment write key")
	batch := fs.Int("batch", analytics.DefaultBatchSize, "Config.BatchSize: messages per request")
	if err := fs.Parse(args); err != nil {
		return nil, tally{}, errUsage
	}
	if fs.NArg() != 1 {
		return nil, tally{}, fmt.Errorf("%w: want one CSV file, got %d arguments", errUsage, fs.NArg())
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return nil, tally{}, err
	}
	defer f.Close()

	cb := &counter{}
	client, err := analytics.NewWithConfig(*writeKey, analytics.Config{
		Endpoint:  *endpoint,
		BatchSize: *batch,
		Callback:  cb,
	})
	if err != nil {
		return nil, tally{}, err
	}
	t, readErr := enqueueCSV(client, bufio.NewReaderSize(f, 64<<10))
	closeErr := client.Close()
	return cb, t, errors.Join(readErr, closeErr)
}

// enqueueCSV enqueues one Identify per CSV row: userId from the first of the
// id, userId and user_id columns, every other non-empty column as a trait; a
// traits column holding a JSON object is decoded (json.Unmarshal, as a user
// would) and merged in, the other columns winning, as segloop's default
// mapping does.
func enqueueCSV(client analytics.Client, r io.Reader) (tally, error) {
	var t tally
	cr := csv.NewReader(r)
	header, err := cr.Read()
	if err != nil {
		return t, fmt.Errorf("reading the CSV header: %w", err)
	}
	idCol, traitsCol := -1, -1
	for i, name := range header {
		if idCol < 0 && (name == "id" || name == "userId" || name == "user_id") {
			idCol = i
		}
		if name == "traits" {
			traitsCol = i
		}
	}
	if idCol < 0 {
		return t, errors.New("the CSV has no id, userId or user_id column")
	}
	for {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return t, nil
		}
		if err != nil {
			return t, err
		}
		traits := analytics.NewTraits()
		if traitsCol >= 0 && traitsCol < len(row) && row[traitsCol] != "" {
			if err := json.Unmarshal([]byte(row[traitsCol]), &traits); err != nil {
				t.rejected++
				continue
			}
		}
		for i, v := range row {
			if i != idCol && i != traitsCol && v != "" && i < len(header) {
				traits[header[i]] = v
			}
		}
		if err := client.Enqueue(analytics.Identify{UserId: row[idCol], Traits: traits}); err != nil {
			t.rejected++
			continue
		}
		t.enqueued++
	}
}
