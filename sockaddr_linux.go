// The kernel address header of Linux, for sockaddr_unix.go.

package mio

import "golang.org/x/sys/unix"

// sockaddrHeader writes the family of a sockaddr; Linux has no length field
// in it, the length travels beside it.
func sockaddrHeader(rsa *unix.RawSockaddrAny, family int, _ uintptr) {
	rsa.Addr.Family = uint16(family)
}
