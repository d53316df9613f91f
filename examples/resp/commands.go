package main

import (
	"math"
	"strconv"
	"strings"
	"time"
)

// Error replies used in more than one place.
const (
	errSyntax     = "ERR syntax error"
	errNotInteger = "ERR value is not an integer or out of range"
)

// commandNames lists the commands served, for COMMAND COUNT.
var commandNames = []string{
	"PING", "ECHO", "SET", "GET", "DEL", "EXISTS", "INCR", "MSET", "MGET",
	"DBSIZE", "FLUSHDB", "FLUSHALL", "SELECT", "QUIT",
	"CONFIG", "COMMAND", "CLIENT", "HELLO",
}

// exec runs one request and appends its reply to c's output.
func (s *server) exec(c *conn, argv [][]byte) {
	var name [12]byte
	if len(argv[0]) > len(name) {
		s.unknown(c, argv)
		return
	}
	n := copy(name[:], argv[0])
	for i, b := range name[:n] {
		if 'a' <= b && b <= 'z' {
			name[i] = b - 'a' + 'A'
		}
	}
	switch string(name[:n]) {
	case "GET":
		if arity(c, argv, 2, "get") {
			s.get(c, argv[1])
		}
	case "SET":
		if len(argv) < 3 {
			wrongArity(c, "set")
			return
		}
		s.set(c, argv)
	case "PING":
		switch len(argv) {
		case 1:
			c.simple("PONG")
		case 2:
			c.bulk(argv[1])
		default:
			wrongArity(c, "ping")
		}
	case "INCR":
		if arity(c, argv, 2, "incr") {
			s.incr(c, argv[1])
		}
	case "MSET":
		if len(argv) < 3 || len(argv)%2 == 0 {
			wrongArity(c, "mset")
			return
		}
		for i := 1; i < len(argv); i += 2 {
			s.db.set(argv[i], argv[i+1], false, c.loop)
		}
		c.simple("OK")
	case "MGET":
		if len(argv) < 2 {
			wrongArity(c, "mget")
			return
		}
		c.array(len(argv) - 1)
		for _, k := range argv[1:] {
			s.get(c, k)
		}
	case "DEL":
		if len(argv) < 2 {
			wrongArity(c, "del")
			return
		}
		var n int64
		for _, k := range argv[1:] {
			if s.db.del(k, c.loop) {
				n++
			}
		}
		c.integer(n)
	case "EXISTS":
		if len(argv) < 2 {
			wrongArity(c, "exists")
			return
		}
		var n int64
		for _, k := range argv[1:] {
			if s.db.get(k, c.loop) != nil {
				n++
			}
		}
		c.integer(n)
	case "ECHO":
		if arity(c, argv, 2, "echo") {
			c.bulk(argv[1])
		}
	case "DBSIZE":
		if arity(c, argv, 1, "dbsize") {
			c.integer(int64(s.db.size()))
		}
	case "FLUSHDB", "FLUSHALL":
		// An optional ASYNC or SYNC makes no difference here.
		if len(argv) > 2 {
			c.err(errSyntax)
			return
		}
		s.db.flush(c.loop)
		c.simple("OK")
	case "SELECT":
		s.note("", argv)
		if !arity(c, argv, 2, "select") {
			return
		}
		switch n, ok := parseInt(argv[1]); {
		case !ok:
			c.err(errNotInteger)
		case n != 0:
			c.err("ERR DB index is out of range")
		default:
			c.simple("OK")
		}
	case "QUIT":
		c.simple("OK")
		c.closing = true
	case "CONFIG":
		s.note("", argv)
		s.config(c, argv)
	case "COMMAND":
		s.note("", argv)
		s.command(c, argv)
	case "CLIENT":
		s.note("", argv)
		s.client(c, argv)
	case "HELLO":
		s.note("", argv)
		// RESP3 is not spoken; clients that ask for it fall back to RESP2
		// on any error reply.
		c.err("NOPROTO this server speaks RESP2 only")
	default:
		s.unknown(c, argv)
	}
}

// arity checks that a command has exactly n arguments (its name
// included), replying with an error if not.
func arity(c *conn, argv [][]byte, n int, name string) bool {
	if len(argv) != n {
		wrongArity(c, name)
		return false
	}
	return true
}

func wrongArity(c *conn, name string) {
	c.err("ERR wrong number of arguments for '" + name + "' command")
}

// unknown replies to a command this server does not have.
func (s *server) unknown(c *conn, argv [][]byte) {
	s.note("unknown ", argv)
	c.err("ERR unknown command " + quoteArg(argv[0]))
}

// note logs a request with -v: the unknown ones, and the connection
// set-up commands clients send before their work (CONFIG, COMMAND,
// CLIENT, HELLO, SELECT), to show what a client expects.
func (s *server) note(what string, argv [][]byte) {
	if !s.verbose {
		return
	}
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = quoteArg(a)
	}
	s.log.Printf("%scommand: %s", what, strings.Join(args, " "))
}

