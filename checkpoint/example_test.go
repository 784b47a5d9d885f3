package checkpoint_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/segloop/segloop/checkpoint"
)

// A run marks the items it delivers; a second run with the same checkpoint
// skips them and re-sends only the rest (here item 2, which failed).
func Example() {
	dir, _ := os.MkdirTemp("", "checkpoint-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "import.ckpt")

	run := func(fail int64) {
		cp, err := checkpoint.Open(path, "users.csv+mapping.json", checkpoint.Options{})
		if err != nil {
			fmt.Println(err)
			return
		}
		defer cp.Close()
		if cp.RunKey() == "" {
			_ = cp.SetRunKey("run-1") // durable before anything is sent
		}
		var sent []int64
		for i := int64(0); i < 5; i++ {
			if cp.Done(i) {
				continue
			}
			sent = append(sent, i)
			if i != fail {
				_ = cp.Mark(i)
			}
		}
		fmt.Printf("run key %s: sent %v, %d done, watermark %d\n", cp.RunKey(), sent, cp.Count(), cp.Watermark())
	}
	run(2)
	run(-1)

	_, err := checkpoint.Open(path, "other.csv+mapping.json", checkpoint.Options{})
	fmt.Println(errors.Is(err, checkpoint.ErrMismatch))
	// Output:
	// run key run-1: sent [0 1 2 3 4], 4 done, watermark 2
	// run key run-1: sent [2], 5 done, watermark 5
	// true
}
