package mio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
)

// SockAddr is a socket address: an IPv4 or IPv6 address with a port (and,
// for IPv6, an optional zone), a Unix socket path, or a Linux abstract
// socket name. It is a small comparable value, so it can be a map key and
// two addresses can be compared with ==; the zero value is invalid. An IPv4
// address and its IPv4-mapped IPv6 form are different SockAddrs, because
// the kernel gives them different families.
//
// A SockAddr is built by InetAddr, SockAddrFromAddrPort, UnixAddr,
// ParseSockAddr or SockAddrFromNetAddr. Its text form, produced by String and
// read by ParseSockAddr, is "1.2.3.4:80", "[::1]:80", "[fe80::1%eth0]:80",
// "unix:/path/to/sock" or "unix:@name".
//
// An abstract name is a string of bytes, not a C string: it may contain NUL
// bytes, and "@a" and "@a\x00b" name different sockets. A SockAddr holds the
// whole name (Path returns it raw), and its text form escapes it: after
// "unix:@", a NUL byte is written \x00 and a backslash \\, so the text holds
// no NUL byte and every backslash in it starts an escape. A path is written
// as it is, backslashes included: it cannot contain a NUL byte, so it needs
// no escapes.
type SockAddr struct {
	// ap is used only when kind is kindInet. netip.AddrPort is itself
	// comparable and keeps the zone interned, so == on SockAddr means the
	// same address without any custom Equal method.
	ap netip.AddrPort
	// path is used only when kind is kindUnix. It is kept exactly as the
	// kernel's x/sys layer spells it ("@name" for an abstract name), so the
	// conversion to a kernel address is a field copy, not a rebuild.
	path string
	kind sockAddrKind
}

// sockAddrKind tells which of SockAddr's fields is meaningful. Zero means
// invalid so that the zero SockAddr is invalid without extra work.
type sockAddrKind uint8

const (
	kindInvalid sockAddrKind = iota
	kindInet
	kindUnix
)

// unixPrefix marks a Unix socket address in the text form. An IP address
// never starts with a letter followed by a colon, so the prefix keeps the
// two syntaxes apart without guessing.
const unixPrefix = "unix:"

// unixPathMax is the longest Unix socket path, in bytes, that can reach the
// kernel intact: sockaddr_un's path field less the terminating NUL that a
// path needs. sockaddr_unix.go sets it from x/sys's RawSockaddrUnix at init.
// The value here is the Linux and Windows size, for systems with no Unix
// socket code.
var unixPathMax = 108 - 1

// unixAbstractMax is the longest abstract name, in bytes after the '@'. The
// name needs no terminator but takes the path field's first byte for the
// NUL that marks it abstract, so on Linux it is 107 too, one byte longer
// than the "@name" string itself may be as a path. Set with unixPathMax.
var unixAbstractMax = 108 - 1

// InetAddr returns the IP socket address ip:port. An IPv4 address gives an
// AF_INET address and an IPv6 address (including an IPv4-mapped one, which is
// kept as given) an AF_INET6 address with ip's zone. An invalid ip gives the
// invalid zero SockAddr, so a missing address cannot pass for 0.0.0.0.
func InetAddr(ip netip.Addr, port uint16) SockAddr {
	if !ip.IsValid() {
		return SockAddr{}
	}
	return SockAddr{ap: netip.AddrPortFrom(ip, port), kind: kindInet}
}

// SockAddrFromAddrPort returns the IP socket address ap, as InetAddr does
// with ap's address and port.
func SockAddrFromAddrPort(ap netip.AddrPort) SockAddr {
	return InetAddr(ap.Addr(), ap.Port())
}

// UnixAddr returns the Unix socket address for path. A path beginning with
// "@" names a Linux abstract socket, the convention of ss(8) and Go's net
// package; a file whose name begins with "@" can be written "./@name". The
// empty path is the unnamed address that the kernel reports for an unbound
// socket (binding to it on Linux asks for an automatic abstract name).
//
// An abstract name may contain NUL bytes, which are part of it: the name is
// every byte after the '@'. A path may not.
//
// UnixAddr does not fail, so that it can be used in expressions; a path the
// kernel cannot take (too long, a path containing a NUL byte, or an abstract
// name on a system without them) is reported when the address is used, and
// by ParseSockAddr when it is read from text.
func UnixAddr(path string) SockAddr {
	return SockAddr{path: path, kind: kindUnix}
}

