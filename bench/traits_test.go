package main

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
)

func TestWriteTraitsUsers(t *testing.T) {
	gen := func() []byte {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		if err := writeTraitsUsers(w, 200); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	data := gen()
	if !bytes.Equal(data, gen()) {
		t.Fatal("the input differs between two generations")
	}
	records, err := csv.NewReader(bytes.NewReader(data)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(records[0], ","); got+"\n" != traitsHeader {
		t.Fatalf("header %q", got)
	}
	if len(records) != 201 {
		t.Fatalf("%d records, want 201", len(records))
	}
	ids := map[string]bool{}
	for _, r := range records[1:] {
		var traits map[string]any
		if err := json.Unmarshal([]byte(r[4]), &traits); err != nil || len(traits) != 4 {
			t.Fatalf("traits cell %q: %v", r[4], err)
		}
		if ids[r[0]] {
			t.Fatalf("id %s twice", r[0])
		}
		ids[r[0]] = true
	}
}
