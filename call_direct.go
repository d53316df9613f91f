//go:build (linux && !386 && !s390x) || darwin || dragonfly || freebsd || netbsd || openbsd

// The socket system calls that take kernel addresses, made by number, for
// every unix system but linux/386 and linux/s390x (call_socketcall.go).
// macOS and OpenBSD compile them but never make them (libcCalls).

package mio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// socketcall is false: each socket call has a system call of its own.
const socketcall = false

// The pointers stay unsafe.Pointer until the call itself, which keeps what
// they point to alive and lets the runtime move a stack they point into.

func sockBind(fd int, sa unsafe.Pointer, salen uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_BIND, uintptr(fd), uintptr(sa), salen)
	return errnoErr(e)
}

func sockConnect(fd int, sa unsafe.Pointer, salen uintptr) error {
	_, _, e := unix.Syscall(unix.SYS_CONNECT, uintptr(fd), uintptr(sa), salen)
	return errnoErr(e)
}

// sockName is getsockname, or getpeername when peer is set: both write the
// address into rsa and its length into *salen.
func sockName(peer bool, fd int, rsa *unix.RawSockaddrAny, salen *uint32) error {
	trap := uintptr(unix.SYS_GETSOCKNAME)
	if peer {
		trap = unix.SYS_GETPEERNAME
	}
	_, _, e := unix.RawSyscall(trap, uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(salen)))
	return errnoErr(e)
}

func sockRecvmsg(fd int, msg *unix.Msghdr) (int, error) {
	r, _, e := unix.Syscall(unix.SYS_RECVMSG, uintptr(fd), uintptr(unsafe.Pointer(msg)), 0)
	return rawResult(r, e)
}

func sockSendto(fd int, p unsafe.Pointer, n int, flags int, sa unsafe.Pointer, salen uintptr) (int, error) {
	r, _, e := unix.Syscall6(unix.SYS_SENDTO, uintptr(fd), uintptr(p), uintptr(n), uintptr(flags), uintptr(sa), salen)
	return rawResult(r, e)
}

// sockSendmsg is a raw call: the stream sockets it serves never block, so
// the scheduler need not hear of it, as with sysRead.
func sockSendmsg(fd int, msg *unix.Msghdr, flags int) (int, error) {
	r, _, e := unix.RawSyscall(unix.SYS_SENDMSG, uintptr(fd), uintptr(unsafe.Pointer(msg)), uintptr(flags))
	return rawResult(r, e)
}
