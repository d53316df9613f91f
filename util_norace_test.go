//go:build !race

package mio

// hzRaceEnabled reports whether the race detector is on, so that the
// harness tests can scale their round counts down under it.
const hzRaceEnabled = false
