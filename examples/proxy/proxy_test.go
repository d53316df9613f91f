package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/servetest"
)

// shrunk reports whether the tests should move less data: -short, or the
// race detector's slowdown.
func shrunk() bool { return raceEnabled || testing.Short() }

// startProxy runs a proxy to backend on a free loopback port until the
// test ends.
func startProxy(t testing.TB, backend string, cfg config) *proxy {
	t.Helper()
	logs := &servetest.LogBuffer{}
	cfg.listen = "127.0.0.1:0"
	cfg.backend = backend
	cfg.log = log.New(logs, "proxy: ", 0)
	p, err := newProxy(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servetest.Start(t, logs, p.run, p.stop)
	return p
}

// echoBackend is a plain net echo server: it copies what each client sends
// back to it, then half-closes. It runs until the test ends.
func echoBackend(t testing.TB) string {
	t.Helper()
	return backend(t, func(c *net.TCPConn) {
		io.Copy(c, c)
		c.CloseWrite()
		io.Copy(io.Discard, c)
	})
}

// backend runs serve for each connection accepted on a loopback port
// until the test ends, and waits for them all in the cleanup.
func backend(t testing.TB, serve func(*net.TCPConn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				serve(c.(*net.TCPConn))
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return ln.Addr().String()
}

// dial connects to the proxy, with a deadline bounding the whole test.
func dial(t testing.TB, p *proxy) *net.TCPConn {
	t.Helper()
	c, err := net.Dial("tcp", p.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(servetest.Timeout))
	return c.(*net.TCPConn)
}

// writeStream writes n pseudo-random bytes of seed to w and returns
// their hash.
func writeStream(w io.Writer, seed uint64, n int) ([32]byte, error) {
	h := sha256.New()
	r := rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)})
	buf := make([]byte, 256<<10)
	for n > 0 {
		chunk := buf[:min(n, len(buf))]
		r.Read(chunk)
		h.Write(chunk)
		if _, err := w.Write(chunk); err != nil {
			return [32]byte{}, err
		}
		n -= len(chunk)
	}
	return [32]byte(h.Sum(nil)), nil
}

// roundTrip sends n bytes through c, half-closes, and reads the echo to
// its end, checking it hashes to what was sent.
func roundTrip(c *net.TCPConn, seed uint64, n int) error {
	type sent struct {
		sum [32]byte
		err error
	}
	done := make(chan sent, 1)
	go func() {
		sum, err := writeStream(c, seed, n)
		if err == nil {
			err = c.CloseWrite()
		}
		done <- sent{sum, err}
	}()
	h := sha256.New()
	got, rerr := io.Copy(h, c)
	s := <-done
	switch {
	case s.err != nil:
		return s.err
	case rerr != nil:
		return rerr
	case got != int64(n):
		return fmt.Errorf("echo has %d bytes of the %d sent", got, n)
	case [32]byte(h.Sum(nil)) != s.sum:
		return errors.New("echo differs from what was sent")
	}
	return nil
}

// closeCounter counts the proxy's closed Conns, for a test to wait until
// all of them are gone.
type closeCounter struct {
	mu   sync.Mutex
	n    int
	errs []error
	ch   chan struct{}
}

func newCloseCounter() *closeCounter { return &closeCounter{ch: make(chan struct{}, 64)} }

func (cc *closeCounter) closed(_ *mio.Conn, err error) {
	cc.mu.Lock()
	cc.n++
	if err != nil {
		cc.errs = append(cc.errs, err)
	}
	cc.mu.Unlock()
	cc.ch <- struct{}{}
}

// wait waits for n more closes.
func (cc *closeCounter) wait(t testing.TB, n int) {
	t.Helper()
	deadline := time.After(servetest.Timeout)
	for range n {
		select {
		case <-cc.ch:
		case <-deadline:
			t.Fatalf("proxy Conns not closed within %v", servetest.Timeout)
		}
	}
}

