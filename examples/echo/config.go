package main

import (
	"errors"
	"fmt"
	"log"
	"strconv"
	"strings"
)

// Defaults of the command-line flags.
const (
	defaultAddr    = "127.0.0.1:7000"
	defaultLoops   = 1
	defaultBufSize = 64 << 10

	// maxBufSize keeps a typo in -buf from reserving gigabytes per
	// connection.
	maxBufSize = 1 << 30
)

// config is what a server is built from.
type config struct {
	addr  string // the -addr flag: any form mio.ParseSockAddr reads
	loops int    // event loops, each with its own acceptor
	// share makes the loops share one listening socket (through Dup)
	// even where SO_REUSEPORT would balance: tests use it to run, on
	// Linux, what macOS, NetBSD and OpenBSD run.
	share   bool
	bufSize int         // bytes buffered per connection
	log     *log.Logger // diagnostics; nil logs to standard error
}

// check checks the numbers of cfg; serve.Bind checks the address.
func (cfg config) check() error {
	if cfg.loops < 1 {
		return fmt.Errorf("-loops %d: need at least one loop", cfg.loops)
	}
	if cfg.bufSize < 1 || cfg.bufSize > maxBufSize {
		return fmt.Errorf("-buf %d: want 1 byte to %d MiB", cfg.bufSize, maxBufSize>>20)
	}
	return nil
}

// byteSize is a flag value for a size in bytes, written as a number with an
// optional binary suffix: "65536", "64K", "64KiB", "1M", "1MiB".
type byteSize int

var sizeSuffixes = []struct {
	suffix string
	shift  uint
}{
	{"kib", 10}, {"mib", 20}, {"k", 10}, {"m", 20}, {"b", 0},
}

// Set parses s; it is called by the flag package.
func (b *byteSize) Set(s string) error {
	num, shift := strings.TrimSpace(s), uint(0)
	lower := strings.ToLower(num)
	for _, u := range sizeSuffixes {
		if strings.HasSuffix(lower, u.suffix) {
			num, shift = strings.TrimSpace(num[:len(num)-len(u.suffix)]), u.shift
			break
		}
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil || n<<shift > maxBufSize {
		return errors.New("want a number of bytes up to 1GiB, optionally with a K, KiB, M or MiB suffix")
	}
	*b = byteSize(n << shift)
	return nil
}

// String writes the size the way Set reads it back.
func (b *byteSize) String() string {
	switch n := int(*b); {
	case n != 0 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n != 0 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	default:
		return strconv.Itoa(n)
	}
}
