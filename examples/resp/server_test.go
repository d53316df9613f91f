package main

import (
	"bytes"
	"io"
	"net"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Every command, with its errors, on one connection.
func TestCommands(t *testing.T) {
	r := startServer(t, config{})
	c := dial(t, r)
	steps := []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG"},
		{[]string{"ping", "hi"}, `"hi"`},
		{[]string{"PING", "a", "b"}, "-ERR wrong number of arguments for 'ping' command"},
		{[]string{"ECHO", "x\r\ny"}, `"x\r\ny"`},
		{[]string{"ECHO"}, "-ERR wrong number of arguments for 'echo' command"},
		{[]string{"GET", "k"}, "(nil)"},
		{[]string{"SET", "k", "v1"}, "OK"},
		{[]string{"get", "k"}, `"v1"`},
		{[]string{"SET", "k", ""}, "OK"},
		{[]string{"GET", "k"}, `""`},
		{[]string{"SET", "k", "v", "NX"}, "(nil)"},
		{[]string{"SET", "new", "v", "XX"}, "(nil)"},
		{[]string{"SET", "new", "v", "nx"}, "OK"},
		{[]string{"SET", "new", "w", "XX"}, "OK"},
		{[]string{"GET", "new"}, `"w"`},
		{[]string{"SET", "k", "v", "EX", "100"}, "OK"},
		{[]string{"SET", "k", "v", "px", "100000", "KEEPTTL"}, "-ERR syntax error"},
		{[]string{"SET", "k", "v", "EX", "0"}, "-ERR invalid expire time in 'set' command"},
		{[]string{"SET", "k", "v", "PX", "-5"}, "-ERR invalid expire time in 'set' command"},
		{[]string{"SET", "k", "v", "EX", "x"}, "-ERR value is not an integer or out of range"},
		{[]string{"SET", "k", "v", "EX"}, "-ERR syntax error"},
		{[]string{"SET", "k", "v", "EX", "1", "PX", "1"}, "-ERR syntax error"},
		{[]string{"SET", "k", "v", "NX", "XX"}, "-ERR syntax error"},
		{[]string{"SET", "k", "v", "BOGUS"}, "-ERR syntax error"},
		{[]string{"SET", "k", "v", "EX", "99999999999999999"}, "OK"}, // never, in practice
		{[]string{"SET", "k"}, "-ERR wrong number of arguments for 'set' command"},
		{[]string{"EXISTS", "k", "k", "nope"}, ":2"},
		{[]string{"DEL", "k", "nope", "k"}, ":1"},
		{[]string{"EXISTS", "k"}, ":0"},
		{[]string{"DEL"}, "-ERR wrong number of arguments for 'del' command"},
		{[]string{"INCR", "n"}, ":1"},
		{[]string{"incr", "n"}, ":2"},
		{[]string{"GET", "n"}, `"2"`},
		{[]string{"SET", "n", "9223372036854775806"}, "OK"},
		{[]string{"INCR", "n"}, ":9223372036854775807"},
		{[]string{"INCR", "n"}, "-ERR increment or decrement would overflow"},
		{[]string{"SET", "n", "-3"}, "OK"},
		{[]string{"INCR", "n"}, ":-2"},
		{[]string{"SET", "n", "007"}, "OK"},
		{[]string{"INCR", "n"}, "-ERR value is not an integer or out of range"},
		{[]string{"SET", "n", "1.5"}, "OK"},
		{[]string{"INCR", "n"}, "-ERR value is not an integer or out of range"},
		{[]string{"MSET", "a", "1", "b", "2"}, "OK"},
		{[]string{"MSET", "a", "1", "b"}, "-ERR wrong number of arguments for 'mset' command"},
		{[]string{"MGET", "a", "nope", "b"}, `["1" (nil) "2"]`},
		{[]string{"DBSIZE"}, ":4"},
		{[]string{"SELECT", "0"}, "OK"},
		{[]string{"SELECT", "1"}, "-ERR DB index is out of range"},
		{[]string{"CONFIG", "GET", "save"}, `["save" ""]`},
		{[]string{"CONFIG", "GET", "appendonly"}, `["appendonly" "no"]`},
		{[]string{"CONFIG", "GET", "maxmemory"}, "[]"},
		{[]string{"COMMAND"}, "[]"},
		{[]string{"COMMAND", "DOCS"}, "[]"},
		{[]string{"CLIENT", "SETNAME", "me"}, "OK"},
		{[]string{"CLIENT", "SETINFO", "lib-name", "test"}, "OK"},
		{[]string{"HELLO", "3"}, "-NOPROTO this server speaks RESP2 only"},
		{[]string{"NOSUCH", "a"}, "-ERR unknown command 'NOSUCH'"},
		{[]string{"A\r\nVERYLONGCOMMANDNAME"}, "-ERR unknown command 'A??VERYLONGCOMMANDNAME'"},
		{[]string{"FLUSHALL"}, "OK"},
		{[]string{"DBSIZE"}, ":0"},
		{[]string{"PING"}, "PONG"}, // errors leave the connection usable
	}
	for _, s := range steps {
		if got := show(c.do(t, s.args...)); got != s.want {
			t.Errorf("%q: got %s, want %s", s.args, got, s.want)
		}
	}
	if got := show(c.do(t, "QUIT")); got != "OK" {
		t.Errorf("QUIT: got %s", got)
	}
	if rest := c.expectClosed(t); rest != "" {
		t.Errorf("after QUIT: %q", rest)
	}
}

