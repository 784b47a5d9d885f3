package ledger

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	_ "modernc.org/sqlite" // the "sqlite" database/sql driver, pure Go
)

// The embedded kind: one SQLite file in WAL mode.
const (
	// applicationID marks a SQLite file as a segloop ledger (the header's
	// application_id field, "SLLG").
	applicationID = 0x534c4c47
	// formatVersion is the ledger's schema version, in the header's
	// user_version field and in the meta table. Version 2 added each user's
	// commit count (gen) and the ledger's epoch; Open upgrades a version 1
	// ledger in place.
	formatVersion = 2
	// fileConns bounds the connections to one file: a writer and a reader
	// can work at once in WAL mode.
	fileConns = 2
	// cacheKiB is SQLite's page cache per connection. The ledger lives on
	// disk (and in the OS page cache); this bounds what the process holds.
	// 2 MiB instead of 8: a diff run of 1M rows peaked at 42 instead of 58
	// MiB RSS for the same CPU time, with users in order and shuffled (a
	// page missed here is a pread from the OS page cache). 1 MiB instead of
	// 2: bench scenario 15's run 2 peaked at 42-43 instead of 48-49 MiB
	// (512 KiB: 41-43), and BenchmarkFile's CPU per item did not move (6
	// runs each, sorted and random order: no difference benchstat could
	// tell at p < 0.05).
	cacheKiB = 1 << 10
	// walPages is the WAL's size (in pages) that triggers a checkpoint, and
	// (in 4 KiB pages) its size on disk after one. A larger WAL than
	// SQLite's default (1000) copies a page changed by many commits to the
	// database once instead of many times: with users in random order it
	// nearly halves the CPU time of a first run of 1M users.
	walPages = 16384
)

// schema creates the tables of a ledger; the Postgres kind has the same
// tables with its own column types.
const fileSchema = `
CREATE TABLE IF NOT EXISTS segloop_ledger_meta (
	name  TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS segloop_ledger (
	user_id TEXT PRIMARY KEY,         -- userKey(user): the userId, else the anonymousId
	hash    BLOB NOT NULL,            -- the Hash of the user's last accepted event
	gen     INTEGER NOT NULL DEFAULT 0 -- the user's commits so far
) STRICT, WITHOUT ROWID;
`

// fileStore is a ledger in a SQLite file.
type fileStore struct {
	db *sql.DB
}

// sqliteMagic starts every SQLite database file.
const sqliteMagic = "SQLite format 3\x00"

// openFile opens or creates the ledger file at path; see Open.
func openFile(ctx context.Context, path, destination string) (_ store, epoch uint64, err error) {
	if path == "" {
		return nil, 0, errors.New("ledger: empty location")
	}
	fail := func(err error) error { return fmt.Errorf("ledger %s: %w", path, err) }
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, 0, fail(err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real // write through a symlink to its target
	}
	if err := checkFile(abs); err != nil {
		return nil, 0, fail(err)
	}
	db, err := sql.Open("sqlite", fileDSN(abs))
	if err != nil {
		return nil, 0, fail(err)
	}
	db.SetMaxOpenConns(fileConns)
	db.SetMaxIdleConns(fileConns)
	defer func() {
		if err != nil {
			db.Close()
		}
	}()
	if epoch, err = initFile(ctx, db, destination); err != nil {
		return nil, 0, fail(err)
	}
	return &fileStore{db: db}, epoch, nil
}

// fileDSN is the modernc.org/sqlite data source name for path. The pragmas
// run on every connection and change nothing in the file: the persistent
// ones (application_id, journal_mode) run only once the file is known to
// be a ledger or empty. No mmap: mapped pages of the file would count in the
// process's RSS.
func fileDSN(path string) string {
	r := strings.NewReplacer("%", "%25", "?", "%3f", "#", "%23")
	return "file:" + r.Replace(path) +
		"?_txlock=immediate" +
		"&_pragma=busy_timeout(30000)" +
		"&_pragma=synchronous(NORMAL)" +
		"&_pragma=cache_size(-" + strconv.Itoa(cacheKiB) + ")" +
		"&_pragma=mmap_size(0)" +
		"&_pragma=wal_autocheckpoint(" + strconv.Itoa(walPages) + ")" +
		"&_pragma=journal_size_limit(" + strconv.Itoa(walPages*4096) + ")"
}

