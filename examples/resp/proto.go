package main

import "bytes"

// Protocol limits. A client that goes beyond one gets a protocol error and
// its connection is closed once the error is written, as Redis does; the
// limit is checked on the length header, before anything is allocated for
// the data.
const (
	// defaultMaxBulk is the largest bulk string accepted in a request, the
	// -maxbulk default: 512 MiB, Redis's own default.
	defaultMaxBulk = 512 << 20
	// maxArgs is the largest element count of a request's array.
	maxArgs = 1 << 20
	// maxInline is the longest inline command line, newline excluded.
	maxInline = 64 << 10
	// maxHeader is the longest "*<count>" or "$<length>" line, CRLF
	// included. A valid one is at most 23 bytes ("$-9223372036854775808").
	maxHeader = 32
)

// span is an argument's place in the input, relative to the start of the
// request it belongs to.
type span struct{ from, to int }

// parseStatus says what parser.next found.
type parseStatus uint8

const (
	// parsedNone: the input holds no complete request yet.
	parsedNone parseStatus = iota
	// parsedCommand: a request was parsed; its arguments are in argv.
	parsedCommand
	// parsedError: the input is malformed; the connection must be closed
	// after the error is sent.
	parsedError
)

// parser reads RESP2 requests, arrays of bulk strings and inline command
// lines, incrementally: a request that is not complete yet keeps what was
// parsed of it (the argument count, the arguments found so far, the length
// of the next bulk string), so each byte is looked at about once however
// the request is cut into reads.
//
// buf[start:end] is the input not consumed yet: the Conn's input, which
// the server discards up to start after parsing. The parser's positions
// are relative to start, so the Conn moving that input to the front of
// its buffer (or into a bigger one) keeps them valid.
type parser struct {
	buf        []byte
	start, end int
	maxBulk    int

	// The request in progress, relative to start.
	pos   int    // the next byte to parse
	argc  int    // elements the array announced; 0 while none is begun
	bulk  int    // length of the next bulk string, -1 before its header
	spans []span // the arguments parsed so far

	argv [][]byte // the arguments of the last request, into buf
}

// next parses the next request. With parsedCommand, p.argv holds its
// arguments, valid until the buffer is next written to; with parsedError,
// msg is the text of the error reply.
func (p *parser) next() (st parseStatus, msg string) {
	for {
		data := p.buf[p.start:p.end]
		if p.argc == 0 {
			if len(data) == 0 {
				return parsedNone, ""
			}
			if data[0] != '*' {
				st, msg := p.inline(data)
				if st == parsedCommand && len(p.argv) == 0 {
					continue // an empty line is skipped
				}
				return st, msg
			}
			n, used, st, msg := header(data, 0, "multibulk")
			if st != parsedCommand {
				return st, msg
			}
			if n > maxArgs {
				return parsedError, "Protocol error: invalid multibulk length"
			}
			if n <= 0 { // "*0" and "*-1": nothing to run, as in Redis
				p.consume(used)
				continue
			}
			p.argc, p.pos, p.bulk, p.spans = int(n), used, -1, p.spans[:0]
		}
		for len(p.spans) < p.argc {
			if p.bulk < 0 {
				if p.pos >= len(data) {
					return parsedNone, ""
				}
				if c := data[p.pos]; c != '$' {
					return parsedError, "Protocol error: expected '$', got '" + printable(c) + "'"
				}
				n, used, st, msg := header(data, p.pos, "bulk")
				if st != parsedCommand {
					return st, msg
				}
				if n < 0 || n > int64(p.maxBulk) {
					return parsedError, "Protocol error: invalid bulk length"
				}
				p.pos += used
				p.bulk = int(n)
			}
			if len(data) < p.pos+p.bulk+2 {
				return parsedNone, ""
			}
			if data[p.pos+p.bulk] != '\r' || data[p.pos+p.bulk+1] != '\n' {
				return parsedError, "Protocol error: bulk string not followed by CRLF"
			}
			p.spans = append(p.spans, span{p.pos, p.pos + p.bulk})
			p.pos += p.bulk + 2
			p.bulk = -1
		}
		p.argv = p.argv[:0]
		for _, s := range p.spans {
			p.argv = append(p.argv, data[s.from:s.to:s.to])
		}
		p.consume(p.pos)
		return parsedCommand, ""
	}
}

// consume drops n bytes of input and resets the request in progress.
func (p *parser) consume(n int) {
	p.start += n
	p.pos, p.argc, p.bulk = 0, 0, -1
}

