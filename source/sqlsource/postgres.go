package sqlsource

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// defaultConnectTimeout bounds connecting when the URL sets no
// connect_timeout, so an unreachable host fails in seconds, not minutes.
const defaultConnectTimeout = 30 * time.Second

// postgres reads a query's rows over one connection with pgconn, pgx's wire
// layer: the statement is described first, so each column's result format
// is chosen by its type (binary for the types decoded here, text for the
// rest), then executed; DataRow messages are read one at a time as Next asks.
type postgres struct {
	conn    *pgconn.PgConn
	rr      *pgconn.ResultReader
	primed  bool // rr holds a row not yet returned
	names   []string
	decode  []decoder
	db      string
	secrets []string
	closed  bool
}

func openPostgres(ctx context.Context, q Query) (*postgres, error) {
	p := &postgres{db: redact(q.URL), secrets: secretsOf(q.URL)}
	cfg, err := pgconn.ParseConfig(q.URL)
	if err != nil {
		return nil, newError("connect", p.db, err, p.secrets)
	}
	if cfg.Password != "" {
		p.secrets = append(p.secrets, cfg.Password) // perhaps from PGPASSWORD or ~/.pgpass
	}
	if cfg.ConnectTimeout == 0 {
		cfg.ConnectTimeout = defaultConnectTimeout
	}
	if _, ok := cfg.RuntimeParams["application_name"]; !ok {
		cfg.RuntimeParams["application_name"] = "segloop"
	}
	if p.conn, err = pgconn.ConnectConfig(ctx, cfg); err != nil {
		return nil, newError("connect", p.db, err, p.secrets)
	}
	if err := p.start(ctx, q); err != nil {
		p.close()
		return nil, err
	}
	return p, nil
}

// start begins the read-only transaction, describes and runs the query.
func (p *postgres) start(ctx context.Context, q Query) error {
	if _, err := p.conn.Exec(ctx, "BEGIN TRANSACTION READ ONLY").ReadAll(); err != nil {
		return newError("query", p.db, err, p.secrets)
	}
	sd, err := p.conn.Prepare(ctx, "", q.Text, nil)
	if err != nil {
		return newError("query", p.db, err, p.secrets)
	}
	p.names = make([]string, len(sd.Fields))
	for i, f := range sd.Fields {
		p.names[i] = f.Name
	}
	if len(p.names) == 0 {
		return &Error{Op: "query", DB: p.db, msg: "the statement returns no rows (want a SELECT or another statement with a result)"}
	}
	if err := checkColumns(p.names, q.Key); err != nil {
		return newError("query", p.db, err, p.secrets)
	}
	if q.Key != "" {
		if sd, err = p.conn.Prepare(ctx, "", orderedBy(q.Text, q.Key), nil); err != nil {
			return newError("query", p.db, err, p.secrets)
		}
	}
	formats := make([]int16, len(sd.Fields))
	p.decode = make([]decoder, len(sd.Fields))
	for i, f := range sd.Fields {
		p.decode[i], formats[i] = decoderFor(f.DataTypeOID, f.TypeModifier)
	}
	p.rr = p.conn.ExecPrepared(ctx, "", nil, nil, formats)
	// The first row, read now, brings the faults of starting the query (a
	// write refused in a read-only transaction, a permission denied) to Open.
	if p.primed = p.rr.NextRow(); !p.primed {
		if _, err := p.rr.Close(); err != nil {
			return newError("query", p.db, err, p.secrets)
		}
	}
	return nil
}

func (p *postgres) columns() []string { return p.names }

func (p *postgres) row(fields map[string]any) (rowInfo, error) {
	if p.primed {
		p.primed = false
	} else if !p.rr.NextRow() {
		if _, err := p.rr.Close(); err != nil {
			return rowInfo{}, newError("read", p.db, err, p.secrets)
		}
		return rowInfo{}, io.EOF
	}
	var info rowInfo
	for i, raw := range p.rr.Values() {
		if raw == nil {
			continue // NULL: absent
		}
		info.size += len(raw)
		v, err := p.decode[i](raw)
		if err != nil {
			if info.bad == nil {
				info.bad = fmt.Errorf("column %q: %w", p.names[i], err)
			}
			continue
		}
		if v != nil { // a JSON null is NULL too
			fields[p.names[i]] = v
		}
	}
	return info, nil
}

// close ends the connection without draining the rows left: the server
// stops the query and rolls the transaction back.
func (p *postgres) close() error {
	if p.closed {
		return nil
	}
	p.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return p.conn.Close(ctx)
}
