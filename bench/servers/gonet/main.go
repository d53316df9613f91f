// Command gonet is the benchmark's echo server on Go's net package, with a
// goroutine and a 16 KiB buffer per connection: the idiomatic Go server the
// event loops are measured against.
//
// With -rpc it answers W5's framed requests (package frame) as a Go
// program does: a bufio.Reader of 16 KiB over the connection, io.ReadFull
// of the header and then of the payload into the connection's response
// buffer behind its header, and one Write of the response per request.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"slices"

	"github.com/miogo/mio/bench/internal/frame"
)

func serve(c net.Conn) {
	defer c.Close()
	buf := make([]byte, 16<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if _, werr := c.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// serveRPC answers c's requests one by one until c fails or sends a
// request larger than frame.MaxPayload.
func serveRPC(c net.Conn) {
	defer c.Close()
	r := bufio.NewReaderSize(c, 16<<10)
	var header [frame.HeaderLen]byte
	var resp []byte
	for {
		if _, err := io.ReadFull(r, header[:]); err != nil {
			return
		}
		n := frame.PayloadLen(header[:])
		if n > frame.MaxPayload {
			return
		}
		resp = slices.Grow(resp[:0], frame.HeaderLen+n)[:frame.HeaderLen+n]
		frame.PutHeader(resp, n)
		if _, err := io.ReadFull(r, resp[frame.HeaderLen:]); err != nil {
			return
		}
		if _, err := c.Write(resp); err != nil {
			return
		}
	}
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	rpcMode := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	handle := serve
	if *rpcMode {
		handle = serveRPC
	}
	fmt.Printf("READY %s\n", ln.Addr())
	os.Stdout.Sync()
	for {
		c, err := ln.Accept() // TCP_NODELAY is Go's default
		if err != nil {
			log.Fatal(err)
		}
		go handle(c)
	}
}
