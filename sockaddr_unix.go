//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// SockAddr to and from the kernel's addresses, for the unix systems: one
// set of rules (SockAddr.kernel one way, sockAddrFromRaw the other) that
// bind, connect, sendto, getsockname, getpeername and recvmsg all use, on
// every system, with x/sys's unix.Sockaddr only as a carrier where x/sys
// makes the call.

package mio

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// abstractUnixNames is whether the kernel has abstract Unix socket names.
// runtime.GOOS is a constant, so this needs no build-tagged file of its own
// and the other branch is compiled out.
const abstractUnixNames = runtime.GOOS == "linux" || runtime.GOOS == "android"

// xsysAddrCalls: bind, connect, getsockname and getpeername go through
// x/sys. That loses nothing where there are no abstract names; on Linux
// x/sys would refuse an abstract name of the full 107 bytes (it reserves a
// terminator the name does not have) and cut one at its first NUL on the way
// back, naming another socket, so there the library makes these calls
// itself.
const xsysAddrCalls = !abstractUnixNames

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

// kaddr is an address in the kernel's form, the first n bytes of rsa, and
// the SockAddr it was made from. It is made once per bind, connect or
// sendto, on the stack: the datagram path allocates nothing for it.
type kaddr struct {
	rsa  unix.RawSockaddrAny
	n    uintptr
	from SockAddr
}

// kernel writes a into k as bind, connect and sendto want it, or says why
// it cannot be:
//
//   - an IPv6 zone name is looked up (a decimal zone is the index itself);
//   - a path must fit with its terminating NUL and hold no NUL byte;
//   - an abstract name ("@name", NUL bytes and all, up to 107 bytes after
//     the '@' on Linux) needs no terminator, and exists only on Linux;
//   - the unnamed address UnixAddr("") is the bare family, which on Linux
//     binds to an automatic abstract name; elsewhere it is an error.
func (a SockAddr) kernel(k *kaddr) error {
	*k = kaddr{from: a}
	switch a.kind {
	case kindInet:
		return k.putInet()
	case kindUnix:
		return k.putUnix()
	}
	return errors.New("mio: invalid SockAddr")
}

func (k *kaddr) putInet() error {
	ip, port := k.from.ap.Addr(), k.from.ap.Port()
	if ip.Is4() {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&k.rsa))
		sa.Addr = ip.As4()
		putRawPort(&sa.Port, port)
		k.n = unix.SizeofSockaddrInet4
		sockaddrHeader(&k.rsa, unix.AF_INET, k.n)
		return nil
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&k.rsa))
	sa.Addr = ip.As16()
	putRawPort(&sa.Port, port)
	if zone := ip.Zone(); zone != "" {
		id, err := zoneIndex(zone)
		if err != nil {
			return fmt.Errorf("mio: socket address %s: %w", k.from, err)
		}
		sa.Scope_id = id
	}
	k.n = unix.SizeofSockaddrInet6
	sockaddrHeader(&k.rsa, unix.AF_INET6, k.n)
	return nil
}

func (k *kaddr) putUnix() error {
	a := k.from
	switch {
	case a.path == "" && !abstractUnixNames:
		return fmt.Errorf("mio: the unnamed Unix socket address cannot be bound or connected on %s: %w",
			runtime.GOOS, errors.ErrUnsupported)
	case a.path == "":
	default:
		if err := checkUnixPath(a.path); err != nil {
			return fmt.Errorf("mio: socket address %q: %w", a.String(), err)
		}
		if !abstractUnixNames && a.path[0] == '@' {
			return fmt.Errorf("mio: socket address %q: abstract Unix socket names exist only on Linux (use \"./@...\" for a file): %w",
				a.String(), errors.ErrUnsupported)
		}
	}
	k.n = unixToRaw((*unix.RawSockaddrUnix)(unsafe.Pointer(&k.rsa)), a.path)
	return nil
}

// xsys is k as x/sys's Sockaddr, for the calls x/sys makes. It carries what
// kernel wrote; only a Unix name is taken from the SockAddr, as x/sys
// spells it the same way.
func (k *kaddr) xsys() unix.Sockaddr {
	switch int(k.rsa.Addr.Family) {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&k.rsa))
		return &unix.SockaddrInet4{Port: int(rawPort(&sa.Port)), Addr: sa.Addr}
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&k.rsa))
		return &unix.SockaddrInet6{Port: int(rawPort(&sa.Port)), ZoneId: sa.Scope_id, Addr: sa.Addr}
	}
	return &unix.SockaddrUnix{Name: k.from.path}
}

// sockaddr converts a to x/sys's form, by the rules of kernel.
func (a SockAddr) sockaddr() (unix.Sockaddr, error) {
	var k kaddr
	if err := a.kernel(&k); err != nil {
		return nil, err
	}
	return k.xsys(), nil
}

// zoneIndex turns an IPv6 zone into the interface index the kernel wants. A
// zone of decimal digits is taken as the index itself, as sockAddrFromRaw
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

