package segloop

import (
	"strconv"

	"github.com/segloop/segloop/loop"
	"github.com/segloop/segloop/segment"
)

// Success reports whether the item needs nothing more: it was delivered in
// this run or an earlier one, or (unchanged) Segment already has it.
func (r Result) Success() bool { return r.Status.Success() }

// AppendJSON appends r's result line, one JSON object and a newline, the
// same for the command's --results and the service's results:
//
//	{"index":0,"line":2,"userId":"u1","messageId":"…","status":"ok","success":true,"attempts":1,"httpStatus":200,"durationMs":12}
//	{"index":3,"line":5,"userId":"","messageId":"…","status":"invalid","success":false,"attempts":0,"error":"userId: userId or anonymousId is required"}
//	{"index":4,"line":6,"userId":"","status":"invalid","success":false,"attempts":0,"error":"traits.seats: int: \"abc\" is not an integer"}
//
// messageId is left out when the item has none (it could not be mapped),
// httpStatus when no answer came, durationMs for items that were never
// taken up (invalid, skipped, unchanged), error for successes. It does not allocate
// beyond growing b.
func (r Result) AppendJSON(b []byte) []byte {
	b = append(b, `{"index":`...)
	b = strconv.AppendInt(b, r.Index, 10)
	b = append(b, `,"line":`...)
	b = strconv.AppendInt(b, int64(r.Line), 10)
	b = append(b, `,"userId":`...)
	b = segment.AppendJSONString(b, r.UserID)
	if r.MessageID != "" {
		b = append(b, `,"messageId":`...)
		b = segment.AppendJSONString(b, r.MessageID)
	}
	b = append(b, `,"status":`...)
	b = segment.AppendJSONString(b, string(r.Status))
	b = append(b, `,"success":`...)
	b = strconv.AppendBool(b, r.Success())
	b = append(b, `,"attempts":`...)
	b = strconv.AppendInt(b, int64(r.Attempts), 10)
	if r.Code != 0 {
		b = append(b, `,"httpStatus":`...)
		b = strconv.AppendInt(b, int64(r.Code), 10)
	}
	if r.Status == loop.StatusOK || r.Status == loop.StatusFailed {
		b = append(b, `,"durationMs":`...)
		b = strconv.AppendInt(b, r.Duration.Milliseconds(), 10)
	}
	if r.Err != nil {
		b = append(b, `,"error":`...)
		b = segment.AppendJSONString(b, r.Err.Error())
	}
	return append(b, "}\n"...)
}

// MarshalJSON returns r's result line without its newline.
func (r Result) MarshalJSON() ([]byte, error) {
	b := r.AppendJSON(nil)
	return b[:len(b)-1], nil
}
