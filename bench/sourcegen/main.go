// Command sourcegen writes the bench's generated users CSV (bench/input.go's
// columns: id,email,first_name,last_name,plan,seats,signed_up) again as the
// other inputs `segloop import` reads, for bench scenario 16 (issue 16):
// the same rows, so each input's rows/s can be set against the CSV's.
//
// Usage:
//
//	sourcegen -kind csv.gz|ndjson.zst|parquet|sqlite|postgres -in users.csv -out PATH|TABLE
//
// The kinds: the CSV gzip'd as it is; JSON Lines compressed with zstd, seats
// a number; a Parquet file (Snappy pages, row groups of 100,000 rows, seats
// int32, signed_up a timestamp); an SQLite file with table users (seats
// INTEGER, signed_up DATETIME); a PostgreSQL table TABLE (seats int,
// signed_up timestamptz), dropped and created, in the database named by
// $SEGLOOP_BENCH_POSTGRES_URL (an environment variable, not an argument, so
// its password stays out of the process list).
//
// It runs as a process of its own so that the bench's own peak RSS stays
// small: every child the bench starts (through vfork) inherits its parent's
// peak as the floor of its own ru_maxrss, which would swell every figure of
// every client measured afterwards.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// header is the generated CSV's header line (bench/input.go's csvHeader).
const header = "id,email,first_name,last_name,plan,seats,signed_up"

// postgresEnv names the database the postgres kind writes to.
const postgresEnv = "SEGLOOP_BENCH_POSTGRES_URL"

func main() {
	if err := run(context.Background(), os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "sourcegen: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("sourcegen", flag.ContinueOnError)
	kind := fs.String("kind", "", "what to write: csv.gz, ndjson.zst, parquet, sqlite or postgres")
	in := fs.String("in", "", "the generated users CSV to read")
	out := fs.String("out", "", "the file to write, or for postgres the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *in == "" || *out == "" || fs.NArg() > 0 {
		return errors.New("usage: sourcegen -kind KIND -in users.csv -out PATH|TABLE")
	}
	f, err := os.Open(*in)
	if err != nil {
		return err
	}
	defer f.Close()
	users := newScanner(f)
	switch *kind {
	case "csv.gz":
		return writeFile(*out, func(w io.Writer) error { return writeGzip(w, f) })
	case "ndjson.zst":
		return writeFile(*out, func(w io.Writer) error { return writeNDJSONZstd(w, users) })
	case "parquet":
		return writeFile(*out, func(w io.Writer) error { return writeParquet(w, users) })
	case "sqlite":
		return writeSQLite(ctx, *out, users)
	case "postgres":
		url := os.Getenv(postgresEnv)
		if url == "" {
			return fmt.Errorf("$%s names no database", postgresEnv)
		}
		return writePostgres(ctx, url, *out, users)
	}
	return fmt.Errorf("unknown -kind %q", *kind)
}

// writeFile creates path with write; on any error the file is removed, so a
// half-written input is never taken for a whole one.
func writeFile(path string, write func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	werr := write(bw)
	if err := bw.Flush(); werr == nil {
		werr = err
	}
	if err := f.Close(); werr == nil {
		werr = err
	}
	if werr != nil {
		os.Remove(path)
		return fmt.Errorf("%s: %w", path, werr)
	}
	return nil
}

// user is one row of the generated CSV, typed.
type user struct {
	ID        string    `parquet:"id" json:"id"`
	Email     string    `parquet:"email" json:"email"`
	FirstName string    `parquet:"first_name" json:"first_name"`
	LastName  string    `parquet:"last_name" json:"last_name"`
	Plan      string    `parquet:"plan" json:"plan"`
	Seats     int32     `parquet:"seats" json:"seats"`
	SignedUp  time.Time `parquet:"signed_up,timestamp(millisecond)" json:"signed_up"`
}

// scanner reads the users of a generated CSV one at a time. The generator
// never quotes a cell, so a row is its line split at commas.
type scanner struct {
	lines *bufio.Scanner
	line  int
	u     user
	err   error
}

func newScanner(r io.Reader) *scanner {
	s := &scanner{lines: bufio.NewScanner(r)}
	s.lines.Buffer(make([]byte, 0, 64<<10), 1<<20)
	return s
}

// next reads the next user into s.u; false at the end or on an error (Err).
func (s *scanner) next() bool {
	if s.err != nil || !s.lines.Scan() {
		return false
	}
	s.line++
	text := s.lines.Text()
	if s.line == 1 {
		if text != header {
			s.err = fmt.Errorf("line 1: header %q, want %q", text, header)
			return false
		}
		return s.next()
	}
	c := strings.Split(text, ",")
	if len(c) != 7 {
		s.err = fmt.Errorf("line %d: %d cells, want 7", s.line, len(c))
		return false
	}
	seats, err := strconv.ParseInt(c[5], 10, 32)
	if err != nil {
		s.err = fmt.Errorf("line %d: seats: %w", s.line, err)
		return false
	}
	at, err := time.Parse(time.RFC3339, c[6])
	if err != nil {
		s.err = fmt.Errorf("line %d: signed_up: %w", s.line, err)
		return false
	}
	s.u = user{ID: c[0], Email: c[1], FirstName: c[2], LastName: c[3], Plan: c[4], Seats: int32(seats), SignedUp: at.UTC()}
	return true
}

// Err is the first error reading or parsing the CSV.
func (s *scanner) Err() error {
	if s.err != nil {
		return s.err
	}
	return s.lines.Err()
}
