package source

import (
	"encoding/binary"
	"math"
	"time"
	"unicode/utf8"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/deprecated"
	"github.com/parquet-go/parquet-go/format"

	"github.com/segloop/segloop/internal/jsonvalue"
)

// leafConverter returns the function turning a non-null value of a column of
// type t into its JSON form (see ParquetReader). It is chosen once per
// column from the logical type (parquet-go maps legacy converted types onto
// logical ones) and the physical kind.
func leafConverter(t parquet.Type) func(parquet.Value) (any, error) {
	kind := t.Kind()
	var logical format.LogicalTypeValue
	if lt := t.LogicalType(); lt != nil {
		logical = lt.Value
	}
	switch lt := logical.(type) {
	case *format.StringType, *format.EnumType:
		return pqString
	case *format.JsonType:
		return func(v parquet.Value) (any, error) { return jsonvalue.Decode(v.ByteArray()) }
	case *format.UUIDType:
		if kind == parquet.FixedLenByteArray && t.Length() == 16 {
			return func(v parquet.Value) (any, error) { return jsonvalue.UUID(v.ByteArray()), nil }
		}
	case *format.DecimalType:
		return pqDecimal(kind, int(lt.Scale))
	case *format.DateType:
		return func(v parquet.Value) (any, error) {
			return jsonvalue.Date(time.Unix(int64(v.Int32())*86400, 0).UTC()), nil
		}
	case *format.TimestampType:
		unit, digits := timeUnit(&lt.Unit)
		return func(v parquet.Value) (any, error) {
			var t time.Time
			switch n := v.Int64(); unit {
			case time.Millisecond:
				t = time.UnixMilli(n)
			case time.Microsecond:
				t = time.UnixMicro(n)
			default:
				t = time.Unix(0, n)
			}
			return jsonvalue.Timestamp(t, digits), nil
		}
	case *format.TimeType:
		unit, digits := timeUnit(&lt.Unit)
		return func(v parquet.Value) (any, error) {
			n := v.Int64()
			if kind == parquet.Int32 {
				n = int64(v.Int32())
			}
			return jsonvalue.TimeOfDay(time.Duration(n)*unit, digits), nil
		}
	case *format.IntType:
		if !lt.IsSigned {
			if kind == parquet.Int32 {
				return func(v parquet.Value) (any, error) { return jsonvalue.Uint(uint64(v.Uint32())), nil }
			}
			return func(v parquet.Value) (any, error) { return jsonvalue.Uint(v.Uint64()), nil }
		}
	case *format.Float16Type:
		if kind == parquet.FixedLenByteArray && t.Length() == 2 {
			return func(v parquet.Value) (any, error) {
				return jsonvalue.Float(float64(float16(binary.LittleEndian.Uint16(v.ByteArray()))), 32), nil
			}
		}
	case *format.NullType:
		return func(parquet.Value) (any, error) { return nil, nil }
	}
	if ct := t.ConvertedType(); ct != nil && *ct == deprecated.Interval && kind == parquet.FixedLenByteArray && t.Length() == 12 {
		return pqInterval
	}
	switch kind {
	case parquet.Boolean:
		return func(v parquet.Value) (any, error) { return v.Boolean(), nil }
	case parquet.Int32:
		return func(v parquet.Value) (any, error) { return jsonvalue.Int(int64(v.Int32())), nil }
	case parquet.Int64:
		return func(v parquet.Value) (any, error) { return jsonvalue.Int(v.Int64()), nil }
	case parquet.Int96:
		return pqInt96
	case parquet.Float:
		return func(v parquet.Value) (any, error) { return jsonvalue.Float(float64(v.Float()), 32), nil }
	case parquet.Double:
		return func(v parquet.Value) (any, error) { return jsonvalue.Float(v.Double(), 64), nil }
	}
	return func(v parquet.Value) (any, error) { return jsonvalue.Bytes(v.ByteArray()), nil }
}

func pqString(v parquet.Value) (any, error) {
	b := v.ByteArray()
	if !utf8.Valid(b) {
		return nil, ErrInvalidUTF8
	}
	return string(b), nil
}

// pqDecimal converts an unscaled integer of the given physical kind.
func pqDecimal(kind parquet.Kind, scale int) func(parquet.Value) (any, error) {
	switch kind {
	case parquet.Int32:
		return func(v parquet.Value) (any, error) { return jsonvalue.Decimal(int64(v.Int32()), scale), nil }
	case parquet.Int64:
		return func(v parquet.Value) (any, error) { return jsonvalue.Decimal(v.Int64(), scale), nil }
	}
	return func(v parquet.Value) (any, error) {
		b := v.ByteArray()
		if len(b) <= 8 {
			var n int64
			for _, c := range b {
				n = n<<8 | int64(c)
			}
			if len(b) > 0 && len(b) < 8 && b[0]&0x80 != 0 {
				n -= 1 << (8 * len(b))
			}
			return jsonvalue.Decimal(n, scale), nil
		}
		return jsonvalue.BigDecimal(jsonvalue.TwosComplement(b), scale), nil
	}
}

// timeUnit returns the duration of unit and its number of fraction digits.
func timeUnit(unit *format.TimeUnit) (time.Duration, int) {
	switch unit.Value.(type) {
	case *format.MicroSeconds:
		return time.Microsecond, 6
	case *format.NanoSeconds:
		return time.Nanosecond, 9
	}
	return time.Millisecond, 3
}

// pqInt96 converts a legacy INT96 timestamp: nanoseconds of the day, then
// the Julian day.
func pqInt96(v parquet.Value) (any, error) {
	x := v.Int96()
	nanos := int64(uint64(x[1])<<32 | uint64(x[0]))
	const julianUnixEpoch = 2440588
	days := int64(x[2]) - julianUnixEpoch
	return jsonvalue.Timestamp(time.Unix(days*86400, nanos), 9), nil
}

// pqInterval converts a legacy INTERVAL: months, days and milliseconds,
// each a little-endian uint32.
func pqInterval(v parquet.Value) (any, error) {
	b := v.ByteArray()
	return map[string]any{
		"months":       jsonvalue.Uint(uint64(binary.LittleEndian.Uint32(b[0:]))),
		"days":         jsonvalue.Uint(uint64(binary.LittleEndian.Uint32(b[4:]))),
		"milliseconds": jsonvalue.Uint(uint64(binary.LittleEndian.Uint32(b[8:]))),
	}, nil
}

// float16 converts an IEEE 754 half-precision value.
func float16(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // Inf or NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: renormalise
		e := uint32(127 - 15 + 1)
		for frac&0x400 == 0 {
			frac <<= 1
			e--
		}
		return math.Float32frombits(sign | e<<23 | (frac&0x3ff)<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | frac<<13)
}
