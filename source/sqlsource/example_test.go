package sqlsource_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/segloop/segloop/source"
	"github.com/segloop/segloop/source/sqlsource"
)

// Reading the rows of a query as items; here from an SQLite file, the same
// for a postgres:// URL.
func ExampleOpen() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "users.db")
	db, _ := sql.Open("sqlite", path)
	db.Exec(`CREATE TABLE users (id INTEGER, email TEXT, vip BOOLEAN, plan TEXT)`)
	db.Exec(`INSERT INTO users VALUES (2, 'b@example.com', 0, NULL), (1, 'a@example.com', 1, 'pro')`)
	db.Close()

	q := sqlsource.Query{URL: "sqlite:" + path, Text: "SELECT * FROM users", Key: "id"}
	fmt.Println("ordered:", q.Ordered())
	r, err := sqlsource.Open(context.Background(), q, source.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	for {
		rec, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Printf("row %d: %v\n", rec.Line, rec.Fields)
	}
	// Output:
	// ordered: true
	// row 1: map[email:a@example.com id:1 plan:pro vip:true]
	// row 2: map[email:b@example.com id:2 vip:false]
}
