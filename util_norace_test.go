//go:build !race

package mio

// raceEnabled reports whether the race detector is on, so that the
// harness tests can scale their round counts down under it.
const raceEnabled = false
