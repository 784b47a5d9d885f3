package checkpoint_test

import (
	"bytes"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/segloop/segloop/checkpoint"
)

func cat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// withCRC ends line with its checksum, as format 2 does.
func withCRC(line string) []byte {
	return fmt.Appendf(nil, "%s %08x\n", line, crc32.Checksum([]byte(line), crc32.MakeTable(crc32.Castagnoli)))
}

// TestJournalStates opens files in every state a crash can leave the journal
// in, and some it cannot: each must read as the state last made durable, or
// be refused as corrupt.
func TestJournalStates(t *testing.T) {
	v1 := []byte(`{"version":1,"fingerprint":"fp","runKey":"rk","ranges":[[0,10]],"updated":"2026-01-02T15:04:05Z"}` + "\n")
	old := checkpoint.Snapshot("fp", "rk", [][2]int64{{0, 10}})
	marks := cat(checkpoint.Marks(10, 11, 12), checkpoint.Marks(20))
	journal := cat(old, marks)                                             // [[0 13] [20 21]]
	snap := checkpoint.Snapshot("fp", "rk", [][2]int64{{0, 13}, {20, 21}}) // the compaction of journal
	want := [][2]int64{{0, 13}, {20, 21}}

	// The head of the file partly overwritten by the new snapshot.
	overwritten := bytes.Clone(journal)
	copy(overwritten, snap[:len(snap)/2])
	overwrittenV1 := cat(v1, checkpoint.Marks(10, 11, 12), checkpoint.Marks(20), snap)
	copy(overwrittenV1, snap[:len(snap)/3])

	tests := []struct {
		name   string
		data   []byte
		want   [][2]int64 // nil: refused as corrupt
		reason string
	}{
		{"snapshot", old, [][2]int64{{0, 10}}, ""},
		{"snapshot and marks", journal, want, ""},
		{"torn last mark", cat(journal, []byte("+ 30:4")), want, ""},
		{"torn last mark with a bad checksum", cat(journal, []byte("+ 30:40 00000000\n")), want, ""},
		{"compaction: snapshot appended", cat(journal, snap), want, ""},
		{"compaction: snapshot appended, torn", cat(journal, snap[:len(snap)-5]), want, ""},
		{"compaction: head half overwritten", cat(overwritten, snap), want, ""},
		{"compaction: head overwritten, not cut", cat(snap, journal[len(snap):], snap), want, ""},
		{"compaction: marks after the new snapshot", cat(overwritten, snap, checkpoint.Marks(21)), [][2]int64{{0, 13}, {20, 22}}, ""},
		{"format 1", v1, [][2]int64{{0, 10}}, ""},
		{"format 1 migration: snapshot appended", cat(v1, snap), want, ""},
		{"format 1 migration: head overwritten", cat(overwrittenV1, snap), want, ""},
		{"first write torn", old[:20], [][2]int64{}, ""},
		{"format 1 migration: snapshot torn early", cat(v1, snap[:4]), [][2]int64{{0, 10}}, ""},
		{"format 1, damaged, then lines", cat(v1[:30], []byte("\n"), checkpoint.Marks(3)), nil, "invalid JSON"},
		{"damaged middle", cat(old, []byte("+ 10:12 00000000\n"), checkpoint.Marks(20)), nil, "line 2 is damaged"},
		{"damaged mark flipped", cat(old, bytes.Replace(checkpoint.Marks(10), []byte("10"), []byte("90"), 1), checkpoint.Marks(20)), nil, "line 2 is damaged"},
		{"a snapshot after damage, then damage again", cat(overwritten, snap, []byte("junk\n"), checkpoint.Marks(21)), nil, "damaged"},
		{"no snapshot", checkpoint.Marks(1, 2), nil, "not a segloop checkpoint"},
		{"future version", withCRC("segloop-checkpoint 3 {\"x\":1}"), nil, "unsupported version 3"},
		{"text", []byte("hello, world\n"), nil, "not a segloop checkpoint"},
		{"a lone torn snapshot after damage", cat(old[:30], []byte("\n"), snap[:40]), nil, "no valid snapshot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "c")
			if err := os.WriteFile(path, tt.data, 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := checkpoint.Open(path, "fp", checkpoint.Options{})
			if tt.want == nil {
				if err == nil {
					f.Close()
					t.Fatal("Open accepted a corrupt file")
				}
				if !errors.Is(err, checkpoint.ErrCorrupt) || !strings.Contains(err.Error(), tt.reason) {
					t.Fatalf("Open = %v, want ErrCorrupt saying %q", err, tt.reason)
				}
				if got, _ := os.ReadFile(path); !bytes.Equal(got, tt.data) {
					t.Fatal("a refused file was modified")
				}
				return
			}
			if err != nil {
				t.Fatalf("Open: %v\n%s", err, tt.data)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			got := readDisk(t, path)
			if !reflect.DeepEqual(got.Ranges, tt.want) {
				t.Fatalf("ranges %v, want %v", got.Ranges, tt.want)
			}
			if len(tt.want) > 0 && got.RunKey != "rk" {
				t.Errorf("run key %q, want rk", got.RunKey)
			}
			// Open and Close compacted it to one snapshot, in format 2.
			data, _ := os.ReadFile(path)
			if !bytes.HasPrefix(data, []byte("segloop-checkpoint 2 {")) || bytes.Count(data, []byte("\n")) != 1 {
				t.Errorf("not compacted to one snapshot:\n%s", data)
			}
		})
	}
}

// TestCompactionShrinks: Close folds the journal into one snapshot, and so
// does the writer once the marks outgrow the snapshot.
func TestCompactionShrinks(t *testing.T) {
	t.Run("on close", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c")
		f := open(t, path, "fp")
		for i := int64(0); i < 4000; i += 2 { // one gap per mark
			mark(t, f, i)
			if i%128 == 0 {
				if err := f.Flush(); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := readDisk(t, path); len(got.Ranges) != 2000 || got.Ranges[1999] != [2]int64{3998, 3999} {
			t.Fatalf("%d ranges, last %v", len(got.Ranges), got.Ranges[len(got.Ranges)-1])
		}
		if data, _ := os.ReadFile(path); bytes.Count(data, []byte("\n")) != 1 {
			t.Fatalf("Close left %d lines", bytes.Count(data, []byte("\n")))
		}
	})
	t.Run("by the writer", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "c")
		f, err := checkpoint.Open(path, "fp", checkpoint.WithCompactAfter(checkpoint.Options{Interval: time.Hour}, 1024))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		biggest := int64(0)
		for i := int64(0); i < 4000; i++ {
			mark(t, f, i)
			if i%8 == 7 {
				if err := f.Flush(); err != nil {
					t.Fatal(err)
				}
				st, _ := os.Stat(path)
				biggest = max(biggest, st.Size())
			}
		}
		if biggest > 2048 {
			t.Fatalf("the journal grew to %d bytes with compaction after 1 KiB of marks", biggest)
		}
		if got := readDisk(t, path); !reflect.DeepEqual(got.Ranges, [][2]int64{{0, 4000}}) {
			t.Fatalf("ranges %v", got.Ranges)
		}
	})
}

