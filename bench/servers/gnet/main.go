// Command gnet is the benchmark's echo server on gnet v2: one event loop,
// or with -loops N that many loops, each with its own SO_REUSEPORT
// listener as this repository's server has.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
)

type echo struct {
	gnet.BuiltinEventEngine
	addr string
}

func (e *echo) OnBoot(gnet.Engine) gnet.Action {
	fmt.Printf("READY %s\n", e.addr)
	os.Stdout.Sync()
	return gnet.None
}

func (e *echo) OnTraffic(c gnet.Conn) gnet.Action {
	in, _ := c.Next(-1)
	c.Write(in)
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 1, "event loops")
	flag.Parse()
	err := gnet.Run(&echo{addr: *addr}, "tcp4://"+*addr,
		gnet.WithMulticore(*loops > 1),
		gnet.WithNumEventLoop(*loops),
		gnet.WithReusePort(*loops > 1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogLevel(logging.WarnLevel),
	)
	log.Fatal(err)
}
