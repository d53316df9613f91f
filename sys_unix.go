//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// The system calls that create fds and move bytes, for the unix systems,
// written once over the facts that sys_GOOS.go gives for each system.

package mio

import (
	"runtime"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// libcCalls: system calls go through libc only, which x/sys wraps (macOS,
// and OpenBSD, which no longer has a syscall(2) entry point). rawIO: reads
// and writes are raw system calls (see sysRead), on Linux. runtime.GOOS is
// a constant, so the other branches are compiled out.
const (
	libcCalls = runtime.GOOS == "darwin" || runtime.GOOS == "ios" || runtime.GOOS == "openbsd"
	rawIO     = runtime.GOOS == "linux" || runtime.GOOS == "android"
)

// fdSetup is what openCloexec sets on the fds it made.
type fdSetup uint8

const (
	setNonblock fdSetup = 1 << iota
	setNoSigpipe
)

// openCloexec is the fallback for a call that cannot make its fds
// close-on-exec itself (socket, pipe and socketpair on macOS, accept on
// macOS, NetBSD and OpenBSD, kqueue everywhere): open makes one fd (b < 0)
// or two under syscall.ForkLock, which they leave close-on-exec, so that a
// fork-exec in another goroutine cannot inherit them in between; then the
// setup follows. On failure nothing stays open.
func openCloexec(setup fdSetup, open func() (a, b int, err error)) (int, int, error) {
	syscall.ForkLock.RLock()
	a, b, err := open()
	if err == nil {
		unix.CloseOnExec(a)
		if b >= 0 {
			unix.CloseOnExec(b)
		}
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, -1, err
	}
	if err := setupFd(a, setup); err != nil {
		closeFds(a, b)
		return -1, -1, err
	}
	if err := setupFd(b, setup); err != nil {
		closeFds(a, b)
		return -1, -1, err
	}
	return a, b, nil
}

// setupFd applies setup to fd, if fd is one.
func setupFd(fd int, setup fdSetup) error {
	if fd < 0 {
		return nil
	}
	if setup&setNonblock != 0 {
		if err := unix.SetNonblock(fd, true); err != nil {
			return err
		}
	}
	if setup&setNoSigpipe != 0 && noSigpipe != 0 {
		return unix.SetsockoptInt(fd, unix.SOL_SOCKET, noSigpipe, 1)
	}
	return nil
}

func closeFds(a, b int) {
	unix.Close(a)
	if b >= 0 {
		unix.Close(b)
	}
}

// sockSetup is what a new socket needs where the creating call cannot set
// it.
const sockSetup = setNonblock | setNoSigpipe

// sysSocket opens a non-blocking, close-on-exec socket.
func sysSocket(family, typ int) (int, error) {
	if sockFlags != 0 {
		return unix.Socket(family, typ|sockFlags, 0)
	}
	fd, _, err := openCloexec(sockSetup, func() (int, int, error) {
		fd, err := unix.Socket(family, typ, 0)
		return fd, -1, err
	})
	return fd, err
}

// sysDgramSocketpair creates a connected pair of non-blocking,
// close-on-exec Unix datagram sockets.
func sysDgramSocketpair() (int, int, error) {
	if sockFlags != 0 {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM|sockFlags, 0)
		return fds[0], fds[1], err
	}
	return openCloexec(sockSetup, func() (int, int, error) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_DGRAM, 0)
		return fds[0], fds[1], err
	})
}

// accept4 is sysAccept where x/sys has accept4 (given as f).
func accept4(f func(fd, flags int) (int, unix.Sockaddr, error), fd int) (int, error) {
	nfd, _, err := f(fd, sockFlags)
	return nfd, err
}

// acceptCloexec is sysAccept where x/sys has no accept4.
//
//lint:ignore U1000 used on darwin, netbsd and openbsd
func acceptCloexec(fd int) (int, error) {
	nfd, _, err := openCloexec(sockSetup, func() (int, int, error) {
		nfd, _, err := unix.Accept(fd)
		return nfd, -1, err
	})
	return nfd, err
}

// pipe2 is sysPipe where x/sys has pipe2 (given as f).
func pipe2(f func(p []int, flags int) error) (int, int, error) {
	var p [2]int
	err := f(p[:], unix.O_NONBLOCK|unix.O_CLOEXEC)
	return p[0], p[1], err
}

func closeFd(fd int) error { return unix.Close(fd) }

// Reads and writes on the library's fds never block (every fd is
// O_NONBLOCK), so where rawIO is set they are made as raw system calls: the
// Go scheduler's bookkeeping for a call that might block (handing the P to
// another thread) costs about as much as the call itself on a busy loop. A
// long copy still ends within the socket buffer's size. Where socketcall
// is set, sendto has no system call of its own, so those systems keep
// x/sys's calls.
const directIO = rawIO && !socketcall

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
	if !directIO {
		return unix.Read(fd, p)
	}
	n, _, e := unix.RawSyscall(unix.SYS_READ, uintptr(fd), bufPtr(p), uintptr(len(p)))
	return rawResult(n, e)
}

func sysWrite(fd int, p []byte) (int, error) {
	if !directIO {
		return unix.Write(fd, p)
	}
	n, _, e := unix.RawSyscall(unix.SYS_WRITE, uintptr(fd), bufPtr(p), uintptr(len(p)))
	return rawResult(n, e)
}

// sysSend writes to a stream socket with sendFlags, so a closed peer gives
// EPIPE and no SIGPIPE; where there are none, the socket's noSigpipe option
// does that and a plain write serves.
func sysSend(fd int, p []byte) (int, error) {
	switch {
	case sendFlags == 0:
		return sysWrite(fd, p)
	case directIO:
		n, _, e := unix.RawSyscall6(unix.SYS_SENDTO, uintptr(fd), bufPtr(p), uintptr(len(p)), sendFlags, 0, 0)
		return rawResult(n, e)
	}
	return unix.SendmsgN(fd, p, nil, nil, sendFlags)
}

func rawResult(n uintptr, e unix.Errno) (int, error) {
	if e != 0 {
		return -1, e
	}
	return int(n), nil
}

// errnoErr turns an errno into an error, nil for none, bare so that the
// callers' comparisons with EINTR and EAGAIN still work.
func errnoErr(e unix.Errno) error {
	if e != 0 {
		return e
	}
	return nil
}
