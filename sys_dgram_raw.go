//go:build (linux && !386 && !s390x) || dragonfly || freebsd || netbsd

package mio

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On these systems the datagram path calls recvmsg(2) and sendto(2)
// directly, with the kernel's address in a RawSockaddrAny on the stack:
// x/sys's Recvfrom and Sendto trade in the unix.Sockaddr interface, which
// costs an allocation per datagram. (linux/386 and linux/s390x are left to
// sys_dgram_xsys.go: their direct socket system calls need Linux 4.3, and
// x/sys reaches them through socketcall instead.)

// dgramSys is the per-socket state of the direct path: the last Unix path a
// datagram came from, so that a peer sending many datagrams costs one
// string, not one per datagram.
type dgramSys struct {
	lastPath string
}

// sysRecv receives one datagram with recvmsg, which reports truncation in
// msg_flags on every system here (recvfrom would need Linux's MSG_TRUNC
// input flag, which the BSDs lack).
func (d *dgramSock) sysRecv(p []byte, wantFrom bool) (n int, from SockAddr, trunc bool, err error) {
	var rsa unix.RawSockaddrAny
	var iov unix.Iovec
	var msg unix.Msghdr
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
	}
	msg.Iov = &iov
	msg.SetIovlen(1)
	if wantFrom {
		msg.Name = (*byte)(unsafe.Pointer(&rsa))
		msg.Namelen = unix.SizeofSockaddrAny
	}
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(d.fd), uintptr(unsafe.Pointer(&msg)), 0)
	if e != 0 {
		return 0, SockAddr{}, false, e
	}
	if wantFrom {
		from = d.fromRaw(&rsa, msg.Namelen)
	}
	return int(r), from, msg.Flags&unix.MSG_TRUNC != 0, nil
}

// sysSend sends one datagram with sendto, to the connected peer when hasTo
// is false.
func (d *dgramSock) sysSend(p []byte, to SockAddr, hasTo bool) (int, error) {
	var rsa unix.RawSockaddrAny
	var sa unsafe.Pointer
	var salen uintptr
	if hasTo {
		l, err := dgramToRaw(&rsa, to)
		if err != nil {
			return 0, err
		}
		sa, salen = unsafe.Pointer(&rsa), l
	}
	var base unsafe.Pointer
	if len(p) > 0 {
		base = unsafe.Pointer(&p[0])
	}
	r, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(d.fd), uintptr(base), uintptr(len(p)),
		dgramSendFlags, uintptr(sa), salen)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

// dgramPort reads a port as the kernel stores it, in network byte order.
func dgramPort(p *uint16) uint16 {
	b := (*[2]byte)(unsafe.Pointer(p))
	return uint16(b[0])<<8 | uint16(b[1])
}

func dgramPutPort(p *uint16, port uint16) {
	b := (*[2]byte)(unsafe.Pointer(p))
	b[0], b[1] = byte(port>>8), byte(port)
}

// fromRaw converts the source address recvmsg wrote, salen bytes of it,
// with the same conventions as sockAddrFromUnix (an IPv6 zone as a decimal
// index, the unnamed Unix address for an unbound sender), so that a reply's
// source compares equal to the LocalAddr of the socket that sent it.
func (d *dgramSock) fromRaw(rsa *unix.RawSockaddrAny, salen uint32) SockAddr {
	if salen == 0 {
		// Linux reports no address at all for an unbound Unix sender.
		if d.family == unix.AF_UNIX {
			return UnixAddr("")
		}
		return SockAddr{}
	}
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
		return d.unixFromRaw((*unix.RawSockaddrUnix)(unsafe.Pointer(rsa)), salen)
	}
	return SockAddr{}
}

// unixFromRaw converts a Unix source address. The name ends at the first
// NUL, as x/sys reads it for getsockname, so the two agree; a Linux abstract
// name (leading NUL) becomes "@name", and elsewhere a file named "@..."
// becomes "./@...", as in sockAddrFromUnix. The string is the cached
// lastPath whenever the name is the same as last time.
func (d *dgramSock) unixFromRaw(sa *unix.RawSockaddrUnix, salen uint32) SockAddr {
	off := uint32(unsafe.Offsetof(sa.Path))
	if salen <= off {
		return UnixAddr("")
	}
	name := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), min(int(salen-off), len(sa.Path)))
	prefix := ""
	if name[0] == 0 && abstractUnixNames {
		prefix, name = "@", name[1:]
	}
	if i := bytes.IndexByte(name, 0); i >= 0 {
		name = name[:i]
	}
	if len(name) == 0 {
		return UnixAddr("")
	}
	if prefix == "" && name[0] == '@' && !abstractUnixNames {
		prefix = "./"
	}
	c := d.lastPath
	if len(c) != len(prefix)+len(name) || c[:len(prefix)] != prefix || c[len(prefix):] != string(name) {
		c = prefix + string(name)
		d.lastPath = c
	}
	return UnixAddr(c)
}

// dgramToRaw writes addr into rsa as the kernel wants it and returns its
// length. It refuses what SockAddr.sockaddr refuses, with the same errors,
// and allocates only for an IPv6 zone given as an interface name.
func dgramToRaw(rsa *unix.RawSockaddrAny, addr SockAddr) (uintptr, error) {
	switch addr.kind {
	case kindInet:
		ip, port := addr.ap.Addr(), addr.ap.Port()
		if ip.Is4() {
			sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(rsa))
			sa.Addr = ip.As4()
			dgramPutPort(&sa.Port, port)
			dgramSetHeader(rsa, unix.AF_INET, unix.SizeofSockaddrInet4)
			return unix.SizeofSockaddrInet4, nil
		}
		sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(rsa))
		sa.Addr = ip.As16()
		dgramPutPort(&sa.Port, port)
		if zone := ip.Zone(); zone != "" {
			id, err := zoneIndex(zone)
			if err != nil {
				return 0, fmt.Errorf("mio: socket address %s: %w", addr, err)
			}
			sa.Scope_id = id
		}
		dgramSetHeader(rsa, unix.AF_INET6, unix.SizeofSockaddrInet6)
		return unix.SizeofSockaddrInet6, nil
	case kindUnix:
		path := addr.path
		if path == "" {
			return 0, fmt.Errorf("mio: the unnamed Unix socket address names no receiver: %w", unix.EDESTADDRREQ)
		}
		if err := checkUnixPath(path); err != nil {
			return 0, fmt.Errorf("mio: socket address %q: %w", addr.String(), err)
		}
		sa := (*unix.RawSockaddrUnix)(unsafe.Pointer(rsa))
		dst := unsafe.Slice((*byte)(unsafe.Pointer(&sa.Path[0])), len(sa.Path))
		n := unsafe.Offsetof(sa.Path) + uintptr(len(path))
		if path[0] == '@' {
			if !abstractUnixNames {
				return 0, fmt.Errorf("mio: socket address %q: abstract Unix socket names exist only on Linux (use \"./@...\" for a file): %w",
					addr.String(), errors.ErrUnsupported)
			}
			// The leading NUL marks the name as abstract; its length
			// counts every byte and no terminator.
			copy(dst[1:], path[1:])
		} else {
			copy(dst, path)
			n++ // the terminating NUL, already zero
		}
		dgramSetHeader(rsa, unix.AF_UNIX, n)
		return n, nil
	}
	return 0, errors.New("mio: invalid SockAddr")
}
