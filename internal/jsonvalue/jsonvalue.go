// Package jsonvalue renders typed column values (from Parquet files and
// database rows) in the JSON form items hold, so the mapping and templates
// see them as they see decoded JSON: exact numbers as json.Number, times as
// RFC 3339 strings, binary as base64.
//
// Every function is pure and safe for concurrent use.
package jsonvalue

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"math/big"
	"strconv"
	"time"
)

// Int is n as an exact JSON number.
func Int(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }

// Uint is n as an exact JSON number.
func Uint(n uint64) json.Number { return json.Number(strconv.FormatUint(n, 10)) }

// Float is f, of bits precision (32 or 64), as the shortest JSON number that
// reads back as f. JSON has no NaN or infinities: they become the strings
// "NaN", "Infinity" and "-Infinity" (PostgreSQL's spelling), so the value is
// kept and the item stays valid JSON.
func Float(f float64, bits int) any {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	return json.Number(strconv.FormatFloat(f, 'g', -1, bits))
}

// Decimal is unscaled × 10^-scale as an exact JSON number in plain decimal
// notation, keeping the scale's digits: Decimal(1250, 2) is "12.50".
func Decimal(unscaled int64, scale int) json.Number {
	neg := unscaled < 0
	u := uint64(unscaled)
	if neg {
		u = -u
	}
	var buf [24]byte
	return decimal(neg, strconv.AppendUint(buf[:0], u, 10), scale)
}

// BigDecimal is Decimal for an unscaled value of any size.
func BigDecimal(unscaled *big.Int, scale int) json.Number {
	var abs big.Int
	abs.Abs(unscaled)
	return decimal(unscaled.Sign() < 0, abs.Append(nil, 10), scale)
}

// decimal places the decimal point scale digits from the right of digits.
func decimal(neg bool, digits []byte, scale int) json.Number {
	out := make([]byte, 0, len(digits)+max(scale, 0)+3)
	if neg {
		out = append(out, '-')
	}
	switch {
	case scale <= 0:
		out = append(out, digits...)
		if len(digits) > 1 || digits[0] != '0' {
			out = append(out, bytes.Repeat([]byte{'0'}, -scale)...)
		}
	case len(digits) > scale:
		out = append(out, digits[:len(digits)-scale]...)
		out = append(out, '.')
		out = append(out, digits[len(digits)-scale:]...)
	default:
		out = append(out, '0', '.')
		out = append(out, bytes.Repeat([]byte{'0'}, scale-len(digits))...)
		out = append(out, digits...)
	}
	return json.Number(out)
}

// TwosComplement is the signed big-endian two's complement integer in b, as
// Parquet stores decimals in byte arrays.
func TwosComplement(b []byte) *big.Int {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return n
}

// timestampLayouts are RFC 3339 layouts in UTC with 0 to 9 fraction digits.
var timestampLayouts = [10]string{
	"2006-01-02T15:04:05Z07:00",
	"2006-01-02T15:04:05.0Z07:00",
	"2006-01-02T15:04:05.00Z07:00",
	"2006-01-02T15:04:05.000Z07:00",
	"2006-01-02T15:04:05.0000Z07:00",
	"2006-01-02T15:04:05.00000Z07:00",
	"2006-01-02T15:04:05.000000Z07:00",
	"2006-01-02T15:04:05.0000000Z07:00",
	"2006-01-02T15:04:05.00000000Z07:00",
	"2006-01-02T15:04:05.000000000Z07:00",
}

// Timestamp is t in UTC as RFC 3339 with exactly digits fraction digits
// (clamped to 0..9): the precision of the column's unit. Years outside
// 0000-9999, which RFC 3339 cannot write, come out as time.Format gives
// them.
func Timestamp(t time.Time, digits int) string {
	t, digits = t.UTC(), min(max(digits, 0), 9)
	year, month, day := t.Date()
	if year < 0 || year > 9999 {
		return t.Format(timestampLayouts[digits])
	}
	// By hand: time.Format parses its layout on every call, at several
	// times the cost, for every timestamp of every row.
	hour, minute, sec := t.Clock()
	var b [len("2006-01-02T15:04:05.000000000Z")]byte
	put := func(at, v, width int) {
		for i := at + width - 1; i >= at; i-- {
			b[i] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, year, 4)
	b[4] = '-'
	put(5, int(month), 2)
	b[7] = '-'
	put(8, day, 2)
	b[10] = 'T'
	put(11, hour, 2)
	b[13] = ':'
	put(14, minute, 2)
	b[16] = ':'
	put(17, sec, 2)
	n := 19
	if digits > 0 {
		b[19] = '.'
		put(20, t.Nanosecond()/pow10[9-digits], digits)
		n = 20 + digits
	}
	b[n] = 'Z'
	return string(b[:n+1])
}

var pow10 = [10]int{1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000}

// Date is t's calendar date (in t's location) as YYYY-MM-DD.
func Date(t time.Time) string { return t.Format("2006-01-02") }

// TimeOfDay is a time of day, given as the time since midnight, as
// 15:04:05 with exactly digits fraction digits.
func TimeOfDay(since time.Duration, digits int) string {
	layout := timestampLayouts[min(max(digits, 0), 9)]
	return time.Unix(0, int64(since)).UTC().Format(layout[len("2006-01-02T") : len(layout)-len("Z07:00")])
}

// Bytes is b in standard base64.
func Bytes(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// UUID is the 16 bytes of a UUID in the canonical 8-4-4-4-12 form.
func UUID(b []byte) string {
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:16])
	return string(out[:])
}

// ErrTrailingData is wrapped by Decode for text holding more than one value.
var ErrTrailingData = errors.New("unexpected data after the JSON value")

// Decode decodes the one JSON value in b, keeping numbers as json.Number.
func Decode(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, ErrTrailingData
	}
	return v, nil
}
