//go:build linux

package main

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/miogo/mio/bench/internal/frame"
)

// serveTest serves on a loopback port with handle, one goroutine per
// connection, until the test ends.
func serveTest(t *testing.T, handle func(net.Conn)) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				handle(c)
			}()
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// rpcServe answers requests as package frame says; bad, when set, changes
// each response before it is sent.
func rpcServe(bad func(resp []byte)) func(net.Conn) {
	return func(c net.Conn) {
		r := bufio.NewReader(c)
		var header [frame.HeaderLen]byte
		for {
			if _, err := io.ReadFull(r, header[:]); err != nil {
				return
			}
			n := frame.PayloadLen(header[:])
			if n > frame.MaxPayload {
				return
			}
			resp := make([]byte, frame.HeaderLen+n)
			frame.PutHeader(resp, n)
			if _, err := io.ReadFull(r, resp[frame.HeaderLen:]); err != nil {
				return
			}
			if bad != nil {
				bad(resp)
			}
			if _, err := c.Write(resp); err != nil {
				return
			}
		}
	}
}

func echoServe(c net.Conn) { io.Copy(c, c) }

func testConfig(addr netip.AddrPort) config {
	return config{addr: addr, conns: 8, active: 8, size: 1024, depth: 1, rpc: true,
		warmup: 20 * time.Millisecond, duration: 50 * time.Millisecond, setupWait: 5 * time.Second}
}

func TestCheckRPCPassesAFramingServer(t *testing.T) {
	if err := checkRPC(testConfig(serveTest(t, rpcServe(nil)))); err != nil {
		t.Fatal(err)
	}
}

// An echo server answers W5's requests byte for byte, but it answers a
// request before it is whole: the check must tell.
func TestCheckRPCFailsAnEchoServer(t *testing.T) {
	err := checkRPC(testConfig(serveTest(t, echoServe)))
	if err == nil || !strings.Contains(err.Error(), "must wait for the whole request") {
		t.Fatalf("checkRPC against an echo server = %v", err)
	}
}

func TestCheckRPCFailsABadHeader(t *testing.T) {
	err := checkRPC(testConfig(serveTest(t, rpcServe(func(resp []byte) { resp[3]++ }))))
	if err == nil || !strings.Contains(err.Error(), "announces") {
		t.Fatalf("checkRPC against a wrong header = %v", err)
	}
}

func TestRunRPC(t *testing.T) {
	res, err := run(testConfig(serveTest(t, rpcServe(nil))))
	if err != nil {
		t.Fatal(err)
	}
	if res.Msgs == 0 || !res.RPC || res.Size != 1024 {
		t.Fatalf("result %+v", res)
	}
}

// The load itself verifies every response: a server that damages the
// payload fails the run.
func TestRunRPCVerifiesResponses(t *testing.T) {
	for _, tc := range []struct {
		name string
		bad  func([]byte)
		want string
	}{
		{"payload", func(resp []byte) { resp[len(resp)-1] ^= 1 }, "differs in its payload"},
		{"header", func(resp []byte) { resp[0] = 1 }, "differs in its length header"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(testConfig(serveTest(t, rpcServe(tc.bad))))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("run against a server that damages the %s = %v", tc.name, err)
			}
		})
	}
}

func TestFramesAreRequests(t *testing.T) {
	b := frames(1024, 3*1028+10)
	for off := 0; off+1028 <= len(b); off += 1028 {
		if frame.PayloadLen(b[off:]) != 1024 {
			t.Fatalf("frame at %d announces %d bytes", off, frame.PayloadLen(b[off:]))
		}
	}
	if string(b[4:8]) != "abcd" {
		t.Fatalf("payload starts %q", b[4:8])
	}
}
