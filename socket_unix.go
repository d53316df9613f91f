//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/sys/unix"
)

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

// newSockfd opens a non-blocking, close-on-exec socket.
func newSockfd(family, typ int) (sockfd, error) {
	fd, err := sysSocket(family, typ)
	if err != nil {
		return sockfd{}, wrapSyscall("socket", err)
	}
	return sockfd{fdHandle{fd: fd}}, nil
}

// Close deregisters the socket from the loop it is registered with, then
// closes it. A second Close returns ErrClosed and closes nothing.
func (s *sockfd) Close() error { return s.close() }

// TakeError returns and clears the socket's pending error (SO_ERROR), as an
// errno that errors.Is recognises; nil when there is none. The error is
// named "socket error", not after an operation: SO_ERROR holds a failed
// connect as well as a reset, an ICMP error or a timeout of a connection
// that was long established.
func (s *sockfd) TakeError() error {
	if s.fd < 0 {
		return ErrClosed
	}
	errno, err := unix.GetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return wrapSyscall("getsockopt", err)
	}
	if errno != 0 {
		return wrapSyscall("socket error", unix.Errno(errno))
	}
	return nil
}

// LocalAddr returns the address the socket is bound to.
func (s *sockfd) LocalAddr() (SockAddr, error) {
	if s.fd < 0 {
		return SockAddr{}, ErrClosed
	}
	a, err := sysGetsockname(s.fd)
	if err != nil {
		return SockAddr{}, wrapSyscall("getsockname", err)
	}
	return a, nil
}

func (s *sockfd) setBool(level, opt int, on bool) error {
	if s.fd < 0 {
		return ErrClosed
	}
	v := 0
	if on {
		v = 1
	}
	return wrapSyscall("setsockopt", unix.SetsockoptInt(s.fd, level, opt, v))
}

// SetReuseAddr sets SO_REUSEADDR: a listener may bind a port that
// connections in TIME_WAIT still hold. TCPSocket.Bind always turns it on,
// as Go's net does for its listeners.
func (s *sockfd) SetReuseAddr(on bool) error {
	return s.setBool(unix.SOL_SOCKET, unix.SO_REUSEADDR, on)
}

// SetReusePort lets several sockets, typically one per event loop, bind
// the same address. Where ReusePortBalances is true the kernel spreads the
// connections over them (it sets SO_REUSEPORT_LB on FreeBSD, SO_REUSEPORT
// elsewhere); on macOS, NetBSD and OpenBSD one socket gets them all, so
// share one acceptor through Dup there instead.
func (s *sockfd) SetReusePort(on bool) error {
	return s.setBool(unix.SOL_SOCKET, reusePortOption, on)
}

// SetKeepAlive sets SO_KEEPALIVE.
func (s *sockfd) SetKeepAlive(on bool) error {
	return s.setBool(unix.SOL_SOCKET, unix.SO_KEEPALIVE, on)
}

// SetLinger sets SO_LINGER as Go's net does: sec < 0 restores the default
// (Close returns at once, the kernel sends what is queued), sec == 0 makes
// Close discard unsent data and reset the connection, sec > 0 lingers.
func (s *sockfd) SetLinger(sec int) error {
	if s.fd < 0 {
		return ErrClosed
	}
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	return wrapSyscall("setsockopt", unix.SetsockoptLinger(s.fd, unix.SOL_SOCKET, unix.SO_LINGER, &l))
}

// SetRecvBuffer sets SO_RCVBUF, the kernel's receive buffer size in bytes.
func (s *sockfd) SetRecvBuffer(bytes int) error {
	if s.fd < 0 {
		return ErrClosed
	}
	return wrapSyscall("setsockopt", unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_RCVBUF, bytes))
}

// SetSendBuffer sets SO_SNDBUF, the kernel's send buffer size in bytes.
func (s *sockfd) SetSendBuffer(bytes int) error {
	if s.fd < 0 {
		return ErrClosed
	}
	return wrapSyscall("setsockopt", unix.SetsockoptInt(s.fd, unix.SOL_SOCKET, unix.SO_SNDBUF, bytes))
}

// bind binds the socket to addr.
func (s *sockfd) bind(addr SockAddr) error {
	if s.fd < 0 {
		return ErrClosed
	}
	sa, err := addr.sockaddr()
	if err != nil {
		return err
	}
	if err := sysBind(s.fd, sa); err != nil {
		return fmt.Errorf("mio: bind %s: %w", addr, wrapSyscall("bind", err))
	}
	return nil
}

// bindAcceptor binds s to addr and moves its fd out, leaving s closed, for
// Bind's handing of a socket over to its acceptor. A registered socket is
// refused before anything changes: its registration would be left naming
// the wrong object.
func (s *sockfd) bindAcceptor(addr SockAddr, reuseAddr bool) (fdHandle, error) {
	if s.fd < 0 {
		return fdHandle{}, ErrClosed
	}
	if s.owner != nil {
		return fdHandle{}, fmt.Errorf("mio: bind a registered socket: deregister it first: %w", unix.EBUSY)
	}
	if reuseAddr {
		if err := s.SetReuseAddr(true); err != nil {
			return fdHandle{}, err
		}
	}
	if err := s.bind(addr); err != nil {
		return fdHandle{}, err
	}
	h := fdHandle{fd: s.fd}
	s.fd = -1
	return h, nil
}

// listen starts listening. A backlog <= 0 asks for the system's maximum:
// Linux and the BSDs clamp a larger value to their somaxconn, whereas zero
// itself would leave a queue of about one.
func (s *sockfd) listen(backlog int) error {
	if s.fd < 0 {
		return ErrClosed
	}
	if backlog <= 0 {
		backlog = math.MaxInt32
	}
	return wrapSyscall("listen", unix.Listen(s.fd, backlog))
}

