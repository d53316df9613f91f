package main

import (
	"errors"
	"fmt"
	"io"
	"log"
	"strconv"
	"strings"
	"time"

	"github.com/miogo/mio"
)

// Defaults of the command-line flags and other settings.
const (
	defaultAddr    = "127.0.0.1:7000"
	defaultLoops   = 1
	defaultBufSize = 64 << 10

	// maxBufSize keeps a typo in -buf from reserving gigabytes per
	// connection.
	maxBufSize = 1 << 30

	// defaultGrace is how long a stop waits for the clients to close
	// their connections before it closes them itself.
	defaultGrace = 5 * time.Second
	// lingerTime bounds how long a closing connection waits for its client
	// to read the echo it is still owed (mio.ConnConfig.Linger), so that a
	// client that stopped reading cannot hold a stop up for long.
	lingerTime = time.Second
	// statsEvery is how often -stats prints.
	statsEvery = time.Second
)

// config is what a server is built from.
type config struct {
	addr    string      // the -addr flag: any form mio.ParseSockAddr reads
	loops   int         // event loops of the mio.Server
	balance mio.Balance // the -balance flag: how connections reach the loops
	// share hands connections off from one accepting loop
	// (mio.BalanceRoundRobin) even where the kernel would balance
	// reuse-port acceptors: tests use it to run, on Linux, what macOS,
	// NetBSD and OpenBSD run.
	share   bool
	bufSize int           // bytes buffered per connection
	stats   time.Duration // print statistics this often; 0: never
	grace   time.Duration // how long a stop waits for clients; 0: defaultGrace
	out     io.Writer     // where statistics go; nil: nowhere
	log     *log.Logger   // diagnostics; nil logs to standard error
}

// check checks the numbers of cfg; newServer checks the address.
func (cfg config) check() error {
	if cfg.loops < 1 {
		return fmt.Errorf("-loops %d: need at least one loop", cfg.loops)
	}
	if cfg.bufSize < 1 || cfg.bufSize > maxBufSize {
		return fmt.Errorf("-buf %d: want 1 byte to %d MiB", cfg.bufSize, maxBufSize>>20)
	}
	_, err := cfg.balancing()
	return err
}

// balancing is the Server's Balance: -balance, or a hand-off when share
// asks for one, which the kernel's balancing contradicts.
func (cfg config) balancing() (mio.Balance, error) {
	switch {
	case !cfg.share || cfg.balance >= mio.BalanceRoundRobin:
		return cfg.balance, nil
	case cfg.balance == mio.BalanceReusePort:
		return 0, errors.New("-balance reuse-port contradicts share, which hands connections off")
	}
	return mio.BalanceRoundRobin, nil
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
