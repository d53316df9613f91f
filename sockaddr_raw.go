//go:build linux || dragonfly || freebsd || netbsd

package mio

import (
	"bytes"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The kernel's address structures, read and written without x/sys's
// unix.Sockaddr: that interface costs an allocation per conversion, and
// x/sys's own conversion of a Unix address cuts an abstract name at its
// first NUL and ignores the length the kernel reported. The datagram path
// (sys_dgram_raw.go) and, on Linux, getsockname and getpeername
// (sockaddr_linux.go) use these.

// dgramPort reads a port as the kernel stores it, in network byte order.
func dgramPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func dgramPutPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// sockAddrFromRaw converts salen bytes of a kernel address (salen > 0),
// with the conventions of sockAddrFromUnix (an IPv6 zone as a decimal
// index, the unnamed Unix address for an unbound socket), so that a
// datagram's source compares equal to the LocalAddr of the socket that sent
// it. *last is a Unix name converted before, reused when the name is the
// same, and updated otherwise.
func sockAddrFromRaw(rsa *unix.RawSockaddrAny, salen uint32, last *string) SockAddr {
	switch int(rsa.Addr.Family) {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return InetAddr(netip.AddrFrom4(sa.Addr), dgramPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return InetAddr(ip, dgramPort(&sa.Port))
	case unix.AF_UNIX:
		return unixFromRaw((*unix.RawSockaddrUnix)(unsafe.Pointer(rsa)), salen, last)
	}
	return SockAddr{}
}

// unixFromRaw converts a Unix address of salen bytes. A Linux abstract name
// (leading NUL) is every byte the length covers, NUL bytes included, as
// the kernel compares it: cutting it at a NUL would name another socket. A
// path ends at its first NUL (the kernel may count the terminator, and a
// BSD kernel the whole field); elsewhere a file named "@..." becomes
// "./@...", as in sockAddrFromUnix. The result is *last whenever the name
// is the same, so a peer sending many datagrams costs one string.
func unixFromRaw(sa *unix.RawSockaddrUnix, salen uint32, last *string) SockAddr {
	off := uint32(unsafe.Offsetof(sa.Path))
	if salen <= off {
		return UnixAddr("")
	}
	name := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), min(int(salen-off), len(sa.Path)))
	prefix := ""
	if name[0] == 0 && abstractUnixNames {
		prefix, name = "@", name[1:]
	} else if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) == 0 {
		// Also the empty abstract name, which SockAddr cannot hold.
		return UnixAddr("")
	}
	if prefix == "" && name[0] == '@' && !abstractUnixNames {
		prefix = "./"
	}
	c := *last
	if len(c) != len(prefix)+len(name) || c[:len(prefix)] != prefix || c[len(prefix):] != string(name) {
		c = prefix + string(name)
		*last = c
	}
	return UnixAddr(c)
}

// unixToRaw writes a Unix address that checkUnixPath accepted into sa,
// which must be zero, and returns its length. An abstract name's length
// counts every byte of it and no terminator; a path's counts the
// terminating NUL, already zero. The empty path gives the bare family, which
// on Linux binds to an automatic abstract name.
func unixToRaw(sa *unix.RawSockaddrUnix, path string) uintptr {
	dst := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), len(sa.Path))
	n := unsafe.Offsetof(sa.Path) + uintptr(len(path))
	if len(path) > 0 && path[0] == '@' && abstractUnixNames {
		// The leading NUL, already zero, marks the name as abstract.
		copy(dst[1:], path[1:])
	} else if len(path) > 0 {
		copy(dst, path)
		n++
	}
	dgramSetHeader((*unix.RawSockaddrAny)(unsafe.Pointer(sa)), unix.AF_UNIX, n)
	return n
}
