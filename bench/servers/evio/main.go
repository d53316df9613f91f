//go:build linux

// Command evio is the benchmark's echo server on evio, with one loop (or
// -loops N). evio writes a reply when the socket next polls writable, so
// each message costs it two epoll_ctl calls more than the other servers:
// that is its design, measured as it is.
//
// With -rpc it answers W5's framed requests (package frame) the way
// evio's API leads to: Data keeps a request split over reads in the
// connection's evio.InputStream (its context, with Begin and End), and,
// since Data answers with one output slice, appends every response to a
// buffer of the connection's and returns that: the responses to one
// read's requests leave in one write.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/netip"
	"os"

	"github.com/miogo/mio/bench/internal/frame"
	"github.com/tidwall/evio"
	"golang.org/x/sys/unix"
)

// setNoDelay turns TCP_NODELAY on for the listening socket on port, which
// Linux copies to every connection it accepts. evio neither sets it nor
// exposes a connection's fd, and the other servers all set it, so this
// keeps the behaviour on the wire the same.
func setNoDelay(port uint16) int {
	n := 0
	for fd := 3; fd < 256; fd++ {
		if on, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN); err != nil || on != 1 {
			continue
		}
		sa, err := unix.Getsockname(fd)
		if in4, ok := sa.(*unix.SockaddrInet4); err == nil && ok && in4.Port == int(port) {
			if unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_NODELAY, 1) == nil {
				n++
			}
		}
	}
	return n
}

// rpcConn is a connection's state under -rpc.
type rpcConn struct {
	is  evio.InputStream // the start of a request not yet whole
	out []byte           // the responses, copied by evio into its output
}

// rpcData answers the whole requests in what the connection has read.
func rpcData(c evio.Conn, in []byte) ([]byte, evio.Action) {
	rc := c.Context().(*rpcConn)
	data := rc.is.Begin(in)
	out := rc.out[:0]
	for len(data) >= frame.HeaderLen {
		n := frame.PayloadLen(data)
		if n > frame.MaxPayload {
			return nil, evio.Close
		}
		size := frame.HeaderLen + n
		if len(data) < size {
			break
		}
		out = append(frame.AppendHeader(out, n), data[frame.HeaderLen:size]...)
		data = data[size:]
	}
	rc.is.End(data)
	rc.out = out
	return out, evio.None
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 1, "event loops")
	rpcMode := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	ap, err := netip.ParseAddrPort(*addr)
	if err != nil {
		log.Fatal(err)
	}
	var ev evio.Events
	ev.NumLoops = *loops
	ev.Serving = func(evio.Server) evio.Action {
		if setNoDelay(ap.Port()) == 0 {
			log.Print("evio: listening socket not found; TCP_NODELAY not set")
		}
		fmt.Printf("READY %s\n", *addr)
		os.Stdout.Sync()
		return evio.None
	}
	ev.Opened = func(evio.Conn) ([]byte, evio.Options, evio.Action) {
		return nil, evio.Options{ReuseInputBuffer: true}, evio.None
	}
	ev.Data = func(_ evio.Conn, in []byte) ([]byte, evio.Action) {
		return in, evio.None // copied by evio into the connection's output
	}
	if *rpcMode {
		ev.Opened = func(c evio.Conn) ([]byte, evio.Options, evio.Action) {
			c.SetContext(&rpcConn{})
			return nil, evio.Options{ReuseInputBuffer: true}, evio.None
		}
		ev.Data = rpcData
	}
	proto := "tcp4://" + *addr
	if *loops > 1 {
		proto += "?reuseport=true"
	}
	log.Fatal(evio.Serve(ev, proto))
}