// A thousand requests in one write get their replies in order.
func TestPipeline(t *testing.T) {
	r := startServer(t, config{})
	c := dial(t, r)
	var req []byte
	const n = 1000
	for i := range n {
		switch k := strconv.Itoa(i / 3); i % 3 {
		case 0:
			req = append(req, encode("SET", "key"+k, "value"+k)...)
		case 1:
			req = append(req, encode("GET", "key"+k)...)
		default:
			req = append(req, encode("INCR", "counter")...)
		}
	}
	if _, err := c.Write(req); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		v, err := c.reply()
		if err != nil {
			t.Fatalf("reply %d: %v", i, err)
		}
		want := "OK"
		switch k := strconv.Itoa(i / 3); i % 3 {
		case 1:
			want = strconv.Quote("value" + k)
		case 2:
			want = ":" + strconv.Itoa(i/3+1)
		}
		if got := show(v); got != want {
			t.Fatalf("reply %d: got %s, want %s", i, got, want)
		}
	}
}

// Inline commands: blank-separated words, quotes with escapes, LF or
// CRLF line ends, blank lines skipped, mixed with array requests.
func TestInline(t *testing.T) {
	r := startServer(t, config{})
	c := dial(t, r)
	in := "PING\r\n" +
		"SET a \"b c\\n\\x41\"\r\n" +
		"GET a\n" +
		"\r\n   \r\n" +
		"ECHO 'it\\'s'\r\n" +
		string(encode("ECHO", "array")) +
		"\tEXISTS   a b\t\r\n" +
		"ECHO \"\"\n"
	if _, err := c.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"PONG", "OK", `"b c\nA"`, `"it's"`, `"array"`, ":1", `""`} {
		v, err := c.reply()
		if err != nil {
			t.Fatal(err)
		}
		if got := show(v); got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	}
}

