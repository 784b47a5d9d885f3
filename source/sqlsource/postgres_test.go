package sqlsource_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testserver"
	"github.com/segloop/segloop/source"
	"github.com/segloop/segloop/source/sqlsource"
)

func TestMain(m *testing.M) { testserver.Main(m) }

func open(t testing.TB, q sqlsource.Query) *sqlsource.Reader {
	t.Helper()
	r, err := sqlsource.Open(context.Background(), q, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// readAll drains r, checking Index and Line count up from 0 and 1.
func readAll(t testing.TB, r source.Reader) ([]source.Record, error) {
	t.Helper()
	var out []source.Record
	for {
		rec, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		if rec.Index != int64(len(out)) || rec.Line != len(out)+1 {
			t.Fatalf("record %d has Index %d, Line %d", len(out), rec.Index, rec.Line)
		}
		out = append(out, rec)
	}
}

// TestPostgresTable reads a 100k-row table of the usual column types and
// checks every row's values and their types.
func TestPostgresTable(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	const n = 100_000
	testserver.MustExec(t, url, `CREATE TABLE users (id int PRIMARY KEY, big bigint, active bool, profile jsonb,
		created timestamptz, price numeric(12,2), name text, note text)`,
		fmt.Sprintf(`INSERT INTO users SELECT i, 9007199254740993 + i, i %% 2 = 0,
			jsonb_build_object('n', i, 'tags', jsonb_build_array('a', i), 'big', 12345678901234567890),
			to_timestamp(1704067200 + i) + (i %% 1000) * interval '1 microsecond', i / 100.0, 'user ' || i,
			CASE WHEN i %% 3 = 0 THEN NULL ELSE 'n' || i END
			FROM generate_series(1, %d) i`, n))
	q := sqlsource.Query{URL: url, Text: "SELECT * FROM users ORDER BY id"}
	if !q.Ordered() {
		t.Error("a query with ORDER BY is not Ordered")
	}
	r := open(t, q)
	if got := strings.Join(r.Columns(), ","); got != "id,big,active,profile,created,price,name,note" {
		t.Errorf("columns %s", got)
	}
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("got %d rows, want %d", len(recs), n)
	}
	for k, rec := range recs {
		i := k + 1
		if rec.Err != nil {
			t.Fatalf("row %d: %v", i, rec.Err)
		}
		f, is := rec.Fields, strconv.Itoa(i)
		created := time.Unix(1704067200+int64(i), int64(i%1000)*1000).UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		cents := strconv.Itoa(100 + i%100)[1:]
		if f["id"] != json.Number(is) || f["big"] != json.Number(strconv.FormatInt(9007199254740993+int64(i), 10)) ||
			f["active"] != (i%2 == 0) || f["created"] != created || f["price"] != json.Number(strconv.Itoa(i/100)+"."+cents) ||
			f["name"] != "user "+is {
			t.Fatalf("row %d: %#v", i, f)
		}
		profile, ok := f["profile"].(map[string]any)
		if !ok || profile["n"] != json.Number(is) || profile["big"] != json.Number("12345678901234567890") {
			t.Fatalf("row %d: profile %#v", i, f["profile"])
		}
		if tags, ok := profile["tags"].([]any); !ok || len(tags) != 2 || tags[0] != "a" || tags[1] != json.Number(is) {
			t.Fatalf("row %d: tags %#v", i, profile["tags"])
		}
		note, has := f["note"]
		if has != (i%3 != 0) || has && note != "n"+is {
			t.Fatalf("row %d: note %#v present %v", i, note, has)
		}
	}
}

// TestPostgresTypes checks each type's conversion, numeric against
// PostgreSQL's own text for the same value.
func TestPostgresTypes(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	testserver.MustExec(t, url, `CREATE TYPE mood AS ENUM ('happy', 'sad')`, `CREATE DOMAIN posint AS int CHECK (VALUE > 0)`)
	r := open(t, sqlsource.Query{URL: url, Text: `SELECT
		1::smallint AS i2, '-2147483648'::int AS i4, 9223372036854775807::bigint AS i8, 4000000000::oid AS oid,
		1.5::real AS f4, 0.1::float8 AS f8, 'NaN'::float8 AS fnan, '-Infinity'::float4 AS finf,
		'NaN'::numeric AS nnan, 'Infinity'::numeric AS ninf,
		true AS yes, false AS no,
		'{"a": 1, "b": [1.50, null]}'::json AS j, '[12345678901234567890]'::jsonb AS jb, 'null'::jsonb AS jnull,
		'2024-05-01 12:30:15.123456+02'::timestamptz AS tstz, '2024-05-01 12:30:15.123456'::timestamp(3) AS ts3,
		'2024-05-01 12:30:15'::timestamp(0) AS ts0, 'infinity'::timestamptz AS tinf, '-infinity'::timestamp AS tninf,
		'1990-12-31'::date AS d, '0044-03-15'::date AS dold, 'infinity'::date AS dinf,
		'123e4567-e89b-12d3-a456-426614174000'::uuid AS u, '\x0001ff'::bytea AS b,
		'ab'::char(3) AS bp, 'v'::varchar(5) AS vc, 'nm'::name AS nm, 'héllo'::text AS t,
		ARRAY['a', NULL, 'c'] AS ta, ARRAY[[1, 2], [3, 4]] AS ia2, '{}'::int[] AS iempty,
		ARRAY[1.50, -0.001]::numeric[] AS na, ARRAY['{"x":1}'::jsonb] AS ja, ARRAY['2024-01-02'::date] AS da,
		ARRAY['2024-01-02 03:04:05.6+00'::timestamptz] AS tsa, ARRAY[true, false] AS ba,
		'1 day 02:03:04'::interval AS iv, '10.0.0.1/8'::inet AS ip, '13:14:15'::time AS tm,
		'happy'::mood AS m, 7::posint AS dom, 12.34::money AS mon, NULL::int AS nothing`})
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Err != nil {
		t.Fatalf("got %d records: %v", len(recs), recs)
	}
	f := recs[0].Fields
	want := map[string]any{
		"i2": json.Number("1"), "i4": json.Number("-2147483648"), "i8": json.Number("9223372036854775807"), "oid": json.Number("4000000000"),
		"f4": json.Number("1.5"), "f8": json.Number("0.1"), "fnan": "NaN", "finf": "-Infinity",
		"nnan": "NaN", "ninf": "Infinity", "yes": true, "no": false,
		"tstz": "2024-05-01T10:30:15.123456Z", "ts3": "2024-05-01T12:30:15.123Z", "ts0": "2024-05-01T12:30:15Z",
		"tinf": "infinity", "tninf": "-infinity",
		"d": "1990-12-31", "dold": "0044-03-15", "dinf": "infinity",
		"u": "123e4567-e89b-12d3-a456-426614174000", "b": "AAH/",
		"bp": "ab ", "vc": "v", "nm": "nm", "t": "héllo",
		"iv": "1 day 02:03:04", "ip": "10.0.0.1/8", "tm": "13:14:15", "m": "happy", "dom": json.Number("7"), "mon": "$12.34",
	}
	for key, w := range want {
		if f[key] != w {
			t.Errorf("%s = %#v, want %#v", key, f[key], w)
		}
	}
	wantJSON := map[string]string{
		"j": `{"a":1,"b":[1.50,null]}`, "jb": `[12345678901234567890]`,
		"ta": `["a",null,"c"]`, "ia2": `[[1,2],[3,4]]`, "iempty": `[]`, "na": `[1.50,-0.001]`, "ja": `[{"x":1}]`,
		"da": `["2024-01-02"]`, "tsa": `["2024-01-02T03:04:05.600000Z"]`, "ba": `[true,false]`,
	}
	for key, w := range wantJSON {
		if b, err := json.Marshal(f[key]); err != nil || string(b) != w {
			t.Errorf("%s = %s (%v), want %s", key, b, err, w)
		}
	}
	for _, absent := range []string{"nothing", "jnull"} {
		if v, ok := f[absent]; ok {
			t.Errorf("%s is present: %#v", absent, v)
		}
	}

	// numeric: the JSON number is PostgreSQL's own text, for values of many shapes.
	r = open(t, sqlsource.Query{URL: url, Text: `SELECT v, v::text AS s FROM (VALUES
		(0::numeric), (0.000), (-0.5), (1), (10000), (100000000), (12345.6789), (0.0001), (0.00012),
		(-0.00000123), (123456789012345678901234567890.123456789), (1e-20), (1e20), (9999.9999), (-10000.0001),
		(1.5e300), (2.50)) AS t(v)`})
	recs, err = readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	for _, rec := range recs {
		if rec.Err != nil || rec.Fields["v"] != json.Number(rec.Fields["s"].(string)) {
			t.Errorf("numeric %v: got %#v (%v)", rec.Fields["s"], rec.Fields["v"], rec.Err)
		}
	}
	if len(recs) != 17 {
		t.Errorf("got %d numerics", len(recs))
	}
}

// TestPostgresKey: --key sorts the rows by that column; a key that is no
// column, and duplicate column names, are refused.
func TestPostgresKey(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	testserver.MustExec(t, url, `CREATE TABLE t (id int, v text)`,
		`INSERT INTO t SELECT i, 'v' || i FROM generate_series(1, 1000) i ORDER BY random()`)
	q := sqlsource.Query{URL: url, Text: "SELECT * FROM t -- no order\n;", Key: "id"}
	if !q.Ordered() || (sqlsource.Query{URL: url, Text: q.Text}).Ordered() {
		t.Error("Ordered does not follow the key")
	}
	recs, err := readAll(t, open(t, q))
	if err != nil {
		t.Fatal(err)
	}
	for i, rec := range recs {
		if rec.Fields["id"] != json.Number(fmt.Sprint(i+1)) {
			t.Fatalf("row %d: id %v", i, rec.Fields["id"])
		}
	}
	if len(recs) != 1000 {
		t.Fatalf("got %d rows", len(recs))
	}
	for _, c := range []struct {
		q    sqlsource.Query
		want error
	}{
		{sqlsource.Query{URL: url, Text: "SELECT * FROM t", Key: "nope"}, sqlsource.ErrNoColumn},
		{sqlsource.Query{URL: url, Text: "SELECT id AS a, v AS a FROM t"}, sqlsource.ErrDuplicateColumn},
	} {
		_, err := sqlsource.Open(context.Background(), c.q, source.Options{})
		if !errors.Is(err, c.want) {
			t.Errorf("%+v: got %v, want %v", c.q, err, c.want)
		}
		noSecret(t, err, password)
	}
}

// noSecret fails t if err, anything it wraps, or its %+v form holds secret.
func noSecret(t *testing.T, err error, secret string) {
	t.Helper()
	if err == nil {
		return
	}
	if strings.Contains(fmt.Sprintf("%v %+v %#v", err, err, err), secret) {
		t.Errorf("the error holds the password: %v", err)
	}
	for e := errors.Unwrap(err); e != nil; e = errors.Unwrap(e) {
		if strings.Contains(e.Error(), secret) {
			t.Errorf("a wrapped error holds the password: %v", e)
		}
	}
}

// freeAddr returns a loopback address nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// TestPostgresErrors: every fault is an *Error that keeps PostgreSQL's own
// message and never the password.
func TestPostgresErrors(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	testserver.MustExec(t, url, `CREATE TABLE t (id int)`)
	host := url[strings.LastIndex(url, "@")+1 : strings.LastIndex(url, "/")]
	wrong := "Wr0ngPassw0rd" + password[:4]
	cases := []struct {
		name, url, text string
		op, code, msg   string
	}{
		{"connection refused", strings.Replace(url, host, freeAddr(t), 1), "SELECT 1", "connect", "", "connection refused"},
		{"wrong password", strings.Replace(url, password, wrong, 1), "SELECT 1", "connect", "28P01", `password authentication failed for user "segloop"`},
		{"password parameter", "postgres://segloop@" + host + "/nosuchdb?sslmode=disable&password=" + password, "SELECT 1", "connect", "3D000", `database "nosuchdb" does not exist`},
		{"bad url", "postgres://segloop:" + password + "@" + host + ":notaport/x", "SELECT 1", "connect", "", "cannot parse"},
		{"syntax error", url, "SELEC id FROM t", "query", "42601", `syntax error at or near "SELEC" (SQLSTATE 42601) (at character 1 of the query)`},
		{"no table", url, "SELECT * FROM nosuch", "query", "42P01", `relation "nosuch" does not exist`},
		{"write refused", url, "INSERT INTO t VALUES (1) RETURNING id", "query", "25006", "cannot execute INSERT in a read-only transaction"},
		{"two statements", url, "SELECT 1; SELECT 2", "query", "42601", "cannot insert multiple commands into a prepared statement"},
		{"no result", url, "SET search_path = public", "query", "", "returns no rows"},
		{"empty", url, " -- nothing\n;", "query", "", "empty"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := sqlsource.Query{URL: c.url, Text: c.text}
			_, err := sqlsource.Open(context.Background(), q, source.Options{})
			var se *sqlsource.Error
			if !errors.As(err, &se) || se.Op != c.op || se.Code != c.code || !strings.Contains(err.Error(), c.msg) {
				t.Fatalf("got %v (%T), want an *Error of op %q, code %q, containing %q", err, err, c.op, c.code, c.msg)
			}
			noSecret(t, err, password)
			noSecret(t, err, wrong)
			for _, s := range []string{q.Description(), q.Redacted()} {
				if strings.Contains(s, password) {
					t.Errorf("%q holds the password", s)
				}
			}
			t.Log(err)
		})
	}
}

