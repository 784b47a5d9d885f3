package source_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"

	"github.com/segloop/segloop/source"
)

type pqAddress struct {
	City string  `parquet:"city"`
	Zip  *string `parquet:"zip,optional"`
}

type pqOrder struct {
	SKU   string   `parquet:"sku"`
	Qty   int32    `parquet:"qty"`
	Notes []string `parquet:"notes,list"`
}

// pqUser has a column of every kind the reader converts.
type pqUser struct {
	ID        int64             `parquet:"id"`
	Email     *string           `parquet:"email,optional"`
	Active    bool              `parquet:"active"`
	Seats     int32             `parquet:"seats"`
	Score     float64           `parquet:"score"`
	Ratio     float32           `parquet:"ratio"`
	Unsigned  uint64            `parquet:"unsigned"`
	CreatedMs int64             `parquet:"created_ms,timestamp(millisecond)"`
	CreatedUs time.Time         `parquet:"created_us,timestamp(microsecond)"`
	CreatedNs time.Time         `parquet:"created_ns,timestamp(nanosecond)"`
	Legacy    deprecated.Int96  `parquet:"legacy"`
	Birthday  int32             `parquet:"birthday,date"`
	Wake      int64             `parquet:"wake,time(microsecond)"`
	Price     int64             `parquet:"price,decimal(2:18)"`
	Small     int32             `parquet:"small,decimal(3:9)"`
	Huge      [16]byte          `parquet:"huge,decimal(4:38)"`
	Tags      []string          `parquet:"tags,list"`
	Maybe     []*string         `parquet:"maybe,list" parquet-element:",optional"`
	Nums      []int32           `parquet:"nums"` // a bare repeated column
	Orders    []pqOrder         `parquet:"orders,list"`
	Address   *pqAddress        `parquet:"address,optional"`
	Attrs     map[string]string `parquet:"attrs"`
	Profile   string            `parquet:"profile,json"`
	UUID      [16]byte          `parquet:"uuid,uuid"`
	Blob      []byte            `parquet:"blob"`
	Plan      string            `parquet:"plan,enum"`
	Note      *string           `parquet:"note,optional"`
}

func ptr[T any](v T) *T { return &v }