// accept takes one pending connection as a non-blocking, close-on-exec fd.
// A connection reset while queued (ECONNABORTED) is skipped, as the peer is
// already gone.
func (s *sockfd) accept() (int, error) {
	if s.fd < 0 {
		return -1, ErrClosed
	}
	return acceptOrShed(s.fd)
}

// Read reads into p. It returns ErrWouldBlock when no data is there and
// io.EOF once the peer has closed its side and everything was read.
func (s *stream) Read(p []byte) (int, error) {
	if s.readShut && s.fd >= 0 {
		return 0, io.EOF
	}
	n, err := readFd(s.fd, p)
	if err != nil && err != ErrWouldBlock && err != io.EOF {
		s.keepConnectError(err)
	}
	return n, err
}

// keepConnectError remembers an error that only a failed connection gives.
// The read or write that returned it took it from SO_ERROR, and TakeError
// at the connect's Writable must still report it: on loopback a refusal
// often arrives before the handler's Readable reads.
func (s *stream) keepConnectError(err error) {
	var errno unix.Errno
	if s.connErr != nil || !errors.As(err, &errno) {
		return
	}
	switch errno {
	case unix.ECONNREFUSED, unix.ETIMEDOUT, unix.EHOSTUNREACH, unix.ENETUNREACH:
		s.connErr = err
	}
}

// Write writes p, as much as the kernel takes. When it takes only part, it
// returns n < len(p) with ErrWouldBlock: wait for Writable and write the
// rest. Writing to a closed peer returns EPIPE or ECONNRESET and raises no
// SIGPIPE.
func (s *stream) Write(p []byte) (int, error) {
	n, err := writeFd(s.fd, p, sysSend)
	if err != nil && err != ErrWouldBlock {
		s.keepConnectError(err)
	}
	return n, err
}

// PeerAddr returns the address of the connected peer. It fails with ENOTCONN
// while a connect is in progress.
func (s *stream) PeerAddr() (SockAddr, error) {
	if s.fd < 0 {
		return SockAddr{}, ErrClosed
	}
	a, err := sysGetpeername(s.fd)
	if err != nil {
		return SockAddr{}, wrapSyscall("getpeername", err)
	}
	return a, nil
}

// Shutdown closes one or both directions; see ShutdownHow. After ShutRead
// or ShutBoth every Read returns io.EOF on every system, also when data
// was queued before or the peer sends more (Linux would deliver it); a
// level-triggered registration is then reported readable with HupHint
// until it is closed or deregistered, as at the peer's end of stream. A how that is
// none of those returns EINVAL. Shutting down a
// socket that is not connected returns ENOTCONN on every system and for
// every family (Linux itself accepts it silently for Unix sockets). A second
// Shutdown of the same direction does what the kernel does: nothing, on
// Linux.
func (s *stream) Shutdown(how ShutdownHow) error {
	if s.fd < 0 {
		return ErrClosed
	}
	var h int
	switch how {
	case ShutRead:
		h = unix.SHUT_RD
	case ShutWrite:
		h = unix.SHUT_WR
	case ShutBoth:
		h = unix.SHUT_RDWR
	default:
		// Checked first: a bad argument is the caller's error whatever
		// state the socket is in.
		return fmt.Errorf("mio: shutdown %d: %w", how, unix.EINVAL)
	}
	if _, err := unix.Getpeername(s.fd); err == unix.ENOTCONN {
		return wrapSyscall("shutdown", err)
	}
	if err := unix.Shutdown(s.fd, h); err != nil {
		return wrapSyscall("shutdown", err)
	}
	s.readShut = s.readShut || how != ShutWrite
	return nil
}

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

// startConnect issues a non-blocking connect(2) and says how it went.
func (s *stream) startConnect(addr SockAddr) (connectState, error) {
	if s.fd < 0 {
		return 0, ErrClosed
	}
	sa, err := addr.sockaddr()
	if err != nil {
		return 0, err
	}
	for {
		switch err := sysConnect(s.fd, sa); err {
		case nil:
			return connectDone, nil
		case unix.EINPROGRESS:
			return connectInProgress, nil
		case unix.EAGAIN:
			if addr.IsUnix() {
				return connectRetry, nil
			}
			return 0, fmt.Errorf("mio: connect %s: %w", addr, wrapSyscall("connect", err))
		case unix.EINTR:
			// The connect goes on in the background; its result comes as
			// write readiness like any other in-progress connect.
			return connectInProgress, nil
		default:
			return 0, fmt.Errorf("mio: connect %s: %w", addr, wrapSyscall("connect", err))
		}
	}
}

// readFd reads once, mapping the orderly end of stream to io.EOF and
// retrying EINTR. It allocates nothing, also on ErrWouldBlock.
func readFd(fd int, p []byte) (int, error) {
	if fd < 0 {
		return 0, ErrClosed
	}
	for {
		n, err := sysRead(fd, p)
		switch {
		case err == nil && n == 0 && len(p) > 0:
			return 0, io.EOF
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, ErrWouldBlock
		default:
			return 0, wrapSyscall("read", err)
		}
	}
}

// writeFd writes all of p or until the kernel refuses more, with send doing
// one write.
func writeFd(fd int, p []byte, send func(fd int, p []byte) (int, error)) (int, error) {
	if fd < 0 {
		return 0, ErrClosed
	}
	written := 0
	for written < len(p) {
		n, err := send(fd, p[written:])
		if n > 0 {
			written += n
		}
		switch err {
		case nil:
		case unix.EINTR:
		case unix.EAGAIN:
			return written, ErrWouldBlock
		default:
			return written, wrapSyscall("write", err)
		}
	}
	return written, nil
}