// TestPostgresReadError: a fault mid-stream ends reading after the rows
// before it, with PostgreSQL's message.
func TestPostgresReadError(t *testing.T) {
	url, password := testserver.SharedPostgres(t)
	r := open(t, sqlsource.Query{URL: url, Text: "SELECT i, 1 / (1000 - i) AS x FROM generate_series(1, 2000) i"})
	recs, err := readAll(t, r)
	var se *sqlsource.Error
	if !errors.As(err, &se) || se.Op != "read" || se.Code != "22012" || !strings.Contains(err.Error(), "division by zero") {
		t.Fatalf("got %v, want a read *Error with division by zero", err)
	}
	if len(recs) != 999 {
		t.Errorf("got %d rows before the fault, want 999", len(recs))
	}
	noSecret(t, err, password)
	if _, err2 := r.Next(); err2 != err {
		t.Errorf("Next after the fault: %v", err2)
	}
}

// TestPostgresCancel: a context that ends stops the read, with an error
// wrapping context.Canceled; Close mid-stream does not read the rest.
func TestPostgresCancel(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r, err := sqlsource.Open(ctx, sqlsource.Query{URL: url, Text: "SELECT generate_series(1, 100000000) AS i"}, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for range 1000 {
		if _, err := r.Next(); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	// A query in the select list streams; in FROM, generate_series would be
	// materialised whole before the first row.
	for {
		_, err := r.Next()
		if err == nil {
			continue // rows already buffered
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		break
	}

	r2 := open(t, sqlsource.Query{URL: url, Text: "SELECT generate_series(1, 100000000) AS i"})
	if _, err := r2.Next(); err != nil {
		t.Fatal(err)
	}
	if err := r2.Close(); err != nil { // returns without fetching 10^8 rows
		t.Fatal(err)
	}
	if _, err := r2.Next(); err == nil || err == io.EOF {
		t.Errorf("Next after Close: %v", err)
	}
}

// TestPostgresItemErrors: a row too large is an item error; reading goes on.
func TestPostgresItemErrors(t *testing.T) {
	url, _ := testserver.SharedPostgres(t)
	r, err := sqlsource.Open(context.Background(), sqlsource.Query{URL: url,
		Text: "SELECT i, repeat('x', CASE WHEN i = 2 THEN 5000 ELSE 10 END) AS s FROM generate_series(1, 3) i"},
		source.Options{MaxItemBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || recs[0].Err != nil || recs[2].Err != nil || !errors.Is(recs[1].Err, source.ErrItemTooLarge) {
		t.Fatalf("got %+v", recs)
	}
	var ie *source.ItemError
	if !errors.As(recs[1].Err, &ie) || ie.Line != 2 || recs[1].Fields != nil {
		t.Errorf("row 2: %v", recs[1].Err)
	}
}