// writeParquet writes rows to a file in t's temp dir, rowGroup rows to a
// row group.
func writeParquet[T any](t testing.TB, rows []T, rowGroup int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[T](f)
	for len(rows) > 0 {
		n := min(rowGroup, len(rows))
		if _, err := w.Write(rows[:n]); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil { // ends the row group
			t.Fatal(err)
		}
		rows = rows[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// asJSON renders fields as canonical JSON, so a test compares values and
// their JSON types (a json.Number is a number, a string a string).
func asJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var canon any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&canon); err != nil {
		t.Fatal(err)
	}
	b, _ = json.Marshal(canon)
	return string(b)
}

func TestParquetTypes(t *testing.T) {
	huge := [16]byte{}
	huge[15] = 0x01                                                                                                     // 1 with scale 4 = 0.0001; then make it negative below
	negHuge := [16]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x85} // -123
	at := time.Date(2024, 5, 1, 12, 30, 15, 123456789, time.UTC)
	julian := uint32(2440588 + at.Unix()/86400)
	nanosOfDay := uint64(at.Sub(at.Truncate(24 * time.Hour)))
	uuid := [16]byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}
	rows := []pqUser{
		{
			ID: 9007199254740993, Email: ptr("ada@example.com"), Active: true, Seats: -12,
			Score: 0.1, Ratio: 1.5, Unsigned: math.MaxUint64,
			CreatedMs: at.UnixMilli(), CreatedUs: at, CreatedNs: at,
			Legacy:   deprecated.Int96{uint32(nanosOfDay), uint32(nanosOfDay >> 32), julian},
			Birthday: int32(time.Date(1990, 12, 31, 0, 0, 0, 0, time.UTC).Unix() / 86400),
			Wake:     int64(7*time.Hour+5*time.Minute) / 1000,
			Price:    1250, Small: -5, Huge: huge,
			Tags:    []string{"a", "b"},
			Maybe:   []*string{ptr("x"), nil, ptr("z")},
			Nums:    []int32{1, 2, 3},
			Orders:  []pqOrder{{SKU: "s1", Qty: 2, Notes: []string{"gift"}}, {SKU: "s2", Qty: 1}},
			Address: &pqAddress{City: "Paris", Zip: ptr("75001")},
			Attrs:   map[string]string{"k": "v"},
			Profile: `{"age": 36, "big": 12345678901234567890, "langs": ["en", "fr"]}`,
			UUID:    uuid, Blob: []byte{0, 1, 2, 0xff}, Plan: "pro",
		},
		{ID: 2, Huge: negHuge, Score: math.NaN(), Ratio: float32(math.Inf(-1)), Profile: `null`, // JSON null: absent
			CreatedUs: time.Unix(0, 0), CreatedNs: time.Unix(0, 0)},
	}
	path := writeParquet(t, rows, 10)
	want := []string{
		`{"active":true,"address":{"city":"Paris","zip":"75001"},"attrs":{"k":"v"},"birthday":"1990-12-31",` +
			`"blob":"AAEC/w==","created_ms":"2024-05-01T12:30:15.123Z","created_ns":"2024-05-01T12:30:15.123456789Z",` +
			`"created_us":"2024-05-01T12:30:15.123456Z","email":"ada@example.com","huge":0.0001,"id":9007199254740993,` +
			`"legacy":"2024-05-01T12:30:15.123456789Z","maybe":["x",null,"z"],"nums":[1,2,3],` +
			`"orders":[{"notes":["gift"],"qty":2,"sku":"s1"},{"notes":[],"qty":1,"sku":"s2"}],"plan":"pro",` +
			`"price":12.50,"profile":{"age":36,"big":12345678901234567890,"langs":["en","fr"]},"ratio":1.5,` +
			`"score":0.1,"seats":-12,"small":-0.005,"tags":["a","b"],"unsigned":18446744073709551615,` +
			`"uuid":"123e4567-e89b-12d3-a456-426614174000","wake":"07:05:00.000000"}`,
		`{"active":false,"attrs":{},"birthday":"1970-01-01","blob":"","created_ms":"1970-01-01T00:00:00.000Z",` +
			`"created_ns":"1970-01-01T00:00:00.000000000Z","created_us":"1970-01-01T00:00:00.000000Z","huge":-0.0123,"id":2,` +
			`"legacy":"-4713-11-24T00:00:00.000000000Z","maybe":[],"nums":[],"orders":[],"plan":"","price":0.00,` +
			`"ratio":"-Infinity","score":"NaN","seats":0,"small":0.000,"tags":[],"unsigned":0,` +
			`"uuid":"00000000-0000-0000-0000-000000000000","wake":"00:00:00.000000"}`,
	}
	recs, err := readAll(t, openFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records, want %d", len(recs), len(want))
	}
	for i, rec := range recs {
		if rec.Err != nil {
			t.Fatalf("row %d: %v", i, rec.Err)
		}
		if rec.Line != i+1 || rec.Index != int64(i) {
			t.Errorf("row %d: Line %d Index %d", i, rec.Line, rec.Index)
		}
		if got := asJSON(t, rec.Fields); got != asJSON(t, json.RawMessage(want[i])) {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, asJSON(t, json.RawMessage(want[i])))
		}
	}
	// Exact types, not only JSON forms: numbers are json.Number, text strings.
	f := recs[0].Fields
	if _, ok := f["id"].(json.Number); !ok {
		t.Errorf("id is %T, want json.Number", f["id"])
	}
	if f["price"] != json.Number("12.50") || f["huge"] != json.Number("0.0001") {
		t.Errorf("decimals: price %#v huge %#v", f["price"], f["huge"])
	}
	if _, present := recs[1].Fields["email"]; present {
		t.Errorf("a NULL column is present: %#v", recs[1].Fields["email"])
	}
}

// TestParquetManyRowGroups reads rows across row groups and batches,
// counting every one.
func TestParquetManyRowGroups(t *testing.T) {
	type row struct {
		ID    int64   `parquet:"id"`
		Email *string `parquet:"email,optional"`
	}
	const n = 10_000
	rows := make([]row, n)
	for i := range rows {
		rows[i].ID = int64(i)
		if i%3 == 0 {
			rows[i].Email = ptr(fmt.Sprintf("u%d@example.com", i))
		}
	}
	recs, err := readAll(t, openFile(t, writeParquet(t, rows, 777)))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Fatalf("got %d rows, want %d", len(recs), n)
	}
	for i, rec := range recs {
		if rec.Err != nil || rec.Fields["id"] != json.Number(fmt.Sprint(i)) || rec.Line != i+1 {
			t.Fatalf("row %d: %v %v line %d", i, rec.Fields, rec.Err, rec.Line)
		}
		_, has := rec.Fields["email"]
		if has != (i%3 == 0) {
			t.Fatalf("row %d: email present %v", i, has)
		}
	}
}

func TestParquetItemErrors(t *testing.T) {
	type row struct {
		ID      int64  `parquet:"id"`
		Name    string `parquet:"name"`
		Profile string `parquet:"profile,json"`
		Blob    []byte `parquet:"blob"`
	}
	rows := []row{
		{ID: 1, Name: "ok", Profile: `{}`},
		{ID: 2, Name: "bad \xff utf-8", Profile: `{}`},
		{ID: 3, Name: "ok", Profile: `{"a":`},
		{ID: 4, Name: "ok", Profile: `{}`, Blob: bytes.Repeat([]byte{'x'}, 2000)},
		{ID: 5, Name: "ok", Profile: `{} {}`},
		{ID: 6, Name: "ok", Profile: `[1]`},
	}
	f, err := os.Open(writeParquet(t, rows, 10))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := source.Open(f, source.Parquet, source.Options{MaxItemBytes: 1000})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	check(t, recs, []item{
		{Line: 1},
		{Line: 2, Err: `line 2: column "name": invalid UTF-8`},
		{Line: 3, Err: `line 3: column "profile": unexpected EOF`},
		{Line: 4, Err: "item too large"},
		{Line: 5, Err: `column "profile": unexpected data after the JSON value`},
		{Line: 6},
	})
	if !errors.Is(recs[1].Err, source.ErrInvalidUTF8) || !errors.Is(recs[3].Err, source.ErrItemTooLarge) {
		t.Errorf("errors do not wrap their sentinels: %v, %v", recs[1].Err, recs[3].Err)
	}
}

