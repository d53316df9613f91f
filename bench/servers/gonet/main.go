// Command gonet is the benchmark's echo server on Go's net package, with a
// goroutine and a 16 KiB buffer per connection: the idiomatic Go server the
// event loops are measured against.
package main

import (
	"flag"
	"fmt"
	"log"
	"net"
	"os"
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

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	flag.Parse()
	ln, err := net.Listen("tcp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %s\n", ln.Addr())
	os.Stdout.Sync()
	for {
		c, err := ln.Accept() // TCP_NODELAY is Go's default
		if err != nil {
			log.Fatal(err)
		}
		go serve(c)
	}
}
