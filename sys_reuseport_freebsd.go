package mio

import "golang.org/x/sys/unix"

// reusePortOption is SO_REUSEPORT_LB on FreeBSD: since FreeBSD 12 plain
// SO_REUSEPORT lets sockets share an address but hands every connection to
// one of them, and only the _LB variant balances connections over them.
const reusePortOption = unix.SO_REUSEPORT_LB
