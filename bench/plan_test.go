package main

import (
	"strings"
	"testing"
)

// TestPlan checks every scenario of both plans: a unique ID, a name, input
// sizes and figures.
func TestPlan(t *testing.T) {
	for _, quick := range []bool{false, true} {
		seen := make(map[int]bool)
		for _, sc := range plan(quick) {
			if seen[sc.ID] {
				t.Errorf("quick=%v: two scenarios numbered %d", quick, sc.ID)
			}
			seen[sc.ID] = true
			if sc.Name == "" || len(sc.Rows) == 0 || sc.figures == nil || len(sc.Clients) == 0 {
				t.Errorf("quick=%v: scenario %d is incomplete: %+v", quick, sc.ID, sc)
			}
		}
	}
}

func TestChoose(t *testing.T) {
	all := plan(true)
	ids := func(scs []*scenario) []int {
		var out []int
		for _, sc := range scs {
			out = append(out, sc.ID)
		}
		return out
	}
	got, err := choose(all, "")
	if err != nil || len(got) != len(all) {
		t.Errorf("empty: %v, %v", ids(got), err)
	}
	got, err = choose(all, " 12, 1 ")
	if err != nil || len(got) != 2 || got[0].ID != 1 || got[1].ID != 12 {
		t.Errorf("12,1: %v, %v; want [1 12] in the plan's order", ids(got), err)
	}
	for _, bad := range []string{"1,x", "99"} {
		if _, err := choose(all, bad); err == nil || !strings.Contains(err.Error(), "-only") {
			t.Errorf("%q: %v, want an -only error", bad, err)
		}
	}
}

func TestFaultFigures(t *testing.T) {
	var sc *scenario
	for _, s := range plan(false) {
		if s.ID == 6 {
			sc = s
		}
	}
	if sc == nil || sc.Clients[1].Name != clientClean || sc.Clients[1].Server == nil || sc.Clients[1].Server.FailRate != 0 {
		t.Fatalf("scenario 6 has no clean client: %+v", sc)
	}
	rows := sc.Rows[0]
	runs := []runResult{
		{Client: clientSegloop, Rows: rows, WallSec: 1.9, Server: serverStats{Unique: int64(rows)}},
		{Client: clientClean, Rows: rows, WallSec: 1.0, Server: serverStats{Unique: int64(rows)}},
		{Client: clientAgo, Rows: rows, WallSec: 1.0, Server: serverStats{Unique: int64(rows) - 10}},
	}
	got := verdicts(sc.figures(sc, runs))
	if got["segloop: time ÷ clean time"] != pass || got["segloop: rows delivered"] != pass {
		t.Errorf("1.9× the clean time, all delivered: %v", got)
	}
	runs[0].WallSec = 2.1
	if got := verdicts(sc.figures(sc, runs)); got["segloop: time ÷ clean time"] != miss {
		t.Errorf("2.1× the clean time: %v", got)
	}
}
