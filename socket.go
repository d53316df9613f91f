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

// The sockets' system side is the unix layer (socket_unix.go,
// dgram_unix.go, accept_unix.go, sockaddr_unix.go, sockfile_unix.go,
// sys_unix.go and the sys_GOOS.go facts under it); socket_other.go has the
// same names on the systems without a poller, every one failing with
// ErrUnsupported. The types and the methods that only delegate are here
// and in tcp.go, unix.go, pipe.go, udp.go and unixgram.go, the same on
// every system.

// sockfd is what every socket, connected or listening, has: an fd, its
// addresses, its pending error and its options.
type sockfd struct {
	fdHandle
}

// stream is a connected (or connecting) stream socket: a sockfd that reads,
// writes and half-closes.
type stream struct {
	sockfd
	// connErr is a connect failure the loop saw itself (a retried Unix
	// connect), which the kernel's SO_ERROR does not hold.
	connErr error
	// readShut is set by a successful Shutdown of the reading side. The
	// kernels disagree on what reads give after it (the BSDs flush the
	// queue and return end of stream; Linux TCP returns what was queued
	// and goes on queuing what the peer sends), so Read answers io.EOF
	// itself.
	readShut bool
}

// dgramSock is the part that UDPSocket and UnixDatagram share: sending and
// receiving whole datagrams, with or without addresses.
type dgramSock struct {
	sockfd
	// family is the socket's address family; SendTo, Bind and Connect
	// refuse addresses of another family before the kernel sees them, so
	// that the error says what is wrong rather than a bare EINVAL.
	family int
	dgramSys
}

// Close deregisters the socket from the loop it is registered with, then
// closes it. A second Close returns ErrClosed and closes nothing.
func (s *sockfd) Close() error { return s.close() }

// LocalAddr returns the address the socket is bound to.
func (s *sockfd) LocalAddr() (SockAddr, error) { return s.name("getsockname", false) }

// PeerAddr returns the address of the connected peer. It fails with ENOTCONN
// while a connect is in progress.
func (s *stream) PeerAddr() (SockAddr, error) { return s.name("getpeername", true) }

// PeerAddr returns the address the socket is connected to. It fails with
// ENOTCONN when Connect was not called.
func (d *dgramSock) PeerAddr() (SockAddr, error) { return d.name("getpeername", true) }

// TakeError returns and clears the pending error: first a connect failure
// the loop recorded, then the kernel's SO_ERROR.
func (s *stream) TakeError() error {
	if err := s.connErr; err != nil {
		s.connErr = nil
		return err
	}
	return s.sockfd.TakeError()
}

func (s *stream) setConnectError(err error) { s.connErr = err }
