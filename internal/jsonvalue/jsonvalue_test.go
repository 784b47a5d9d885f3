package jsonvalue_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/segloop/segloop/internal/jsonvalue"
)

func TestDecimal(t *testing.T) {
	cases := []struct {
		unscaled int64
		scale    int
		want     string
	}{
		{0, 0, "0"}, {0, 2, "0.00"}, {1250, 2, "12.50"}, {-5, 3, "-0.005"}, {5, 1, "0.5"},
		{-123, 4, "-0.0123"}, {42, 0, "42"}, {42, -2, "4200"}, {0, -2, "0"},
		{math.MinInt64, 0, "-9223372036854775808"}, {math.MaxInt64, 18, "9.223372036854775807"},
	}
	for _, c := range cases {
		if got := jsonvalue.Decimal(c.unscaled, c.scale); string(got) != c.want {
			t.Errorf("Decimal(%d, %d) = %s, want %s", c.unscaled, c.scale, got, c.want)
		}
		if got := jsonvalue.BigDecimal(big.NewInt(c.unscaled), c.scale); string(got) != c.want {
			t.Errorf("BigDecimal(%d, %d) = %s, want %s", c.unscaled, c.scale, got, c.want)
		}
		var f float64 // every result is a valid JSON number
		if err := json.Unmarshal([]byte(jsonvalue.Decimal(c.unscaled, c.scale)), &f); err != nil {
			t.Errorf("Decimal(%d, %d): %v", c.unscaled, c.scale, err)
		}
	}
	huge, _ := new(big.Int).SetString("-123456789012345678901234567890", 10)
	if got := jsonvalue.BigDecimal(huge, 10); got != "-12345678901234567890.1234567890" {
		t.Errorf("BigDecimal(huge) = %s", got)
	}
}

func TestTwosComplement(t *testing.T) {
	cases := []struct {
		in   []byte
		want int64
	}{{nil, 0}, {[]byte{0x7f}, 127}, {[]byte{0x80}, -128}, {[]byte{0xff, 0x85}, -123}, {[]byte{0x00, 0xff}, 255}}
	for _, c := range cases {
		if got := jsonvalue.TwosComplement(c.in); got.Int64() != c.want {
			t.Errorf("TwosComplement(%x) = %v, want %d", c.in, got, c.want)
		}
	}
}

func TestFloat(t *testing.T) {
	cases := []struct {
		f    float64
		bits int
		want any
	}{
		{0.1, 64, json.Number("0.1")}, {float64(float32(0.1)), 32, json.Number("0.1")}, {1e21, 64, json.Number("1e+21")},
		{math.NaN(), 64, "NaN"}, {math.Inf(1), 64, "Infinity"}, {math.Inf(-1), 32, "-Infinity"},
		{math.Copysign(0, -1), 64, json.Number("-0")},
	}
	for _, c := range cases {
		if got := jsonvalue.Float(c.f, c.bits); got != c.want {
			t.Errorf("Float(%v, %d) = %#v, want %#v", c.f, c.bits, got, c.want)
		}
	}
}

func TestTimes(t *testing.T) {
	at := time.Date(2024, 5, 1, 14, 30, 15, 120000000, time.FixedZone("CEST", 2*3600))
	if got := jsonvalue.Timestamp(at, 3); got != "2024-05-01T12:30:15.120Z" {
		t.Errorf("Timestamp ms = %s", got)
	}
	if got := jsonvalue.Timestamp(at, 0); got != "2024-05-01T12:30:15Z" {
		t.Errorf("Timestamp s = %s", got)
	}
	if got := jsonvalue.Timestamp(at, 9); got != "2024-05-01T12:30:15.120000000Z" {
		t.Errorf("Timestamp ns = %s", got)
	}
	if got := jsonvalue.Date(at); got != "2024-05-01" {
		t.Errorf("Date = %s", got)
	}
	if got := jsonvalue.TimeOfDay(7*time.Hour+5*time.Second+time.Millisecond, 3); got != "07:00:05.001" {
		t.Errorf("TimeOfDay = %s", got)
	}
}

func TestUUIDAndBytes(t *testing.T) {
	u := []byte{0x12, 0x3e, 0x45, 0x67, 0xe8, 0x9b, 0x12, 0xd3, 0xa4, 0x56, 0x42, 0x66, 0x14, 0x17, 0x40, 0x00}
	if got := jsonvalue.UUID(u); got != "123e4567-e89b-12d3-a456-426614174000" {
		t.Errorf("UUID = %s", got)
	}
	if got := jsonvalue.Bytes([]byte{0, 1, 2, 0xff}); got != "AAEC/w==" {
		t.Errorf("Bytes = %s", got)
	}
}

func TestDecode(t *testing.T) {
	v, err := jsonvalue.Decode([]byte(` {"a": 12345678901234567890, "b": [true, null]} `))
	if err != nil {
		t.Fatal(err)
	}
	if m := v.(map[string]any); m["a"] != json.Number("12345678901234567890") {
		t.Errorf("a = %#v", m["a"])
	}
	for _, bad := range []string{``, `{`, `{} {}`, `1 ]`, `"a" x`} {
		if _, err := jsonvalue.Decode([]byte(bad)); err == nil {
			t.Errorf("Decode(%q): no error", bad)
		}
	}
	if _, err := jsonvalue.Decode([]byte(`1 2`)); !errors.Is(err, jsonvalue.ErrTrailingData) {
		t.Errorf("Decode(1 2) = %v, want ErrTrailingData", err)
	}
}

// TestTimestampFormat compares the hand-written formatting with time.Format.
func TestTimestampFormat(t *testing.T) {
	layouts := []string{"2006-01-02T15:04:05Z07:00", "2006-01-02T15:04:05.000Z07:00", "2006-01-02T15:04:05.000000Z07:00", "2006-01-02T15:04:05.000000000Z07:00"}
	digits := []int{0, 3, 6, 9}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		at := time.Unix(rng.Int64N(400_000_000_000)-62_135_596_800, rng.Int64N(1e9))
		for i, l := range layouts {
			if got, want := jsonvalue.Timestamp(at, digits[i]), at.UTC().Format(l); got != want {
				t.Fatalf("Timestamp(%v, %d) = %s, want %s", at, digits[i], got, want)
			}
		}
	}
	for _, at := range []time.Time{time.Date(-5, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC)} {
		if got, want := jsonvalue.Timestamp(at, 3), at.Format("2006-01-02T15:04:05.000Z07:00"); got != want {
			t.Errorf("Timestamp(%v) = %s, want %s", at, got, want)
		}
	}
}

// BenchmarkTimestamp compares Timestamp with the time.Format it replaces.
func BenchmarkTimestamp(b *testing.B) {
	at := time.Date(2024, 5, 1, 12, 30, 15, 123456789, time.FixedZone("x", 3600))
	b.Run("Timestamp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			jsonvalue.Timestamp(at, 6)
		}
	})
	b.Run("time.Format", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = at.UTC().Format("2006-01-02T15:04:05.000000Z07:00")
		}
	})
}