// checkFile makes sure path is a ledger, an empty file or absent (then it
// creates it, 0600), so that SQLite never writes to anything else.
func checkFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f.Close()
	}
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	// Stat before opening: opening a FIFO would block.
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: not a regular file (%s)", ErrNotLedger, fi.Mode().Type())
	}
	if fi.Size() == 0 {
		return nil
	}
	f, err = os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	var header [100]byte
	if _, err := io.ReadFull(f, header[:]); err != nil || !bytes.HasPrefix(header[:], []byte(sqliteMagic)) {
		return fmt.Errorf("%w: the file exists and is not a SQLite database; it was left untouched", ErrNotLedger)
	}
	switch id := binary.BigEndian.Uint32(header[68:72]); {
	case id == applicationID:
		return nil
	case id == 0 && hasSidecar(path):
		// A ledger whose creation crashed may have its first transaction
		// only in its journal: SQLite's recovery finishes it, then
		// initFile checks again.
		return nil
	default:
		return fmt.Errorf("%w: the file is a SQLite database of another application (application_id %#x); it was left untouched", ErrNotLedger, id)
	}
}

func hasSidecar(path string) bool {
	for _, s := range []string{"-wal", "-journal"} {
		if _, err := os.Lstat(path + s); err == nil {
			return true
		}
	}
	return false
}

// initFile makes an empty database a ledger for destination, checks the
// destination of an existing one and switches it to WAL mode. Several
// processes may do it at once: the IMMEDIATE transaction orders them, and
// the later ones find the work done.
func initFile(ctx context.Context, db *sql.DB, destination string) (uint64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	var id int64
	if err := tx.QueryRowContext(ctx, "PRAGMA application_id").Scan(&id); err != nil {
		return 0, err
	}
	if id != applicationID {
		var tables int
		if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_schema").Scan(&tables); err != nil {
			return 0, err
		}
		if id != 0 || tables != 0 {
			return 0, fmt.Errorf("%w: the file is a SQLite database of another application (application_id %#x); it was left untouched", ErrNotLedger, id)
		}
		stmts := "PRAGMA application_id = " + strconv.Itoa(applicationID) + ";" +
			"PRAGMA user_version = " + strconv.Itoa(formatVersion) + ";" + fileSchema
		if _, err := tx.ExecContext(ctx, stmts); err != nil {
			return 0, err
		}
		if _, err := tx.ExecContext(ctx, insertMetaSQL, strconv.Itoa(formatVersion), destination, newEpoch()); err != nil {
			return 0, err
		}
	}
	meta, err := readFileMeta(ctx, tx)
	if err != nil {
		return 0, err
	}
	if meta["version"] == "1" {
		if err := upgradeFile(ctx, tx); err != nil {
			return 0, fmt.Errorf("upgrading the ledger from format version 1: %w", err)
		}
		if meta, err = readFileMeta(ctx, tx); err != nil {
			return 0, err
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, err
	}
	epoch, err := checkMeta(meta, destination)
	if err != nil {
		return 0, err
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode = WAL").Scan(&mode); err != nil {
		return 0, err
	}
	if mode != "wal" {
		return 0, fmt.Errorf("cannot switch to WAL mode (journal_mode is %s)", mode)
	}
	return epoch, nil
}

