//go:build darwin || openbsd

package mio

import "golang.org/x/sys/unix"

// On these systems the datagram path goes through x/sys's Recvmsg and
// SendmsgN. macOS and OpenBSD allow system calls only through libc, which
// x/sys wraps for us (OpenBSD no longer has a syscall(2) entry point to
// reach them directly). x/sys returns the source address as a heap object,
// so RecvFrom allocates here; SendTo reuses the converted address while the
// destination stays the same. Neither system has abstract names, so x/sys's
// reading of a Unix name up to its first NUL loses nothing.

// dgramSys caches the last destination, converted, so that replying to the
// same peer again and again costs no conversion and no allocation.
type dgramSys struct {
	lastTo   SockAddr
	lastToSa unix.Sockaddr
}

func (d *dgramSock) sysRecv(p []byte, wantFrom bool) (n int, from SockAddr, trunc bool, err error) {
	n, _, flags, sa, err := unix.Recvmsg(d.fd, p, nil, 0)
	if err != nil {
		return 0, SockAddr{}, false, err
	}
	if wantFrom {
		from = sockAddrFromUnix(sa)
		if sa == nil && d.family == unix.AF_UNIX {
			from = UnixAddr("") // an unbound sender has no address
		}
	}
	return n, from, flags&unix.MSG_TRUNC != 0, nil
}

func (d *dgramSock) sysSend(p []byte, to SockAddr, hasTo bool) (int, error) {
	var sa unix.Sockaddr
	if hasTo {
		if d.lastToSa == nil || d.lastTo != to {
			s, err := to.sockaddr()
			if err != nil {
				return 0, err
			}
			d.lastTo, d.lastToSa = to, s
		}
		sa = d.lastToSa
	}
	return unix.SendmsgN(d.fd, p, nil, sa, dgramSendFlags)
}