// rawPort reads a port as the kernel stores it, in network byte order.
func rawPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func putRawPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// sockAddrFromRaw converts salen bytes of a kernel address (salen > 0). It
// is on the accept and receive path, so it does no system calls and no
// lookups:
//
//   - an IPv4-mapped IPv6 address stays IPv6, as the kernel gave it, so that
//     replying to it uses the same family;
//   - an IPv6 zone comes back as the decimal interface index, because the
//     name would cost an interface lookup; kernel accepts either form, so
//     the address still converts back to the same kernel address;
//   - an unbound Unix socket gives the unnamed address UnixAddr(""), so a
//     datagram's source compares equal to the LocalAddr of the socket that
//     sent it; an empty abstract name cannot be told apart from it;
//   - any other family gives the invalid zero SockAddr.
//
// *last is a Unix name converted before, reused when the name is the same,
// and updated otherwise.
func sockAddrFromRaw(rsa *unix.RawSockaddrAny, salen uint32, last *string) SockAddr {
	switch int(rsa.Addr.Family) {
	case unix.AF_INET:
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
		return InetAddr(netip.AddrFrom4(sa.Addr), rawPort(&sa.Port))
	case unix.AF_INET6:
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		ip := netip.AddrFrom16(sa.Addr)
		if sa.Scope_id != 0 {
			ip = ip.WithZone(strconv.FormatUint(uint64(sa.Scope_id), 10))
		}
		return InetAddr(ip, rawPort(&sa.Port))
	case unix.AF_UNIX:
		return unixFromRaw((*unix.RawSockaddrUnix)(unsafe.Pointer(rsa)), salen, last)
	}
	return SockAddr{}
}

// unixFromRaw converts a Unix address of salen bytes. A Linux abstract name
// (leading NUL) is every byte the length covers, NUL bytes included, as
// the kernel compares it: cutting it at a NUL would name another socket. A
// path ends at its first NUL (the kernel may count the terminator, and a
// BSD kernel the whole field); where there are no abstract names a file
// named "@..." becomes "./@...", so that it stays the same file and is not
// read back as an abstract name. The result is *last whenever the name is
// the same, so a peer sending many datagrams costs one string.
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
	sockaddrHeader((*unix.RawSockaddrAny)(unsafe.Pointer(sa)), unix.AF_UNIX, n)
	return n
}

// sockAddrFromUnix converts an address x/sys reported (accept, and the
// address calls where xsysAddrCalls), by the rules of sockAddrFromRaw: it
// lays the address out as the kernel gave it and reads that back. x/sys
// spells an abstract name "@name" (and an unbound socket "@" on Linux, ""
// elsewhere), which is how unixToRaw reads a name. A Unix name that comes
// back unchanged is sa's own string, so this allocates nothing.
func sockAddrFromUnix(sa unix.Sockaddr) SockAddr {
	var rsa unix.RawSockaddrAny
	var n uintptr
	last := ""
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		if sa == nil {
			return SockAddr{}
		}
		raw := (*unix.RawSockaddrInet4)(unsafe.Pointer(&rsa))
		raw.Addr = sa.Addr
		putRawPort(&raw.Port, uint16(sa.Port))
		n = unix.SizeofSockaddrInet4
		sockaddrHeader(&rsa, unix.AF_INET, n)
	case *unix.SockaddrInet6:
		if sa == nil {
			return SockAddr{}
		}
		raw := (*unix.RawSockaddrInet6)(unsafe.Pointer(&rsa))
		raw.Addr, raw.Scope_id = sa.Addr, sa.ZoneId
		putRawPort(&raw.Port, uint16(sa.Port))
		n = unix.SizeofSockaddrInet6
		sockaddrHeader(&rsa, unix.AF_INET6, n)
	case *unix.SockaddrUnix:
		if sa == nil {
			return SockAddr{}
		}
		last = sa.Name
		n = unixToRaw((*unix.RawSockaddrUnix)(unsafe.Pointer(&rsa)), sa.Name)
	default:
		return SockAddr{}
	}
	return sockAddrFromRaw(&rsa, uint32(n), &last)
}

// sysBind binds fd to the address in k.
func sysBind(fd int, k *kaddr) error {
	if xsysAddrCalls {
		return unix.Bind(fd, k.xsys())
	}
	return sockBind(fd, unsafe.Pointer(&k.rsa), k.n)
}

// sysConnect connects fd to the address in k. An error is the bare errno,
// which the callers compare with EINPROGRESS and EAGAIN.
func sysConnect(fd int, k *kaddr) error {
	if xsysAddrCalls {
		return unix.Connect(fd, k.xsys())
	}
	return sockConnect(fd, unsafe.Pointer(&k.rsa), k.n)
}

// sysName returns the address fd is bound to (getsockname), or connected
// to when peer is set (getpeername).
func sysName(peer bool, fd int) (SockAddr, error) {
	if xsysAddrCalls {
		get := unix.Getsockname
		if peer {
			get = unix.Getpeername
		}
		sa, err := get(fd)
		if err != nil {
			return SockAddr{}, err
		}
		return sockAddrFromUnix(sa), nil
	}
	var rsa unix.RawSockaddrAny
	salen := uint32(unix.SizeofSockaddrAny)
	if err := sockName(peer, fd, &rsa, &salen); err != nil {
		return SockAddr{}, err
	}
	var name string
	return sockAddrFromRaw(&rsa, salen, &name), nil
}
