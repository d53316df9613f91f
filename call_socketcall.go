//go:build linux && (386 || s390x)

// The socket system calls of call_direct.go for linux/386 and linux/s390x,
// through socketcall(2).

package mio

import (
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// linux/386 and linux/s390x reach the socket system calls through
// socketcall(2), as x/sys does: the call's number and a pointer to an array
// of its arguments. The direct calls exist there only since Linux 4.3.
//
// The array holds the pointers as plain numbers, so it is filled in the
// function that makes the call, with no call in between that could grow
// (and move) the stack they may point into; runtime.KeepAlive keeps what
// they point to alive until the kernel is done with it.

// socketcall is true: socket calls go through socketcall(2).
const socketcall = true

// Call numbers from linux/net.h.
const (
	socketcallBind        = 2
	socketcallConnect     = 3
	socketcallGetsockname = 6
	socketcallGetpeername = 7
	socketcallSendto      = 11
	socketcallSendmsg     = 16
	socketcallRecvmsg     = 17
)

func sockBind(fd int, sa unsafe.Pointer, salen uintptr) error {
	args := [3]uintptr{uintptr(fd), uintptr(sa), salen}
	_, _, e := unix.Syscall(unix.SYS_SOCKETCALL, socketcallBind, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(sa)
	return errnoErr(e)
}

func sockConnect(fd int, sa unsafe.Pointer, salen uintptr) error {
	args := [3]uintptr{uintptr(fd), uintptr(sa), salen}
	_, _, e := unix.Syscall(unix.SYS_SOCKETCALL, socketcallConnect, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(sa)
	return errnoErr(e)
}

// sockName is getsockname, or getpeername when peer is set: both write the
// address into rsa and its length into *salen.
func sockName(peer bool, fd int, rsa *unix.RawSockaddrAny, salen *uint32) error {
	call := uintptr(socketcallGetsockname)
	if peer {
		call = socketcallGetpeername
	}
	args := [3]uintptr{uintptr(fd), uintptr(unsafe.Pointer(rsa)), uintptr(unsafe.Pointer(salen))}
	_, _, e := unix.RawSyscall(unix.SYS_SOCKETCALL, call, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(rsa)
	runtime.KeepAlive(salen)
	return errnoErr(e)
}

func sockRecvmsg(fd int, msg *unix.Msghdr) (int, error) {
	args := [3]uintptr{uintptr(fd), uintptr(unsafe.Pointer(msg)), 0}
	r, _, e := unix.Syscall(unix.SYS_SOCKETCALL, socketcallRecvmsg, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(msg)
	return rawResult(r, e)
}

func sockSendto(fd int, p unsafe.Pointer, n int, flags int, sa unsafe.Pointer, salen uintptr) (int, error) {
	args := [6]uintptr{uintptr(fd), uintptr(p), uintptr(n), uintptr(flags), uintptr(sa), salen}
	r, _, e := unix.Syscall(unix.SYS_SOCKETCALL, socketcallSendto, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(p)
	runtime.KeepAlive(sa)
	return rawResult(r, e)
}

func sockSendmsg(fd int, msg *unix.Msghdr, flags int) (int, error) {
	args := [3]uintptr{uintptr(fd), uintptr(unsafe.Pointer(msg)), uintptr(flags)}
	r, _, e := unix.Syscall(unix.SYS_SOCKETCALL, socketcallSendmsg, uintptr(unsafe.Pointer(&args)), 0)
	runtime.KeepAlive(msg)
	return rawResult(r, e)
}