// TestOpenCutShort fails, in turn, each I/O operation that Open makes while
// it compacts (or migrates) a file, as a crash there would leave it: the
// file must then open with the state it had.
func TestOpenCutShort(t *testing.T) {
	v1 := `{"version":1,"fingerprint":"fp","runKey":"rk","ranges":[[0,10],[12,13]],"updated":"2026-01-02T15:04:05Z"}`
	files := map[string][]byte{
		"format 1":                  []byte(v1 + "\n"),
		"format 1 without newline":  []byte(v1),
		"format 2 journal":          cat(checkpoint.Snapshot("fp", "rk", [][2]int64{{0, 10}}), checkpoint.Marks(12)),
		"format 2 with a torn mark": cat(checkpoint.Snapshot("fp", "rk", [][2]int64{{0, 10}}), checkpoint.Marks(12), []byte("+ 20:2")),
	}
	want := [][2]int64{{0, 10}, {12, 13}}
	for name, data := range files {
		for k := 1; ; k++ {
			path := filepath.Join(t.TempDir(), "c")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			n := 0
			f, err := checkpoint.Open(path, "fp", checkpoint.WithFault(checkpoint.Options{}, func(string) error {
				if n++; n == k {
					return errors.New("cut short")
				}
				return nil
			}))
			if err == nil {
				f.Close()
				if k > 1 {
					break // every operation of Open was failed once
				}
				t.Fatalf("%s: Open made no I/O", name)
			}
			g, err := checkpoint.Open(path, "fp", checkpoint.Options{})
			if err != nil {
				got, _ := os.ReadFile(path)
				t.Fatalf("%s, operation %d failed: the file does not open: %v\n%s", name, k, err, got)
			}
			if got := g.Count(); got != 11 || g.RunKey() != "rk" {
				t.Errorf("%s, operation %d failed: Count %d, RunKey %q", name, k, got, g.RunKey())
			}
			g.Close()
			if got := readDisk(t, path).Ranges; !reflect.DeepEqual(got, want) {
				t.Errorf("%s, operation %d failed: ranges %v, want %v", name, k, got, want)
			}
		}
	}
}