// Malformed requests get a protocol error, after the replies to the
// requests before them, and the connection is closed.
func TestMalformed(t *testing.T) {
	r := startServer(t, config{})
	cases := []struct{ name, in, want string }{
		{"type byte", "*1\r\n%4\r\nPING\r\n", "-ERR Protocol error: expected '$', got '%'"},
		{"control byte", "*1\r\n\x01", `-ERR Protocol error: expected '$', got '\x01'`},
		{"count not a number", "*x\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"count with junk", "*1x\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"count overflows", "*99999999999999999999\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"count over the limit", "*1048577\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"count line too long", "*" + strings.Repeat("0", 40) + "1\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"count without CR", "*1\n$4\r\nPING\r\n", "-ERR Protocol error: invalid multibulk length"},
		{"length negative", "*1\r\n$-1\r\n", "-ERR Protocol error: invalid bulk length"},
		{"length not a number", "*1\r\n$abc\r\n", "-ERR Protocol error: invalid bulk length"},
		{"length with a blank", "*1\r\n$4 \r\nPING\r\n", "-ERR Protocol error: invalid bulk length"},
		{"length empty", "*1\r\n$\r\n", "-ERR Protocol error: invalid bulk length"},
		{"bulk without CRLF", "*1\r\n$4\r\nPINGxx", "-ERR Protocol error: bulk string not followed by CRLF"},
		{"unbalanced quotes", "SET a \"b\r\n", "-ERR Protocol error: unbalanced quotes in request"},
		{"text after a quote", "SET a 'b'c\r\n", "-ERR Protocol error: unbalanced quotes in request"},
		{"inline line too long", strings.Repeat("x", maxInline+1), "-ERR Protocol error: too big inline request"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, r)
			if _, err := c.Write([]byte("PING\r\n" + tc.in)); err != nil {
				t.Fatal(err)
			}
			if got := show(mustReply(t, c)); got != "PONG" {
				t.Fatalf("reply before the error: %s", got)
			}
			if got := show(mustReply(t, c)); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
			if rest := c.expectClosed(t); rest != "" {
				t.Errorf("after the error: %q", rest)
			}
			c.Close()
		})
	}
	// More input after the error: the server drops it (lingering) instead
	// of resetting the connection, which could lose the error reply.
	t.Run("input after the error", func(t *testing.T) {
		c := dial(t, r)
		go c.Write([]byte("*1\r\n%4\r\n" + strings.Repeat("junk", 128<<10)))
		if got, want := show(mustReply(t, c)), "-ERR Protocol error: expected '$', got '%'"; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
		// The end of the stream, not a reset.
		if rest, err := io.ReadAll(c.r); err != nil || len(rest) > 0 {
			t.Errorf("after the error: %q, %v", rest, err)
		}
		c.Close()
	})
	// A request cut short by the client closing: no reply to it, the
	// connection closed, and the server unharmed.
	for _, cut := range []string{"*2\r\n$3\r\nGET\r\n$5\r\nab", "*2\r\n$3", "*", "GET k"} {
		c := dial(t, r)
		if _, err := c.Write([]byte("PING\r\n" + cut)); err != nil {
			t.Fatal(err)
		}
		c.Conn.(*net.TCPConn).CloseWrite()
		if got := show(mustReply(t, c)); got != "PONG" {
			t.Fatalf("%q: reply before the cut: %s", cut, got)
		}
		if rest := c.expectClosed(t); rest != "" {
			t.Errorf("%q: after the cut: %q", cut, rest)
		}
		c.Close()
	}
	if got := show(dial(t, r).do(t, "PING")); got != "PONG" {
		t.Errorf("a new connection after the bad ones: %s", got)
	}
	r.waitFor(t, "the bad connections to be closed", func() bool { return r.srv.Conns(0).Len() == 1 })
}

