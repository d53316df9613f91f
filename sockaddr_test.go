package mio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// sockAddrShape is what the accessors should say about an address; checking
// all of them on every parsed value catches a kind mix-up that == alone
// would report only as "not equal".
type sockAddrShape struct {
	inet, unix, abstract bool
	path                 string
}

func checkSockAddrShape(t *testing.T, a SockAddr, want sockAddrShape) {
	t.Helper()
	if !a.IsValid() {
		t.Errorf("%v: IsValid() = false", a)
	}
	if a.IsInet() != want.inet || a.IsUnix() != want.unix || a.IsAbstract() != want.abstract {
		t.Errorf("%v: IsInet, IsUnix, IsAbstract = %v, %v, %v; want %v, %v, %v", a,
			a.IsInet(), a.IsUnix(), a.IsAbstract(), want.inet, want.unix, want.abstract)
	}
	if a.Path() != want.path {
		t.Errorf("%v: Path() = %q, want %q", a, a.Path(), want.path)
	}
	if _, ok := a.AddrPort(); ok != want.inet {
		t.Errorf("%v: AddrPort() ok = %v, want %v", a, ok, want.inet)
	}
}

func TestParseSockAddr(t *testing.T) {
	inet := sockAddrShape{inet: true}
	maxPath := "/" + strings.Repeat("p", unixPathMax-1)
	tests := []struct {
		in   string
		want SockAddr
		str  string // String() of the result; "" means the same as in
		kind sockAddrShape
	}{
		{in: "127.0.0.1:80", want: InetAddr(netip.MustParseAddr("127.0.0.1"), 80), kind: inet},
		{in: "0.0.0.0:0", want: InetAddr(netip.IPv4Unspecified(), 0), kind: inet},
		{in: "255.255.255.255:65535", want: InetAddr(netip.MustParseAddr("255.255.255.255"), 65535), kind: inet},
		{in: "127.0.0.1:080", want: InetAddr(netip.MustParseAddr("127.0.0.1"), 80), str: "127.0.0.1:80", kind: inet},
		{in: "[::1]:80", want: InetAddr(netip.IPv6Loopback(), 80), kind: inet},
		{in: "[::]:0", want: InetAddr(netip.IPv6Unspecified(), 0), kind: inet},
		{in: "[2001:DB8::1]:443", want: InetAddr(netip.MustParseAddr("2001:db8::1"), 443), str: "[2001:db8::1]:443", kind: inet},
		{in: "[fe80::1%lo]:80", want: InetAddr(netip.MustParseAddr("fe80::1%lo"), 80), kind: inet},
		{in: "[fe80::1%2]:80", want: InetAddr(netip.MustParseAddr("fe80::1%2"), 80), kind: inet},
		{in: "[::ffff:1.2.3.4]:443", want: InetAddr(netip.MustParseAddr("::ffff:1.2.3.4"), 443), kind: inet},
		{in: "unix:/path/to/sock", want: UnixAddr("/path/to/sock"), kind: sockAddrShape{unix: true, path: "/path/to/sock"}},
		{in: "unix:relative.sock", want: UnixAddr("relative.sock"), kind: sockAddrShape{unix: true, path: "relative.sock"}},
		{in: "unix:./@file", want: UnixAddr("./@file"), kind: sockAddrShape{unix: true, path: "./@file"}},
		{in: "unix:/with space:and%colon", want: UnixAddr("/with space:and%colon"), kind: sockAddrShape{unix: true, path: "/with space:and%colon"}},
		{in: "unix:@name", want: UnixAddr("@name"), kind: sockAddrShape{unix: true, abstract: true, path: "@name"}},
		{in: "unix:" + maxPath, want: UnixAddr(maxPath), kind: sockAddrShape{unix: true, path: maxPath}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSockAddr(tt.in)
			if err != nil {
				t.Fatalf("ParseSockAddr(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSockAddr(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q, want %q", got.String(), str)
			}
			checkSockAddrShape(t, got, tt.kind)
		})
	}
}

