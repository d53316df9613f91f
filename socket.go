package mio

import "io"

// Socket is a stream socket that EventLoop.Connect can connect: TCPSocket or
// UnixSocket. Its unexported method keeps other implementations out, since
// the loop relies on how the library's sockets start a connection.
type Socket interface {
	Evented
	io.ReadWriter
	// TakeError returns and clears the socket's pending error (SO_ERROR),
	// including a failed connect; nil when there is none.
	TakeError() error
	// LocalAddr returns the address the socket is bound to.
	LocalAddr() (SockAddr, error)
	// PeerAddr returns the address of the connected peer.
	PeerAddr() (SockAddr, error)
	// Shutdown closes one or both directions of the connection.
	Shutdown(how ShutdownHow) error
	// Close deregisters the socket from its loop and closes it.
	Close() error

	startConnect(addr SockAddr) (connectState, error)
	setConnectError(err error)
}

// Acceptor is a bound socket that EventLoop.Listen can listen on:
// TCPAcceptor or UnixAcceptor.
type Acceptor interface {
	Evented
	// Accept takes one pending connection, or returns ErrWouldBlock when
	// none is pending; see TCPAcceptor.AcceptTCP for the rules.
	Accept() (Socket, error)
	// LocalAddr returns the address the acceptor is bound to.
	LocalAddr() (SockAddr, error)
	// Close deregisters the acceptor from its loop and closes it.
	Close() error

	listen(backlog int) error
}

// ShutdownHow says which direction Socket.Shutdown closes.
type ShutdownHow int

const (
	// ShutRead stops reading: every further read returns io.EOF, whatever
	// was queued before and whatever the peer sends after, on every
	// system (see Socket.Shutdown).
	ShutRead ShutdownHow = iota
	// ShutWrite stops writing: the peer reads io.EOF once it has read
	// everything sent before (a TCP FIN); reading goes on.
	ShutWrite
	// ShutBoth stops both directions.
	ShutBoth
)

// connectState is how connect(2) answered.
type connectState uint8

const (
	// connectDone: connected at once (Unix sockets, sometimes loopback).
	connectDone connectState = iota
	// connectInProgress: EINPROGRESS; the kernel reports write readiness
	// when the connection is made or has failed.
	connectInProgress
	// connectRetry: the peer's queue is full (Linux answers a non-blocking
	// Unix connect with EAGAIN). Nothing happened yet and no readiness will
	// say when to try again, so the loop retries on a timer.
	connectRetry
)
