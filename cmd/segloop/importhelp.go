package main

// importHelp is segloop import -h. Every flag that importFlags.register
// defines is named in one section.
var importHelp = helpPage{
	usage: "segloop import [flags] FILE|-|DATABASE-URL",
	about: `Sends every item of the input to Segment's Identify call, through a rate
limiter and a pool of requests sized to the round trip, retrying what can be
retried, and writes one result line per item (NDJSON) to stdout or --results.

FILE is CSV, TSV, a JSON array, JSON Lines (each may be gzip- or
zstd-compressed: told by its first bytes) or Parquet; - reads stdin (say
which --format). DATABASE-URL is postgres://USER@HOST/DB (the password from
$PGPASSWORD or ~/.pgpass rather than the URL) or sqlite:FILE, read with
--query.`,
	sections: []helpSection{
		{"Input", []string{"format", "delimiter", "allow-short-rows", "query", "key"}},
		{"Mapping", []string{"map", "trigger"}},
		{"Destination", []string{"write-key", "endpoint", "region", "sandbox", "dry-run"}},
		{"Pace and retries", []string{"rate", "burst", "adaptive", "concurrency", "max-concurrency", "batch", "max-attempts", "timeout", "redis"}},
		{"Results and failures", []string{"results", "failed", "max-failures"}},
		{"Resume and diff", []string{"checkpoint", "checkpoint-every", "run-key", "diff"}},
		{"Logging", []string{"quiet", "log-format"}},
	},
	examples: `  export SEGMENT_WRITE_KEY=...        # prefer the variable: flags show in ps
  segloop import --dry-run users.csv > check.ndjson
  segloop import --results results.ndjson --failed failed.csv users.csv
  segloop import --results retry.ndjson failed.csv      # the failed rows again
  segloop import --map mapping.json --sandbox export.ndjson.zst
  segloop import --format csv - < users.csv.gz
  segloop import --checkpoint users.ckpt --failed failed.ndjson users.parquet
  PGPASSWORD=... segloop import --query 'SELECT * FROM users' --key id \
      --checkpoint users.ckpt postgres://sync@db.internal/app
  segloop import --query @users.sql sqlite:app.db
  segloop import --diff /var/lib/sync/users.ledger /exports/users.csv   # nightly: only what changed`,
}

// usage is segloop's overview: segloop help, and segloop alone (on stderr).
const usageHead = `usage:
  segloop import [flags] FILE|-|DATABASE-URL
                                   send every item to Segment Identify; results NDJSON to stdout
  segloop serve [flags]            run segloop as an HTTP service (API, page, metrics)
  segloop sandbox [flags]          run a Segment-compatible server locally and print its URL
  segloop version
  segloop help [import|serve|sandbox]
`

// usageTail ends the overview, after the flags of import and serve.
const usageTail = `
Examples:
  segloop import --sandbox --batch 5 users.csv    # try it without an account
  segloop import --results results.ndjson --failed failed.csv users.csv
  segloop serve --token-file token --db runs.db

'segloop help import' (or 'segloop import -h') explains each import flag,
'segloop help serve' the service's, 'segloop help sandbox' the sandbox's.
`
