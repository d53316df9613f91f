package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"

	"github.com/miogo/mio/examples/internal/serve"
)

func main() {
	sigs := serve.CatchSignals()
	cfg, profile := parseFlags(os.Args[1:])
	srv, err := newServer(cfg)
	if err != nil {
		cfg.log.Fatal(err)
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			cfg.log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			cfg.log.Fatal(err)
		}
		defer f.Close()
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("resp: listening on %s\n", srv.addr)
	if err := sigs.Run(cfg.log, srv.run, srv.stop); err != nil {
		cfg.log.Print(err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// parseFlags reads the command line; on a mistake it prints usage and
// exits with status 2, as the flag package does. It returns the server's
// configuration and the CPU profile's file name, if one is asked for.
func parseFlags(args []string) (config, string) {
	fs := flag.NewFlagSet("resp", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: resp [-addr address] [-loops n] [-maxbulk bytes] [-outbuf bytes] [-v] [-cpuprofile file]\n\n")
		fs.PrintDefaults()
	}
	cfg := config{log: log.New(os.Stderr, "resp: ", log.LstdFlags)}
	var profile string
	fs.StringVar(&cfg.addr, "addr", defaultAddr, "`address` to serve: IP:port, [IPv6]:port, unix:/path or unix:@name; port 0 picks a free port")
	fs.IntVar(&cfg.loops, "loops", 1, "number of event loops, each on its own goroutine, sharing the keyspace")
	fs.IntVar(&cfg.maxBulk, "maxbulk", defaultMaxBulk, "longest bulk string a request may hold, in `bytes`")
	fs.IntVar(&cfg.outHigh, "outbuf", defaultOutHigh, "output high-water mark per connection, in `bytes`: above it the connection is not read until its output drains to a quarter of it")
	fs.BoolVar(&cfg.verbose, "v", false, "log the commands the server does not know")
	fs.StringVar(&profile, "cpuprofile", "", "write a CPU profile to `file` until the server stops")
	fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "resp: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		os.Exit(2)
	}
	return cfg, profile
}
