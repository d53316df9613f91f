package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

func main() {
	sigs := serve.CatchSignals()
	cfg := parseFlags(os.Args[1:])
	srv, err := newServer(cfg)
	if err != nil {
		cfg.log.Fatal(err)
	}
	fmt.Printf("echo: listening on %s with %d loop(s)\n", srv.addr, srv.srv.Loops())
	if err := sigs.Run(cfg.log, srv.run, srv.stop); err != nil {
		cfg.log.Fatal(err)
	}
}

// parseFlags reads the command line; on a mistake it prints usage and
// exits with status 2, as the flag package does.
func parseFlags(args []string) config {
	fs := flag.NewFlagSet("echo", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: echo [-addr address] [-loops n] [-balance how] [-buf size] [-stats]\n\n")
		fs.PrintDefaults()
	}
	cfg := config{log: log.New(os.Stderr, "echo: ", log.LstdFlags), out: os.Stdout}
	buf := byteSize(defaultBufSize)
	stats := false
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "`address` to serve: IP:port, [IPv6]:port, unix:/path or unix:@name; port 0 picks a free port")
	fs.IntVar(&cfg.loops, "loops", defaultLoops, "number of event loops, each on its own goroutine")
	fs.TextVar(&cfg.balance, "balance", mio.BalanceAuto, "`how` connections reach the loops: auto (the kernel's where it balances reuse-port acceptors, else round-robin), reuse-port, round-robin, least-conns or source-hash")
	fs.Var(&buf, "buf", "per-connection buffer `size` (bytes, or with a K, KiB, M or MiB suffix)")
	fs.BoolVar(&stats, "stats", false, "print the server's statistics every second")
	fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "echo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		os.Exit(2)
	}
	cfg.bufSize = int(buf)
	if stats {
		cfg.stats = statsEvery
	}
	return cfg
}
