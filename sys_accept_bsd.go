//go:build netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// prepareAccepted makes an accepted socket non-blocking; MSG_NOSIGNAL on
// every send keeps it from raising SIGPIPE.
func prepareAccepted(fd int) error { return unix.SetNonblock(fd, true) }
