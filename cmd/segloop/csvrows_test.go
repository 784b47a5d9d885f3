package main

import (
	"context"
	"encoding/csv"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/segloop/segloop/segment/segmenttest"
)

// shortRowsCSV has a row (u2) that lacks its last cell and one (u3) that
// lacks two; the others are whole.
const shortRowsCSV = "id,email,plan\nu1,a@example.com,pro\nu2,b@example.com\nu3\nu4,d@example.com,team\n"

func TestImportShortRowsInvalid(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", shortRowsCSV)
	failed := writeFile(t, "failed.csv", "")
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--failed", failed, file)...)
	if r.code != exitIncomplete {
		t.Fatalf("exit code %d, want %d; stderr:\n%s", r.code, exitIncomplete, r.stderr)
	}
	lines := parseResults(t, r.stdout)
	if len(lines) != 4 {
		t.Fatalf("got %d result lines, want 4 (one per row)", len(lines))
	}
	want := map[int64]string{
		1: "line 3: fewer cells than header columns: row has 2 cells, header has 3",
		2: "line 4: fewer cells than header columns: row has 1 cells, header has 3",
	}
	for _, l := range lines {
		msg, bad := want[l.Index]
		switch {
		case bad && (l.Status != "invalid" || l.Error != msg || l.Attempts != 0):
			t.Errorf("row %d: got %s %q, want invalid %q", l.Index, l.Status, l.Error, msg)
		case !bad && l.Status != "ok":
			t.Errorf("row %d: got %s %q, want ok", l.Index, l.Status, l.Error)
		}
	}
	if st := srv.Stats(); st.Unique != 2 {
		t.Fatalf("server got %d events, want the 2 whole rows", st.Unique)
	}
	// The failed-items file keeps the short rows, padded to the header, ready
	// to be fixed and re-run.
	f, err := os.Open(failed)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || strings.Join(recs[1][:4], ",") != "u2,b@example.com,,invalid" || strings.Join(recs[2][:4], ",") != "u3,,,invalid" {
		t.Fatalf("failed file:\n%q", recs)
	}
}

func TestImportAllowShortRows(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", shortRowsCSV)
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, "--allow-short-rows", file)...)
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	if got := byStatus(parseResults(t, r.stdout)); got["ok"] != 4 {
		t.Fatalf("results %v, want 4 ok", got)
	}
	traits := map[string]map[string]any{}
	for _, e := range srv.Events() {
		traits[e.UserID] = e.Traits
	}
	if len(traits) != 4 {
		t.Fatalf("server got %d users, want 4", len(traits))
	}
	// Missing trailing cells are absent, as empty cells are: they never blank a trait.
	if _, ok := traits["u2"]["plan"]; ok || traits["u2"]["email"] != "b@example.com" {
		t.Errorf("u2: traits %v, want email and no plan", traits["u2"])
	}
	if len(traits["u3"]) != 0 {
		t.Errorf("u3: traits %v, want none", traits["u3"])
	}
	if traits["u4"]["plan"] != "team" {
		t.Errorf("u4: traits %v", traits["u4"])
	}
}

func TestImportAllowShortRowsNeedsCSV(t *testing.T) {
	file := writeFile(t, "users.ndjson", `{"id":"u1"}`+"\n")
	r := runCLI(t, context.Background(), nil, "import", "--dry-run", "--allow-short-rows", file)
	if r.code != exitUsage || !strings.Contains(r.stderr, "--allow-short-rows") {
		t.Fatalf("exit code %d, want %d naming the flag; stderr:\n%s", r.code, exitUsage, r.stderr)
	}
}

// TestImportCarriageReturnInQuotes: a CR inside a quoted cell reaches
// Segment as written.
func TestImportCarriageReturnInQuotes(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "stories.csv", "id,story,title\r\nu1,\"Once upon \r\na time\",\"x\"\r\nu2,\"plain\",\"a\rb\"\r\n")
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, file)...)
	if r.code != exitOK {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	got := map[string]map[string]any{}
	for _, e := range srv.Events() {
		got[e.UserID] = e.Traits
	}
	if s := got["u1"]["story"]; s != "Once upon \r\na time" {
		t.Errorf("u1 story = %q, want %q", s, "Once upon \r\na time")
	}
	if s := got["u1"]["title"]; s != "x" {
		t.Errorf("u1 title = %q, want %q (the row's CRLF is not part of the cell)", s, "x")
	}
	if s := got["u2"]["title"]; s != "a\rb" {
		t.Errorf("u2 title = %q, want %q", s, "a\rb")
	}
}

// TestImportTraitsColumn: a traits column holding a JSON object is merged
// into the traits (the other columns win); one that is not an object makes
// its row invalid, with the reason.
func TestImportTraitsColumn(t *testing.T) {
	srv := newServer(t, segmenttest.Options{})
	file := writeFile(t, "users.csv", "id,email,plan,traits\n"+
		`u1,a@example.com,pro,"{""company"":""Acme"",""plan"":""free"",""seats"":12,""tags"":[""a"",""b""],""e"":""\u00e9""}"`+"\n"+
		`u2,b@example.com,,"{""plan"":""free""}"`+"\n"+
		`u3,c@example.com,pro,"[1,2]"`+"\n"+
		`u4,d@example.com,pro,"{""seats"":"`+"\n"+
		"u5,e@example.com,team,\n")
	r := runCLI(t, context.Background(), nil, importArgs(srv.URL, file)...)
	if r.code != exitIncomplete {
		t.Fatalf("exit code %d; stderr:\n%s", r.code, r.stderr)
	}
	lines := parseResults(t, r.stdout)
	wantErr := map[int64]string{
		2: `traits: "[1,2]" is not a JSON object`,
		3: `traits: "{\"seats\":" is not a JSON object: unexpected EOF`,
	}
	for _, l := range lines {
		if w, bad := wantErr[l.Index]; bad != (l.Status == "invalid") || l.Error != w {
			t.Errorf("row %d: got %s %q, want error %q", l.Index, l.Status, l.Error, w)
		}
	}
	traits := map[string]map[string]any{}
	for _, e := range srv.Events() {
		traits[e.UserID] = e.Traits
	}
	want := map[string]map[string]any{
		"u1": {"email": "a@example.com", "plan": "pro", "company": "Acme", "seats": float64(12), "tags": []any{"a", "b"}, "e": "é"},
		"u2": {"email": "b@example.com", "plan": "free"},
		"u5": {"email": "e@example.com", "plan": "team"},
	}
	if !reflect.DeepEqual(traits, want) {
		t.Fatalf("server traits\n%v\nwant\n%v", traits, want)
	}
}
