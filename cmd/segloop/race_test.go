//go:build race

package main

// raceEnabled reports that the tests run under the race detector, so the
// binary the process tests build carries it too.
const raceEnabled = true
