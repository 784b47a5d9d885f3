package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

// quitGrace bounds what the second interrupt waits for (the quit hooks:
// writing the results of finished items) before the process exits anyway.
const quitGrace = 1500 * time.Millisecond

// interruptible returns a context cancelled with errInterrupted by the first
// SIGINT or SIGTERM: the run stops reading, finishes the requests in flight
// and writes every result. The second signal runs the quit hooks registered
// with onQuit (each command's outputs flush what has finished), for at most
// quitGrace, and exits with code 130; a third exits at once.
func interruptible(parent context.Context, stderr io.Writer) (context.Context, func()) {
	q := &quitHooks{}
	ctx, cancel := context.WithCancelCause(context.WithValue(parent, quitKey{}, q))
	sigs := make(chan os.Signal, 3)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "segloop: interrupted: finishing requests in flight (interrupt again to quit now)")
			cancel(errInterrupted)
		case <-done:
			return
		}
		select {
		case <-sigs:
			fmt.Fprintln(stderr, "segloop: interrupted twice: writing the results of the items finished, then quitting")
		case <-done:
			return
		}
		flushed := make(chan struct{})
		go func() { // not waited for: the process exits below
			q.run()
			close(flushed)
		}()
		t := time.NewTimer(quitGrace)
		select {
		case <-flushed:
		case <-t.C:
			fmt.Fprintln(stderr, "segloop: the outputs did not take the last results in time; quitting")
		case <-sigs:
		}
		os.Exit(exitInterrupted)
	}()
	return ctx, func() {
		signal.Stop(sigs)
		close(done)
		cancel(nil)
	}
}

// quitKey is the context key of the quitHooks.
type quitKey struct{}

// quitHooks are what the second interrupt runs before the process exits.
type quitHooks struct {
	mu  sync.Mutex
	fns map[int]func()
	id  int
}

func (q *quitHooks) run() {
	q.mu.Lock()
	fns := make([]func(), 0, len(q.fns))
	for _, fn := range q.fns {
		fns = append(fns, fn)
	}
	q.mu.Unlock()
	for _, fn := range fns {
		fn()
	}
}

// onQuit registers fn to run on a second interrupt of ctx (see
// interruptible); the returned func removes it. Without interruptible (as in
// tests that call run), it does nothing.
func onQuit(ctx context.Context, fn func()) (remove func()) {
	q, ok := ctx.Value(quitKey{}).(*quitHooks)
	if !ok {
		return func() {}
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fns == nil {
		q.fns = map[int]func(){}
	}
	q.id++
	id := q.id
	q.fns[id] = fn
	return func() {
		q.mu.Lock()
		delete(q.fns, id)
		q.mu.Unlock()
	}
}
