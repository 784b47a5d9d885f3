package ledger_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/segloop/segloop/ledger"
)

func ExampleSum() {
	sent := []byte(`{"type":"identify","messageId":"sl-1","userId":"u1","traits":{"plan":"pro","seats":12},"timestamp":"2024-01-02T03:04:05Z"}`)
	again := []byte(`{"userId":"u1","traits":{"seats":1.2e1,"plan":"\u0070ro"},"messageId":"sl-2"}`)
	changed := []byte(`{"userId":"u1","traits":{"plan":"pro","seats":13}}`)
	a, _ := ledger.Sum(sent)
	b, _ := ledger.Sum(again)
	c, _ := ledger.Sum(changed)
	fmt.Println(a == b, a == c)
	canonical, _ := ledger.AppendCanonical(nil, again)
	fmt.Printf("%s\n", canonical)
	// Output:
	// true false
	// {"traits":{"plan":"pro","seats":12},"userId":"u1"}
}

func ExampleLedger() {
	dir, _ := os.MkdirTemp("", "ledger-example")
	defer os.RemoveAll(dir)
	ctx := context.Background()
	l, err := ledger.Open(ctx, filepath.Join(dir, "nightly.ledger"), "api.segment.io/3f2a9c")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer l.Close()

	hash := func(event string) ledger.Hash { h, _ := ledger.Sum([]byte(event)); return h }
	night := func(events ...string) {
		batch := make([]ledger.Entry, len(events))
		for i, e := range events {
			batch[i] = ledger.Entry{User: fmt.Sprint("u", i+1), Hash: hash(e)}
		}
		unchanged := make([]bool, len(batch))
		if err := l.Lookup(ctx, batch, unchanged); err != nil {
			fmt.Println(err)
			return
		}
		var accepted []ledger.Entry
		for i, e := range batch {
			if !unchanged[i] {
				accepted = append(accepted, e) // sent, and Segment accepted it
			}
		}
		fmt.Println("unchanged:", unchanged)
		if err := l.Commit(ctx, accepted); err != nil {
			fmt.Println(err)
		}
	}
	night(`{"userId":"u1","traits":{"plan":"pro"}}`, `{"userId":"u2","traits":{"plan":"free"}}`)
	night(`{"userId":"u1","traits":{"plan":"pro"}}`, `{"userId":"u2","traits":{"plan":"pro"}}`)
	// Output:
	// unchanged: [false false]
	// unchanged: [true false]
}
