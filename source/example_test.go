package source_test

import (
	"fmt"
	"io"
	"strings"

	"github.com/segloop/segloop/source"
)

func Example() {
	in := "id,email,plan\nu1,ada@example.com,pro\nu2,\"bob@example.com\",\"team\nplus\"\nu3,x,y,z\nu4,dan@example.com\n"
	r, err := source.Open(strings.NewReader(in), source.CSV, source.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		if rec.Err != nil {
			fmt.Printf("#%d line %d: error: %v\n", rec.Index, rec.Line, rec.Err)
			continue
		}
		fmt.Printf("#%d line %d: %q\n", rec.Index, rec.Line, rec.Cells)
	}
	// Output:
	// #0 line 2: ["u1" "ada@example.com" "pro"]
	// #1 line 3: ["u2" "bob@example.com" "team\nplus"]
	// #2 line 5: error: line 5: more cells than header columns: row has 4 cells, header has 3
	// #3 line 6: error: line 6: fewer cells than header columns: row has 2 cells, header has 3
}

func ExampleJSONReader() {
	in := "[\n {\"id\": \"u1\", \"seats\": 3},\n 42,\n {\"id\": \"u3\"} {\"id\": \"u4\"}\n]"
	r := source.NewJSONReader(strings.NewReader(in), source.Options{})
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println("fatal:", err)
			return
		}
		if rec.Err != nil {
			fmt.Printf("#%d: %v\n", rec.Index, rec.Err)
			continue
		}
		fmt.Printf("#%d line %d: %v\n", rec.Index, rec.Line, rec.Fields)
	}
	// Output:
	// #0 line 2: map[id:u1 seats:3]
	// #1: line 3, column 1: not a JSON object: found a number
	// #2 line 4: map[id:u3]
	// fatal: line 4 (byte offset 48): expected comma after array element
}
