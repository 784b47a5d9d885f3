package mapping_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// mapped is one line of a golden file.
type mapped struct {
	Index    int64
	Line     int
	Identify *segment.Identify `json:",omitempty"`
	Error    string            `json:",omitempty"`
}

// TestGolden maps the end-to-end fixtures in ../testdata with the default
// mapping and with ../testdata/users.map.json.
func TestGolden(t *testing.T) {
	mapSrc, err := os.ReadFile("../testdata/users.map.json")
	if err != nil {
		t.Fatal(err)
	}
	fileMapping, err := mapping.Parse(mapSrc)
	if err != nil {
		t.Fatal(err)
	}
	inputs := []string{"users.csv", "users.json", "users.ndjson", "invalid.csv"}
	mappings := []struct {
		name string
		m    *mapping.Mapping
	}{{"default", mapping.Default()}, {"map", fileMapping}}
	for _, in := range inputs {
		for _, mp := range mappings {
			name := in + "." + mp.name
			t.Run(name, func(t *testing.T) {
				got := mapFile(t, filepath.Join("..", "testdata", in), mp.m)
				golden := filepath.Join("testdata", name+".golden.json")
				if *update {
					if err := os.WriteFile(golden, got, 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./mapping -run TestGolden -update)", err)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("%s differs from the golden file; got:\n%s", name, got)
				}
			})
		}
	}
}

func mapFile(t *testing.T, path string, m *mapping.Mapping) []byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	format, err := source.FormatOf(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := source.Open(f, format, source.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	var bound *mapping.Mapping // m bound to the rows' header, as segloop.Run binds it
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		res := mapped{Index: rec.Index, Line: rec.Line}
		env, mm := mapping.Env{Item: rec.Fields, Index: rec.Index}, m
		if rec.Header != nil {
			if bound == nil {
				bound = m.ForHeader(rec.Header)
			}
			env.Row, mm = rec.Cells, bound
		}
		if rec.Err != nil {
			res.Error = rec.Err.Error()
		} else if id, err := mm.Apply(env); err != nil {
			res.Error = err.Error()
		} else if id.Traits, err = id.AllTraits(); err != nil {
			res.Error = err.Error()
		} else {
			// The golden files show a row's traits as the map they make.
			id.Columns, id.Row, id.TraitsJSON = nil, nil, ""
			res.Identify = &id
		}
		if err := enc.Encode(res); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}
