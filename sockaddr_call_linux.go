//go:build !386 && !s390x

package mio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// The address system calls of sockaddr_linux.go, made directly (see
// sys_dgram_call.go).

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

// errnoErr turns an errno into an error, nil for none, bare so that the
// callers' comparisons with EINTR and EAGAIN still work.
func errnoErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}
