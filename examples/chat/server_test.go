package main

import (
	"bufio"
	"errors"
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/servetest"
)

// wait bounds every read of the tests.
const wait = 10 * time.Second

// startServer runs a server on a free loopback port until the test ends.
func startServer(t *testing.T, change func(*config)) *server {
	t.Helper()
	logs := &servetest.LogBuffer{}
	cfg := defaultConfig()
	cfg.addr = "127.0.0.1:0"
	cfg.log = log.New(logs, "", 0)
	if change != nil {
		change(&cfg)
	}
	s, err := newServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	servetest.Start(t, logs, s.run, s.stop)
	return s
}

// client is one test client.
type client struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	name string
}

// dial connects a client and reads its welcome, which names it.
func dial(t *testing.T, s *server, d *net.Dialer) *client {
	t.Helper()
	if d == nil {
		d = &net.Dialer{}
	}
	conn, err := d.Dial("tcp", s.addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	c := &client{t: t, conn: conn, r: bufio.NewReader(conn)}
	line := c.line()
	name, ok := strings.CutPrefix(line, "* welcome, you are ")
	if !ok {
		t.Fatalf("welcome: got %q", line)
	}
	c.name = name
	return c
}

// line reads one line, without its newline, failing the test after wait.
func (c *client) line() string {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	s, err := c.r.ReadString('\n')
	if err != nil {
		c.t.Fatalf("read: %v (after %q)", err, s)
	}
	return strings.TrimSuffix(s, "\n")
}

// expect reads one line and checks it.
func (c *client) expect(want string) {
	c.t.Helper()
	if got := c.line(); got != want {
		c.t.Fatalf("%s: got %q, want %q", c.name, got, want)
	}
}

// send writes s.
func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, s); err != nil {
		c.t.Fatal(err)
	}
}

// expectEOF checks that the server closed the connection, after lines
// that all have to satisfy ok.
func (c *client) expectEOF(ok func(string) bool) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(wait))
	for {
		s, err := c.r.ReadString('\n')
		if err == io.EOF && s == "" {
			return
		}
		if err != nil && !errors.Is(err, syscall.ECONNRESET) {
			c.t.Fatalf("%s: want end of stream, got %v (after %q)", c.name, err, s)
		}
		if err != nil {
			return
		}
		if !ok(strings.TrimSuffix(s, "\n")) {
			c.t.Fatalf("%s: unexpected line %q before end of stream", c.name, s)
		}
	}
}

// room connects n clients, each seeing the others join.
func room(t *testing.T, s *server, n int) []*client {
	var cs []*client
	for range n {
		c := dial(t, s, nil)
		for _, o := range cs {
			o.expect("* " + c.name + " joined")
		}
		cs = append(cs, c)
	}
	return cs
}

// TestBroadcast: a line reaches every other client once, not its sender,
// and a partial line waits for its newline.
func TestBroadcast(t *testing.T) {
	s := startServer(t, nil)
	cs := room(t, s, 3)
	a, b, c := cs[0], cs[1], cs[2]

	a.send("hello\n")
	b.expect(a.name + ": hello")
	c.expect(a.name + ": hello")

	// A partial line is held: b's line, sent after a's fragment, comes
	// first, then a's line whole once its newline arrives.
	a.send("par")
	waitHeld(t, s, a.name, 3)
	b.send("sync\n")
	a.expect(b.name + ": sync")
	c.expect(b.name + ": sync")
	a.send("tial\n")
	b.expect(a.name + ": partial")
	c.expect(a.name + ": partial")

	// Exactly once, and not to the sender: the next line each sees is c's
	// marker, so neither a duplicate nor an echo came before it.
	c.send("marker\n")
	a.expect(c.name + ": marker")
	b.expect(c.name + ": marker")

	// Several lines in one write, and a leave.
	b.send("one\ntwo\n")
	a.expect(b.name + ": one")
	a.expect(b.name + ": two")
	c.expect(b.name + ": one")
	c.expect(b.name + ": two")
	b.conn.Close()
	a.expect("* " + b.name + " left")
	c.expect("* " + b.name + " left")
}

// waitHeld waits until the server holds n unread bytes of name's input,
// asking the loop through ConnRef.Do: each question is a round trip, no
// sleep.
func waitHeld(t *testing.T, s *server, name string, n int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		refs := make([]mio.ConnRef, 0, len(s.refs))
		for _, r := range s.refs {
			refs = append(refs, r)
		}
		s.mu.Unlock()
		held := make(chan int, len(refs))
		asked := 0
		for _, r := range refs {
			if r.Do(func(c *mio.Conn) {
				if c.Context().(*member).name == name {
					held <- c.In().Len()
				} else {
					held <- -1
				}
			}) == nil {
				asked++
			}
		}
		for range asked {
			select {
			case h := <-held:
				if h == n {
					return
				}
			case <-time.After(wait):
				t.Fatal("the loop does not answer")
			}
		}
	}
	t.Fatalf("the server never held %d bytes of %s's input", n, name)
}

// TestLineTooLong: a line longer than -maxline disconnects its sender,
// with a message, and the others are told.
func TestLineTooLong(t *testing.T) {
	s := startServer(t, func(c *config) { c.maxLine = 64 })
	cs := room(t, s, 2)
	a, b := cs[0], cs[1]
	a.send(strings.Repeat("x", 100))
	a.expect("* error: line too long, goodbye")
	a.expectEOF(func(string) bool { return false })
	b.expect("* " + a.name + " left (line too long)")
}