func mustReply(t *testing.T, c *client) any {
	t.Helper()
	v, err := c.reply()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// A bulk length over the limit is refused before anything is allocated
// for it, and a length within the limit allocates only as data arrives.
func TestOversizedBulk(t *testing.T) {
	r := startServer(t, config{})
	allocated := func() uint64 {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.TotalAlloc
	}
	const slack = 4 << 20 // the test's own allocations, and the net package's
	for _, n := range []string{strconv.Itoa(defaultMaxBulk + 1), "9223372036854775807", "99999999999999999999"} {
		before := allocated()
		c := dial(t, r)
		if _, err := c.Write([]byte("*2\r\n$3\r\nSET\r\n$" + n + "\r\nabc")); err != nil {
			t.Fatal(err)
		}
		if got, want := show(mustReply(t, c)), "-ERR Protocol error: invalid bulk length"; got != want {
			t.Errorf("$%s: got %s, want %s", n, got, want)
		}
		if rest := c.expectClosed(t); rest != "" {
			t.Errorf("$%s: after the error: %q", n, rest)
		}
		if d := allocated() - before; d > slack {
			t.Errorf("$%s: %d bytes allocated meanwhile", n, d)
		}
	}

	// The largest length allowed, with little data behind it: the input
	// buffer grows with what arrives, not with what was announced.
	before := allocated()
	c := dial(t, r)
	if _, err := c.Write([]byte("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$" + strconv.Itoa(defaultMaxBulk) + "\r\n" + strings.Repeat("x", 100<<10))); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the 100 KiB to be read", func() bool {
		for _, sc := range r.list() {
			if sc.mc.In().Len() >= 100<<10 {
				return true
			}
		}
		return false
	})
	if d := allocated() - before; d > slack {
		t.Errorf("announced %d bytes, sent 100 KiB: %d bytes allocated meanwhile", defaultMaxBulk, d)
	}
	c.Conn.(*net.TCPConn).CloseWrite()
	if rest := c.expectClosed(t); rest != "" {
		t.Errorf("cut request: %q", rest)
	}

	// A smaller limit, exactly.
	r2 := startServer(t, config{maxBulk: 1024})
	c2 := dial(t, r2)
	if got := show(c2.do(t, "SET", "k", strings.Repeat("v", 1024))); got != "OK" {
		t.Errorf("1024 bytes with -maxbulk 1024: %s", got)
	}
	if got := show(c2.do(t, "SET", "k", strings.Repeat("v", 1025))); got != "-ERR Protocol error: invalid bulk length" {
		t.Errorf("1025 bytes with -maxbulk 1024: %s", got)
	}
	c2.expectClosed(t)
}

// A client that stops reading its replies: the server stops reading from
// it once the output is over the high-water mark, its output stays
// bounded, other clients are served meanwhile, and once the client reads
// again it gets every reply, in order.
func TestSlowReader(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int // of the value the slow client GETs
	}{
		{"copied values", refMin / 2},
		{"referenced values", 256 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const outHigh = 64 << 10
			r := startServer(t, config{outHigh: outHigh})
			fast := dial(t, r)
			value := bytes.Repeat([]byte("0123456789abcdef"), tc.size/16)
			if got := show(fast.do(t, "SET", "big", string(value))); got != "OK" {
				t.Fatalf("SET: %s", got)
			}
			// Enough replies to fill the kernel's buffers both ways
			// (several MiB on loopback) many times over.
			gets := 64 << 20 / tc.size
			slow := dial(t, r)
			go func() {
				// Write blocks once the server stops reading; the client's
				// close at the end of the test ends it.
				slow.Write(bytes.Repeat(encode("GET", "big"), gets))
			}()
			var paused *conn
			r.waitFor(t, "the slow client's connection to pause", func() bool {
				for _, sc := range r.list() {
					if sc.paused {
						paused = sc
						return true
					}
				}
				return false
			})
			// The reply that crossed the mark may be one value over it;
			// the output buffer itself holds only copies.
			bound := outHigh + tc.size + 64
			r.onLoop(t, func() {
				if p := paused.pending(); p > bound {
					t.Errorf("%d bytes of output pending, bound %d", p, bound)
				}
				if c := cap(paused.out); c > 2*bound {
					t.Errorf("reply buffer of %d bytes, bound %d", c, 2*bound)
				}
			})
			for i := range 10 {
				if got := show(fast.do(t, "INCR", "n")); got != ":"+strconv.Itoa(i+1) {
					t.Fatalf("other client: %s", got)
				}
			}
			for i := range gets {
				v, err := slow.reply()
				if err != nil {
					t.Fatalf("reply %d of %d: %v", i, gets, err)
				}
				if b, ok := v.([]byte); !ok || !bytes.Equal(b, value) {
					t.Fatalf("reply %d: %.40s", i, show(v))
				}
			}
			if got := show(slow.do(t, "PING")); got != "PONG" {
				t.Errorf("after the backlog: %s", got)
			}
		})
	}
}

