//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"time"

	"github.com/miogo/mio/bench/internal/frame"
)

// rpcSizes are the payloads each checking connection sends one request at
// a time: none, a byte, W5's, around the 64 KiB most servers read at once,
// and the largest a server takes.
var rpcSizes = []int{0, 1, 1024, 4096, 65535, 65536, 200 << 10, frame.MaxPayload}

// Pauses of the framing check: between the pieces of a split request, so
// that the server reads them apart, and how long a server that must not
// answer yet is watched.
const (
	splitPause = 15 * time.Millisecond
	quietWatch = 40 * time.Millisecond
)

// checkRPC opens a few connections at once and verifies on each that the
// server answers W5's requests as package frame says, byte for byte.
func checkRPC(cfg config) error { return checkEach(cfg, checkRPCConn) }

// rpcConn is one checking connection.
type rpcConn struct {
	c        net.Conn
	rng      *rand.Rand
	deadline time.Time
}

func checkRPCConn(cfg config, seed uint64) error {
	c, err := net.DialTimeout("tcp", cfg.addr.String(), cfg.setupWait)
	if err != nil {
		return err
	}
	defer c.Close()
	k := &rpcConn{c: c, rng: rand.New(rand.NewPCG(seed, 0x72706373)), deadline: time.Now().Add(cfg.setupWait)}
	c.SetDeadline(k.deadline)

	// One request at a time, of every size.
	for _, n := range rpcSizes {
		req := k.request(n)
		if err := k.exchange(req, req); err != nil {
			return fmt.Errorf("a request of %d bytes: %w", n, err)
		}
	}

	// A request split over several writes, the header too: no answer
	// until its last byte is there.
	req := k.request(1024)
	for _, piece := range [][2]int{{0, 1}, {1, 3}, {3, 4}, {4, 300}, {300, len(req) - 1}} {
		if _, err := c.Write(req[piece[0]:piece[1]]); err != nil {
			return err
		}
		time.Sleep(splitPause)
	}
	if err := k.quiet("a request whose last byte was not sent"); err != nil {
		return err
	}
	if _, err := c.Write(req[len(req)-1:]); err != nil {
		return err
	}
	if err := k.expect(req); err != nil {
		return fmt.Errorf("a request split over 6 writes: %w", err)
	}

	// Several requests in one write, and the start of one more: one
	// answer each, in order, and none to the last until it is whole.
	var batch, want []byte
	for _, n := range []int{3, 1024, 0, 70000} {
		r := k.request(n)
		batch, want = append(batch, r...), append(want, r...)
	}
	last := k.request(100)
	batch = append(batch, last[:7]...)
	if err := k.exchange(batch, want); err != nil {
		return fmt.Errorf("4 requests and part of a fifth in one write: %w", err)
	}
	if err := k.quiet("the fifth request of a write, 7 bytes of it sent"); err != nil {
		return err
	}
	if err := k.exchange(last[7:], last); err != nil {
		return fmt.Errorf("the rest of the fifth request: %w", err)
	}

	// A burst of requests pipelined in one write, far more than the
	// socket buffers hold, read while it is written.
	batch = batch[:0]
	for range 2000 {
		batch = append(batch, k.request(1024)...)
	}
	if err := k.exchange(batch, batch); err != nil {
		return fmt.Errorf("2000 requests in one write: %w", err)
	}
	return nil
}

// request is a request with n random bytes of payload.
func (k *rpcConn) request(n int) []byte {
	b := frame.AppendHeader(make([]byte, 0, frame.HeaderLen+n), n)
	for range n {
		b = append(b, byte(k.rng.Uint32()))
	}
	return b
}

// exchange writes p while it reads the responses, which must be want.
func (k *rpcConn) exchange(p, want []byte) error {
	werr := make(chan error, 1)
	go func() {
		_, err := k.c.Write(p)
		werr <- err
	}()
	rerr := k.expect(want)
	if err := <-werr; err != nil {
		return fmt.Errorf("write %d bytes: %w", len(p), err)
	}
	return rerr
}

// expect reads len(want) bytes of responses and compares them with want,
// frame by frame.
func (k *rpcConn) expect(want []byte) error {
	got := make([]byte, len(want))
	if _, err := io.ReadFull(k.c, got); err != nil {
		return fmt.Errorf("read back %d bytes: %w", len(want), err)
	}
	for i := 0; len(want) > 0; i++ {
		size := frame.HeaderLen + frame.PayloadLen(want)
		switch {
		case !bytes.Equal(got[:frame.HeaderLen], want[:frame.HeaderLen]):
			return fmt.Errorf("response %d announces %d bytes of payload, not %d", i,
				frame.PayloadLen(got), frame.PayloadLen(want))
		case !bytes.Equal(got[:size], want[:size]):
			return fmt.Errorf("the payload of response %d (%d bytes) differs from the request's", i, size-frame.HeaderLen)
		}
		got, want = got[size:], want[size:]
	}
	return nil
}

// quiet verifies that the server sends nothing for a while: it must not
// answer a request that is not whole.
func (k *rpcConn) quiet(what string) error {
	k.c.SetReadDeadline(time.Now().Add(quietWatch))
	var b [1]byte
	n, err := k.c.Read(b[:])
	k.c.SetReadDeadline(k.deadline)
	switch {
	case n > 0:
		return fmt.Errorf("the server answered %s: it must wait for the whole request", what)
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil
	case err != nil:
		return fmt.Errorf("waiting on %s: %w", what, err)
	}
	return nil
}
