package checkpoint_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/segloop/segloop/checkpoint"
)

func TestMismatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nightly.ckpt")
	f := open(t, path, "input-a+mapping-1")
	mark(t, f, 0, 1, 2)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(path)

	g, err := checkpoint.Open(path, "input-b+mapping-1", checkpoint.Options{})
	if err == nil {
		_ = g.Close()
		t.Fatal("Open with another fingerprint succeeded")
	}
	if !errors.Is(err, checkpoint.ErrMismatch) {
		t.Errorf("errors.Is(err, ErrMismatch) = false for %v", err)
	}
	var me *checkpoint.MismatchError
	if !errors.As(err, &me) || me.Path != path || me.Stored != "input-a+mapping-1" || me.Want != "input-b+mapping-1" {
		t.Errorf("err = %#v, want a *MismatchError with path and both fingerprints", err)
	}
	for _, want := range []string{path, "another input or mapping", "delete it", "--checkpoint"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message %q does not contain %q", err, want)
		}
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
		t.Errorf("refused checkpoint was modified:\n%s\n%s", before, after)
	}
}

func TestCorrupt(t *testing.T) {
	const ok = `"fingerprint":"fp","runKey":"k","updated":"2026-01-02T15:04:05Z"`
	tests := []struct {
		name    string
		content string
		reason  string // part of the message
	}{
		{"whitespace", " \n", "not a segloop checkpoint"},
		{"garbage", "\x00\x01binary", "not a segloop checkpoint"},
		{"truncated", `{"version":1,` + ok + `,"ranges":[[0,1`, "invalid JSON"},
		{"not an object", `[1,2,3]`, "not a segloop checkpoint"},
		{"trailing data", `{"version":1,` + ok + `,"ranges":[]} {}`, "trailing data"},
		{"missing version", `{` + ok + `,"ranges":[]}`, "unsupported version 0"},
		{"future version", `{"version":2,` + ok + `,"ranges":[]}`, "unsupported version 2"},
		{"no fingerprint", `{"version":1,"updated":"2026-01-02T15:04:05Z","ranges":[]}`, "no fingerprint"},
		{"bad time", `{"version":1,"fingerprint":"fp","updated":"yesterday","ranges":[]}`, "bad updated time"},
		{"fractional index", `{"version":1,` + ok + `,"ranges":[[0,1.5]]}`, "invalid JSON"},
		{"short pair", `{"version":1,` + ok + `,"ranges":[[0]]}`, "range 0 has 1 numbers"},
		{"long pair", `{"version":1,` + ok + `,"ranges":[[0,5,9]]}`, "range 0 has 3 numbers"},
		{"negative", `{"version":1,` + ok + `,"ranges":[[-3,5]]}`, "negative index"},
		{"empty range", `{"version":1,` + ok + `,"ranges":[[4,4]]}`, "empty or reversed"},
		{"reversed range", `{"version":1,` + ok + `,"ranges":[[9,4]]}`, "empty or reversed"},
		{"unsorted", `{"version":1,` + ok + `,"ranges":[[10,12],[0,3]]}`, "out of order"},
		{"overlapping", `{"version":1,` + ok + `,"ranges":[[0,5],[3,8]]}`, "out of order"},
		{"adjacent", `{"version":1,` + ok + `,"ranges":[[0,5],[5,8]]}`, "out of order"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c")
			if err := os.WriteFile(path, []byte(tt.content), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := checkpoint.Open(path, "fp", checkpoint.Options{})
			if err == nil {
				_ = f.Close()
				t.Fatal("Open succeeded on a corrupt file")
			}
			var ce *checkpoint.CorruptError
			if !errors.Is(err, checkpoint.ErrCorrupt) || !errors.As(err, &ce) || ce.Path != path {
				t.Fatalf("err = %v, want a *CorruptError for %s", err, path)
			}
			for _, want := range []string{path, tt.reason, "delete it"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("message %q does not contain %q", err, want)
				}
			}
			if got, _ := os.ReadFile(path); string(got) != tt.content {
				t.Errorf("corrupt file was modified to %q", got)
			}
		})
	}
}

// TestFormatCompatible opens a hand-written file in format 1, with an
// unknown extra field a later writer might add, and rewrites it in format 2.
func TestFormatCompatible(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	doc := `{"version":1,"fingerprint":"fp","runKey":"rk","ranges":[[0,1200],[1203,1250]],` +
		`"updated":"2026-01-02T15:04:05Z","comment":"ignored"}`
	if err := os.WriteFile(path, []byte(doc), 0o644); err != nil {
		t.Fatal(err)
	}
	f := open(t, path, "fp")
	if f.RunKey() != "rk" || f.Count() != 1247 || f.Watermark() != 1200 {
		t.Errorf("RunKey, Count, Watermark = %q, %d, %d, want rk, 1247, 1200", f.RunKey(), f.Count(), f.Watermark())
	}
	if f.Done(1200) || f.Done(1202) || !f.Done(1203) || !f.Done(1249) || f.Done(1250) {
		t.Error("Done disagrees with the ranges around the gap and the end")
	}
	mark(t, f, 1250)
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "segloop-checkpoint 2 ") {
		t.Fatalf("not rewritten in format 2:\n%s", data)
	}
	if got := readDisk(t, path); got.RunKey != "rk" || !reflect.DeepEqual(got.Ranges, [][2]int64{{0, 1200}, {1203, 1251}}) {
		t.Fatalf("after the migration: %+v", got)
	}
}

// TestEmptyFile: an empty file (created, never written: a crash at the very
// first write) is a new checkpoint.
func TestEmptyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "c")
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	f := open(t, path, "fp")
	if f.Count() != 0 || f.RunKey() != "" {
		t.Fatalf("Count %d, RunKey %q", f.Count(), f.RunKey())
	}
}
