//go:build unix

package mio

import (
	"errors"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// loopbackInterface is the interface the zone tests name: "lo" on Linux, as
// the issue asks, and whatever the loopback is called elsewhere ("lo0").
func loopbackInterface(t *testing.T) *net.Interface {
	t.Helper()
	if abstractUnixNames {
		ifi, err := net.InterfaceByName("lo")
		if err != nil {
			t.Fatalf("no lo interface: %v", err)
		}
		return ifi
	}
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for i := range ifs {
		if ifs[i].Flags&net.FlagLoopback != 0 {
			return &ifs[i]
		}
	}
	t.Skip("no loopback interface")
	return nil
}

func TestSockAddrUnixPathMax(t *testing.T) {
	// The limit must be the kernel struct's, less the NUL x/sys insists on;
	// a hard-coded 107 would truncate nothing on Linux but reject too little
	// on the BSDs.
	if want := len(unix.RawSockaddrUnix{}.Path) - 1; unixPathMax != want {
		t.Errorf("unixPathMax = %d, want %d", unixPathMax, want)
	}
}

// Issue 12, item 10: an abstract name needs no terminator, so it may have
// as many name bytes after the '@' as sockaddr_un's path field less the
// leading NUL that marks it abstract: 107 on Linux, as Go's net allows.
// One more is refused, with a message that names the limit and the kind of
// name, as ENAMETOOLONG.
func TestParseSockAddrAbstractLimit(t *testing.T) {
	max := len(unix.RawSockaddrUnix{}.Path) - 1
	name := "@" + strings.Repeat("n", max)
	a, err := ParseSockAddr(unixPrefix + name)
	if err != nil || a != UnixAddr(name) {
		t.Fatalf("ParseSockAddr of a %d-byte abstract name = %v, %v; want it accepted", max, a, err)
	}
	if abstractUnixNames {
		if _, err := a.sockaddr(); err != nil {
			t.Fatalf("%d-byte abstract name: sockaddr(): %v", max, err)
		}
	}
	_, err = ParseSockAddr(unixPrefix + name + "n")
	want := "abstract socket name is " + strconv.Itoa(max+1) + " bytes after the '@', longer than the " +
		strconv.Itoa(max) + " bytes an abstract name may have"
	if !errors.Is(err, syscall.ENAMETOOLONG) || err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ParseSockAddr of a %d-byte abstract name: %v; want ENAMETOOLONG saying %q", max+1, err, want)
	}
	// A path still needs its NUL: one byte fewer than the field.
	path := "/" + strings.Repeat("p", max)
	_, err = ParseSockAddr(unixPrefix + path)
	want = "socket path is " + strconv.Itoa(max+1) + " bytes, longer than the " + strconv.Itoa(max) + " bytes a path may have"
	if !errors.Is(err, syscall.ENAMETOOLONG) || err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("ParseSockAddr of a %d-byte path: %v; want ENAMETOOLONG saying %q", max+1, err, want)
	}
}

