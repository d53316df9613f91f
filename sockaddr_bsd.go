//go:build darwin || dragonfly || freebsd || netbsd || openbsd

// The kernel address header of the BSDs and macOS, for sockaddr_unix.go.

package mio

import "golang.org/x/sys/unix"

// sockaddrHeader writes the family and the sa_len field that BSD sockaddrs
// begin with. The kernels overwrite sa_len with the length passed beside
// the address, but a correct one costs nothing and matches what they hand
// back.
func sockaddrHeader(rsa *unix.RawSockaddrAny, family int, salen uintptr) {
	rsa.Addr.Family = uint8(family)
	rsa.Addr.Len = uint8(salen)
}
