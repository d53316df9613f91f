//go:build (linux && !386 && !s390x) || dragonfly || freebsd || netbsd

package mio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The datagram path's system calls, made directly. The pointers stay
// unsafe.Pointer until the call itself, which keeps what they point to
// alive and lets the runtime move a stack they point into.

func sockRecvmsg(fd int, msg *unix.Msghdr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(msg)), 0)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}

func sockSendto(fd int, p unsafe.Pointer, n int, flags int, sa unsafe.Pointer, salen uintptr) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(n), uintptr(flags), uintptr(sa), salen)
	if e != 0 {
		return 0, e
	}
	return int(r), nil
}
