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
	srv, err := newServer(cfg)
	if err != nil {
		cfg.log.Fatal(err)
	}
	fmt.Printf("chat: listening on %s\n", srv.addr)
	if cfg.announceEvery > 0 {
		stop := srv.announceEvery(cfg.announceEvery)
		defer stop()
	}
	if err := sigs.Run(cfg.log, srv.run, srv.stop); err != nil {
		cfg.log.Fatal(err)
	}
}

// parseFlags reads the command line; on a mistake it prints usage and
// exits with status 2.
func parseFlags(args []string) config {
	fs := flag.NewFlagSet("chat", flag.ExitOnError)
	cfg := defaultConfig()
	cfg.log = log.New(os.Stderr, "chat: ", log.LstdFlags)
	fs.StringVar(&cfg.addr, "addr", cfg.addr, "`address` to serve: IP:port, [IPv6]:port, unix:/path or unix:@name")
	fs.DurationVar(&cfg.idle, "idle", cfg.idle, "disconnect a client that sends nothing for this `duration` (0: never)")
	fs.DurationVar(&cfg.announceEvery, "announce-every", 0, "send a server announcement to every client at this `interval` (0: never)")
	fs.IntVar(&cfg.maxLine, "maxline", cfg.maxLine, "longest line, in `bytes`, newline included; a longer one disconnects its sender")
	fs.IntVar(&cfg.outBuf, "outbuf", cfg.outBuf, "output queued per client, in `bytes`; a client that lets it fill is disconnected")
	fs.Parse(args)
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "chat: unexpected argument %q\n", fs.Arg(0))
		fs.Usage()
		os.Exit(2)
	}
	return cfg
}

// config is the server's settings.
type config struct {
	addr          string
	idle          time.Duration
	announceEvery time.Duration
	maxLine       int
	outBuf        int
	log           *log.Logger
}

// defaultConfig is the settings without flags.
func defaultConfig() config {
	return config{
		addr:    "127.0.0.1:7001",
		idle:    5 * time.Minute,
		maxLine: 4096,
		outBuf:  256 << 10,
		log:     log.New(os.Stderr, "chat: ", log.LstdFlags),
	}
}
