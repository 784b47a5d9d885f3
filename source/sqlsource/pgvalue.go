package sqlsource

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"
	"unicode/utf8"

	"github.com/segloop/segloop/internal/jsonvalue"
	"github.com/segloop/segloop/source"
)

// decoder turns one non-NULL column value, as PostgreSQL sent it, into its
// JSON form.
type decoder func(raw []byte) (any, error)

// The wire formats of a result column.
const (
	textFormat   int16 = 0
	binaryFormat int16 = 1
)

// PostgreSQL's built-in type OIDs (fixed in pg_type.dat) for the types
// decoded here.
const (
	oidBool        = 16
	oidBytea       = 17
	oidName        = 19
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidOID         = 26
	oidJSON        = 114
	oidFloat4      = 700
	oidFloat8      = 701
	oidBPChar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidNumeric     = 1700
	oidUUID        = 2950
	oidJSONB       = 3802
)

// arrayElems maps the array types decoded here to their element types.
var arrayElems = map[uint32]uint32{
	1000: oidBool, 1001: oidBytea, 1003: oidName, 1016: oidInt8, 1005: oidInt2,
	1007: oidInt4, 1009: oidText, 1028: oidOID, 199: oidJSON, 1021: oidFloat4,
	1022: oidFloat8, 1014: oidBPChar, 1015: oidVarchar, 1182: oidDate,
	1115: oidTimestamp, 1185: oidTimestamptz, 1231: oidNumeric, 2951: oidUUID,
	3807: oidJSONB,
}

var errMalformed = errors.New("malformed binary value from the server")

// decoderFor returns the decoder of a column of type oid and type modifier
// typmod, and the format to ask the server for: binary for the types above
// and their arrays, text for every other type, which then reads as
// PostgreSQL's text for it.
func decoderFor(oid uint32, typmod int32) (decoder, int16) {
	if d := scalar(oid, typmod); d != nil {
		return d, binaryFormat
	}
	if elem, ok := arrayElems[oid]; ok {
		if d := scalar(elem, typmod); d != nil {
			return arrayOf(d), binaryFormat
		}
	}
	return textValue, textFormat
}

func scalar(oid uint32, typmod int32) decoder {
	switch oid {
	case oidBool:
		return fixed(1, func(b []byte) any { return b[0] != 0 })
	case oidInt2:
		return fixed(2, func(b []byte) any { return jsonvalue.Int(int64(int16(binary.BigEndian.Uint16(b)))) })
	case oidInt4:
		return fixed(4, func(b []byte) any { return jsonvalue.Int(int64(int32(binary.BigEndian.Uint32(b)))) })
	case oidOID:
		return fixed(4, func(b []byte) any { return jsonvalue.Uint(uint64(binary.BigEndian.Uint32(b))) })
	case oidInt8:
		return fixed(8, func(b []byte) any { return jsonvalue.Int(int64(binary.BigEndian.Uint64(b))) })
	case oidFloat4:
		return fixed(4, func(b []byte) any {
			return jsonvalue.Float(float64(math.Float32frombits(binary.BigEndian.Uint32(b))), 32)
		})
	case oidFloat8:
		return fixed(8, func(b []byte) any { return jsonvalue.Float(math.Float64frombits(binary.BigEndian.Uint64(b)), 64) })
	case oidNumeric:
		return numericValue
	case oidText, oidVarchar, oidBPChar, oidName:
		return textValue
	case oidJSON:
		return func(b []byte) (any, error) { return jsonvalue.Decode(b) }
	case oidJSONB:
		return func(b []byte) (any, error) {
			if len(b) == 0 || b[0] != 1 {
				return nil, errMalformed // jsonb's binary form: version 1, then the text
			}
			return jsonvalue.Decode(b[1:])
		}
	case oidUUID:
		return fixed(16, func(b []byte) any { return jsonvalue.UUID(b) })
	case oidBytea:
		return func(b []byte) (any, error) { return jsonvalue.Bytes(b), nil }
	case oidDate:
		return fixed(4, dateValue)
	case oidTimestamp, oidTimestamptz:
		digits := 6 // microseconds, unless declared timestamp(p)
		if typmod >= 0 && typmod < 6 {
			digits = int(typmod)
		}
		return fixed(8, func(b []byte) any { return timestampValue(int64(binary.BigEndian.Uint64(b)), digits) })
	}
	return nil
}

// fixed returns a decoder of values of exactly n bytes.
func fixed(n int, f func([]byte) any) decoder {
	return func(b []byte) (any, error) {
		if len(b) != n {
			return nil, errMalformed
		}
		return f(b), nil
	}
}

func textValue(b []byte) (any, error) {
	if !utf8.Valid(b) {
		return nil, source.ErrInvalidUTF8
	}
	return string(b), nil
}

