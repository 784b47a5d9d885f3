package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// rateReporter is what the progress display reads from the limiter.
type rateReporter interface {
	Rate() float64
	Paused() time.Duration
}

// progress is the live progress line on a terminal's stderr: items done by
// status, items/s, the limiter's current rate, time paused by Retry-After,
// and an ETA from the bytes read when the input's size is known. It shows
// nothing when stderr is not a terminal or with --quiet. Stop ends it; Stop
// may be called more than once.
type progress struct {
	bar  *progressbar.ProgressBar
	stop chan struct{}
	done chan struct{}
	once sync.Once
}

// startProgress starts the display of a run whose input holds size bytes (0:
// unknown) and has read read of them so far.
func startProgress(stderr io.Writer, quiet bool, size int64, read *atomic.Int64, counts *statusCounts, lim rateReporter) *progress {
	p := &progress{}
	file, ok := stderr.(*os.File)
	if quiet || !ok || !term.IsTerminal(int(file.Fd())) {
		return p
	}
	max := size
	if max <= 0 {
		max = -1 // unknown: a spinner
	}
	p.bar = progressbar.NewOptions64(max,
		progressbar.OptionSetWriter(stderr),
		progressbar.OptionShowBytes(false),
		progressbar.OptionSetWidth(20),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionSetPredictTime(size > 0),
		progressbar.OptionClearOnFinish(),
	)
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	start := time.Now()
	go func() {
		defer close(p.done)
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
			done := counts.done()
			perSec := float64(done) / time.Since(start).Seconds()
			p.bar.Describe(fmt.Sprintf("%d done: %d ok, %d unchanged, %d failed, %d invalid | %.0f items/s | rate %.0f req/s | paused %s",
				done, counts.ok.Load(), counts.unchanged.Load(), counts.failed.Load(), counts.invalid.Load(), perSec, lim.Rate(), lim.Paused().Round(time.Second)))
			n := read.Load()
			if size > 0 {
				n = min(n, size) // reads at offsets (Parquet) may read some bytes twice
			}
			p.bar.Set64(n)
		}
	}()
	return p
}

// Stop removes the progress line.
func (p *progress) Stop() {
	p.once.Do(func() {
		if p.bar == nil {
			return
		}
		close(p.stop)
		<-p.done
		p.bar.Finish()
		p.bar.Clear()
	})
}