// TestIdleKick: a silent client is disconnected after -idle and the
// others are told; a client sending every 50ms for longer is not.
func TestIdleKick(t *testing.T) {
	const idle = 200 * time.Millisecond
	s := startServer(t, func(c *config) { c.idle = idle })
	active := dial(t, s, nil)
	silent := dial(t, s, nil)
	active.expect("* " + silent.name + " joined")

	lines := make(chan string, 100)
	go func() { // the active client's reader; ends when its conn closes
		defer close(lines)
		for {
			s, err := active.r.ReadString('\n')
			if err != nil {
				return
			}
			lines <- strings.TrimSuffix(s, "\n")
		}
	}()
	start := time.Now()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	kicked := false
	for !kicked || time.Since(start) < 4*idle {
		select {
		case <-tick.C:
			active.send("still here\n")
		case l, ok := <-lines:
			if !ok {
				t.Fatal("the active client was disconnected")
			}
			if l != "* "+silent.name+" left (idle)" {
				t.Fatalf("active client got %q", l)
			}
			kicked = true
		case <-time.After(wait):
			t.Fatal("the silent client was not kicked")
		}
	}
	if d := time.Since(start); d < idle {
		t.Errorf("kicked after %v, before the idle timeout %v", d, idle)
	}
	silent.expectEOF(func(l string) bool { return l == active.name+": still here" })

	// The active client is still connected: an announcement reaches it.
	if sent, _, _ := s.Announce("ping"); sent != 1 {
		t.Fatalf("announcement sent to %d clients, want 1", sent)
	}
	select {
	case l := <-lines:
		if l != "* server: ping" {
			t.Fatalf("active client got %q", l)
		}
	case <-time.After(wait):
		t.Fatal("no announcement")
	}
}

// TestAnnounce: an announcement from another goroutine reaches every
// client, and one for a client gone is counted, not an error.
func TestAnnounce(t *testing.T) {
	s := startServer(t, nil)
	cs := room(t, s, 3)
	var wg sync.WaitGroup
	var sent, gone, dropped int
	wg.Add(1)
	go func() {
		defer wg.Done()
		sent, gone, dropped = s.Announce("hello all")
	}()
	wg.Wait()
	if sent != 3 || gone != 0 || dropped != 0 {
		t.Fatalf("Announce: sent %d, gone %d, dropped %d; want 3, 0, 0", sent, gone, dropped)
	}
	for _, c := range cs {
		c.expect("* server: hello all")
	}

	// The ticker goroutine of -announce-every.
	stop := s.announceEvery(time.Millisecond)
	for _, c := range cs {
		if l := c.line(); !strings.HasPrefix(l, "* server: the time is ") {
			t.Fatalf("%s: got %q", c.name, l)
		}
	}
	stop()

	// A client gone: the others still get announcements, and Announce
	// no longer counts it (OnClose took it out before telling the others).
	cs[0].conn.Close()
	cs[1].skipTicks("* " + cs[0].name + " left")
	cs[2].skipTicks("* " + cs[0].name + " left")
	if sent, _, _ := s.Announce("bye"); sent != 2 {
		t.Fatalf("Announce after a leave: sent %d, want 2", sent)
	}
	cs[1].skipTicks("* server: bye")
	cs[2].skipTicks("* server: bye")
}

// skipTicks reads lines until want, skipping the ticker's announcements.
func (c *client) skipTicks(want string) {
	c.t.Helper()
	for {
		l := c.line()
		if l == want {
			return
		}
		if !strings.HasPrefix(l, "* server: the time is ") {
			c.t.Fatalf("%s: got %q, want %q", c.name, l, want)
		}
	}
}

// TestSlowReader: a client that never reads is disconnected once its
// output is full, and the others go on getting every line.
func TestSlowReader(t *testing.T) {
	s := startServer(t, func(c *config) { c.outBuf = 16 << 10 })
	writer := dial(t, s, nil)
	reader := dial(t, s, nil)
	writer.expect("* " + reader.name + " joined")
	// A small receive window, so that the kernel buffers little for it.
	small := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	slow := dial(t, s, small)
	writer.expect("* " + slow.name + " joined")
	reader.expect("* " + slow.name + " joined")

	line := strings.Repeat("y", 1000)
	// The writer keeps at most 8 lines ahead of the reader, so that the
	// reader, however slow the test runs, is never a slow reader itself.
	window := make(chan struct{}, 8)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the writer, until the test ends: at most 64 MB
		defer wg.Done()
		for i := 0; i < 64<<10; i++ {
			select {
			case <-done:
				return
			case window <- struct{}{}:
			}
			writer.conn.SetWriteDeadline(time.Now().Add(wait))
			if _, err := io.WriteString(writer.conn, line+"\n"); err != nil {
				return
			}
		}
	}()
	defer wg.Wait()
	defer close(done)

	n := 0
	for {
		l := reader.line()
		if l == "* "+slow.name+" left (slow reader)" {
			break
		}
		if l != writer.name+": "+line {
			t.Fatalf("reader got %q", l)
		}
		<-window
		n++
	}
	if n == 0 {
		t.Fatal("the slow reader left before any line was sent")
	}
	// The reader goes on getting the writer's lines; the writer is told.
	if l := reader.line(); l != writer.name+": "+line {
		t.Fatalf("after the slow reader left, reader got %q", l)
	}
	writer.expect("* " + slow.name + " left (slow reader)")
	t.Logf("slow reader closed after %d lines of %d bytes", n, len(line)+1)
}
