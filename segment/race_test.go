//go:build race

package segment_test

// raceEnabled reports that the tests run under the race detector, where
// sync.Pool drops items at random: allocation counts mean nothing then.
const raceEnabled = true
