// Command nbio is the benchmark's echo server on nbio with one poller
// goroutine (or -loops N), level-triggered and reading on the poller, as
// nbio does by default.
//
// With -rpc it answers W5's framed requests (package frame): OnData gets
// the bytes of one read, which nbio lends for the call only, so a request
// split over reads is kept in a buffer of the connection's (its session,
// from nbio's mempool) until the rest arrives; each whole request is
// answered with a response from nbio's mempool and a Write of its own,
// which writes at once and copies what the kernel does not take.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/lesismal/nbio"
	"github.com/lesismal/nbio/logging"
	"github.com/lesismal/nbio/mempool"
	"github.com/miogo/mio/bench/internal/frame"
)

// session is a connection's state under -rpc.
type session struct {
	partial *[]byte // the start of a request not yet whole, or nil
}

// onRPC answers the whole requests in data, behind the connection's
// partial request, and keeps what is left of the last.
func onRPC(c *nbio.Conn, data []byte) {
	s, _ := c.Session().(*session)
	if s == nil {
		s = &session{}
		c.SetSession(s)
	}
	if s.partial != nil {
		s.partial = mempool.Append(s.partial, data...)
		data = *s.partial
	}
	for len(data) >= frame.HeaderLen {
		n := frame.PayloadLen(data)
		if n > frame.MaxPayload {
			c.Close()
			return
		}
		size := frame.HeaderLen + n
		if len(data) < size {
			break
		}
		resp := mempool.Malloc(size)
		frame.PutHeader(*resp, n)
		copy((*resp)[frame.HeaderLen:], data[frame.HeaderLen:size])
		_, err := c.Write(*resp)
		mempool.Free(resp)
		if err != nil {
			return // nbio closes the connection
		}
		data = data[size:]
	}
	switch {
	case len(data) == 0 && s.partial != nil:
		mempool.Free(s.partial)
		s.partial = nil
	case len(data) > 0 && s.partial == nil:
		s.partial = mempool.Malloc(len(data))
		copy(*s.partial, data)
	case len(data) > 0:
		*s.partial = (*s.partial)[:copy(*s.partial, data)]
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 1, "poller goroutines")
	rpcMode := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	logging.SetLevel(logging.LevelError)
	eng := nbio.NewEngine(nbio.Config{
		Network:        "tcp4",
		Addrs:          []string{*addr},
		NPoller:        *loops,
		ReadBufferSize: 64 << 10,
	})
	if *rpcMode {
		eng.OnData(onRPC) // a closed connection's partial request is left to the GC
	} else {
		eng.OnData(func(c *nbio.Conn, in []byte) {
			c.Write(in) // nbio keeps what the kernel does not take
		})
	}
	if err := eng.Start(); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %s\n", *addr)
	os.Stdout.Sync()
	select {}
}
