//go:build unix

package mio

import "golang.org/x/sys/unix"

func closeFd(fd int) error { return unix.Close(fd) }
