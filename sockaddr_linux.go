package mio

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux a Unix address does not go through x/sys. Its conversion of a
// SockaddrUnix refuses an abstract name of the full 107 bytes (it reserves
// a terminator that an abstract name does not have), and reading one back
// it stops at the first NUL and ignores the length the kernel gave, so a
// name "@a\x00b" would come back as "@a", another socket's. These write and
// read the kernel's address themselves for Unix addresses; IP addresses
// keep x/sys's conversion on the way in, which is right for them.

// sysBind binds fd to sa, which SockAddr.sockaddr made.
func sysBind(fd int, sa unix.Sockaddr) error {
	u, ok := sa.(*unix.SockaddrUnix)
	if !ok {
		return unix.Bind(fd, sa)
	}
	var raw unix.RawSockaddrUnix
	return sockBind(fd, unsafe.Pointer(&raw), unixToRaw(&raw, u.Name))
}

// sysConnect connects fd to sa, which SockAddr.sockaddr made. An error is
// the bare errno, which the callers compare with EINPROGRESS and EAGAIN.
func sysConnect(fd int, sa unix.Sockaddr) error {
	u, ok := sa.(*unix.SockaddrUnix)
	if !ok {
		return unix.Connect(fd, sa)
	}
	var raw unix.RawSockaddrUnix
	return sockConnect(fd, unsafe.Pointer(&raw), unixToRaw(&raw, u.Name))
}

// sysGetsockname returns the address fd is bound to.
func sysGetsockname(fd int) (SockAddr, error) { return sysName(false, fd) }

// sysGetpeername returns the address fd is connected to.
func sysGetpeername(fd int) (SockAddr, error) { return sysName(true, fd) }

func sysName(peer bool, fd int) (SockAddr, error) {
	var rsa unix.RawSockaddrAny
	salen := uint32(unix.SizeofSockaddrAny)
	if err := sockName(peer, fd, &rsa, &salen); err != nil {
		return SockAddr{}, err
	}
	var name string
	return sockAddrFromRaw(&rsa, salen, &name), nil
}