func TestProxyByteExact(t *testing.T) {
	size := 50 << 20
	if shrunk() {
		size = 4 << 20
	}
	const conns = 4
	cc := newCloseCounter()
	p := startProxy(t, echoBackend(t), config{connectTimeout: 5 * time.Second, hooks: hooks{closed: cc.closed}})
	errs := make(chan error, conns)
	for i := range conns {
		c := dial(t, p)
		go func() { errs <- roundTrip(c, uint64(i+1), size) }()
	}
	for range conns {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	cc.wait(t, 2*conns) // each client and its backend
	if len(cc.errs) > 0 {
		t.Errorf("Conns closed with errors: %v", cc.errs)
	}
}

func TestProxyHalfClose(t *testing.T) {
	backendErr := make(chan error, 1)
	addr := backend(t, func(c *net.TCPConn) {
		c.SetDeadline(time.Now().Add(servetest.Timeout))
		got, err := io.ReadAll(c) // to the client's end of stream
		if err == nil {
			_, err = c.Write(append([]byte("answer: "), got...))
		}
		backendErr <- err
	})
	cc := newCloseCounter()
	p := startProxy(t, addr, config{hooks: hooks{closed: cc.closed}})
	c := dial(t, p)
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	if err := c.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "answer: hello" {
		t.Fatalf("got %q, want %q", got, "answer: hello")
	}
	if err := <-backendErr; err != nil {
		t.Fatalf("backend: %v", err)
	}
	cc.wait(t, 2)
	if len(cc.errs) > 0 {
		t.Errorf("Conns closed with errors: %v", cc.errs)
	}
}

func TestProxyBackpressure(t *testing.T) {
	size := 64 << 20
	if shrunk() {
		size = 16 << 20
	}
	cfg := mio.ConnConfig{ReadLimit: 16 << 10, WriteLimit: 64 << 10, HighWater: 32 << 10}
	var maxOut, maxIn atomic.Int64
	pausedToClient := make(chan struct{})
	var once sync.Once
	cc := newCloseCounter()
	back := echoBackend(t)
	h := hooks{
		forwarded: func(src, dst *mio.Conn) {
			if n := int64(dst.OutputLen()); n > maxOut.Load() {
				maxOut.Store(n) // only the loop's goroutine stores
			}
			if n := int64(src.In().Len()); n > maxIn.Load() {
				maxIn.Store(n)
			}
		},
		paused: func(src, dst *mio.Conn) {
			// The backend paused for the client: the client's Conn is
			// the one whose peer is not the backend.
			if addr, err := dst.RemoteAddr(); err == nil && addr.String() != back {
				once.Do(func() { close(pausedToClient) })
			}
		},
		closed: cc.closed,
	}
	p := startProxy(t, back, config{conn: cfg, hooks: h})
	c := dial(t, p)
	type sent struct {
		sum [32]byte
		err error
	}
	done := make(chan sent, 1)
	go func() {
		sum, err := writeStream(c, 7, size)
		if err == nil {
			err = c.CloseWrite()
		}
		done <- sent{sum, err}
	}()
	select {
	case <-pausedToClient:
	case <-time.After(servetest.Timeout):
		t.Fatal("the proxy never paused the backend for a client that does not read")
	}
	// Now read it all back.
	hs := sha256.New()
	got, err := io.Copy(hs, c)
	if err != nil {
		t.Fatal(err)
	}
	s := <-done
	if s.err != nil {
		t.Fatal(s.err)
	}
	if got != int64(size) || [32]byte(hs.Sum(nil)) != s.sum {
		t.Fatalf("echo of %d bytes differs from the %d sent", got, size)
	}
	cc.wait(t, 2)
	if n := maxOut.Load(); n > int64(cfg.WriteLimit) {
		t.Errorf("a Conn's output reached %d bytes, past WriteLimit %d", n, cfg.WriteLimit)
	}
	if n := maxIn.Load(); n > int64(cfg.ReadLimit) {
		t.Errorf("a Conn's input reached %d bytes, past ReadLimit %d", n, cfg.ReadLimit)
	}
	t.Logf("peak output %d bytes, peak input %d bytes", maxOut.Load(), maxIn.Load())
}

func TestProxyConnectRefused(t *testing.T) {
	// A port nothing listens on: bind one, and close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cc := newCloseCounter()
	p := startProxy(t, addr, config{connectTimeout: time.Second, hooks: hooks{closed: cc.closed}})
	c := dial(t, p)
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("anyone there?")) // may fail if the close came first
	var buf [64]byte
	n, err := c.Read(buf[:])
	if n != 0 || (err != io.EOF && !isReset(err)) {
		t.Fatalf("client read %d bytes, %v; want the end of stream", n, err)
	}
	c.Close()
	cc.wait(t, 2)
}

// isReset reports whether err is a connection reset.
func isReset(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && bytes.Contains([]byte(op.Err.Error()), []byte("reset"))
}
