//go:build !(linux || darwin || dragonfly || freebsd || netbsd || openbsd)

package main

import (
	"fmt"
	"os"
	"runtime"
)

// main says why there is no server: mio has no event loop on this system.
func main() {
	fmt.Fprintf(os.Stderr, "resp: mio has no event loop on %s\n", runtime.GOOS)
	os.Exit(1)
}
