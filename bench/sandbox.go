package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// serverConfig is the segloop sandbox command line of one run.
type serverConfig struct {
	Rate      float64       `json:"rate"`              // requests/s; 0 = no limit
	Burst     int           `json:"burst"`             // bucket size
	FailRate  float64       `json:"failRate"`          // fraction answered 503
	ResetRate float64       `json:"resetRate"`         // fraction of connections reset
	Latency   time.Duration `json:"latency,omitempty"` // added to every request (nanoseconds in the JSON)
	Seed      int64         `json:"seed"`              // seed of the injected faults
}

// args is the sandbox command line for c, listening on a free loopback port.
func (c serverConfig) args() []string {
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
	return []string{"sandbox", "--addr", "127.0.0.1:0",
		"--rate", f(c.Rate), "--burst", strconv.Itoa(max(c.Burst, 1)),
		"--fail-rate", f(c.FailRate), "--reset-rate", f(c.ResetRate),
		"--latency", c.Latency.String(), "--seed", strconv.FormatInt(c.Seed, 10)}
}

// serverStats is the part of segmenttest.Stats the bench reads from GET /stats.
type serverStats struct {
	Requests      int64
	Accepted      int64
	Throttled     int64
	Failed        int64
	Resets        int64
	BadRequests   int64
	Unauthorized  int64
	Events        int64
	Unique        int64
	Duplicates    int64
	Dropped       int64
	EarlyRequests int64
}

// sandbox is a running segloop sandbox process. Stop must be called.
type sandbox struct {
	cmd    *exec.Cmd
	url    string
	stderr capped
	http   *http.Client
}

// startupTimeout bounds how long the sandbox may take to print its URL.
const startupTimeout = 15 * time.Second

// startSandbox starts bin sandbox with cfg and waits for the URL it prints as
// its first line on stdout. The process is killed when ctx ends.
func startSandbox(ctx context.Context, bin string, cfg serverConfig) (*sandbox, error) {
	s := &sandbox{http: &http.Client{Timeout: 10 * time.Second}}
	s.stderr.limit = outputLimit
	s.cmd = exec.CommandContext(ctx, bin, cfg.args()...)
	s.cmd.Stderr = &s.stderr
	s.cmd.WaitDelay = 5 * time.Second
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the sandbox: %w", err)
	}
	type line struct {
		s   string
		err error
	}
	got := make(chan line, 1)
	go func() {
		l, err := bufio.NewReader(out).ReadString('\n')
		got <- line{strings.TrimSpace(l), err}
	}()
	timer := time.NewTimer(startupTimeout)
	defer timer.Stop()
	select {
	case l := <-got:
		if l.err != nil || !strings.HasPrefix(l.s, "http://127.0.0.1:") {
			s.kill()
			return nil, fmt.Errorf("the sandbox printed %q (%v) instead of its URL; stderr: %s", l.s, l.err, s.stderr.Bytes())
		}
		s.url = l.s
		return s, nil
	case <-timer.C:
		s.kill()
		<-got // the pipe closes once the process is gone
		return nil, fmt.Errorf("the sandbox printed no URL within %v; stderr: %s", startupTimeout, s.stderr.Bytes())
	}
}

// stats fetches the server's counters from GET {url}/stats.
func (s *sandbox) stats(ctx context.Context) (serverStats, error) {
	var st serverStats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/stats", nil)
	if err != nil {
		return st, err
	}
	resp, err := s.http.Do(req)
	if err != nil {
		return st, fmt.Errorf("sandbox stats: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("sandbox stats: %s", resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("sandbox stats: %w", err)
	}
	return st, nil
}

// stop interrupts the sandbox and waits for it to exit, killing it if it
// takes longer than the command's WaitDelay.
func (s *sandbox) stop() error {
	s.http.CloseIdleConnections()
	if err := s.cmd.Process.Signal(os.Interrupt); err != nil {
		s.kill()
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- s.cmd.Wait() }()
	timer := time.NewTimer(10 * time.Second)
	defer timer.Stop()
	select {
	case err := <-done:
		return err
	case <-timer.C:
		s.cmd.Process.Kill()
		<-done
		return fmt.Errorf("the sandbox ignored SIGINT for 10s and was killed")
	}
}

// kill ends the process and reaps it.
func (s *sandbox) kill() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}