func TestParseSockAddrKeepsDetails(t *testing.T) {
	// Equality above could hide a constructor bug that both sides share;
	// check the pieces against netip directly.
	a, err := ParseSockAddr("[fe80::1%eth0]:8080")
	if err != nil {
		t.Fatal(err)
	}
	ap, ok := a.AddrPort()
	if !ok || ap.Port() != 8080 || ap.Addr().Zone() != "eth0" || ap.Addr() != netip.MustParseAddr("fe80::1%eth0") {
		t.Errorf("AddrPort() = %v, %v; want [fe80::1%%eth0]:8080, true", ap, ok)
	}
	m, err := ParseSockAddr("[::ffff:10.0.0.1]:1")
	if err != nil {
		t.Fatal(err)
	}
	if ap, _ := m.AddrPort(); !ap.Addr().Is4In6() {
		t.Errorf("IPv4-mapped address %v was unmapped", ap)
	}
	v4, _ := ParseSockAddr("10.0.0.1:1")
	if v4 == m {
		t.Error("10.0.0.1:1 == [::ffff:10.0.0.1]:1; they are different socket families")
	}
}

func TestParseSockAddrErrors(t *testing.T) {
	tooLong := "/" + strings.Repeat("p", unixPathMax)
	tests := []struct {
		in     string
		reason string // a fragment the message must contain
		is     error  // if set, errors.Is(err, is) must hold
	}{
		{in: "", reason: "want IP:port"},
		{in: "127.0.0.1", reason: "want IP:port"},
		{in: "/path/without/prefix", reason: "want IP:port"},
		{in: "127.0.0.1:", reason: "port"},
		{in: "127.0.0.1:65536", reason: "port"},
		{in: "127.0.0.1:-1", reason: "port"},
		{in: "127.0.0.1:http", reason: "port"},
		{in: ":80", reason: "IP"},
		{in: "256.0.0.1:80", reason: "IPv4"},
		{in: "1.2.3:80", reason: "IPv4"},
		{in: "::1:80", reason: "brackets"},
		{in: "[::1]80", reason: "missing ]"},
		{in: "[127.0.0.1]:80", reason: "brackets"},
		{in: "[fe80::1%]:80", reason: "zone"},
		{in: "[::1:80", reason: "missing ]"},
		{in: "localhost:80", reason: "host names are not resolved"},
		{in: "example.com:443", reason: "host names are not resolved"},
		{in: "[my-host]:80", reason: "host names are not resolved"},
		{in: "tcp://127.0.0.1:80", reason: "host names are not resolved"},
		{in: "UNIX:/tmp/sock", reason: "lower case"},
		{in: "unix:", reason: "empty Unix socket path"},
		{in: "unix:@", reason: "empty abstract socket name"},
		{in: "unix:/tmp/a\x00b", reason: "NUL"},
		{in: "unix:@a\x00b", reason: "NUL"},
		{in: "unix:" + tooLong, reason: "socket path is " + strconv.Itoa(len(tooLong)) + " bytes, longer than the " +
			strconv.Itoa(unixPathMax) + " bytes a path may have", is: syscall.ENAMETOOLONG},
		{in: "unix:@" + strings.Repeat("p", unixAbstractMax+1), reason: "abstract socket name is " +
			strconv.Itoa(unixAbstractMax+1) + " bytes after the '@', longer than the " + strconv.Itoa(unixAbstractMax) +
			" bytes an abstract name may have", is: syscall.ENAMETOOLONG},
		{in: `unix:@a\qb`, reason: "invalid escape"},
		{in: `unix:@a\x0`, reason: "invalid escape"},
		{in: `unix:@a\xg0`, reason: "invalid escape"},
		{in: `unix:@a\`, reason: "invalid escape"},
	}
	for _, tt := range tests {
		t.Run(strconv.Quote(tt.in), func(t *testing.T) {
			got, err := ParseSockAddr(tt.in)
			if err == nil {
				t.Fatalf("ParseSockAddr(%q) = %v, want an error", tt.in, got)
			}
			if got != (SockAddr{}) {
				t.Errorf("ParseSockAddr(%q) returned %#v with its error, want the zero SockAddr", tt.in, got)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "mio: ") || !strings.Contains(msg, strconv.Quote(tt.in)) {
				t.Errorf("error %q does not quote the input %q", msg, tt.in)
			}
			if !strings.Contains(msg, tt.reason) {
				t.Errorf("error %q does not mention %q", msg, tt.reason)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

// Issue 12, item 9: an abstract name may contain NUL bytes. Its text form
// escapes them (and the backslash), and ParseSockAddr reads the escapes
// back; a path, which cannot hold a NUL, is written as it is.
func TestParseSockAddrAbstractEscapes(t *testing.T) {
	tests := []struct {
		in   string
		want SockAddr
		str  string // String() of the result; "" means the same as in
	}{
		{in: `unix:@a\x00b`, want: UnixAddr("@a\x00b")},
		{in: `unix:@\x00`, want: UnixAddr("@\x00")},
		{in: `unix:@a\\b`, want: UnixAddr(`@a\b`)},
		{in: `unix:@a\\x00`, want: UnixAddr(`@a\x00`)},
		{in: `unix:@\x41\x7e`, want: UnixAddr("@A~"), str: "unix:@A~"},
		{in: `unix:@\xFF`, want: UnixAddr("@\xff"), str: "unix:@\xff"},
		{in: `unix:/tmp/a\b`, want: UnixAddr(`/tmp/a\b`)},
		{in: `unix:/tmp/a\x00b`, want: UnixAddr(`/tmp/a\x00b`)},
		{in: `unix:./@a\x00b`, want: UnixAddr(`./@a\x00b`)},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSockAddr(tt.in)
			if err != nil {
				t.Fatalf("ParseSockAddr(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("ParseSockAddr(%q) = %q, want %q", tt.in, got.Path(), tt.want.Path())
			}
			str := tt.str
			if str == "" {
				str = tt.in
			}
			if got.String() != str {
				t.Errorf("String() = %q, want %q", got.String(), str)
			}
			if again, err := ParseSockAddr(got.String()); err != nil || again != got {
				t.Errorf("ParseSockAddr(%q) = %q, %v; want %q", got.String(), again.Path(), err, got.Path())
			}
		})
	}
	// String must never write a NUL byte, which would end the text in any
	// C string and in many logs.
	if s := UnixAddr("@\x00\x00").String(); strings.IndexByte(s, 0) >= 0 {
		t.Errorf("String() = %q holds a NUL byte", s)
	}
}

func TestSockAddrZeroValue(t *testing.T) {
	var a SockAddr
	if a.IsValid() || a.IsInet() || a.IsUnix() || a.IsAbstract() {
		t.Error("zero SockAddr claims a kind")
	}
	if ap, ok := a.AddrPort(); ok || ap.IsValid() {
		t.Errorf("zero SockAddr AddrPort() = %v, %v", ap, ok)
	}
	if a.Path() != "" || a.ToTCPAddr() != nil || a.ToUDPAddr() != nil || a.ToUnixAddr() != nil {
		t.Error("zero SockAddr converts to something")
	}
	if na, err := a.NetAddr("tcp"); err == nil {
		t.Errorf("zero SockAddr NetAddr(\"tcp\") = %v", na)
	}
	if s := a.String(); s != "invalid SockAddr" {
		t.Errorf("String() = %q", s)
	}
	if _, err := ParseSockAddr(a.String()); err == nil {
		t.Error("the invalid SockAddr's String parses")
	}
	if InetAddr(netip.Addr{}, 80) != a {
		t.Error("InetAddr with an invalid IP is not the zero SockAddr")
	}
	if SockAddrFromAddrPort(netip.AddrPort{}) != a {
		t.Error("SockAddrFromAddrPort of the zero AddrPort is not the zero SockAddr")
	}
}

func TestSockAddrUnnamed(t *testing.T) {
	a := UnixAddr("")
	checkSockAddrShape(t, a, sockAddrShape{unix: true})
	if a == (SockAddr{}) {
		t.Error("the unnamed address equals the invalid one")
	}
	if a.String() != "unix:" {
		t.Errorf("String() = %q, want \"unix:\"", a.String())
	}
	// Documented: the unnamed address names nothing one could dial, so its
	// text form is refused rather than read back.
	if _, err := ParseSockAddr(a.String()); err == nil {
		t.Error(`ParseSockAddr("unix:") succeeded`)
	}
}

func TestSockAddrComparable(t *testing.T) {
	seen := map[SockAddr]int{}
	for i, s := range []string{
		"1.2.3.4:80", "1.2.3.4:81", "[::ffff:1.2.3.4]:80", "[fe80::1%eth0]:80",
		"[fe80::1%eth1]:80", "[fe80::1]:80", "unix:/a", "unix:@a", "unix:a",
	} {
		a, err := ParseSockAddr(s)
		if err != nil {
			t.Fatal(err)
		}
		if j, dup := seen[a]; dup {
			t.Errorf("address %d (%s) == address %d", i, s, j)
		}
		seen[a] = i
		b, _ := ParseSockAddr(s)
		if seen[b] != i {
			t.Errorf("a second parse of %s is a different map key", s)
		}
	}
	u1, u2 := UnixAddr("/a"), UnixAddr("/a")
	i1, i2 := InetAddr(netip.MustParseAddr("fe80::1%x"), 1), InetAddr(netip.MustParseAddr("fe80::1%x"), 1)
	if u1 != u2 || i1 != i2 {
		t.Error("equal addresses compare unequal")
	}
}

func TestSockAddrRoundTrip(t *testing.T) {
	addrs := []SockAddr{
		InetAddr(netip.MustParseAddr("192.0.2.1"), 1),
		InetAddr(netip.MustParseAddr("2001:db8::dead:beef"), 65535),
		InetAddr(netip.MustParseAddr("::ffff:192.0.2.1"), 8),
		InetAddr(netip.MustParseAddr("fe80::abcd%en0"), 9),
		InetAddr(netip.MustParseAddr("fe80::abcd%a]b:c"), 9), // netip allows any zone bytes
		SockAddrFromAddrPort(netip.MustParseAddrPort("[::]:7")),
		UnixAddr("/tmp/x.sock"),
		UnixAddr("x"),
		UnixAddr("@abstract name"),
		UnixAddr("unix:nested"),
		UnixAddr("/\xff\xfe not UTF-8"),
		UnixAddr("/tmp/back\\slash\\x00"), // a path keeps its backslashes
		UnixAddr("@a\x00b"),
		UnixAddr("@\x00"),
		UnixAddr("@trailing\x00\x00"),
		UnixAddr(`@back\slash\x00`), // literal backslashes in an abstract name
	}
	for _, a := range addrs {
		b, err := ParseSockAddr(a.String())
		if err != nil {
			t.Errorf("ParseSockAddr(%q): %v", a.String(), err)
			continue
		}
		if b != a {
			t.Errorf("ParseSockAddr(%q) = %#v, want %#v", a.String(), b, a)
		}
		if a.IsUnix() && UnixAddr(a.Path()) != a {
			t.Errorf("UnixAddr(%q.Path()) != itself", a)
		}
		if ap, ok := a.AddrPort(); ok && SockAddrFromAddrPort(ap) != a {
			t.Errorf("SockAddrFromAddrPort(%v.AddrPort()) != itself", a)
		}
	}
}

func TestSockAddrFromNetAddr(t *testing.T) {
	v4 := InetAddr(netip.MustParseAddr("192.0.2.1"), 80)
	zoned := InetAddr(netip.MustParseAddr("fe80::1%eth0"), 443)
	tests := []struct {
		name string
		in   net.Addr
		want SockAddr
	}{
		{"tcp4 in 16 bytes", &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 80}, v4},
		{"tcp4 in 4 bytes", &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1).To4(), Port: 80}, v4},
		{"tcp4 zone dropped", &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: 80, Zone: "eth0"}, v4},
		{"tcp6 zone", &net.TCPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth0"}, zoned},
		{"udp4", &net.UDPAddr{IP: net.ParseIP("192.0.2.1"), Port: 80}, v4},
		{"udp6 zone", &net.UDPAddr{IP: net.ParseIP("fe80::1"), Port: 443, Zone: "eth0"}, zoned},
		{"udp max port", &net.UDPAddr{IP: net.IPv6loopback, Port: 65535}, InetAddr(netip.IPv6Loopback(), 65535)},
		{"ip", &net.IPAddr{IP: net.ParseIP("fe80::1"), Zone: "eth0"}, InetAddr(netip.MustParseAddr("fe80::1%eth0"), 0)},
		{"unix", &net.UnixAddr{Name: "/tmp/s", Net: "unix"}, UnixAddr("/tmp/s")},
		{"unixgram", &net.UnixAddr{Name: "/tmp/s", Net: "unixgram"}, UnixAddr("/tmp/s")},
		{"abstract", &net.UnixAddr{Name: "@abs", Net: "unixpacket"}, UnixAddr("@abs")},
		{"unnamed", &net.UnixAddr{Name: "", Net: "unix"}, UnixAddr("")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SockAddrFromNetAddr(tt.in)
			if err != nil {
				t.Fatalf("SockAddrFromNetAddr(%v): %v", tt.in, err)
			}
			if got != tt.want {
				t.Errorf("SockAddrFromNetAddr(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSockAddrFromNetAddrErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     net.Addr
		reason string
	}{
		{"nil interface", nil, "nil"},
		{"nil TCPAddr", (*net.TCPAddr)(nil), "nil"},
		{"nil UDPAddr", (*net.UDPAddr)(nil), "nil"},
		{"nil IPAddr", (*net.IPAddr)(nil), "nil"},
		{"nil UnixAddr", (*net.UnixAddr)(nil), "nil"},
		{"nil IP", &net.TCPAddr{Port: 80}, "no valid IP"},
		{"5-byte IP", &net.UDPAddr{IP: net.IP{1, 2, 3, 4, 5}, Port: 80}, "no valid IP"},
		{"port too big", &net.TCPAddr{IP: net.IPv4(1, 2, 3, 4), Port: 65536}, "out of range"},
		{"negative port", &net.UDPAddr{IP: net.IPv4(1, 2, 3, 4), Port: -1}, "out of range"},
		{"NUL in path", &net.UnixAddr{Name: "/a\x00b", Net: "unix"}, "NUL"},
		{"path too long", &net.UnixAddr{Name: "/" + strings.Repeat("x", unixPathMax), Net: "unix"}, "longer than"},
		{"empty abstract", &net.UnixAddr{Name: "@", Net: "unix"}, "empty abstract"},
		{"other type", &net.IPNet{IP: net.IPv4(1, 2, 3, 4), Mask: net.CIDRMask(8, 32)}, "unsupported address type *net.IPNet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SockAddrFromNetAddr(tt.in)
			if err == nil {
				t.Fatalf("SockAddrFromNetAddr(%#v) = %v, want an error", tt.in, got)
			}
			if got != (SockAddr{}) {
				t.Errorf("returned %#v with the error", got)
			}
			if !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not mention %q", err, tt.reason)
			}
		})
	}
	_, err := SockAddrFromNetAddr(&net.UnixAddr{Name: "/" + strings.Repeat("x", unixPathMax)})
	if !errors.Is(err, syscall.ENAMETOOLONG) {
		t.Errorf("too long a path: %v does not match ENAMETOOLONG", err)
	}
}

func TestSockAddrToNetAddr(t *testing.T) {
	v4 := InetAddr(netip.MustParseAddr("192.0.2.1"), 80)
	v6 := InetAddr(netip.MustParseAddr("fe80::1%eth0"), 443)
	mapped := InetAddr(netip.MustParseAddr("::ffff:192.0.2.1"), 80)
	path := UnixAddr("/tmp/s")

	if got := v4.ToTCPAddr(); got == nil || !got.IP.Equal(net.IPv4(192, 0, 2, 1)) || got.Port != 80 || got.Zone != "" {
		t.Errorf("ToTCPAddr() = %v", got)
	}
	if got := v6.ToUDPAddr(); got == nil || !got.IP.Equal(net.ParseIP("fe80::1")) || got.Port != 443 || got.Zone != "eth0" {
		t.Errorf("ToUDPAddr() = %v", got)
	}
	if got := path.ToUnixAddr(); got == nil || *got != (net.UnixAddr{Name: "/tmp/s", Net: "unix"}) {
		t.Errorf("ToUnixAddr() = %v", got)
	}
	if path.ToTCPAddr() != nil || path.ToUDPAddr() != nil || v4.ToUnixAddr() != nil {
		t.Error("a To conversion of the wrong kind returned an address")
	}

	// Back again: everything but the IPv4-mapped form, which net.IP cannot
	// express, survives the trip.
	for _, a := range []SockAddr{v4, v6, path, UnixAddr("@abs"), UnixAddr("")} {
		var na net.Addr = a.ToUnixAddr()
		if a.IsInet() {
			na = a.ToTCPAddr()
		}
		b, err := SockAddrFromNetAddr(na)
		if err != nil || b != a {
			t.Errorf("SockAddrFromNetAddr(%v) = %v, %v; want %v", na, b, err, a)
		}
		if a.IsInet() {
			if b, err := SockAddrFromNetAddr(a.ToUDPAddr()); err != nil || b != a {
				t.Errorf("UDP round trip of %v gave %v, %v", a, b, err)
			}
		}
	}
	if b, err := SockAddrFromNetAddr(mapped.ToTCPAddr()); err != nil || b != v4 {
		t.Errorf("IPv4-mapped through net.TCPAddr = %v, %v; want %v", b, err, v4)
	}

	good := []struct {
		a       SockAddr
		network string
		want    string // %T:String()
	}{
		{v4, "tcp", "*net.TCPAddr:192.0.2.1:80"},
		{v4, "tcp4", "*net.TCPAddr:192.0.2.1:80"},
		{mapped, "tcp4", "*net.TCPAddr:192.0.2.1:80"},
		{mapped, "tcp6", "*net.TCPAddr:192.0.2.1:80"},
		{v6, "tcp6", "*net.TCPAddr:[fe80::1%eth0]:443"},
		{v4, "udp", "*net.UDPAddr:192.0.2.1:80"},
		{v4, "udp4", "*net.UDPAddr:192.0.2.1:80"},
		{v6, "udp6", "*net.UDPAddr:[fe80::1%eth0]:443"},
		{v4, "ip4", "*net.IPAddr:192.0.2.1"},
		{v6, "ip", "*net.IPAddr:fe80::1%eth0"},
		{v6, "ip6", "*net.IPAddr:fe80::1%eth0"},
		{path, "unix", "*net.UnixAddr:/tmp/s"},
		{path, "unixgram", "*net.UnixAddr:/tmp/s"},
		{UnixAddr("@abs"), "unixpacket", "*net.UnixAddr:@abs"},
	}
	for _, tt := range good {
		na, err := tt.a.NetAddr(tt.network)
		if err != nil {
			t.Errorf("%v.NetAddr(%q): %v", tt.a, tt.network, err)
			continue
		}
		if got := fmt.Sprintf("%T:%s", na, na); got != tt.want {
			t.Errorf("%v.NetAddr(%q) = %s, want %s", tt.a, tt.network, got, tt.want)
		}
		if na.Network() != tt.network && !tt.a.IsInet() {
			t.Errorf("%v.NetAddr(%q).Network() = %q", tt.a, tt.network, na.Network())
		}
		if back, err := SockAddrFromNetAddr(na); err != nil || !sameHost(back, tt.a) {
			t.Errorf("SockAddrFromNetAddr(%v.NetAddr(%q)) = %v, %v", tt.a, tt.network, back, err)
		}
	}

	bad := []struct {
		a       SockAddr
		network string
	}{
		{v4, "tcp6"}, {v4, "udp6"}, {v4, "ip6"}, {v6, "tcp4"}, {v6, "udp4"}, {v6, "ip4"},
		{v4, "unix"}, {path, "tcp"}, {path, "udp"}, {path, "ip"}, {v4, "sctp"}, {path, ""},
		{SockAddr{}, "unix"},
	}
	for _, tt := range bad {
		if na, err := tt.a.NetAddr(tt.network); err == nil {
			t.Errorf("%v.NetAddr(%q) = %v, want an error", tt.a, tt.network, na)
		}
	}
}

// sameHost compares what survives a net conversion: the port is lost for
// "ip" networks and IPv4-mapped addresses come back unmapped.
func sameHost(a, b SockAddr) bool {
	apA, okA := a.AddrPort()
	apB, okB := b.AddrPort()
	if !okA || !okB {
		return a == b
	}
	return apA.Addr().Unmap() == apB.Addr().Unmap()
}

func FuzzParseSockAddr(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1:80", "0.0.0.0:0", "[::1]:80", "[fe80::1%lo]:80", "[fe80::1%2]:65535",
		"[::ffff:1.2.3.4]:443", "127.0.0.1:080", "unix:/path/to/sock", "unix:@name",
		"unix:rel", "unix:./@f", "unix:", "unix:@", "unix:/a\x00b", "", "127.0.0.1",
		"127.0.0.1:65536", "localhost:80", "[::1:80", "::1:80", "[fe80::1%]:80",
		"unix:" + strings.Repeat("a", unixPathMax+1), "invalid SockAddr", "[1::%a]b]:1",
		`unix:@a\x00b`, `unix:@a\\b`, `unix:@\x41\xff`, `unix:/a\b`, `unix:@a\q`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := ParseSockAddr(s)
		if err != nil {
			if a != (SockAddr{}) {
				t.Fatalf("ParseSockAddr(%q) returned %#v with error %v", s, a, err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(s)) {
				t.Fatalf("error %q does not quote the input", err)
			}
			return
		}
		if !a.IsValid() || a.IsInet() == a.IsUnix() {
			t.Fatalf("ParseSockAddr(%q) = %#v: not exactly one kind", s, a)
		}
		str := a.String()
		b, err := ParseSockAddr(str)
		if err != nil {
			t.Fatalf("ParseSockAddr(%q) = %v, whose String %q does not parse: %v", s, a, str, err)
		}
		if b != a {
			t.Fatalf("ParseSockAddr(%q) = %#v, but its String %q parses as %#v", s, a, str, b)
		}
		if b.String() != str {
			t.Fatalf("String not stable: %q then %q", str, b.String())
		}
		if a.IsUnix() && (UnixAddr(a.Path()) != a || a.Path() == "" || !a.IsAbstract() && s != unixPrefix+a.Path()) {
			t.Fatalf("Unix address %#v from %q does not rebuild from its path", a, s)
		}
		if ap, ok := a.AddrPort(); ok && SockAddrFromAddrPort(ap) != a {
			t.Fatalf("IP address %#v does not rebuild from its AddrPort", a)
		}
	})
}
