//go:build unix

package mio

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"

	"golang.org/x/sys/unix"
)

// abstractUnixNames is whether the kernel has abstract Unix socket names.
// runtime.GOOS is a constant, so this needs no build-tagged file of its own
// and the other branch is compiled out.
const abstractUnixNames = runtime.GOOS == "linux" || runtime.GOOS == "android"

func init() {
	// Take the limit from the kernel's own struct rather than a table of
	// systems: 108 bytes on Linux, 104 on the BSDs, and x/sys always needs
	// room for a NUL after the name (it fails with EINVAL otherwise, and we
	// want the clearer ENAMETOOLONG first).
	unixPathMax = len(unix.RawSockaddrUnix{}.Path) - 1
	// An abstract name has no terminator, but its marking NUL takes the
	// field's first byte: the same count of name bytes.
	unixAbstractMax = len(unix.RawSockaddrUnix{}.Path) - 1
}

// sockaddr converts a to the form x/sys passes to bind, connect and sendto.
// It is called once per such call, not per read or write, so it may
// allocate (the result is a pointer) and may look an IPv6 zone name up.
//
// An abstract name stays "@name", NUL bytes and all. On Linux the
// SockaddrUnix only carries the name to sysBind and sysConnect, which write
// the kernel's address themselves (sockaddr_linux.go): x/sys would refuse
// a name of the full 107 bytes. The unnamed address becomes an empty
// SockaddrUnix on Linux, where binding it asks the kernel to autobind an
// abstract name, and is an error elsewhere, where x/sys rejects it anyway.
func (a SockAddr) sockaddr() (unix.Sockaddr, error) {
	switch a.kind {
	case kindInet:
		ip := a.ap.Addr()
		port := int(a.ap.Port())
		if ip.Is4() {
			return &unix.SockaddrInet4{Port: port, Addr: ip.As4()}, nil
		}
		sa := &unix.SockaddrInet6{Port: port, Addr: ip.As16()}
		if zone := ip.Zone(); zone != "" {
			id, err := zoneIndex(zone)
			if err != nil {
				return nil, fmt.Errorf("mio: socket address %s: %w", a, err)
			}
			sa.ZoneId = id
		}
		return sa, nil
	case kindUnix:
		if a.path == "" {
			if !abstractUnixNames {
				return nil, fmt.Errorf("mio: the unnamed Unix socket address cannot be bound or connected on %s: %w",
					runtime.GOOS, errors.ErrUnsupported)
			}
			return &unix.SockaddrUnix{}, nil
		}
		if err := checkUnixPath(a.path); err != nil {
			return nil, fmt.Errorf("mio: socket address %q: %w", a.String(), err)
		}
		if !abstractUnixNames && a.path[0] == '@' {
			return nil, fmt.Errorf("mio: socket address %q: abstract Unix socket names exist only on Linux (use \"./@...\" for a file): %w",
				a.String(), errors.ErrUnsupported)
		}
		return &unix.SockaddrUnix{Name: a.path}, nil
	}
	return nil, errors.New("mio: invalid SockAddr")
}

// zoneIndex turns an IPv6 zone into the interface index the kernel wants. A
// zone of decimal digits is taken as the index itself, as sockAddrFromUnix
// writes it, so that round trip needs no interface lookup; any other zone is
// an interface name.
func zoneIndex(zone string) (uint32, error) {
	if id, err := strconv.ParseUint(zone, 10, 32); err == nil {
		return uint32(id), nil
	}
	ifi, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("unknown IPv6 zone %q: %w", zone, err)
	}
	return uint32(ifi.Index), nil
}

// sockAddrFromUnix converts what accept, getsockname, getpeername and
// recvfrom report. It is on the accept and receive path, so it does no
// system calls and no lookups:
//
//   - an IPv4-mapped IPv6 address stays IPv6, as the kernel gave it, so that
//     replying to it uses the same family;
//   - an IPv6 zone comes back as the decimal interface index, because the
//     name would cost an interface lookup; sockaddr accepts either form, so
//     the address still converts back to the same kernel address;
//   - a Unix name ends at its first NUL, as x/sys cuts it: on Linux, where
//     an abstract name may hold NUL bytes, getsockname, getpeername and
//     recvfrom therefore read the kernel's address themselves
//     (sockAddrFromRaw) and only tests still come through here;
//   - an unbound Unix socket, which x/sys reports as "" (BSD) or "@" (Linux,
//     where the all-zero path reads as an abstract name), gives the unnamed
//     address UnixAddr(""); an empty abstract name cannot be told apart from
//     it and is not supported;
//   - on systems without abstract names a path that begins with '@' gets a
//     "./" prefix, so that it stays the same file and is not read back as an
//     abstract name;
//   - any other family gives the invalid zero SockAddr.
func sockAddrFromUnix(sa unix.Sockaddr) SockAddr {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		if sa != nil {
			return SockAddr{ap: netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port)), kind: kindInet}
		}
	case *unix.SockaddrInet6:
		if sa != nil {
			ip := netip.AddrFrom16(sa.Addr)
			if sa.ZoneId != 0 {
				ip = ip.WithZone(strconv.FormatUint(uint64(sa.ZoneId), 10))
			}
			return SockAddr{ap: netip.AddrPortFrom(ip, uint16(sa.Port)), kind: kindInet}
		}
	case *unix.SockaddrUnix:
		if sa != nil {
			name := sa.Name
			if len(name) > 0 && name[0] == '@' {
				if abstractUnixNames {
					if name == "@" {
						name = ""
					}
				} else {
					name = "./" + name
				}
			}
			return SockAddr{path: name, kind: kindUnix}
		}
	}
	return SockAddr{}
}