// upgradeFile turns a format version 1 ledger into version 2, in tx: every
// user's commit count starts at 0, under a new epoch.
func upgradeFile(ctx context.Context, tx *sql.Tx) error {
	stmts := "ALTER TABLE segloop_ledger ADD COLUMN gen INTEGER NOT NULL DEFAULT 0;" +
		"PRAGMA user_version = " + strconv.Itoa(formatVersion) + ";"
	if _, err := tx.ExecContext(ctx, stmts); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, `UPDATE segloop_ledger_meta SET value = ?1 WHERE name = 'version';
INSERT INTO segloop_ledger_meta (name, value) VALUES ('epoch', ?2)`, strconv.Itoa(formatVersion), newEpoch())
	return err
}

// insertMetaSQL records a new ledger's version (?1), destination (?2) and
// epoch (?3).
const insertMetaSQL = `INSERT INTO segloop_ledger_meta (name, value) VALUES ('version', ?1), ('destination', ?2), ('epoch', ?3)`

func readFileMeta(ctx context.Context, tx *sql.Tx) (map[string]string, error) {
	rows, err := tx.QueryContext(ctx, "SELECT name, value FROM segloop_ledger_meta")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	meta := map[string]string{}
	for rows.Next() {
		var name, value string
		if err := rows.Scan(&name, &value); err != nil {
			return nil, err
		}
		meta[name] = value
	}
	return meta, rows.Err()
}

// lookupSQL joins the JSON array of keys (?1) with the table; json_each's
// key column is the array index.
const lookupSQL = `SELECT j.key, t.hash, t.gen FROM json_each(?1) AS j JOIN segloop_ledger AS t ON t.user_id = j.value`

// commitSQL upserts the keys of the JSON array ?1 with the hashes
// concatenated in the blob ?2.
var commitSQL = `INSERT INTO segloop_ledger (user_id, hash, gen)
SELECT j.value, substr(?2, j.key * ` + strconv.Itoa(HashSize) + ` + 1, ` + strconv.Itoa(HashSize) + `), 1 FROM json_each(?1) AS j WHERE true
ON CONFLICT (user_id) DO UPDATE SET hash = excluded.hash, gen = segloop_ledger.gen + 1`

func (s *fileStore) lookup(ctx context.Context, keys []string, stored []Hash, gens []uint64, found []bool) error {
	rows, err := s.db.QueryContext(ctx, lookupSQL, jsonStrings(keys))
	if err != nil {
		return fmt.Errorf("ledger: lookup: %w", err)
	}
	defer rows.Close()
	var (
		i    int
		hash sql.RawBytes
		gen  int64
	)
	for rows.Next() {
		if err := rows.Scan(&i, &hash, &gen); err != nil {
			return fmt.Errorf("ledger: lookup: %w", err)
		}
		if i < 0 || i >= len(keys) || len(hash) != HashSize {
			return fmt.Errorf("ledger: lookup: corrupt entry for user %q", keys[max(0, min(i, len(keys)-1))])
		}
		found[i] = true
		stored[i] = Hash(hash)
		gens[i] = uint64(gen)
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("ledger: lookup: %w", err)
	}
	return nil
}

func (s *fileStore) commit(ctx context.Context, keys []string, hashes []Hash) error {
	blob := make([]byte, 0, len(hashes)*HashSize)
	for _, h := range hashes {
		blob = append(blob, h[:]...)
	}
	// One statement is one transaction: all of it or nothing.
	if _, err := s.db.ExecContext(ctx, commitSQL, jsonStrings(keys), blob); err != nil {
		return fmt.Errorf("ledger: commit: %w", err)
	}
	return nil
}

func (s *fileStore) close() error { return s.db.Close() }

// jsonStrings returns keys (valid UTF-8) as a JSON array of strings.
func jsonStrings(keys []string) string {
	n := 2
	for _, k := range keys {
		n += len(k) + 3
	}
	buf := make([]byte, 0, n)
	buf = append(buf, '[')
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '"')
		start := 0
		for j := 0; j < len(k); j++ {
			if c := k[j]; c < 0x20 || c == '"' || c == '\\' {
				buf = append(buf, k[start:j]...)
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
				start = j + 1
			}
		}
		buf = append(buf, k[start:]...)
		buf = append(buf, '"')
	}
	buf = append(buf, ']')
	return string(buf)
}
