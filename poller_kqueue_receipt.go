//go:build darwin || dragonfly || freebsd || openbsd

package mio

import "golang.org/x/sys/unix"

// evReceipt makes the kernel answer every change of a list with its own
// errno, so one kevent call applies a whole registration change.
const evReceipt = unix.EV_RECEIPT