func TestSockAddrToKernel(t *testing.T) {
	lo := loopbackInterface(t)
	loZone := strconv.Itoa(lo.Index)
	type conv struct {
		name string
		in   SockAddr
		want unix.Sockaddr
		back SockAddr // what sockAddrFromUnix(want) must give; zero means in
	}
	tests := []conv{
		{
			name: "IPv4",
			in:   InetAddr(netip.MustParseAddr("127.0.0.1"), 8080),
			want: &unix.SockaddrInet4{Port: 8080, Addr: [4]byte{127, 0, 0, 1}},
		},
		{
			name: "IPv6",
			in:   InetAddr(netip.MustParseAddr("2001:db8::1"), 65535),
			want: &unix.SockaddrInet6{Port: 65535, Addr: netip.MustParseAddr("2001:db8::1").As16()},
		},
		{
			name: "IPv4-mapped stays IPv6",
			in:   InetAddr(netip.MustParseAddr("::ffff:127.0.0.1"), 1),
			want: &unix.SockaddrInet6{Port: 1, Addr: netip.MustParseAddr("::ffff:127.0.0.1").As16()},
		},
		{
			name: "IPv6 zone by name",
			in:   InetAddr(netip.MustParseAddr("fe80::1%"+lo.Name), 80),
			want: &unix.SockaddrInet6{Port: 80, Addr: netip.MustParseAddr("fe80::1").As16(), ZoneId: uint32(lo.Index)},
			back: InetAddr(netip.MustParseAddr("fe80::1%"+loZone), 80),
		},
		{
			name: "IPv6 zone by index",
			in:   InetAddr(netip.MustParseAddr("fe80::1%7"), 80),
			want: &unix.SockaddrInet6{Port: 80, Addr: netip.MustParseAddr("fe80::1").As16(), ZoneId: 7},
		},
		{
			name: "path",
			in:   UnixAddr("/tmp/mio.sock"),
			want: &unix.SockaddrUnix{Name: "/tmp/mio.sock"},
		},
		{
			name: "longest path",
			in:   UnixAddr(strings.Repeat("p", unixPathMax)),
			want: &unix.SockaddrUnix{Name: strings.Repeat("p", unixPathMax)},
		},
	}
	if abstractUnixNames {
		tests = append(tests,
			conv{name: "abstract", in: UnixAddr("@mio"), want: &unix.SockaddrUnix{Name: "@mio"}},
			conv{name: "unnamed", in: UnixAddr(""), want: &unix.SockaddrUnix{}},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa, err := tt.in.sockaddr()
			if err != nil {
				t.Fatalf("%v.sockaddr(): %v", tt.in, err)
			}
			if !reflect.DeepEqual(sa, tt.want) {
				t.Fatalf("%v.sockaddr() = %#v, want %#v", tt.in, sa, tt.want)
			}
			back := tt.back
			if back == (SockAddr{}) {
				back = tt.in
			}
			got := sockAddrFromUnix(sa)
			if got != back {
				t.Fatalf("sockAddrFromUnix(%#v) = %v, want %v", sa, got, back)
			}
			// The way back may change the spelling (a zone name becomes its
			// index) but never the kernel address.
			again, err := got.sockaddr()
			if err != nil || !reflect.DeepEqual(again, tt.want) {
				t.Errorf("%v.sockaddr() = %#v, %v; want %#v", got, again, err, tt.want)
			}
		})
	}
}

func TestSockAddrToKernelErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     SockAddr
		reason string
		is     error
	}{
		{name: "zero", in: SockAddr{}, reason: "invalid SockAddr"},
		{name: "unknown zone", in: InetAddr(netip.MustParseAddr("fe80::1%mio-no-such-if"), 80), reason: `unknown IPv6 zone "mio-no-such-if"`},
		{name: "zone index too big", in: InetAddr(netip.MustParseAddr("fe80::1%4294967296"), 80), reason: "unknown IPv6 zone"},
		{name: "NUL", in: UnixAddr("/a\x00b"), reason: "NUL"},
		{name: "too long", in: UnixAddr(strings.Repeat("p", unixPathMax+1)), reason: "longer than", is: syscall.ENAMETOOLONG},
		{name: "too long abstract", in: UnixAddr("@" + strings.Repeat("p", unixAbstractMax+1)), reason: "abstract socket name is", is: syscall.ENAMETOOLONG},
		{name: "NUL in path", in: UnixAddr("/a\x00b"), reason: "only an abstract name may"},
		{name: "empty abstract", in: UnixAddr("@"), reason: "empty abstract"},
	}
	if !abstractUnixNames {
		tests = append(tests,
			struct {
				name   string
				in     SockAddr
				reason string
				is     error
			}{name: "abstract", in: UnixAddr("@mio"), reason: "only on Linux", is: errors.ErrUnsupported},
			struct {
				name   string
				in     SockAddr
				reason string
				is     error
			}{name: "unnamed", in: UnixAddr(""), reason: "unnamed", is: errors.ErrUnsupported},
		)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sa, err := tt.in.sockaddr()
			if err == nil {
				t.Fatalf("%v.sockaddr() = %#v, want an error", tt.in, sa)
			}
			if sa != nil {
				t.Errorf("returned %#v with the error", sa)
			}
			if !strings.HasPrefix(err.Error(), "mio: ") || !strings.Contains(err.Error(), tt.reason) {
				t.Errorf("error %q does not mention %q", err, tt.reason)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("errors.Is(%v, %v) = false", err, tt.is)
			}
		})
	}
}

