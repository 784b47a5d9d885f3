// Package testwait tells tests how long to wait for an event before they
// call it lost: the time the test binary has left (go test -timeout), less a
// margin to report the failure. No machine is then too slow for a test that
// would pass, and a hang still fails with a message of the test's own
// instead of the binary's timeout panic.
package testwait

import "time"

// Deadliner is the part of *testing.T that Patience reads.
type Deadliner interface {
	Deadline() (deadline time.Time, ok bool)
}

// Patience returns how long t may wait for an event: the time left before
// its deadline less a tenth of it (at most 30 s), at least a second; 10
// minutes when the test has no deadline.
func Patience(t Deadliner) time.Duration {
	deadline, ok := t.Deadline()
	if !ok {
		return 10 * time.Minute
	}
	left := time.Until(deadline)
	return max(left-min(left/10, 30*time.Second), time.Second)
}
