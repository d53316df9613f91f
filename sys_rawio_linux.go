//go:build linux && !386 && !s390x

package mio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// Reads and writes on the library's fds never block (every fd is
// O_NONBLOCK), so they are made as raw system calls: the Go scheduler's
// bookkeeping for a call that might block (handing the P to another thread)
// costs about as much as the call itself on a busy loop. A long copy still
// ends within the socket buffer's size.
//
// linux/386 and linux/s390x reach sendto through socketcall and keep the
// x/sys path (sys_rawio_posix.go).

// zeroLen stands in for the buffer of a zero-length call, which the kernel
// does not touch but must still get a valid address for.
var zeroLen byte

func bufPtr(p []byte) uintptr {
	if len(p) == 0 {
		return uintptr(unsafe.Pointer(&zeroLen))
	}
	return uintptr(unsafe.Pointer(&p[0]))
}

func sysRead(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), bufPtr(p), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

func sysWrite(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), bufPtr(p), uintptr(len(p)))
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// sysSend writes with MSG_NOSIGNAL, so a closed peer gives EPIPE and no
// SIGPIPE.
func sysSend(fd int, p []byte) (int, error) {
	n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), bufPtr(p), uintptr(len(p)), unix.MSG_NOSIGNAL, 0, 0)
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}