// PostgreSQL counts dates and timestamps from 2000-01-01.
const (
	pgEpochUnix = 946684800
	pgEpochDays = 10957
)

func dateValue(b []byte) any {
	switch days := int32(binary.BigEndian.Uint32(b)); days {
	case math.MaxInt32:
		return "infinity"
	case math.MinInt32:
		return "-infinity"
	default:
		return jsonvalue.Date(time.Unix((int64(days)+pgEpochDays)*86400, 0).UTC())
	}
}

func timestampValue(micros int64, digits int) any {
	switch micros {
	case math.MaxInt64:
		return "infinity"
	case math.MinInt64:
		return "-infinity"
	}
	sec, us := micros/1e6, micros%1e6
	if us < 0 {
		sec, us = sec-1, us+1e6
	}
	return jsonvalue.Timestamp(time.Unix(sec+pgEpochUnix, us*1000), digits)
}

// numericValue decodes numeric's binary form: ndigits, weight, sign and
// dscale (16 bits each), then ndigits base-10000 digits, the first of weight
// 10000^weight. The result is exact, with dscale fraction digits, as
// PostgreSQL prints it.
func numericValue(b []byte) (any, error) {
	if len(b) < 8 {
		return nil, errMalformed
	}
	ndigits := int(binary.BigEndian.Uint16(b[0:]))
	weight := int(int16(binary.BigEndian.Uint16(b[2:])))
	sign := binary.BigEndian.Uint16(b[4:])
	dscale := int(binary.BigEndian.Uint16(b[6:]))
	if len(b) != 8+2*ndigits {
		return nil, errMalformed
	}
	switch sign {
	case 0xc000:
		return "NaN", nil
	case 0xd000:
		return "Infinity", nil
	case 0xf000:
		return "-Infinity", nil
	}
	digit := func(i int) int {
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(b[8+2*i:]))
	}
	out := make([]byte, 0, 4*(max(weight, 0)+1)+dscale+2)
	if sign == 0x4000 {
		out = append(out, '-')
	}
	intStart := len(out)
	for i := 0; i <= weight; i++ {
		out = appendGroup(out, digit(i), 4)
	}
	// No leading zeros, but one digit at least: JSON wants 0.5, not 00.5.
	lead := intStart
	for lead < len(out)-1 && out[lead] == '0' {
		lead++
	}
	out = append(out[:intStart], out[lead:]...)
	if len(out) == intStart {
		out = append(out, '0')
	}
	if dscale > 0 {
		out = append(out, '.')
		for g, left := weight+1, dscale; left > 0; g++ {
			n := min(4, left)
			out = appendGroup(out, digit(g), n)
			left -= n
		}
	}
	return json.Number(out), nil
}

// appendGroup appends the first n of the 4 zero-padded digits of d.
func appendGroup(out []byte, d, n int) []byte {
	var four [4]byte
	for k := 3; k >= 0; k-- {
		four[k] = byte('0' + d%10)
		d /= 10
	}
	return append(out, four[:n]...)
}

// arrayOf returns the decoder of arrays (binary form) of elements decoded
// by elem: a JSON array, nested for each dimension after the first; NULL
// elements are nil.
func arrayOf(elem decoder) decoder {
	return func(b []byte) (any, error) {
		if len(b) < 12 {
			return nil, errMalformed
		}
		ndim := int(binary.BigEndian.Uint32(b[0:]))
		if ndim == 0 {
			return []any{}, nil
		}
		if ndim < 0 || ndim > 6 || len(b) < 12+8*ndim {
			return nil, errMalformed
		}
		dims := make([]int, ndim)
		total := 1
		for i := range dims {
			dims[i] = int(int32(binary.BigEndian.Uint32(b[12+8*i:])))
			if dims[i] < 0 {
				return nil, errMalformed
			}
			total *= dims[i]
		}
		rest := b[12+8*ndim:]
		if total > len(rest)/4 {
			return nil, errMalformed // every element takes at least 4 bytes
		}
		var build func(d int) ([]any, error)
		build = func(d int) ([]any, error) {
			arr := make([]any, dims[d])
			for i := range arr {
				if d+1 < ndim {
					sub, err := build(d + 1)
					if err != nil {
						return nil, err
					}
					arr[i] = sub
					continue
				}
				if len(rest) < 4 {
					return nil, errMalformed
				}
				n := int(int32(binary.BigEndian.Uint32(rest)))
				rest = rest[4:]
				if n < 0 {
					continue // NULL element
				}
				if n > len(rest) {
					return nil, errMalformed
				}
				v, err := elem(rest[:n])
				if err != nil {
					return nil, err
				}
				arr[i], rest = v, rest[n:]
			}
			return arr, nil
		}
		return build(0)
	}
}