func TestSockAddrFromKernel(t *testing.T) {
	tests := []struct {
		name string
		in   unix.Sockaddr
		want SockAddr
	}{
		{"IPv4", &unix.SockaddrInet4{Port: 443, Addr: [4]byte{10, 1, 2, 3}}, InetAddr(netip.MustParseAddr("10.1.2.3"), 443)},
		{"IPv6 zone index", &unix.SockaddrInet6{Port: 1, Addr: netip.MustParseAddr("fe80::2").As16(), ZoneId: 42}, InetAddr(netip.MustParseAddr("fe80::2%42"), 1)},
		{"IPv6 no zone", &unix.SockaddrInet6{Port: 2, Addr: netip.IPv6Loopback().As16()}, InetAddr(netip.IPv6Loopback(), 2)},
		{"IPv4-mapped", &unix.SockaddrInet6{Port: 3, Addr: netip.MustParseAddr("::ffff:10.1.2.3").As16()}, InetAddr(netip.MustParseAddr("::ffff:10.1.2.3"), 3)},
		{"path", &unix.SockaddrUnix{Name: "/run/x.sock"}, UnixAddr("/run/x.sock")},
		{"unnamed", &unix.SockaddrUnix{}, UnixAddr("")},
		{"nil interface", nil, SockAddr{}},
		{"nil Inet4", (*unix.SockaddrInet4)(nil), SockAddr{}},
		{"nil Inet6", (*unix.SockaddrInet6)(nil), SockAddr{}},
		{"nil Unix", (*unix.SockaddrUnix)(nil), SockAddr{}},
	}
	if abstractUnixNames {
		tests = append(tests, []struct {
			name string
			in   unix.Sockaddr
			want SockAddr
		}{
			{"abstract", &unix.SockaddrUnix{Name: "@abc"}, UnixAddr("@abc")},
			// x/sys reads an unbound socket's all-zero path as "@".
			{"unnamed as x/sys reports it", &unix.SockaddrUnix{Name: "@"}, UnixAddr("")},
		}...)
	} else {
		tests = append(tests, struct {
			name string
			in   unix.Sockaddr
			want SockAddr
		}{"file named @abc", &unix.SockaddrUnix{Name: "@abc"}, UnixAddr("./@abc")})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sockAddrFromUnix(tt.in); got != tt.want {
				t.Errorf("sockAddrFromUnix(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSockAddrFromKernelAllocs(t *testing.T) {
	// sockAddrFromUnix is on the accept and receive path.
	v4 := &unix.SockaddrInet4{Port: 443, Addr: [4]byte{10, 1, 2, 3}}
	v6 := &unix.SockaddrInet6{Port: 1, Addr: netip.IPv6Loopback().As16()}
	un := &unix.SockaddrUnix{Name: "/run/x.sock"}
	var sink SockAddr
	n := testing.AllocsPerRun(100, func() {
		sink = sockAddrFromUnix(v4)
		sink = sockAddrFromUnix(v6)
		sink = sockAddrFromUnix(un)
	})
	if n != 0 {
		t.Errorf("sockAddrFromUnix allocates %v times per call set", n)
	}
	_ = sink
}

// boundName binds a fresh socket of the given family and type to a and
// returns what the kernel says it is bound to, both as the raw x/sys value
// and converted back. It skips the test when the system lacks the family.
func boundName(t *testing.T, family, typ int, a SockAddr) (unix.Sockaddr, SockAddr) {
	t.Helper()
	// No SOCK_CLOEXEC, which darwin lacks; the race it closes (a fork
	// between socket and CloseOnExec) does not matter in a test.
	fd, err := unix.Socket(family, typ, 0)
	if err != nil {
		t.Skipf("socket(%d, %d): %v", family, typ, err)
	}
	defer unix.Close(fd)
	unix.CloseOnExec(fd)
	sa, err := a.sockaddr()
	if err != nil {
		t.Fatalf("%v.sockaddr(): %v", a, err)
	}
	if err := unix.Bind(fd, sa); err != nil {
		if errors.Is(err, unix.EADDRNOTAVAIL) || errors.Is(err, unix.EAFNOSUPPORT) {
			t.Skipf("bind %v: %v", a, err)
		}
		t.Fatalf("bind %v: %v", a, err)
	}
	got, err := unix.Getsockname(fd)
	if err != nil {
		t.Fatalf("getsockname after binding %v: %v", a, err)
	}
	return got, sockAddrFromUnix(got)
}

func TestSockAddrKernelRoundTrip(t *testing.T) {
	t.Run("IPv4", func(t *testing.T) {
		_, got := boundName(t, unix.AF_INET, unix.SOCK_STREAM, InetAddr(netip.MustParseAddr("127.0.0.1"), 0))
		ap, ok := got.AddrPort()
		if !ok || ap.Addr() != netip.MustParseAddr("127.0.0.1") || ap.Port() == 0 {
			t.Errorf("bound to %v, want 127.0.0.1 with a kernel-chosen port", got)
		}
	})
	t.Run("IPv6", func(t *testing.T) {
		_, got := boundName(t, unix.AF_INET6, unix.SOCK_DGRAM, InetAddr(netip.IPv6Loopback(), 0))
		ap, ok := got.AddrPort()
		if !ok || ap.Addr() != netip.IPv6Loopback() || ap.Port() == 0 {
			t.Errorf("bound to %v, want [::1] with a kernel-chosen port", got)
		}
	})
	t.Run("IPv4-mapped", func(t *testing.T) {
		mapped := netip.MustParseAddr("::ffff:127.0.0.1")
		_, got := boundName(t, unix.AF_INET6, unix.SOCK_DGRAM, InetAddr(mapped, 0))
		if ap, ok := got.AddrPort(); !ok || ap.Addr() != mapped {
			t.Errorf("bound to %v, want %v as the kernel reports it", got, mapped)
		}
	})
	t.Run("IPv6 zone", func(t *testing.T) {
		// Needs a link-local address, which a zone is for; loopback has none
		// on Linux, so use any interface that has one.
		ifs, _ := net.Interfaces()
		for _, ifi := range ifs {
			addrs, _ := ifi.Addrs()
			for _, a := range addrs {
				ipn, ok := a.(*net.IPNet)
				if !ok {
					continue
				}
				ip, ok := netip.AddrFromSlice(ipn.IP)
				if !ok || !ip.Is6() || !ip.IsLinkLocalUnicast() {
					continue
				}
				raw, got := boundName(t, unix.AF_INET6, unix.SOCK_DGRAM, InetAddr(ip.WithZone(ifi.Name), 0))
				if in6, ok := raw.(*unix.SockaddrInet6); !ok || in6.ZoneId != uint32(ifi.Index) {
					t.Fatalf("kernel reports %#v, want zone index %d", raw, ifi.Index)
				}
				ap, _ := got.AddrPort()
				if ap.Addr() != ip.WithZone(strconv.Itoa(ifi.Index)) {
					t.Errorf("bound to %v, want %v%%%d", got, ip, ifi.Index)
				}
				return
			}
		}
		t.Skip("no IPv6 link-local address on any interface")
	})
	t.Run("path", func(t *testing.T) {
		// os.MkdirTemp rather than t.TempDir: the test name would push the
		// path past 104 bytes on some systems.
		dir, err := os.MkdirTemp("", "mio")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		for _, n := range []int{1, unixPathMax - len(dir) - 1} {
			p := filepath.Join(dir, strings.Repeat("s", n))
			_, got := boundName(t, unix.AF_UNIX, unix.SOCK_STREAM, UnixAddr(p))
			if got != UnixAddr(p) {
				t.Errorf("bound to %v, want %v", got, UnixAddr(p))
			}
		}
	})
	if !abstractUnixNames {
		return
	}
	t.Run("abstract", func(t *testing.T) {
		for _, name := range []string{
			"@mio-test-" + strconv.Itoa(os.Getpid()),
			"@" + strconv.Itoa(os.Getpid()) + strings.Repeat("a", unixPathMax-1-len(strconv.Itoa(os.Getpid()))),
		} {
			raw, got := boundName(t, unix.AF_UNIX, unix.SOCK_STREAM, UnixAddr(name))
			if got != UnixAddr(name) || !got.IsAbstract() {
				t.Errorf("bound to %#v (%v), want %v", raw, got, UnixAddr(name))
			}
		}
	})
	t.Run("autobind", func(t *testing.T) {
		// Binding the unnamed address makes Linux pick an abstract name.
		_, got := boundName(t, unix.AF_UNIX, unix.SOCK_DGRAM, UnixAddr(""))
		if !got.IsAbstract() || len(got.Path()) < 2 {
			t.Errorf("autobind gave %v, want an abstract name", got)
		}
	})
	t.Run("unnamed", func(t *testing.T) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer unix.Close(fds[0])
		defer unix.Close(fds[1])
		raw, err := unix.Getsockname(fds[0])
		if err != nil {
			t.Fatal(err)
		}
		if got := sockAddrFromUnix(raw); got != UnixAddr("") {
			t.Errorf("unbound socket %#v gave %v, want the unnamed address", raw, got)
		}
	})
}