// ParseSockAddr parses the text form of a socket address:
//
//	127.0.0.1:80          IPv4
//	[::1]:80              IPv6
//	[fe80::1%lo]:80       IPv6 with a zone (interface name or index)
//	unix:/path/to/sock    Unix socket path (relative paths are allowed)
//	unix:@name            Linux abstract socket name
//	unix:@name\x00x       abstract name with a NUL byte in it
//
// In an abstract name, and only there, a backslash starts an escape: \\ is
// a backslash and \xHH the byte with hex value HH (String writes only
// \x00 and \\). A path is taken as written, backslashes included.
//
// Host names are not resolved: resolving needs the network and can block,
// which an event loop must not do behind the caller's back. Anything else
// is an error that quotes the input: an empty Unix path, a NUL byte in the
// text, an unknown escape, and a path or name longer than the kernel takes,
// which matches errors.Is(err, syscall.ENAMETOOLONG): on Linux 107 bytes
// for a path (it needs a terminating NUL) and 107 name bytes after the '@'
// for an abstract name (it needs none), on the BSDs 103 for a path. For
// every address it returns,
// ParseSockAddr(a.String()) gives a back.
func ParseSockAddr(s string) (SockAddr, error) {
	if path, ok := strings.CutPrefix(s, unixPrefix); ok {
		a, err := parseUnix(path)
		if err != nil {
			return SockAddr{}, parseError(s, err)
		}
		return a, nil
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return SockAddr{}, parseError(s, inetParseReason(s, err))
	}
	return SockAddrFromAddrPort(ap), nil
}

// parseUnix reads the part of a Unix address's text form after "unix:".
// A raw NUL byte is refused also in an abstract name: String never writes
// one, so it is more likely a C string's end than part of the name.
func parseUnix(path string) (SockAddr, error) {
	if path == "" {
		return SockAddr{}, errors.New("empty Unix socket path")
	}
	if strings.IndexByte(path, 0) >= 0 {
		return SockAddr{}, errors.New(`the text contains a NUL byte (in an abstract name write it \x00; a path cannot hold one)`)
	}
	if name, ok := strings.CutPrefix(path, "@"); ok {
		raw, err := unescapeAbstract(name)
		if err != nil {
			return SockAddr{}, err
		}
		path = "@" + raw
	}
	if err := checkUnixPath(path); err != nil {
		return SockAddr{}, err
	}
	return UnixAddr(path), nil
}

