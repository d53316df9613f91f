//go:build race

package mio

// raceEnabled reports whether the race detector is on, so that the
// stress tests can scale their round counts down under it (see shrunk).
const raceEnabled = true
