package main

import (
	"bufio"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// csvHeader is the header of every generated input.
const csvHeader = "id,email,first_name,last_name,plan,seats,signed_up\n"

// inputs creates the generated CSV files in one directory, once per row
// count. An inputs is used by one goroutine.
type inputs struct {
	dir   string
	files map[int]string
}

func newInputs(dir string) *inputs {
	return &inputs{dir: dir, files: make(map[int]string)}
}

// file returns the path of a CSV file with rows data rows, writing it on
// first use. The content depends only on rows, so every run and every client
// reads the same bytes.
func (in *inputs) file(rows int) (string, error) {
	if p, ok := in.files[rows]; ok {
		return p, nil
	}
	p := filepath.Join(in.dir, fmt.Sprintf("users-%d.csv", rows))
	if err := writeFile(p, func(w *bufio.Writer) error { return writeUsers(w, rows) }); err != nil {
		return "", err
	}
	in.files[rows] = p
	return p, nil
}

// writeFile writes path through a buffer with write; on any failure it
// removes the partial file, so a later run never takes it for a whole one.
func writeFile(path string, write func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	err = write(w)
	if ferr := w.Flush(); err == nil {
		err = ferr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// writeUsers writes the header and rows valid, distinct users to w: a unique
// id, a valid unique email, names, a plan, a seat count and a signup time.
func writeUsers(w *bufio.Writer, rows int) error {
	// Name pools in the style of testdata/users.csv.
	firstNames := [...]string{"Ada", "Alan", "Barbara", "Dennis", "Donald", "Edsger", "Frances", "Grace", "John", "Ken", "Leslie", "Margaret", "Niklaus", "Radia", "Silvio", "Tony"}
	lastNames := [...]string{"Allen", "Dijkstra", "Hamilton", "Hopper", "Kernighan", "Knuth", "Lamport", "Liskov", "Micali", "Perlman", "Ritchie", "Thompson", "Turing", "Wirth"}
	plans := [...]string{"free", "team", "business", "enterprise"}
	rng := rand.New(rand.NewPCG(uint64(rows), 7))
	epoch := time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC)
	if _, err := w.WriteString(csvHeader); err != nil {
		return err
	}
	var buf []byte
	for i := 1; i <= rows; i++ {
		first := firstNames[rng.IntN(len(firstNames))]
		last := lastNames[rng.IntN(len(lastNames))]
		buf = buf[:0]
		buf = appendID(buf, i)
		buf = appendLower(buf, first)
		buf = append(buf, '.')
		buf = appendLower(buf, last)
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, "@example.com,"...)
		buf = append(buf, first...)
		buf = append(buf, ',')
		buf = append(buf, last...)
		buf = append(buf, ',')
		buf = append(buf, plans[rng.IntN(len(plans))]...)
		buf = append(buf, ',')
		buf = strconv.AppendInt(buf, int64(1+rng.IntN(500)), 10)
		buf = append(buf, ',')
		buf = epoch.AddDate(0, 0, rng.IntN(365)).AppendFormat(buf, time.RFC3339)
		buf = append(buf, '\n')
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
	return nil
}

// appendLower appends s in lower case (s is ASCII).
func appendLower(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf = append(buf, c)
	}
	return buf
}

// appendID appends "u" and i zero-padded to seven digits, and a comma.
func appendID(buf []byte, i int) []byte {
	var digits [20]byte
	d := strconv.AppendInt(digits[:0], int64(i), 10)
	buf = append(buf, 'u')
	for n := len(d); n < 7; n++ {
		buf = append(buf, '0')
	}
	buf = append(buf, d...)
	return append(buf, ',')
}
