// Command echo is an echo server built on mio: every byte a client sends
// comes back to it, in order, until the client closes its side.
//
// Usage:
//
//	go run ./examples/echo [-addr 127.0.0.1:7000] [-loops 1] [-balance auto] [-buf 64KiB] [-stats]
//
// -addr takes any form mio.ParseSockAddr reads: "127.0.0.1:7000",
// "[::1]:7000", "unix:/path/to/sock" or "unix:@name" (a Linux abstract
// name). Port 0 asks the kernel for a free port. The default is
// 127.0.0.1:7000, loopback only, so that trying the example exposes
// nothing to the network.
//
// The server is one mio.Server of -loops event loops, each on its own
// goroutine with its own table of connections. -balance says how a
// connection reaches a loop, by the names of mio.Balance: reuse-port
// gives every loop its own SO_REUSEPORT acceptor and lets the kernel
// spread the connections, which it does on Linux, DragonFly and FreeBSD
// (mio.ReusePortBalances); round-robin, least-conns and source-hash
// accept on one loop, which hands each connection to a loop in turn, to
// the loop with the fewest open, or to the loop the client's address
// hashes to. auto, the default, is reuse-port where the kernel balances
// TCP and round-robin elsewhere: on macOS, NetBSD and OpenBSD, and for
// Unix sockets.
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
// port 0). With -stats it then prints the Server's statistics
// (mio.Server.Stats) once a second, on one line:
//
//	echo: stats: open=1 accepted=3 closed=2 read=4096 written=4096 iterations=52 events=61 accept-errors=0 lag-p99=2µs lag-max=9µs
//
// the connections open now, accepted and closed so far, the bytes read
// and written, the loops' iterations and the events they dispatched, the
// accepts that failed (out of file descriptors, typically: the library
// closes the connections it cannot take, and retries without spinning),
// and the loop lag, how long ready events waited for their dispatch: the
// 99th percentile's bound and the longest.
//
// SIGINT (Ctrl-C) or SIGTERM stops the server gracefully
// (mio.Server.Shutdown): the listeners close at once, without resetting
// the connections already queued, and the clients keep their echo until
// they close; those still open after 5 seconds are closed, each given a
// second more to read what it is owed. echo then exits with status 0.
// Diagnostics go to standard error.
package main
