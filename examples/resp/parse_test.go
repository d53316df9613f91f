package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/miogo/mio"
)

// parseAll parses input fed to the parser in pieces of the given size, as
// reads would, and returns the requests (their arguments joined by "|")
// and the error reply, if any.
func parseAll(input []byte, piece int) (reqs []string, errMsg string) {
	p := parser{buf: make([]byte, len(input)), maxBulk: defaultMaxBulk, bulk: -1}
	fed := 0
	for {
		st, msg := p.next()
		switch st {
		case parsedCommand:
			parts := make([]string, len(p.argv))
			for i, a := range p.argv {
				parts[i] = string(a)
			}
			reqs = append(reqs, strings.Join(parts, "|"))
			continue
		case parsedError:
			return reqs, msg
		}
		if fed == len(input) {
			return reqs, ""
		}
		// Move the unparsed input to the front, as conn.read does, so
		// the parser's positions must survive the move.
		if p.start > 0 {
			p.end = copy(p.buf, p.buf[p.start:p.end])
			p.start = 0
		}
		n := copy(p.buf[p.end:], input[fed:min(len(input), fed+piece)])
		p.end += n
		fed += n
	}
}

var parseInput = string(encode("SET", "key", "a\r\nvalue")) +
	"PING\r\n" +
	"*0\r\n" +
	"ECHO \"q\\\"uoted\\x41\" 'sin gle' plain\n" +
	string(encode("MGET", "a", "", "c")) +
	"*-1\r\n" +
	"\r\n" +
	string(encode(strings.Repeat("x", 40000))) +
	"SET k v\r\n"

var parseWant = []string{
	"SET|key|a\r\nvalue", "PING", `ECHO|q"uotedA|sin gle|plain`, "MGET|a||c",
	strings.Repeat("x", 40000), "SET|k|v",
}

// However the input is cut, the same requests come out.
func TestParserPieces(t *testing.T) {
	for _, piece := range []int{1, 2, 3, 7, 100, 4096, len(parseInput)} {
		reqs, msg := parseAll([]byte(parseInput), piece)
		if msg != "" || strings.Join(reqs, "\n") != strings.Join(parseWant, "\n") {
			t.Errorf("pieces of %d: error %q, requests\n%q\nwant\n%q", piece, msg, reqs, parseWant)
		}
	}
}

// The parser keeps its place in a request that is not complete: the
// arguments found, the length of the bulk string in progress, where to
// look for the end of an inline line. Nothing is parsed twice.
func TestParserIncremental(t *testing.T) {
	value := strings.Repeat("v", 1<<20)
	input := encode("SET", "k", value)
	head := len(input) - len(value) - 2 // up to the value
	p := parser{buf: make([]byte, len(input)), maxBulk: defaultMaxBulk, bulk: -1}
	p.end = copy(p.buf, input[:head+1000])
	if st, msg := p.next(); st != parsedNone {
		t.Fatalf("part of a request: %v %q", st, msg)
	}
	if len(p.spans) != 2 || p.bulk != len(value) || p.pos != head {
		t.Errorf("after the headers: %d arguments, bulk %d, at %d; want 2, %d, %d",
			len(p.spans), p.bulk, p.pos, len(value), head)
	}
	p.end = copy(p.buf[p.end:], input[p.end:]) + p.end
	if st, _ := p.next(); st != parsedCommand || len(p.argv) != 3 || len(p.argv[2]) != len(value) {
		t.Fatalf("the whole request: %v with %d arguments", st, len(p.argv))
	}

	line := []byte("ECHO " + strings.Repeat("w", 5000) + "\r\n")
	p = parser{buf: make([]byte, len(line)), maxBulk: defaultMaxBulk, bulk: -1}
	p.end = copy(p.buf, line[:3000])
	if st, _ := p.next(); st != parsedNone || p.pos != 3000 {
		t.Errorf("part of an inline line: %v, next search at %d, want 3000", st, p.pos)
	}
	p.end = copy(p.buf[p.end:], line[p.end:]) + p.end
	if st, _ := p.next(); st != parsedCommand || len(p.argv) != 2 {
		t.Errorf("the whole line: %v with %d arguments", st, len(p.argv))
	}
}

func TestParseInt(t *testing.T) {
	for _, tc := range []struct {
		in     string
		n      int64
		ok     bool
		strict bool
	}{
		{"0", 0, true, true}, {"-1", -1, true, true}, {"123", 123, true, true},
		{"9223372036854775807", 1<<63 - 1, true, true},
		{"-9223372036854775808", -1 << 63, true, true},
		{"9223372036854775808", 0, false, false},
		{"-9223372036854775809", 0, false, false},
		{"99999999999999999999", 0, false, false},
		{"007", 7, true, false}, {"-0", 0, true, false}, {"-01", -1, true, false},
		{"", 0, false, false}, {"-", 0, false, false}, {"+1", 0, false, false},
		{" 1", 0, false, false}, {"1 ", 0, false, false}, {"1.0", 0, false, false},
	} {
		n, ok := parseInt([]byte(tc.in))
		if ok != tc.ok || ok && n != tc.n {
			t.Errorf("parseInt(%q) = %d, %v; want %d, %v", tc.in, n, ok, tc.n, tc.ok)
		}
		if _, ok := parseStrictInt([]byte(tc.in)); ok != tc.strict {
			t.Errorf("parseStrictInt(%q) ok = %v, want %v", tc.in, ok, tc.strict)
		}
	}
}

// FuzzParser checks that any input gives the same requests and error
// whether it arrives at once or a byte at a time, and never panics.
func FuzzParser(f *testing.F) {
	f.Add([]byte(parseInput))
	f.Add([]byte("*1\r\n$4\r\nPING\r\n*2\r\n$-3\r\n"))
	f.Add([]byte("SET a \"b\\x4"))
	f.Fuzz(func(t *testing.T, in []byte) {
		whole, wholeErr := parseAll(bytes.Clone(in), len(in)+1)
		split, splitErr := parseAll(bytes.Clone(in), 1)
		if fmt.Sprint(whole, wholeErr) != fmt.Sprint(split, splitErr) {
			t.Errorf("at once: %q %q; byte by byte: %q %q", whole, wholeErr, split, splitErr)
		}
	})
}

// The hot path allocates nothing: parsing pipelined requests, running
// PING, GET, SET of an existing key, INCR and MGET, and writing the
// replies into a buffer that has grown to size.
func TestNoAllocs(t *testing.T) {
	loop, err := mio.NewEventLoop[func()](mio.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer loop.Close()
	s := &server{db: newStore(loop)}
	input := []byte(string(encode("PING")) + string(encode("SET", "key:000001", "xxx")) +
		string(encode("GET", "key:000001")) + string(encode("INCR", "counter")) +
		"PING\r\n" + string(encode("MGET", "key:000001", "counter", "nope")))
	c := newConn(nil, 1, 0, defaultMaxBulk, defaultOutHigh)
	run := func() {
		c.in.buf, c.in.start, c.in.end = input, 0, len(input)
		for {
			st, _ := c.in.next()
			if st != parsedCommand {
				break
			}
			s.exec(c, c.in.argv)
		}
		c.out = c.out[:0]
	}
	run() // creates the keys and grows the buffers
	if n := testing.AllocsPerRun(1000, run); n != 0 {
		t.Errorf("%v allocations per round of requests", n)
	}
}
