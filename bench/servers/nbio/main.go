// Command nbio is the benchmark's echo server on nbio with one poller
// goroutine (or -loops N), level-triggered and reading on the poller, as
// nbio does by default.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 1, "poller goroutines")
	flag.Parse()
	logging.SetLevel(logging.LevelError)
	eng := nbio.NewEngine(nbio.Config{
		Network:        "tcp4",
		Addrs:          []string{*addr},
		NPoller:        *loops,
		ReadBufferSize: 64 << 10,
	})
	eng.OnData(func(c *nbio.Conn, in []byte) {
		c.Write(in) // nbio keeps what the kernel does not take
	})
	if err := eng.Start(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %s\n", *addr)
	os.Stdout.Sync()
	select {}
}
