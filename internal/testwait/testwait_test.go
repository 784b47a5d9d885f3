package testwait_test

import (
	"testing"
	"time"

	"github.com/segloop/segloop/internal/testwait"
)

type fixed struct {
	at time.Time
	ok bool
}

func (f fixed) Deadline() (time.Time, bool) { return f.at, f.ok }

func TestPatience(t *testing.T) {
	if got := testwait.Patience(fixed{}); got != 10*time.Minute {
		t.Errorf("no deadline: %v, want 10m", got)
	}
	if got := testwait.Patience(fixed{time.Now().Add(10 * time.Minute), true}); got < 9*time.Minute+29*time.Second || got > 9*time.Minute+30*time.Second {
		t.Errorf("10 minutes left: %v, want about 9m30s (a 30 s margin)", got)
	}
	if got := testwait.Patience(fixed{time.Now().Add(20 * time.Second), true}); got < 17*time.Second || got > 18*time.Second {
		t.Errorf("20 s left: %v, want about 18 s (a tenth as margin)", got)
	}
	if got := testwait.Patience(fixed{time.Now().Add(-time.Minute), true}); got != time.Second {
		t.Errorf("past the deadline: %v, want the 1 s floor", got)
	}
}
