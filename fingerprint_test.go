package segloop_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/segloop/segloop"
	"github.com/segloop/segloop/source"
)

func TestFingerprint(t *testing.T) {
	file := filepath.Join(t.TempDir(), "in.csv")
	if err := os.WriteFile(file, []byte("id\nu1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := segloop.FileInput(file, source.CSV, 0)
	if err != nil {
		t.Fatal(err)
	}
	fp := segloop.Fingerprint(in, []byte(`{"userId":"{{item.id}}"}`), nil)
	if len(fp) != 32 || fp != segloop.Fingerprint(in, []byte(`{"userId":"{{item.id}}"}`), nil) {
		t.Fatalf("fingerprint %q is not 32 stable hex digits", fp)
	}
	differs := map[string]string{
		"mapping": segloop.Fingerprint(in, []byte(`{}`), nil),
		"trigger": segloop.Fingerprint(in, []byte(`{"userId":"{{item.id}}"}`), []byte(`{}`)),
		"stream":  segloop.Fingerprint(segloop.StreamInput("s", source.CSV, 0), []byte(`{"userId":"{{item.id}}"}`), nil),
	}
	query := func(desc, name string) string {
		return segloop.Fingerprint(segloop.QueryInput(desc, name), []byte(`{"userId":"{{item.id}}"}`), nil)
	}
	q := query("query sqlite:/a.db\nkey \"\"\nSELECT 1", "")
	if q != query("query sqlite:/a.db\nkey \"\"\nSELECT 1", "") {
		t.Error("a query's fingerprint is not stable")
	}
	for what, other := range map[string]string{
		"query text": query("query sqlite:/a.db\nkey \"\"\nSELECT 2", ""),
		"database":   query("query sqlite:/b.db\nkey \"\"\nSELECT 1", ""),
		"name":       query("query sqlite:/a.db\nkey \"\"\nSELECT 1", "nightly"),
	} {
		if other == q {
			t.Errorf("another %s gives the same query fingerprint", what)
		}
	}
	if err := os.Chtimes(file, time.Now(), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	touched, _ := segloop.FileInput(file, source.CSV, 0)
	differs["modified"] = segloop.Fingerprint(touched, []byte(`{"userId":"{{item.id}}"}`), nil)
	for what, other := range differs {
		if other == fp {
			t.Errorf("another %s gives the same fingerprint", what)
		}
	}
	k1, k2 := segloop.DerivedRunKey(fp), segloop.DerivedRunKey(fp)
	n1, n2 := segloop.NewRunKey(), segloop.NewRunKey()
	if k1 != k2 || n1 == n2 || k1 == segloop.DerivedRunKey(differs["mapping"]) {
		t.Error("DerivedRunKey must be stable and distinct per fingerprint, NewRunKey fresh")
	}
	if segloop.DestinationFingerprint(fp, "a") == segloop.DestinationFingerprint(fp, "b") {
		t.Error("destinations not told apart")
	}
}
