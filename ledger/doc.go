// Package ledger is diff mode's memory: for one destination (a Segment
// endpoint and write key), the hash of the last event Segment accepted for
// each user, so that a nightly sync sends only the users whose event
// changed.
//
// Sum hashes a serialized Identify event's content: its canonical form
// (AppendCanonical) leaves out what changes from one send to the next
// (messageId, timestamp, sentAt, type), sorts object keys, compares strings
// after unescaping and numbers as exact decimals, so that only a change of
// content changes the Hash.
//
// A Ledger maps users to Hashes. Per batch of items the caller makes one
// Lookup (one query, whatever the batch size); an item whose Hash the
// ledger holds for its user is unchanged and need not be sent. The caller
// Commits an item's Entry only once Segment accepted the event: an item that
// failed, or whose process crashed, stays changed and is sent by the next
// run.
//
//	l, err := ledger.Open(ctx, "nightly.ledger", destination)
//	…
//	for each batch {
//		l.Lookup(ctx, entries, unchanged) // unchanged[i]: skip item i
//		… send the others …
//		l.Commit(ctx, accepted)           // only what Segment accepted
//	}
//
// # Kinds
//
// A location that is a file path is an embedded ledger: one SQLite file
// (modernc.org/sqlite, no cgo) in WAL mode, created 0600, that one or more
// processes on one machine may share. Open refuses, and leaves untouched,
// any file that is not a ledger or empty: an input file given by mistake is
// never written to. SQLite's page cache is bounded (1 MiB per connection,
// two connections): the ledger lives on disk and in the OS page cache, not
// in the process. The WAL grows to 64 MiB before a checkpoint.
//
// A postgres:// or postgresql:// location is a ledger in a PostgreSQL
// database, shared by every process and machine that opens it. Open
// creates the tables when they are missing (safely when several processes
// start at once). A search_path parameter in the URL selects the schema, so
// one database can hold several ledgers. No error or message shows the
// URL's password.
//
// # Schema
//
// Both kinds hold two tables:
//
//	segloop_ledger_meta (name text PRIMARY KEY, value text)
//	    ('version', '2'), ('destination', <the destination>),
//	    ('epoch', <16 random hex digits, chosen when the ledger is created>)
//	segloop_ledger (user_id text/bytea PRIMARY KEY, hash blob/bytea, gen integer)
//	    user_id: the user (userId, else anonymousId), invalid UTF-8 as U+FFFD;
//	             beyond 512 bytes "sha256:" and its hex SHA-256
//	    hash:    the Hash (16 bytes) of the user's last accepted event
//	    gen:     the user's commits so far (with the epoch, its Version)
//
// Open upgrades a version 1 ledger (no gen, no epoch) in place.
//
// The embedded table is WITHOUT ROWID (the rows live in the primary key's
// B-tree), so an input in the order of its user ids reads and writes the
// ledger's pages in order: about twice as fast to look up, and several
// times faster to fill, as one in random order. The ledger holds user ids
// and hashes, no traits. An embedded ledger's SQLite header carries
// application_id 0x534c4c47 ("SLLG") and user_version 2 (the format version,
// as in segloop_ledger_meta).
//
// # Durability
//
// Commit is one transaction: a batch is recorded whole or not at all. In
// the embedded kind a commit survives a crash of the process once Commit
// has returned (WAL with synchronous=NORMAL); a power loss may undo the last
// commits, which only makes their users changed again. The one thing that
// would lose data, a commit for an event Segment did not accept, is the
// caller's to avoid: commit only after acceptance.
package ledger
