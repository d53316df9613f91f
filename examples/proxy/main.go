package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/miogo/mio/examples/internal/serve"
)

func main() {
	sigs := serve.CatchSignals()
	cfg := parseFlags(os.Args[1:])
	p, err := newProxy(cfg)
	if err != nil {
		cfg.log.Fatal(err)
	}
	fmt.Printf("proxy: listening on %s, backend %s\n", p.addr, p.backend)
	if err := sigs.Run(cfg.log, p.run, p.stop); err != nil {
		cfg.log.Fatal(err)
	}
}

// parseFlags reads the command line; on a mistake it prints usage and
// exits with status 2, as the flag package does.
func parseFlags(args []string) config {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: proxy [-listen address] -backend address [-connect-timeout d]\n\n")
		fs.PrintDefaults()
	}
	cfg := config{log: log.New(os.Stderr, "proxy: ", log.LstdFlags)}
	fs.StringVar(&cfg.listen, "listen", "127.0.0.1:7001", "`address` to accept clients on; port 0 picks a free port")
	fs.StringVar(&cfg.backend, "backend", "", "`address` of the backend each client is connected to")
	fs.DurationVar(&cfg.connectTimeout, "connect-timeout", 5*time.Second, "how long a connect to the backend may take (0: the kernel's limit)")
	fs.Parse(args)
	if fs.NArg() > 0 || cfg.backend == "" {
		if fs.NArg() > 0 {
			fmt.Fprintf(fs.Output(), "proxy: unexpected argument %q\n", fs.Arg(0))
		} else {
			fmt.Fprintf(fs.Output(), "proxy: -backend is required\n")
		}
		fs.Usage()
		os.Exit(2)
	}
	return cfg
}
