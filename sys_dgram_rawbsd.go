//go:build dragonfly || freebsd || netbsd

package mio

import "golang.org/x/sys/unix"

// dgramSetHeader writes the family and the sa_len field that BSD sockaddrs
// begin with. The kernels overwrite sa_len with the length passed beside
// the address, but a correct one costs nothing and matches what they hand
// back.
func dgramSetHeader(rsa *unix.RawSockaddrAny, family int, salen uintptr) {
	rsa.Addr.Family = uint8(family)
	rsa.Addr.Len = uint8(salen)
}
