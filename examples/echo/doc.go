// Command echo is an echo server built on mio's event loop: every byte a
// client sends comes back to it, in order, until the client closes its
// side.
//
// Usage:
//
//	go run ./examples/echo [-addr 127.0.0.1:7000] [-loops 1] [-buf 64KiB]
//
// -addr takes any form mio.ParseSockAddr reads: "127.0.0.1:7000",
// "[::1]:7000", "unix:/path/to/sock" or "unix:@name" (a Linux abstract
// name). Port 0 asks the kernel for a free port. The default is
// 127.0.0.1:7000, loopback only, so that trying the example exposes
// nothing to the network.
//
// -loops N runs N event loops, each on its own goroutine with its own
// acceptor. Where the kernel balances SO_REUSEPORT (Linux, DragonFly, and
// FreeBSD with SO_REUSEPORT_LB: mio.ReusePortBalances) each binds the same
// TCP address and the kernel spreads connections over them; on macOS,
// NetBSD and OpenBSD, and for Unix sockets, the loops share one listening
// socket, each with its own Dup of it, and whichever loop is free accepts.
//
// -buf bounds each connection's input and, again, its output: the data
// read and not yet written back ("16KiB", "1MiB" or a number of bytes).
// When the output is full the server stops reading from that client until
// the client has read, so a client that sends without reading is slowed
// down by TCP flow control rather than growing the server's memory. The
// connections are mio.Conns: the library keeps the buffers (none while a
// connection is idle), the write readiness and the close after the last
// byte is flushed, and conn.go only says what to write back.
//
// Once listening, echo prints one line on standard output:
//
//	echo: listening on 127.0.0.1:7000 with 1 loop(s)
//
// naming the address actually bound (with the port the kernel chose for
// port 0). SIGINT (Ctrl-C) or SIGTERM stops every loop, closes every
// connection and acceptor, and exits with status 0. Diagnostics go to
// standard error.
package main