func TestParquetNotSeekable(t *testing.T) {
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	defer pw.Close()
	for _, r := range []any{pr, strings.NewReader("PAR1")} {
		var err error
		if rd, ok := r.(interface{ Read([]byte) (int, error) }); ok {
			_, err = source.Open(rd, source.Parquet, source.Options{})
		}
		if _, isStrings := r.(*strings.Reader); isStrings {
			// a *strings.Reader has ReadAt and Size: it is read, and is no Parquet file
			var se *source.StreamError
			if !errors.As(err, &se) {
				t.Errorf("got %v, want a *StreamError", err)
			}
			continue
		}
		if !errors.Is(err, source.ErrNotSeekable) {
			t.Errorf("got %v, want ErrNotSeekable", err)
		}
	}
}

// legacyList is a group annotated LIST around a repeated field: the
// two-level lists of older writers.
type legacyList struct{ parquet.Group }

func (legacyList) Type() parquet.Type { return parquet.List(parquet.Int(32)).Type() }

// TestParquetSchemaShapes covers nested lists, optional lists and maps with
// null values, built from explicit schema nodes.
func TestParquetSchemaShapes(t *testing.T) {
	schema := parquet.NewSchema("t", parquet.Group{
		"counts": parquet.Map(parquet.String(), parquet.Optional(parquet.Int(64))),
		"matrix": parquet.List(parquet.List(parquet.Int(32))),
		"empty":  parquet.Optional(parquet.List(parquet.String())),
	})
	path := filepath.Join(t.TempDir(), "shapes.parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w := parquet.NewGenericWriter[map[string]any](f, schema)
	if _, err := w.Write([]map[string]any{
		{"counts": map[string]any{"a": int64(1), "b": nil}, "matrix": []any{[]any{int32(1), int32(2)}, []any{}, []any{int32(3)}}, "empty": []any{}},
		{"counts": map[string]any{}, "matrix": []any{}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	recs, err := readAll(t, openFile(t, path))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{"counts":{"a":1},"empty":[],"matrix":[[1,2],[],[3]]}`,
		`{"counts":{},"matrix":[]}`,
	}
	if len(recs) != len(want) {
		t.Fatalf("got %d records", len(recs))
	}
	for i, rec := range recs {
		if rec.Err != nil {
			t.Fatal(rec.Err)
		}
		if got := asJSON(t, rec.Fields); got != asJSON(t, json.RawMessage(want[i])) {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}

// TestParquetLegacyLists reads the two-level lists of older writers (a LIST
// group around a bare repeated field), written as raw rows with explicit
// repetition and definition levels.
func TestParquetLegacyLists(t *testing.T) {
	schema := parquet.NewSchema("t", parquet.Group{
		"legacy": legacyList{parquet.Group{"array": parquet.Repeated(parquet.Int(32))}},
		"pairs":  legacyList{parquet.Group{"pair": parquet.Repeated(parquet.Group{"a": parquet.Int(32), "b": parquet.Int(32)})}},
	})
	var buf bytes.Buffer
	w := parquet.NewWriter(&buf, schema)
	i32 := func(v int32, rep, def, col int) parquet.Value { return parquet.Int32Value(v).Level(rep, def, col) }
	null := func(col int) parquet.Value { return parquet.NullValue().Level(0, 0, col) }
	rows := []parquet.Row{
		{i32(7, 0, 1, 0), i32(8, 1, 1, 0), i32(1, 0, 1, 1), i32(3, 1, 1, 1), i32(2, 0, 1, 2), i32(4, 1, 1, 2)},
		{null(0), null(1), null(2)},
	}
	if _, err := w.WriteRows(rows); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := source.Open(bytes.NewReader(buf.Bytes()), source.Parquet, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	recs, err := readAll(t, r)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`{"legacy":[7,8],"pairs":[{"a":1,"b":2},{"a":3,"b":4}]}`, `{"legacy":[],"pairs":[]}`}
	if len(recs) != len(want) {
		t.Fatalf("got %d records", len(recs))
	}
	for i, rec := range recs {
		if rec.Err != nil {
			t.Fatal(rec.Err)
		}
		if got := asJSON(t, rec.Fields); got != asJSON(t, json.RawMessage(want[i])) {
			t.Errorf("row %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
}
