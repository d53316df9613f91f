//go:build darwin || netbsd || openbsd

package mio

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// sysAccept accepts, then sets the flags that these systems' x/sys cannot
// ask accept4 for. close-on-exec is set under syscall.ForkLock so that a
// fork-exec in another goroutine cannot inherit the fd in between.
func sysAccept(fd int) (int, error) {
	syscall.ForkLock.RLock()
	nfd, _, err := unix.Accept(fd)
	if err == nil {
		unix.CloseOnExec(nfd)
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return -1, err
	}
	if err := prepareAccepted(nfd); err != nil {
		unix.Close(nfd)
		return -1, err
	}
	return nfd, nil
}
