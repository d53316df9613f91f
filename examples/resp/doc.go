// Command resp is a small key-value server speaking the Redis protocol
// (RESP2) on mio event loops, for redis-cli, redis-benchmark and other
// Redis clients.
//
// Usage:
//
//	go run ./examples/resp [-addr 127.0.0.1:6380] [-loops 1] [-maxbulk bytes] [-outbuf bytes] [-v] [-cpuprofile file]
//
// -addr takes any form mio.ParseSockAddr reads: "127.0.0.1:6380",
// "[::1]:6380", "unix:/path/to/sock" or "unix:@name". The default is
// loopback only, on the port after Redis's own, so that a real Redis
// server can run beside it. Once listening, resp prints
//
//	resp: listening on 127.0.0.1:6380
//
// and serves until SIGINT or SIGTERM. Try it with
//
//	redis-cli -p 6380 SET greeting hello
//	redis-benchmark -p 6380 -t set,get -P 16 -q
//
// # Commands
//
// Keys hold strings. The commands are PING [message], ECHO message,
// SET key value [EX seconds | PX milliseconds | KEEPTTL] [NX | XX],
// GET key, DEL key..., EXISTS key..., INCR key, MSET key value...,
// MGET key..., DBSIZE, FLUSHDB, FLUSHALL, SELECT 0 and QUIT, with the
// replies and error replies Redis gives. For the requests clients make
// while setting up a connection, CONFIG GET answers save with "" and
// appendonly with "no" (what redis-benchmark reads), COMMAND and COMMAND
// DOCS (which redis-cli asks for) an empty array, CLIENT SETNAME and
// SETINFO +OK, and HELLO an error, since only RESP2 is spoken; clients
// then stay with RESP2. Any other command gets "-ERR unknown command";
// -v logs those and the set-up requests.
//
// Requests are arrays of bulk strings or inline command lines (words
// separated by blanks, with double quotes and backslash escapes, or
// single quotes), and may be pipelined: replies come in the order of
// the requests.
//
// # Limits
//
// A request beyond a limit gets a protocol error ("-ERR Protocol error:
// ..."), and the connection is closed once the error is written, as Redis
// does. The limits are checked on the length headers, before anything is
// allocated for what they announce, and the input buffer grows only with
// the data that actually arrives.
//
//   - A bulk string holds at most -maxbulk bytes, 512 MiB by default (as
//     Redis's proto-max-bulk-len).
//   - An array holds at most 1048576 elements.
//   - An inline line is at most 64 KiB.
//   - A request is at most 1 GiB in all (as Redis's
//     client-query-buffer-limit).
//
// Malformed input (a type byte other than '*' or '$' where one is
// expected, a length that is not a decimal number, a bulk string not
// followed by CRLF, an unterminated quote) is a protocol error too. A
// request cut short by the client closing the connection is dropped
// without a reply.
//
// When the server ends a connection (a protocol error, QUIT), it closes it
// with mio.Conn.Close: the last replies are written, the sending side is
// shut down, and whatever the client still sends is dropped until the
// client closes, all within a second, instead of closing at once: closing
// a socket with unread input sends a reset, which can make the client's
// system discard the last reply before the client reads it.
//
// # Output and backpressure
//
// Each connection's replies wait in the connection's output (mio.Conn)
// until the socket takes them. When more than -outbuf bytes (256 KiB by
// default) wait, the server stops reading and parsing that connection's
// requests until the backlog has drained to a quarter of that (the Conn's
// HighWater and LowWater, and OnDrain), so a client that sends without
// reading its replies is held back by TCP flow control and cannot make the
// server's memory grow. The check is made between requests, so the
// backlog can pass the mark by the reply to one request; but stored
// values of 16 KiB or more, and all values once the backlog is over the
// mark, are not copied into the output: the reply lends them to the Conn
// (mio.Conn.WriteNoCopy; the server never changes a stored value in place
// once a reply refers to it, it replaces it), so even an MGET of a million
// keys copies little more than its headers. When a client half-closes its
// side, it still gets the replies to all the complete requests it sent,
// and then the connection is closed.
//
// # Expiry
//
// A key set with EX or PX gets a timeout on the event loop that serves the
// client that set it (mio.EventLoop.Timeout), which removes it.
// Overwriting or deleting the key clears the timeout (from another loop,
// through the timeout's own loop, which alone may touch its timers), and
// each timeout has its own token, so an old timeout can never remove a
// newer value. Reads also compare the deadline
// with the clock, so a key is never returned after it expired, even if
// its timeout runs late.
//
// # Stopping
//
// SIGINT or SIGTERM stops the server gracefully (mio.Server.Shutdown):
// the listener closes at once, and each connection is closed once the
// requests it has sent are answered (a connection paused over -outbuf
// first drains its backlog, then answers the requests it holds). Those
// still open after 5 seconds are closed.
//
// # Design
//
// The server is a mio.Server of -loops event loops, one by default, each
// on its own goroutine with its own connections; where the kernel
// balances reuse-port listeners (Linux, FreeBSD, DragonFly) each loop has
// its own, elsewhere one loop accepts and hands connections to the
// others. The loops share the keyspace, behind one lock that each request
// holds while it runs, so commands run one at a time, as in Redis, on
// whichever loop; with one loop the lock is never contended. Several loops
// read, parse and write in parallel, and wait for each other only while
// a command runs. The library's buffered connection layer (mio.Conns, mio.Conn)
// does the plumbing: it reads into each connection's input, writes the
// output as the socket takes it, and closes after the last byte is
// flushed. The server, its
// ConnHandler, only parses: each OnData runs every complete request in
// the input, builds their replies in one buffer, and hands them to the
// Conn in one write. The parser keeps its place in a request that is not
// complete yet, so a request split over many reads is parsed once; a
// request may fill the input up to the query limit (the Conn's
// ReadLimit). Parsing, running PING, GET, SET, INCR and MGET and building
// their replies allocate nothing in steady state.
//
// Persistence, replication, the other data types and RESP3 are out of
// scope.
package main
