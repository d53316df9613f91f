package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio/examples/internal/servetest"
)

// testTimeout bounds every wait in these tests.
const testTimeout = servetest.Timeout

// running is a server whose run is in progress on its own goroutine.
type running struct {
	*server
	*servetest.Running
	mu   sync.Mutex // for seen: the loops add to it, each on its goroutine
	seen []*conn    // every connection opened
}

// startServer builds a server from cfg on a free loopback port, logging
// into a buffer, and runs it until the test ends; the cleanup checks that
// it stops cleanly.
func startServer(t *testing.T, cfg config) *running {
	t.Helper()
	if cfg.addr == "" {
		cfg.addr = "127.0.0.1:0"
	}
	logs := &servetest.LogBuffer{}
	cfg.log = log.New(logs, "", 0)
	s, err := newServer(cfg)
	if err != nil {
		t.Fatalf("newServer(%+v): %v", cfg, err)
	}
	r := &running{server: s}
	s.opened = func(c *conn) {
		r.mu.Lock()
		r.seen = append(r.seen, c)
		r.mu.Unlock()
	}
	r.Running = servetest.Start(t, logs, s.run, s.stop)
	return r
}

// onLoop runs f on the goroutine of the server's loop 0 and waits for
// it, so a test can look at the server's state without racing with it:
// with one loop; with several, f takes the store's lock for the keyspace.
func (r *running) onLoop(t *testing.T, f func()) {
	t.Helper()
	r.onLoopN(t, 0, f)
}

// onLoopN is onLoop on loop i.
func (r *running) onLoopN(t *testing.T, i int, f func()) {
	t.Helper()
	done := make(chan struct{})
	if err := r.do(i, func() { f(); close(done) }); err != nil {
		t.Fatalf("send to the loop: %v", err)
	}
	select {
	case <-done:
	case <-time.After(testTimeout):
		t.Fatalf("the loop did not run a function within %v", testTimeout)
	}
}

// waitFor polls cond on the loop until it holds, failing the test after
// testTimeout.
func (r *running) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(testTimeout)
	for {
		var ok bool
		r.onLoop(t, func() { ok = cond() })
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// client is a test connection with a reader of replies.
type client struct {
	net.Conn
	r *bufio.Reader
}

func dial(t *testing.T, r *running) *client {
	t.Helper()
	c, err := net.Dial("tcp", r.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(testTimeout))
	return &client{Conn: c, r: bufio.NewReaderSize(c, 64<<10)}
}

// errReply is an error reply.
type errReply string

// reply reads one reply: a string for a simple string ("+OK"), errReply,
// int64, []byte or nil (the null bulk string) for a bulk string, and []any
// for an array.
func (c *client) reply() (any, error) { return readReply(c.r) }

func readReply(r *bufio.Reader) (any, error) {
	line, err := r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || !strings.HasSuffix(line, "\r\n") {
		return nil, fmt.Errorf("bad reply line %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return errReply(body), nil
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad bulk length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		b := make([]byte, n+2)
		if _, err := io.ReadFull(r, b); err != nil {
			return nil, err
		}
		if string(b[n:]) != "\r\n" {
			return nil, errors.New("bulk string without CRLF")
		}
		return b[:n], nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < -1 {
			return nil, fmt.Errorf("bad array length %q", line)
		}
		if n == -1 {
			return nil, nil
		}
		a := make([]any, n)
		for i := range a {
			if a[i], err = readReply(r); err != nil {
				return nil, err
			}
		}
		return a, nil
	}
	return nil, fmt.Errorf("bad reply type in %q", line)
}

// encode writes a request as an array of bulk strings.
func encode(args ...string) []byte {
	b := []byte("*" + strconv.Itoa(len(args)) + "\r\n")
	for _, a := range args {
		b = append(b, "$"+strconv.Itoa(len(a))+"\r\n"+a+"\r\n"...)
	}
	return b
}

// do sends one request and returns its reply.
func (c *client) do(t *testing.T, args ...string) any {
	t.Helper()
	if _, err := c.Write(encode(args...)); err != nil {
		t.Fatalf("%q: write: %v", args, err)
	}
	v, err := c.reply()
	if err != nil {
		t.Fatalf("%q: read reply: %v", args, err)
	}
	return v
}

// show formats a reply for messages and comparisons: bulk strings in
// double quotes, errors with a leading "-", nil as "(nil)".
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return "(nil)"
	case string:
		return v
	case errReply:
		return "-" + string(v)
	case int64:
		return ":" + strconv.FormatInt(v, 10)
	case []byte:
		return strconv.Quote(string(v))
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = show(x)
		}
		return "[" + strings.Join(parts, " ") + "]"
	}
	return fmt.Sprintf("%#v", v)
}

// expectClosed reads until the server closes the connection, failing if
// that takes longer than testTimeout, and returns what was read.
func (c *client) expectClosed(t *testing.T) string {
	t.Helper()
	rest, err := io.ReadAll(c.r)
	if err != nil && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("waiting for the server to close: %v (after %q)", err, rest)
	}
	return string(rest)
}

// list returns the connections still open; call it on the loop.
func (r *running) list() []*conn {
	r.mu.Lock()
	defer r.mu.Unlock()
	var cs []*conn
	for _, c := range r.seen {
		if !c.mc.Closed() {
			cs = append(cs, c)
		}
	}
	return cs
}