// quoteArg returns a client's argument for a message: in single quotes,
// at most 64 bytes of it, with bytes outside printable ASCII as '?'.
func quoteArg(a []byte) string {
	b := make([]byte, 0, 68)
	b = append(b, '\'')
	for i, x := range a {
		if i == 64 {
			b = append(b, "..."...)
			break
		}
		if x < ' ' || x >= 0x7f || x == '\'' {
			x = '?'
		}
		b = append(b, x)
	}
	return string(append(b, '\''))
}

// get appends the reply to GET key: the value, or null.
func (s *server) get(c *conn, key []byte) {
	e := s.db.get(key, c.loop)
	if e == nil {
		c.null()
		return
	}
	if c.bulkStored(e.val) {
		e.shared = true
	}
}

// set runs SET key value [EX seconds | PX milliseconds | KEEPTTL] [NX | XX].
func (s *server) set(c *conn, argv [][]byte) {
	var (
		ttl            time.Duration
		timed, keepTTL bool
		nx, xx         bool
	)
	for i := 3; i < len(argv); i++ {
		opt := argv[i]
		switch {
		case len(opt) == 2 && (opt[0]|0x20 == 'e' || opt[0]|0x20 == 'p') && opt[1]|0x20 == 'x':
			if timed || keepTTL || i+1 == len(argv) {
				c.err(errSyntax)
				return
			}
			i++
			n, ok := parseInt(argv[i])
			if !ok {
				c.err(errNotInteger)
				return
			}
			if n <= 0 {
				c.err("ERR invalid expire time in 'set' command")
				return
			}
			unit := time.Millisecond
			if opt[0]|0x20 == 'e' {
				unit = time.Second
			}
			ttl, timed = saturatingMul(n, unit), true
		case strings.EqualFold(string(opt), "NX") && !xx:
			nx = true
		case strings.EqualFold(string(opt), "XX") && !nx:
			xx = true
		case strings.EqualFold(string(opt), "KEEPTTL") && !timed:
			keepTTL = true
		default:
			c.err(errSyntax)
			return
		}
	}
	if nx || xx {
		if exists := s.db.get(argv[1], c.loop) != nil; nx && exists || xx && !exists {
			c.null()
			return
		}
	}
	e := s.db.set(argv[1], argv[2], keepTTL, c.loop)
	if timed {
		if err := s.db.expireIn(e, ttl, c.loop); err != nil {
			s.db.remove(e, c.loop)
			c.err("ERR cannot set the expiry: " + err.Error())
			return
		}
	}
	c.simple("OK")
}

// saturatingMul returns n units, or the longest duration if that is
// longer: a key set to expire in 300 years never expires in practice.
func saturatingMul(n int64, unit time.Duration) time.Duration {
	if n > math.MaxInt64/int64(unit) {
		return math.MaxInt64
	}
	return time.Duration(n) * unit
}

// incr runs INCR key. A key that is not there counts as 0; the key keeps
// its expiry.
func (s *server) incr(c *conn, key []byte) {
	e := s.db.get(key, c.loop)
	var n int64
	if e != nil {
		v, ok := parseStrictInt(e.val)
		switch {
		case !ok:
			c.err(errNotInteger)
			return
		case v == math.MaxInt64:
			c.err("ERR increment or decrement would overflow")
			return
		}
		n = v
	}
	n++
	digits := strconv.AppendInt(c.scratch[:0], n, 10)
	if e == nil {
		s.db.set(key, digits, false, c.loop)
	} else {
		s.db.setVal(e, digits)
	}
	c.integer(n)
}

// config answers CONFIG GET for the parameters redis-benchmark reads at
// start-up, as a server without persistence would: save is "" and
// appendonly is "no". Other parameters are not listed.
func (s *server) config(c *conn, argv [][]byte) {
	if len(argv) < 3 || !strings.EqualFold(string(argv[1]), "GET") {
		if len(argv) < 2 {
			wrongArity(c, "config")
			return
		}
		c.err("ERR CONFIG " + quoteArg(argv[1]) + " is not supported here")
		return
	}
	var pairs []string
	for _, p := range argv[2:] {
		switch strings.ToLower(string(p)) {
		case "save":
			pairs = append(pairs, "save", "")
		case "appendonly":
			pairs = append(pairs, "appendonly", "no")
		}
	}
	c.array(len(pairs))
	for _, p := range pairs {
		c.bulkString(p)
	}
}

// command answers COMMAND and its subcommands with what a client can do
// without: no command descriptions (an empty array), and the count.
func (s *server) command(c *conn, argv [][]byte) {
	if len(argv) >= 2 && strings.EqualFold(string(argv[1]), "COUNT") {
		c.integer(int64(len(commandNames)))
		return
	}
	c.array(0)
}

// client answers the CLIENT subcommands clients send at start-up.
func (s *server) client(c *conn, argv [][]byte) {
	if len(argv) < 2 {
		wrongArity(c, "client")
		return
	}
	switch strings.ToUpper(string(argv[1])) {
	case "SETNAME", "SETINFO":
		c.simple("OK")
	case "GETNAME":
		c.null()
	case "ID":
		c.integer(c.id)
	default:
		c.err("ERR CLIENT " + quoteArg(argv[1]) + " is not supported here")
	}
}
