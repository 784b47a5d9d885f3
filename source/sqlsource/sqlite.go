package sqlsource

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/segloop/segloop/internal/jsonvalue"
	"github.com/segloop/segloop/source"
)

// sqlite reads a query's rows from an SQLite file opened read-only, one
// step of the statement per row.
type sqlite struct {
	db     *sql.DB
	rows   *sql.Rows
	names  []string
	decl   []string // declared column types, upper case ("" for expressions)
	vals   []any
	ptrs   []any
	name   string // sqlite:ABSPATH
	closed bool
}

func openSQLite(ctx context.Context, file string, q Query) (*sqlite, error) {
	s := &sqlite{name: q.Redacted()}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, fileError("connect", s.name, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fileError("connect", s.name, err)
	} else if !st.Mode().IsRegular() {
		return nil, &Error{Op: "connect", DB: s.name, msg: "not a regular file"}
	}
	// mode=ro opens without write access (and never creates the file);
	// query_only refuses writes in SQL as well.
	dsn := (&url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro&_pragma=query_only(1)"}).String()
	if s.db, err = sql.Open("sqlite", dsn); err != nil {
		return nil, fileError("connect", s.name, err)
	}
	s.db.SetMaxOpenConns(1)
	if err := s.start(ctx, q); err != nil {
		s.close()
		return nil, err
	}
	return s, nil
}

func (s *sqlite) start(ctx context.Context, q Query) error {
	text := q.Text
	if q.Key != "" {
		text = orderedBy(q.Text, q.Key)
	}
	rows, err := s.db.QueryContext(ctx, text)
	if err != nil {
		return fileError("query", s.name, err)
	}
	s.rows = rows
	if s.names, err = rows.Columns(); err != nil {
		return fileError("query", s.name, err)
	}
	if len(s.names) == 0 {
		return &Error{Op: "query", DB: s.name, msg: "the statement returns no rows (want a SELECT)"}
	}
	// SQLite reads a double-quoted name that matches no column as a string:
	// ORDER BY "nokey" would sort by a constant. So the key is checked here.
	if err := checkColumns(s.names, q.Key); err != nil {
		return fileError("query", s.name, err)
	}
	types, err := rows.ColumnTypes()
	if err != nil {
		return fileError("query", s.name, err)
	}
	s.decl = make([]string, len(types))
	for i, t := range types {
		s.decl[i] = strings.ToUpper(t.DatabaseTypeName())
	}
	s.vals = make([]any, len(s.names))
	s.ptrs = make([]any, len(s.names))
	for i := range s.vals {
		s.ptrs[i] = &s.vals[i]
	}
	return nil
}

func (s *sqlite) columns() []string { return s.names }

func (s *sqlite) row(fields map[string]any) (rowInfo, error) {
	if !s.rows.Next() {
		if err := s.rows.Err(); err != nil {
			return rowInfo{}, fileError("read", s.name, err)
		}
		return rowInfo{}, io.EOF
	}
	clear(s.vals)
	if err := s.rows.Scan(s.ptrs...); err != nil {
		return rowInfo{}, fileError("read", s.name, err)
	}
	var info rowInfo
	for i, v := range s.vals {
		if v == nil {
			continue // NULL: absent
		}
		out, size, err := s.convert(s.decl[i], v)
		info.size += size
		if err != nil {
			if info.bad == nil {
				info.bad = fmt.Errorf("column %q: %w", s.names[i], err)
			}
			continue
		}
		if out != nil { // a JSON null is NULL too
			fields[s.names[i]] = out
		}
	}
	return info, nil
}

// convert turns one SQLite value, as the driver gives it, into its JSON
// form, by its storage class and, for booleans, JSON and times, the
// column's declared type.
func (s *sqlite) convert(decl string, v any) (any, int, error) {
	switch t := v.(type) {
	case int64:
		if (decl == "BOOLEAN" || decl == "BOOL") && (t == 0 || t == 1) {
			return t == 1, 8, nil
		}
		return jsonvalue.Int(t), 8, nil
	case float64:
		return jsonvalue.Float(t, 64), 8, nil
	case bool:
		return t, 1, nil
	case string:
		if !utf8.ValidString(t) {
			return nil, len(t), source.ErrInvalidUTF8
		}
		if decl == "JSON" {
			out, err := jsonvalue.Decode([]byte(t))
			return out, len(t), err
		}
		return t, len(t), nil
	case []byte:
		return jsonvalue.Bytes(t), len(t), nil
	case time.Time:
		t = t.UTC()
		if decl == "DATE" && t.Equal(t.Truncate(24*time.Hour)) {
			return jsonvalue.Date(t), 8, nil
		}
		return t.Format(time.RFC3339Nano), 8, nil
	}
	return nil, 0, fmt.Errorf("unexpected driver value %T", v)
}

func (s *sqlite) close() error {
	if s.closed {
		return nil
	}
	s.closed = true
	if s.rows != nil {
		s.rows.Close()
	}
	return s.db.Close()
}