// The reply to one request that is far over the high-water mark (an
// MGET of many keys, to a client that does not read yet) copies little
// more than its headers: past the mark, values are referred to.
func TestBigReplyBounded(t *testing.T) {
	const outHigh, keys, size = 64 << 10, 4000, 4 << 10
	r := startServer(t, config{outHigh: outHigh})
	c := dial(t, r)
	value := strings.Repeat("v", size)
	mget := []string{"MGET"}
	var mset []byte
	for i := range keys {
		k := "key:" + strconv.Itoa(i)
		mget = append(mget, k)
		mset = append(mset, encode("SET", k, value)...)
	}
	c.Write(mset)
	for range keys {
		mustReply(t, c)
	}
	if _, err := c.Write(encode(mget...)); err != nil {
		t.Fatal(err)
	}
	r.waitFor(t, "the reply to wait for the socket", func() bool {
		for _, sc := range r.list() {
			if sc.pending() > 0 {
				// Headers ("$4096\r\n" and "\r\n") and one value are
				// copied past the mark.
				if bound := outHigh + size + keys*16; cap(sc.out) > 2*bound {
					t.Errorf("output buffer of %d bytes for a %d-byte reply, bound %d",
						cap(sc.out), sc.pending(), 2*bound)
				}
				return true
			}
		}
		return false
	})
	v := mustReply(t, c)
	a, ok := v.([]any)
	if !ok || len(a) != keys {
		t.Fatalf("MGET: %.80s", show(v))
	}
	for i, x := range a {
		if b, ok := x.([]byte); !ok || string(b) != value {
			t.Fatalf("MGET element %d: %.40s", i, show(x))
		}
	}
	// A referred value is replaced, not overwritten, by a later SET.
	if got := show(c.do(t, "SET", "key:0", "new")); got != "OK" {
		t.Fatalf("SET: %s", got)
	}
	if got := show(c.do(t, "GET", "key:0")); got != `"new"` {
		t.Errorf("GET after SET: %s", got)
	}
}

// A client that half-closes after pipelining gets every reply before the
// server closes.
func TestHalfClose(t *testing.T) {
	r := startServer(t, config{outHigh: 1 << 10})
	c := dial(t, r)
	const n = 5000
	go func() {
		c.Write(bytes.Repeat(encode("INCR", "n"), n))
		c.Conn.(*net.TCPConn).CloseWrite()
	}()
	for i := range n {
		if got, want := show(mustReply(t, c)), ":"+strconv.Itoa(i+1); got != want {
			t.Fatalf("reply %d: got %s, want %s", i, got, want)
		}
	}
	if rest := c.expectClosed(t); rest != "" {
		t.Errorf("after the replies: %q", rest)
	}
}

func TestConfigRejects(t *testing.T) {
	for _, tc := range []struct {
		cfg  config
		want string
	}{
		{config{addr: "127.0.0.1:0", loops: -1}, "-loops -1"},
		{config{addr: "127.0.0.1:0", maxBulk: defaultMaxBulk + 1}, "-maxbulk"},
		{config{addr: "127.0.0.1:0", outHigh: 10, outLow: 10}, "-outbuf 10"},
		{config{addr: "127.0.0.1"}, "-addr"},
	} {
		s, err := newServer(tc.cfg)
		if err == nil {
			s.stop()
			t.Errorf("newServer(%+v) succeeded", tc.cfg)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newServer(%+v): %v, want it to mention %q", tc.cfg, err, tc.want)
		}
	}
}
