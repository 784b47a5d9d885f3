package segment_test

import (
	"encoding/json"
	"testing"

	"github.com/segloop/segloop/segment"
)

func TestAppendJSONString(t *testing.T) {
	for _, s := range []string{"", "plain", `quo"te`, "back\\slash", "new\nline", "<html>&", "ünïcödé", "\xff\xfe bad utf-8", "\x00nul", "\u2028"} {
		got := segment.AppendJSONString([]byte("x:"), s)
		want, _ := json.Marshal(s)
		if string(got) != "x:"+string(want) {
			t.Errorf("AppendJSONString(%q) = %s, want x:%s", s, got, want)
		}
	}
}
