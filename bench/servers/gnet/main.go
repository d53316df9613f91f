// Command gnet is the benchmark's echo server on gnet v2: one event loop,
// or with -loops N that many loops, each with its own SO_REUSEPORT
// listener as this repository's server has.
//
// With -rpc it answers W5's framed requests (package frame) as gnet's own
// framed-protocol example (gnet-examples simple_protocol) does: OnTraffic
// decodes every whole request with Peek, InboundBuffered and Next, leaving
// a partial one in gnet's inbound buffer for the next call, encodes each
// response into a buffer of its own (here from gnet's byteslice pool,
// where the example allocates), and writes the lot at the end: one Write
// for one response, one Writev for several.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"slices"

	"github.com/miogo/mio/bench/internal/frame"
	"github.com/panjf2000/gnet/v2"
	"github.com/panjf2000/gnet/v2/pkg/logging"
	"github.com/panjf2000/gnet/v2/pkg/pool/byteslice"
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

// rpc is the -rpc handler.
type rpc struct {
	echo
}

func (*rpc) OnTraffic(c gnet.Conn) gnet.Action {
	var first []byte     // the response to the first request
	var packets [][]byte // all of them, once there is more than one
	for {
		header, err := c.Peek(frame.HeaderLen)
		if err != nil {
			break // not even a header yet
		}
		n := frame.PayloadLen(header)
		if n > frame.MaxPayload {
			return gnet.Close
		}
		if c.InboundBuffered() < frame.HeaderLen+n {
			break // gnet keeps the partial request for the next call
		}
		req, _ := c.Next(frame.HeaderLen + n)
		resp := byteslice.Get(frame.HeaderLen + n)
		frame.PutHeader(resp, n)
		copy(resp[frame.HeaderLen:], req[frame.HeaderLen:])
		switch {
		case first == nil:
			first = resp
		case packets == nil:
			packets = [][]byte{first, resp}
		default:
			packets = append(packets, resp)
		}
	}
	switch {
	case packets != nil:
		c.Writev(slices.Clone(packets)) // Writev advances the slices it is given
		for _, p := range packets {
			byteslice.Put(p)
		}
	case first != nil:
		c.Write(first) // gnet copies what the kernel does not take
		byteslice.Put(first)
	}
	return gnet.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 1, "event loops")
	rpcMode := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	var h gnet.EventHandler = &echo{addr: *addr}
	if *rpcMode {
		h = &rpc{echo{addr: *addr}}
	}
	err := gnet.Run(h, "tcp4://"+*addr,
		gnet.WithMulticore(*loops > 1),
		gnet.WithNumEventLoop(*loops),
		gnet.WithReusePort(*loops > 1),
		gnet.WithTCPNoDelay(gnet.TCPNoDelay),
		gnet.WithLogLevel(logging.WarnLevel),
	)
	log.Fatal(err)
}