// header parses the "*<n>\r\n" or "$<n>\r\n" line at data[at:] and
// returns n and the line's length. kind names the line in errors.
func header(data []byte, at int, kind string) (n int64, used int, st parseStatus, msg string) {
	line := data[at:min(len(data), at+maxHeader)]
	nl := bytes.IndexByte(line, '\n')
	if nl < 0 {
		if len(line) == maxHeader {
			return 0, 0, parsedError, "Protocol error: invalid " + kind + " length"
		}
		return 0, 0, parsedNone, ""
	}
	if nl < 2 || line[nl-1] != '\r' {
		return 0, 0, parsedError, "Protocol error: invalid " + kind + " length"
	}
	n, ok := parseInt(line[1 : nl-1])
	if !ok {
		return 0, 0, parsedError, "Protocol error: invalid " + kind + " length"
	}
	return n, nl + 1, parsedCommand, ""
}

// inline parses a command line: arguments separated by blanks, each
// possibly in double quotes (with backslash escapes) or single quotes.
// The unquoted arguments are written over the line itself, which is never
// shorter, so argv points into the input buffer like an array request's.
func (p *parser) inline(data []byte) (parseStatus, string) {
	nl := -1
	if p.pos < len(data) {
		if i := bytes.IndexByte(data[p.pos:], '\n'); i >= 0 {
			nl = p.pos + i
		}
	}
	if nl < 0 {
		if len(data) > maxInline {
			return parsedError, "Protocol error: too big inline request"
		}
		p.pos = len(data) // the next search starts where this one ended
		return parsedNone, ""
	}
	if nl > maxInline {
		return parsedError, "Protocol error: too big inline request"
	}
	line := data[:nl]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	argv, ok := splitInline(line, p.argv[:0])
	p.argv = argv
	if !ok {
		return parsedError, "Protocol error: unbalanced quotes in request"
	}
	p.consume(nl + 1)
	return parsedCommand, ""
}

// isBlank reports whether c separates inline arguments.
func isBlank(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'
}

// splitInline splits line into arguments, unquoting them in place, and
// appends them to argv. It reports false for an unterminated quote, or a
// closing quote not followed by a blank or the end of the line.
func splitInline(line []byte, argv [][]byte) ([][]byte, bool) {
	i := 0
	for {
		for i < len(line) && isBlank(line[i]) {
			i++
		}
		if i == len(line) {
			return argv, true
		}
		// w is where the unquoted argument is written: at its own start,
		// never ahead of i, the next byte to read.
		from, w := i, i
		switch line[i] {
		case '"':
			i++
			for {
				if i == len(line) {
					return argv, false
				}
				c := line[i]
				if c == '"' {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) {
					if i+3 < len(line) && line[i+1] == 'x' && isHex(line[i+2]) && isHex(line[i+3]) {
						c = unhex(line[i+2])<<4 | unhex(line[i+3])
						i += 3
					} else {
						i++
						switch c = line[i]; c {
						case 'n':
							c = '\n'
						case 'r':
							c = '\r'
						case 't':
							c = '\t'
						case 'b':
							c = '\b'
						case 'a':
							c = '\a'
						}
					}
				}
				line[w] = c
				w++
				i++
			}
		case '\'':
			i++
			for {
				if i == len(line) {
					return argv, false
				}
				c := line[i]
				if c == '\'' {
					i++
					break
				}
				if c == '\\' && i+1 < len(line) && line[i+1] == '\'' {
					i++
					c = '\''
				}
				line[w] = c
				w++
				i++
			}
		default:
			for i < len(line) && !isBlank(line[i]) {
				line[w] = line[i]
				w++
				i++
			}
			argv = append(argv, line[from:w:w])
			continue
		}
		if i < len(line) && !isBlank(line[i]) {
			return argv, false // a closing quote must end the argument
		}
		argv = append(argv, line[from:w:w])
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// printable returns c for an error message: itself if it is printable
// ASCII, else a \xHH escape.
func printable(c byte) string {
	if c >= ' ' && c < 0x7f {
		return string(rune(c))
	}
	const hex = "0123456789abcdef"
	return string([]byte{'\\', 'x', hex[c>>4], hex[c&15]})
}

// parseInt parses a decimal integer: an optional minus sign and 1 to 19
// digits (or "9223372036854775808" after a minus), nothing else.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var u uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		u = u*10 + uint64(c-'0') // 19 digits cannot overflow a uint64
	}
	switch {
	case neg && u <= 1<<63:
		return -int64(u-1) - 1, true
	case !neg && u < 1<<63:
		return int64(u), true
	}
	return 0, false
}

// parseStrictInt parses the form an integer value is stored in, as INCR
// and the expiry options want it: no leading zeros, no "-0", no sign on
// zero.
func parseStrictInt(b []byte) (int64, bool) {
	digits := b
	if len(digits) > 0 && digits[0] == '-' {
		digits = digits[1:]
		if len(digits) > 0 && digits[0] == '0' {
			return 0, false
		}
	}
	if len(digits) > 1 && digits[0] == '0' {
		return 0, false
	}
	return parseInt(b)
}
