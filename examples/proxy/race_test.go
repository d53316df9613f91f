//go:build race

package main

// raceEnabled reports whether the race detector is on, so that the tests
// can shrink their transfers under it (see shrunk).
const raceEnabled = true
