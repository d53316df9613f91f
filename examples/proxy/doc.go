// Command proxy is a TCP reverse proxy built on mio's buffered connection
// layer (mio.Conns): every client it accepts is connected to one backend,
// and bytes flow both ways until both sides are done.
//
// Usage:
//
//	go run ./examples/proxy [-listen 127.0.0.1:7001] -backend 127.0.0.1:7000 [-connect-timeout 5s]
//
// -listen and -backend take any form mio.ParseSockAddr reads
// ("127.0.0.1:7000", "[::1]:7000", "unix:/path"); -listen defaults to
// loopback only. Port 0 for -listen asks the kernel for a free port.
//
// For each client the proxy dials the backend at once; what the client
// sends before the backend has answered the connect is queued. A connect
// that fails, or does not finish within -connect-timeout, closes the
// client.
//
// Backpressure works in both directions: when the side data goes to has
// more than the high-water mark of output queued, the proxy stops reading
// the side data comes from (TCP flow control then stops its peer) until
// that output has drained, so a peer that sends without reading costs the
// proxy a bounded amount of memory.
//
// A half-close is forwarded: when one side finishes sending (its end of
// stream) and everything it sent has been passed on, the proxy sends the
// other side an end of stream too, and goes on forwarding the other way.
// Once both directions have finished it closes both connections. When one
// side fails (a reset, a timeout), the other is aborted.
//
// Once listening, proxy prints one line on standard output:
//
//	proxy: listening on 127.0.0.1:7001, backend 127.0.0.1:7000
//
// SIGINT or SIGTERM closes every connection and exits with status 0.
// Diagnostics go to standard error.
//
// The proxy copies every byte through user space. Go's io.Copy between two
// *net.TCPConn uses splice(2) on Linux, which moves the bytes inside the
// kernel; BenchmarkProxy measures the two side by side.
package main
