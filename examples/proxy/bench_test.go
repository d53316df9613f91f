package main

import (
	"io"
	"net"
	"sync"
	"testing"
)

// BenchmarkProxy streams data through one connection of each proxy to an
// echo backend and back, and reports the throughput (each byte crosses
// the proxy twice).
//
// The two are not doing the same work: Go's io.Copy between two
// *net.TCPConn uses splice(2) on Linux, so the copy proxy moves the bytes
// inside the kernel without copying them into user space, while the mio
// proxy reads every byte into its Conn's input and writes it out again.
func BenchmarkProxy(b *testing.B) {
	b.Run("mio", func(b *testing.B) {
		p := startProxy(b, echoBackend(b), config{})
		benchStream(b, p.addr.String())
	})
	b.Run("iocopy", func(b *testing.B) {
		benchStream(b, copyProxy(b, echoBackend(b)))
	})
}

// benchStream sends b.N chunks through addr, reading the echo as it
// comes.
func benchStream(b *testing.B, addr string) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	chunk := make([]byte, 64<<10)
	b.SetBytes(int64(len(chunk)))
	b.ResetTimer()
	done := make(chan error, 1)
	go func() {
		_, err := io.CopyN(io.Discard, c, int64(b.N)*int64(len(chunk)))
		done <- err
	}()
	for range b.N {
		if _, err := c.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	if err := <-done; err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
}

// copyProxy is the plain Go proxy to compare with: a goroutine for each
// direction of each connection, copying with io.Copy and forwarding the
// half-close. It runs until the benchmark ends.
func copyProxy(b testing.TB, to string) string {
	return backend(b, func(c *net.TCPConn) {
		bc, err := net.Dial("tcp", to)
		if err != nil {
			return
		}
		defer bc.Close()
		pipe := func(dst, src *net.TCPConn) {
			io.Copy(dst, src)
			dst.CloseWrite()
		}
		var pair sync.WaitGroup
		pair.Go(func() { pipe(bc.(*net.TCPConn), c) })
		pipe(c, bc.(*net.TCPConn))
		pair.Wait()
	})
}
