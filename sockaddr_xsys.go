//go:build darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// Without abstract names x/sys's Unix addresses lose nothing: a path ends
// at its first NUL for the kernel too. So bind, connect, getsockname and
// getpeername are x/sys's here; sockaddr_linux.go has the Linux versions.

// sysBind binds fd to sa, which SockAddr.sockaddr made.
func sysBind(fd int, sa unix.Sockaddr) error { return unix.Bind(fd, sa) }

// sysConnect connects fd to sa, which SockAddr.sockaddr made.
func sysConnect(fd int, sa unix.Sockaddr) error { return unix.Connect(fd, sa) }

// sysGetsockname returns the address fd is bound to.
func sysGetsockname(fd int) (SockAddr, error) {
	sa, err := unix.Getsockname(fd)
	if err != nil {
		return SockAddr{}, err
	}
	return sockAddrFromUnix(sa), nil
}

// sysGetpeername returns the address fd is connected to.
func sysGetpeername(fd int) (SockAddr, error) {
	sa, err := unix.Getpeername(fd)
	if err != nil {
		return SockAddr{}, err
	}
	return sockAddrFromUnix(sa), nil
}
