//go:build linux || dragonfly || freebsd || netbsd

package mio

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On these systems the datagram path calls recvmsg(2) and sendto(2)
// itself, with the kernel's address in a RawSockaddrAny on the stack:
// x/sys's Recvfrom and Sendto trade in the unix.Sockaddr interface, which
// costs an allocation per datagram, and its Unix addresses cut an abstract
// name at the first NUL. (sockRecvmsg and sockSendto are direct system calls
// except on linux/386 and linux/s390x, which reach them through socketcall,
// as x/sys does: their direct socket system calls need Linux 4.3.)

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
	r, err := sockRecvmsg(d.fd, &msg)
	if err != nil {
		return 0, SockAddr{}, false, err
	}
	if wantFrom {
		from = d.fromRaw(&rsa, msg.Namelen)
	}
	return r, from, msg.Flags&unix.MSG_TRUNC != 0, nil
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
	return sockSendto(d.fd, base, len(p), dgramSendFlags, sa, salen)
}

// fromRaw converts the source address recvmsg wrote, salen bytes of it;
// see sockAddrFromRaw.
func (d *dgramSock) fromRaw(rsa *unix.RawSockaddrAny, salen uint32) SockAddr {
	if salen == 0 {
		// Linux reports no address at all for an unbound Unix sender.
		if d.family == unix.AF_UNIX {
			return UnixAddr("")
		}
		return SockAddr{}
	}
	return sockAddrFromRaw(rsa, salen, &d.lastPath)
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
		if path[0] == '@' && !abstractUnixNames {
			return 0, fmt.Errorf("mio: socket address %q: abstract Unix socket names exist only on Linux (use \"./@...\" for a file): %w",
				addr.String(), errors.ErrUnsupported)
		}
		return unixToRaw((*unix.RawSockaddrUnix)(unsafe.Pointer(rsa)), path), nil
	}
	return 0, errors.New("mio: invalid SockAddr")
}
