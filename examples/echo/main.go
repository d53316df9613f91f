package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/miogo/mio/examples/internal/serve"
)

func main() {
	sigs := serve.CatchSignals()
	cfg := parseFlags(os.Args[1:])
	srv, err := newServer(cfg)
	if err != nil {
		cfg.log.Fatal(err)
	}
	fmt.Printf("echo: listening on %s with %d loop(s)\n", srv.addr, cfg.loops)
	if err := sigs.Run(cfg.log, srv.run, srv.stop); err != nil {
		cfg.log.Fatal(err)
	}
}

// parseFlags reads the command line; on a mistake it prints usage and
// exits with status 2, as the flag package does.
func parseFlags(args []string) config {
	fs := flag.NewFlagSet("echo", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: echo [-addr address] [-loops n] [-buf size]\n\n")
		fs.PrintDefaults()
	}
	cfg := config{log: log.New(os.Stderr, "echo: ", log.LstdFlags)}
	buf := byteSize(defaultBufSize)
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "`address` to serve: IP:port, [IPv6]:port, unix:/path or unix:@name; port 0 picks a free port")
	fs.IntVar(&cfg.loops, "loops", defaultLoops, "number of event loops, each with its own acceptor (SO_REUSEPORT where the kernel balances it, else a Dup of one)")
	fs.Var(&buf, "buf", "per-connection buffer `size` (bytes, or with a K, KiB, M or MiB suffix)")
	fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "echo: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		os.Exit(2)
	}
	cfg.bufSize = int(buf)
	return cfg
}
