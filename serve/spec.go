package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/segloop/segloop/mapping"
	"github.com/segloop/segloop/segment"
	"github.com/segloop/segloop/source"
)

// spec is a run's options as stored with it (runstore.Run.Spec), in JSON.
type spec struct {
	Format      source.Format   `json:"format"`                // of the body the items came in
	Mapping     json.RawMessage `json:"mapping,omitempty"`     // a mapping file's JSON; none = the default mapping
	Trigger     json.RawMessage `json:"trigger,omitempty"`     // a JSON object for {{trigger.x}}
	Batch       int             `json:"batch,omitempty"`       // items per request; 0 = the server's
	MaxAttempts int             `json:"maxAttempts,omitempty"` // 0 = the server's
	Diff        bool            `json:"diff,omitempty"`        // diff mode: send only what changed (Config.Diff)
	OwnKey      bool            `json:"ownKey,omitempty"`      // the write key came with the run (stored until it ends)
	// Header is a CSV body's header: its items are stored as cells
	// (appendCells), not JSON objects.
	Header []string `json:"header,omitempty"`
}

// options are the run options a request gives, in its JSON body or its
// query string, before they are checked.
type options struct {
	Mapping     json.RawMessage `json:"mapping"`
	Trigger     json.RawMessage `json:"trigger"`
	RunKey      string          `json:"runKey"`
	Batch       *int            `json:"batch"`
	MaxAttempts *int            `json:"maxAttempts"`
	Diff        *bool           `json:"diff"`
}

// Bounds of the run options.
const (
	maxRunKeyLen    = 200
	maxTriggerBytes = 64 << 10
	maxMaxAttempts  = 100
)

// queryOptions reads the run options of a CSV or NDJSON body from the query
// string: mapping and trigger as JSON text, runKey, batch, maxAttempts, diff.
// wait, delimiter and timeout are read elsewhere; any other parameter is an
// error naming it.
func queryOptions(q url.Values) (options, *apiError) {
	var o options
	for k, vs := range q {
		v := vs[len(vs)-1]
		switch k {
		case "mapping":
			o.Mapping = json.RawMessage(v)
		case "trigger":
			o.Trigger = json.RawMessage(v)
		case "runKey":
			o.RunKey = v
		case "batch", "maxAttempts":
			n, err := strconv.Atoi(v)
			if err != nil {
				return o, badRequest("query parameter %s: want an integer, got %q", k, v)
			}
			if k == "batch" {
				o.Batch = &n
			} else {
				o.MaxAttempts = &n
			}
		case "diff":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, badRequest("query parameter diff: want true or false, got %q", v)
			}
			o.Diff = &b
		case "wait", "delimiter":
		default:
			return o, &apiError{Status: 400, Code: codeUnknownParameter, Message: fmt.Sprintf("unknown query parameter %q (want mapping, trigger, runKey, batch, maxAttempts, diff, delimiter, wait)", k)}
		}
	}
	return o, nil
}

// merge sets in o what p sets (the body's options win over the query's).
func (o *options) merge(p options) {
	if p.Mapping != nil {
		o.Mapping = p.Mapping
	}
	if p.Trigger != nil {
		o.Trigger = p.Trigger
	}
	if p.RunKey != "" {
		o.RunKey = p.RunKey
	}
	if p.Batch != nil {
		o.Batch = p.Batch
	}
	if p.MaxAttempts != nil {
		o.MaxAttempts = p.MaxAttempts
	}
	if p.Diff != nil {
		o.Diff = p.Diff
	}
}

// errDiffUnavailable answers a run asking for diff mode on a server without it.
var errDiffUnavailable = errors.New("diff mode is not available: start the server with --diff DIR (or postgres://…) to keep its ledgers")

// check validates o and returns the spec it makes for a body of format.
func (o *options) check(format source.Format, diff bool) (spec, *apiError) {
	sp := spec{Format: format, Diff: o.Diff != nil && *o.Diff}
	if isNull(o.Mapping) {
		o.Mapping = nil
	}
	if o.Mapping != nil {
		if _, err := mapping.Parse(o.Mapping); err != nil {
			return sp, badRequest("mapping: %v", err)
		}
		sp.Mapping = o.Mapping
	}
	if isNull(o.Trigger) {
		o.Trigger = nil
	}
	if o.Trigger != nil {
		if len(o.Trigger) > maxTriggerBytes {
			return sp, badRequest("trigger: over %d bytes", maxTriggerBytes)
		}
		if _, err := decodeTrigger(o.Trigger); err != nil {
			return sp, badRequest("trigger: %v", err)
		}
		sp.Trigger = o.Trigger
	}
	if o.Batch != nil {
		if *o.Batch < 1 || *o.Batch > segment.MaxBatchEvents {
			return sp, badRequest("batch: want 1 to %d items per request, got %d", segment.MaxBatchEvents, *o.Batch)
		}
		sp.Batch = *o.Batch
	}
	if o.MaxAttempts != nil {
		if *o.MaxAttempts < 1 || *o.MaxAttempts > maxMaxAttempts {
			return sp, badRequest("maxAttempts: want 1 to %d, got %d", maxMaxAttempts, *o.MaxAttempts)
		}
		sp.MaxAttempts = *o.MaxAttempts
	}
	if len(o.RunKey) > maxRunKeyLen || !utf8.ValidString(o.RunKey) || strings.ContainsAny(o.RunKey, "\x00\r\n") {
		return sp, badRequest("runKey: want at most %d characters of text on one line", maxRunKeyLen)
	}
	if sp.Diff && !diff {
		return sp, &apiError{Status: 400, Code: codeDiffUnavailable, Message: errDiffUnavailable.Error()}
	}
	return sp, nil
}

func isNull(raw json.RawMessage) bool { return raw != nil && strings.TrimSpace(string(raw)) == "null" }

// decodeTrigger decodes a trigger: one JSON object.
func decodeTrigger(raw json.RawMessage) (map[string]any, error) {
	if raw == nil {
		return nil, nil
	}
	var obj map[string]any
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil {
		return nil, err
	}
	if obj == nil {
		return nil, errors.New("want a JSON object")
	}
	return obj, nil
}
