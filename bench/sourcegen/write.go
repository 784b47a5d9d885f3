package main

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"

	"github.com/jackc/pgx/v5"
	"github.com/klauspost/compress/zstd"
	"github.com/parquet-go/parquet-go"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// rowGroup is the rows per Parquet row group: about what warehouse unloads
// write (DuckDB's default is 122,880), so the reader's row-group buffers are
// those of a real file.
const rowGroup = 100_000

// writeGzip writes the CSV's bytes gzip'd at the default level, as `gzip`
// and warehouse unloads write them.
func writeGzip(w io.Writer, csv io.Reader) error {
	zw := gzip.NewWriter(w)
	if _, err := io.Copy(zw, csv); err != nil {
		return err
	}
	return zw.Close()
}

// writeNDJSONZstd writes one JSON object per user and line, zstd-compressed
// at the default level.
func writeNDJSONZstd(w io.Writer, users *scanner) error {
	zw, err := zstd.NewWriter(w)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 64<<10)
	enc := json.NewEncoder(bw) // one object and "\n" per Encode
	for users.next() {
		if err := enc.Encode(&users.u); err != nil {
			zw.Close()
			return err
		}
	}
	if err := users.Err(); err != nil {
		zw.Close()
		return err
	}
	if err := bw.Flush(); err != nil {
		zw.Close()
		return err
	}
	return zw.Close()
}

// writeParquet writes the users as a Parquet file with Snappy pages in row
// groups of rowGroup rows.
func writeParquet(w io.Writer, users *scanner) error {
	pw := parquet.NewGenericWriter[user](w, parquet.Compression(&parquet.Snappy), parquet.MaxRowsPerRowGroup(rowGroup))
	batch := make([]user, 0, 1000)
	flush := func() error {
		_, err := pw.Write(batch)
		batch = batch[:0]
		return err
	}
	for users.next() {
		if batch = append(batch, users.u); len(batch) == cap(batch) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := users.Err(); err != nil {
		return err
	}
	if err := flush(); err != nil {
		return err
	}
	return pw.Close()
}

// writeSQLite creates the SQLite file path (removing any old one) with the
// users in table users, in one transaction. On any error the file is
// removed.
func writeSQLite(ctx context.Context, path string, users *scanner) error {
	for _, s := range []string{"", "-journal", "-wal", "-shm"} {
		os.Remove(path + s)
	}
	err := fillSQLite(ctx, path, users)
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

func fillSQLite(ctx context.Context, path string, users *scanner) error {
	db, err := sql.Open("sqlite", path)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		"PRAGMA journal_mode = OFF", "PRAGMA synchronous = OFF",
		`CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT, first_name TEXT, last_name TEXT, plan TEXT,
			seats INTEGER, signed_up DATETIME)`,
	} {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, "INSERT INTO users VALUES ($1, $2, $3, $4, $5, $6, $7)")
	if err != nil {
		return err
	}
	defer ins.Close()
	for users.next() {
		u := &users.u
		if _, err := ins.ExecContext(ctx, u.ID, u.Email, u.FirstName, u.LastName, u.Plan, u.Seats, u.SignedUp); err != nil {
			return fmt.Errorf("line %d: %w", users.line, err)
		}
	}
	if err := users.Err(); err != nil {
		return err
	}
	return tx.Commit()
}

// writePostgres drops and creates table in the database at url and copies
// the users into it (COPY, streamed).
func writePostgres(ctx context.Context, url, table string, users *scanner) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return fmt.Errorf("$%s: %w", postgresEnv, err)
	}
	defer conn.Close(ctx)
	name := pgx.Identifier{table}.Sanitize()
	for _, s := range []string{
		"DROP TABLE IF EXISTS " + name,
		"CREATE TABLE " + name + ` (id text PRIMARY KEY, email text, first_name text, last_name text, plan text,
			seats int, signed_up timestamptz)`,
	} {
		if _, err := conn.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	cols := []string{"id", "email", "first_name", "last_name", "plan", "seats", "signed_up"}
	row := make([]any, len(cols))
	_, err = conn.CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromFunc(func() ([]any, error) {
		if !users.next() {
			return nil, users.Err()
		}
		u := &users.u
		row[0], row[1], row[2], row[3], row[4], row[5], row[6] = u.ID, u.Email, u.FirstName, u.LastName, u.Plan, u.Seats, u.SignedUp
		return row, nil
	}))
	if err != nil {
		return fmt.Errorf("COPY %s: %w", name, err)
	}
	_, err = conn.Exec(ctx, "ANALYZE "+name)
	return err
}
