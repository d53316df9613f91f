// Command chat is a line-based chat server built on mio's buffered
// connection layer (mio.Conns): every complete line a client sends (ending
// in "\n") is passed on to every other client, prefixed by the sender's
// name, "userN".
//
// Usage:
//
//	go run ./examples/chat [-addr 127.0.0.1:7001] [-idle 5m] [-announce-every 0]
//	                       [-maxline 4096] [-outbuf 256KiB]
//
// -addr takes any form mio.ParseSockAddr reads ("127.0.0.1:7001",
// "[::1]:7001", "unix:/path" or "unix:@name"); port 0 picks a free port.
//
// Each client is told its name on arrival ("* welcome, you are user3"),
// and the others are told of every join and leave ("* user3 joined",
// "* user3 left (idle)").
//
// Policies, each one bounding the server's memory per client:
//
//   - Idle kick: a client that sends nothing for -idle (0: never) is
//     disconnected. This is the Conn layer's read timeout, not its idle
//     timeout: the idle timeout is put off by writes too, so a silent
//     client that merely receives the others' lines would never be idle.
//   - Long lines: a client whose pending line outgrows -maxline bytes
//     without a newline is told so and disconnected.
//   - Slow readers: each client's queued output is bounded by -outbuf.
//     A client that does not read fast enough for its output to fit (a
//     write finds it full, mio.ErrBufferFull) is disconnected at once
//     (Abort: its queued output is dropped), rather than letting the
//     server's memory grow or slowing everyone else down. The others are
//     told "* userN left (slow reader)".
//
// -announce-every D (0: never) makes a goroutine other than the loop's
// send "* server: ..." to every client every D, through mio.ConnRef.
//
// Once listening, chat prints "chat: listening on ADDR". SIGINT or SIGTERM
// closes every connection and exits with status 0.
package main
