//go:build linux

package mio

import "golang.org/x/sys/unix"

// dgramSetHeader writes the family of a sockaddr; Linux has no length field
// in it, the length travels beside it.
func dgramSetHeader(rsa *unix.RawSockaddrAny, family int, _ uintptr) {
	rsa.Addr.Family = uint16(family)
}