// abstractEscaper writes an abstract name so that the text form holds no
// NUL byte and reads back unambiguously: with the backslash escaped too,
// every backslash in the text starts an escape.
var abstractEscaper = strings.NewReplacer(`\`, `\\`, "\x00", `\x00`)

// unescapeAbstract undoes abstractEscaper, and also reads \xHH for any
// byte. Any other backslash is an error rather than a literal backslash:
// guessing would let a typo name a different socket.
func unescapeAbstract(name string) (string, error) {
	if strings.IndexByte(name, '\\') < 0 {
		return name, nil
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		if name[i] != '\\' {
			b.WriteByte(name[i])
			continue
		}
		c, n, err := unescapeOne(name[i:])
		if err != nil {
			return "", err
		}
		b.WriteByte(c)
		i += n - 1
	}
	return b.String(), nil
}

// unescapeOne reads the escape at the start of s (s[0] is a backslash) and
// returns its byte and its length in s.
func unescapeOne(s string) (byte, int, error) {
	if len(s) >= 2 && s[1] == '\\' {
		return '\\', 2, nil
	}
	if len(s) >= 4 && s[1] == 'x' {
		if v, err := strconv.ParseUint(s[2:4], 16, 8); err == nil {
			return byte(v), 4, nil
		}
	}
	return 0, 0, fmt.Errorf(`invalid escape %q in an abstract socket name: write a backslash as \\ and a byte as \xHH`, s[:min(len(s), 4)])
}

// parseError quotes the whole input, because the reason alone often names
// only a fragment of it and the caller may not know which string failed.
func parseError(s string, reason error) error {
	return fmt.Errorf("mio: parse socket address %q: %w", s, reason)
}

// inetParseReason turns netip's complaint into one that says what was
// expected: the common mistakes (no port, a host name) deserve a better
// message than an "unexpected character" deep inside the input.
func inetParseReason(s string, err error) error {
	if len(s) >= len(unixPrefix) && strings.EqualFold(s[:len(unixPrefix)], unixPrefix) {
		return fmt.Errorf("the prefix is %q, in lower case", unixPrefix)
	}
	i := strings.LastIndexByte(s, ':')
	if s == "" || i < 0 {
		return errors.New("want IP:port, [IPv6]:port, unix:/path or unix:@name")
	}
	host := s[:i]
	if len(host) >= 2 && host[0] == '[' && host[len(host)-1] == ']' {
		host = host[1 : len(host)-1]
	}
	if _, herr := netip.ParseAddr(host); herr != nil && looksLikeHostname(host) {
		return fmt.Errorf("%q is not an IP address (host names are not resolved)", host)
	}
	return err
}

// looksLikeHostname reports whether host has a character no IP literal can
// hold before its zone, which is what tells "localhost" apart from a mistyped
// address such as "::g" that the netip message explains better. Hex letters
// alone prove nothing ("cafe" may be a truncated IPv6 address).
func looksLikeHostname(host string) bool {
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	for i := 0; i < len(host); i++ {
		c := host[i] | 0x20 // lower case for letters; digits and '.' unchanged
		if c >= 'g' && c <= 'z' || host[i] == '-' {
			return true
		}
	}
	return false
}

// checkUnixPath reports why path cannot be given to the kernel on this
// system, or nil. The empty path (the unnamed address) is the caller's
// business: it is legal to hold but not to write down. Whether this system
// has abstract names at all is sockaddr's business, so that the text form
// reads the same everywhere.
func checkUnixPath(path string) error {
	if name, ok := strings.CutPrefix(path, "@"); ok {
		return checkAbstractName(name)
	}
	if strings.IndexByte(path, 0) >= 0 {
		// The kernel would end the path at the NUL: another file.
		return errors.New("socket path contains a NUL byte (only an abstract name may)")
	}
	if len(path) > unixPathMax {
		// Truncating would silently name a different socket.
		return fmt.Errorf("socket path is %d bytes, longer than the %d bytes a path may have on this system: %w",
			len(path), unixPathMax, syscall.ENAMETOOLONG)
	}
	return nil
}

// checkAbstractName checks an abstract name without its '@'. Any bytes,
// NUL included, are part of the name; only the length is limited.
func checkAbstractName(name string) error {
	if name == "" {
		return errors.New("empty abstract socket name")
	}
	if len(name) > unixAbstractMax {
		return fmt.Errorf("abstract socket name is %d bytes after the '@', longer than the %d bytes an abstract name may have: %w",
			len(name), unixAbstractMax, syscall.ENAMETOOLONG)
	}
	return nil
}

// IsValid reports whether a is an address at all; the zero SockAddr is not.
func (a SockAddr) IsValid() bool { return a.kind != kindInvalid }

// IsInet reports whether a is an IPv4 or IPv6 socket address.
func (a SockAddr) IsInet() bool { return a.kind == kindInet }

// IsUnix reports whether a is a Unix socket address, including an abstract
// name and the unnamed address.
func (a SockAddr) IsUnix() bool { return a.kind == kindUnix }

// IsAbstract reports whether a is a Linux abstract socket name, that is a
// Unix socket address whose path begins with "@".
func (a SockAddr) IsAbstract() bool {
	return a.kind == kindUnix && strings.HasPrefix(a.path, "@")
}

// AddrPort returns a's IP address and port, and whether a is an IP socket
// address at all (a zero AddrPort alone would be ambiguous with [::]:0).
func (a SockAddr) AddrPort() (netip.AddrPort, bool) {
	if a.kind != kindInet {
		return netip.AddrPort{}, false
	}
	return a.ap, true
}

// Path returns a Unix socket address's path, "@name" for an abstract name
// (raw, with any NUL bytes in it, unlike String), so that
// UnixAddr(a.Path()) == a. It is empty for the unnamed address and
// for every address that is not a Unix one.
func (a SockAddr) Path() string {
	if a.kind != kindUnix {
		return ""
	}
	return a.path
}

// String returns the text form that ParseSockAddr reads back to the same
// value, with an abstract name's NUL bytes and backslashes escaped (see
// SockAddr). Two forms do not parse, deliberately: "unix:" for the unnamed
// address, which names no socket one could connect to, and "invalid
// SockAddr" for the zero value. A Unix path that ParseSockAddr would reject
// (a NUL byte, too long) is still written out unchanged for diagnostics.
func (a SockAddr) String() string {
	switch a.kind {
	case kindInet:
		return a.ap.String()
	case kindUnix:
		if name, ok := strings.CutPrefix(a.path, "@"); ok {
			return unixPrefix + "@" + abstractEscaper.Replace(name)
		}
		return unixPrefix + a.path
	}
	return "invalid SockAddr"
}

// SockAddrFromNetAddr converts a net package address. *net.TCPAddr and
// *net.UDPAddr give IP socket addresses and *net.IPAddr one with port 0 (raw
// IP sockets have no ports); *net.UnixAddr gives a Unix socket address, its
// network ("unix", "unixgram", "unixpacket") being the socket's business,
// not the address's. An IPv4 address that net holds in 16-byte form becomes
// plain IPv4, since net.IP cannot tell it from an IPv4-mapped IPv6 address
// and means IPv4 by it. A nil IP is an error rather than a guess between
// 0.0.0.0 and [::].
func SockAddrFromNetAddr(addr net.Addr) (SockAddr, error) {
	switch addr := addr.(type) {
	case *net.TCPAddr:
		if addr != nil {
			return inetFromNet(addr.IP, addr.Zone, addr.Port, addr)
		}
	case *net.UDPAddr:
		if addr != nil {
			return inetFromNet(addr.IP, addr.Zone, addr.Port, addr)
		}
	case *net.IPAddr:
		if addr != nil {
			return inetFromNet(addr.IP, addr.Zone, 0, addr)
		}
	case *net.UnixAddr:
		if addr != nil {
			if addr.Name != "" {
				if err := checkUnixPath(addr.Name); err != nil {
					return SockAddr{}, fmt.Errorf("mio: invalid socket address %q: %w", addr.Name, err)
				}
			}
			return UnixAddr(addr.Name), nil
		}
	case nil:
		return SockAddr{}, errors.New("mio: nil net.Addr")
	default:
		// Not addr.String(): an unknown type may be a nil pointer whose
		// String panics.
		return SockAddr{}, fmt.Errorf("mio: unsupported address type %T", addr)
	}
	return SockAddr{}, fmt.Errorf("mio: nil %T", addr)
}

// inetFromNet does the shared part of the TCP, UDP and IP conversions; addr
// is only for the error message.
func inetFromNet(ip net.IP, zone string, port int, addr net.Addr) (SockAddr, error) {
	nip, ok := netip.AddrFromSlice(ip)
	if !ok {
		return SockAddr{}, fmt.Errorf("mio: %T %q has no valid IP address", addr, addr.String())
	}
	if port < 0 || port > 0xffff {
		return SockAddr{}, fmt.Errorf("mio: %T %q has port %d out of range", addr, addr.String(), port)
	}
	// Unmap first: WithZone drops a zone from an IPv4 address, which is
	// right, as IPv4 has no zones.
	return InetAddr(nip.Unmap().WithZone(zone), uint16(port)), nil
}

// ToTCPAddr returns a as a *net.TCPAddr, or nil if a is not an IP socket
// address. An IPv4-mapped address comes out as net's 16-byte form, which net
// treats as IPv4.
func (a SockAddr) ToTCPAddr() *net.TCPAddr {
	if a.kind != kindInet {
		return nil
	}
	return net.TCPAddrFromAddrPort(a.ap)
}

// ToUDPAddr returns a as a *net.UDPAddr, or nil if a is not an IP socket
// address.
func (a SockAddr) ToUDPAddr() *net.UDPAddr {
	if a.kind != kindInet {
		return nil
	}
	return net.UDPAddrFromAddrPort(a.ap)
}

// ToUnixAddr returns a as a *net.UnixAddr of network "unix" (stream), or nil
// if a is not a Unix socket address. NetAddr gives the other Unix networks.
func (a SockAddr) ToUnixAddr() *net.UnixAddr {
	if a.kind != kindUnix {
		return nil
	}
	return &net.UnixAddr{Name: a.path, Net: "unix"}
}

// NetAddr returns a as the net package address for network, as net.Dial
// would name it: "tcp", "tcp4" and "tcp6" give *net.TCPAddr, the "udp"
// networks *net.UDPAddr, the "ip" networks *net.IPAddr (the port is
// dropped), and "unix", "unixgram" and "unixpacket" *net.UnixAddr. A network
// that does not match a's kind, or a 4/6 suffix that does not match its IP
// version, is an error rather than a silently different address.
func (a SockAddr) NetAddr(network string) (net.Addr, error) {
	switch network {
	case "tcp", "tcp4", "tcp6", "udp", "udp4", "udp6", "ip", "ip4", "ip6":
		if a.kind != kindInet {
			break
		}
		ip := a.ap.Addr()
		switch network[len(network)-1] {
		case '4':
			if !ip.Unmap().Is4() {
				return nil, fmt.Errorf("mio: %s is not an IPv4 address for network %q", a, network)
			}
		case '6':
			if !ip.Is6() {
				return nil, fmt.Errorf("mio: %s is not an IPv6 address for network %q", a, network)
			}
		}
		switch network[:2] {
		case "tc":
			return a.ToTCPAddr(), nil
		case "ud":
			return a.ToUDPAddr(), nil
		}
		return &net.IPAddr{IP: net.IP(ip.AsSlice()), Zone: ip.Zone()}, nil
	case "unix", "unixgram", "unixpacket":
		if a.kind != kindUnix {
			break
		}
		return &net.UnixAddr{Name: a.path, Net: network}, nil
	default:
		return nil, fmt.Errorf("mio: unknown network %q", network)
	}
	return nil, fmt.Errorf("mio: address %s does not belong to network %q", a, network)
}
