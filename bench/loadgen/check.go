//go:build linux

package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// checkSizes are the messages each checking connection sends in turn: a
// single byte, the workloads' sizes, and a megabyte, which no socket buffer
// holds, so the server must keep what the kernel does not take and stop
// reading until it has written it.
var checkSizes = []int{1, 64, 512, 4096, 65536, 1 << 20}

// check opens a few connections at once and verifies that each gets back
// exactly what it sent, byte for byte.
func check(cfg config) error { return checkEach(cfg, checkConn) }

// checkEach runs one checking connection's fn, seeded by its index, on
// each of a few connections at once, and joins their errors.
func checkEach(cfg config, fn func(cfg config, seed uint64) error) error {
	const conns = 4
	errs := make([]error, conns)
	var wg sync.WaitGroup
	for i := range conns {
		wg.Go(func() { errs[i] = fn(cfg, uint64(i)) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func checkConn(cfg config, seed uint64) error {
	c, err := net.DialTimeout("tcp", cfg.addr.String(), cfg.setupWait)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(cfg.setupWait))
	rng := rand.New(rand.NewPCG(seed, 0x6563686f))
	for _, n := range checkSizes {
		msg := make([]byte, n)
		for i := range msg {
			msg[i] = byte(rng.Uint32())
		}
		werr := make(chan error, 1)
		go func() {
			_, err := c.Write(msg)
			werr <- err
		}()
		got := make([]byte, n)
		_, rerr := io.ReadFull(c, got)
		if err := <-werr; err != nil {
			return fmt.Errorf("write %d bytes: %w", n, err)
		}
		if rerr != nil {
			return fmt.Errorf("read back %d bytes: %w", n, rerr)
		}
		if !bytes.Equal(got, msg) {
			return fmt.Errorf("the echo of %d bytes differs from what was sent", n)
		}
	}
	return nil
}
