package segment_test

import (
	"testing"

	"github.com/segloop/segloop/segment"
)

func TestMessageIDVectors(t *testing.T) {
	// Frozen vectors, cross-checked with an independent Python hashlib
	// implementation; changing them breaks deduplication of resumed runs.
	tests := []struct {
		runKey string
		index  int64
		userID string
		want   string
	}{
		{"run-1", 0, "u-1001", "sl-3905d338d6d3cd7f34e0f4ece14c2391"},
		{"", 0, "", "sl-9d908ecfb6b256def8b49a7c504e6c88"},
		{"nightly-2024-01-02", 41, "user@example.com", "sl-5a62d79c7f64cbdd60f9f42236febbfe"},
		{"a", 1, "bc", ""},
		{"ab", 1, "c", ""},
		{"run-1", -1, "u-1001", "sl-a84721c0eb4feab6501a4cc74dca3225"},
	}
	seen := map[string]int{}
	for i, tt := range tests {
		got := segment.MessageID(tt.runKey, tt.index, tt.userID)
		if tt.want != "" && got != tt.want {
			t.Errorf("MessageID(%q, %d, %q) = %q, want %q", tt.runKey, tt.index, tt.userID, got, tt.want)
		}
		if len(got) != 35 || got[:3] != segment.MessageIDPrefix {
			t.Errorf("MessageID(%q, %d, %q) = %q, want sl- and 32 hex digits", tt.runKey, tt.index, tt.userID, got)
		}
		if again := segment.MessageID(tt.runKey, tt.index, tt.userID); again != got {
			t.Errorf("MessageID not stable: %q then %q", got, again)
		}
		if j, dup := seen[got]; dup {
			t.Errorf("cases %d and %d share messageId %q", j, i, got)
		}
		seen[got] = i
	}
}

func TestMessageIDLongInputs(t *testing.T) {
	long := string(make([]byte, 5000))
	if got := segment.MessageID(long, 1<<40, long); len(got) != 35 {
		t.Errorf("len = %d, want 35", len(got))
	}
}

func BenchmarkMessageID(b *testing.B) {
	b.ReportAllocs()
	for i := int64(0); b.Loop(); i++ {
		_ = segment.MessageID("nightly-2024-01-02", i, "user-000123")
	}
}

func TestAppendMessageID(t *testing.T) {
	got := segment.AppendMessageID([]byte("x:"), "run", 7, "u1")
	if want := "x:" + segment.MessageID("run", 7, "u1"); string(got) != want || len(got)-2 != segment.MessageIDLen {
		t.Fatalf("got %q, want %q", got, want)
	}
	if n := testing.AllocsPerRun(100, func() { got = segment.AppendMessageID(got[:0], "run", 7, "u1") }); n != 0 {
		t.Fatalf("AppendMessageID into a buffer with room: %v allocations, want 0", n)
	}
}
