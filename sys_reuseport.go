//go:build linux || darwin || dragonfly || netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// reusePortOption is SO_REUSEPORT: it balances connections over the sockets
// sharing an address on Linux and DragonFly, and only shares the address on
// macOS, NetBSD and OpenBSD (see ReusePortBalances).
const reusePortOption = unix.SO_REUSEPORT
