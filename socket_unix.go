//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// Sockets on the unix systems: opening, options, bind, listen, connect,
// reads, writes and shutdown, for stream and datagram sockets alike.

package mio

import (
	"errors"
	"io"
	"math"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The address families the portable files name.
const (
	afInet  = unix.AF_INET
	afInet6 = unix.AF_INET6
	afUnix  = unix.AF_UNIX
)

// newSockfd opens a non-blocking, close-on-exec socket.
func newSockfd(family, typ int) (sockfd, error) {
	fd, err := sysSocket(family, typ)
	if err != nil {
		return sockfd{}, wrapSyscall("socket", err)
	}
	return sockfd{fdHandle{fd: fd}}, nil
}

func newStream(family int) (stream, error) {
	s, err := newSockfd(family, unix.SOCK_STREAM)
	return stream{sockfd: s}, err
}

func newDgramSock(family int) (dgramSock, error) {
	s, err := newSockfd(family, unix.SOCK_DGRAM)
	return dgramSock{sockfd: s, family: family}, err
}

// errFamily refuses op on addr, whose family the socket cannot take.
func errFamily(op string, addr SockAddr, why string) error {
	return refuse(op, addr.String(), why, unix.EAFNOSUPPORT)
}

// TakeError returns and clears the socket's pending error (SO_ERROR), as an
// errno that errors.Is recognises; nil when there is none. The error is
// named "socket error", not after an operation: SO_ERROR holds a failed
// connect as well as a reset, an ICMP error or a timeout of a connection
// that was long established.
func (s *sockfd) TakeError() error {
	errno, err := getsockopt(s, unix.GetsockoptInt, unix.SOL_SOCKET, unix.SO_ERROR)
	if err != nil {
		return err
	}
	if errno != 0 {
		return wrapSyscall("socket error", unix.Errno(errno))
	}
	return nil
}

// name is getsockname, or getpeername when peer is set.
func (s *sockfd) name(op string, peer bool) (SockAddr, error) {
	fd, err := s.sysfd(op)
	if err != nil {
		return SockAddr{}, err
	}
	a, err := sysName(peer, fd)
	if err != nil {
		return SockAddr{}, wrapSyscall(op, err)
	}
	return a, nil
}

// setsockopt and getsockopt are every option of every socket, stream or
// datagram: the closed guard, the x/sys call set or get, and the wrapping.
func setsockopt[T any](s *sockfd, set func(fd, level, opt int, v T) error, level, opt int, v T) error {
	fd, err := s.sysfd("setsockopt")
	if err != nil {
		return err
	}
	return wrapSyscall("setsockopt", set(fd, level, opt, v))
}

func getsockopt[T any](s *sockfd, get func(fd, level, opt int) (T, error), level, opt int) (T, error) {
	fd, err := s.sysfd("getsockopt")
	if err != nil {
		var zero T
		return zero, err
	}
	v, err := get(fd, level, opt)
	return v, wrapSyscall("getsockopt", err)
}

func (s *sockfd) setInt(level, opt, v int) error {
	return setsockopt(s, unix.SetsockoptInt, level, opt, v)
}

func (s *sockfd) setBool(level, opt int, on bool) error {
	return s.setInt(level, opt, boolInt(on))
}

func (s *sockfd) getBool(level, opt int) (bool, error) {
	v, err := getsockopt(s, unix.GetsockoptInt, level, opt)
	return v != 0, err
}

func boolInt(on bool) int {
	if on {
		return 1
	}
	return 0
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
	l := unix.Linger{}
	if sec >= 0 {
		l.Onoff, l.Linger = 1, int32(sec)
	}
	return setsockopt(s, unix.SetsockoptLinger, unix.SOL_SOCKET, unix.SO_LINGER, &l)
}

// SetRecvBuffer sets SO_RCVBUF, the kernel's receive buffer size in bytes.
func (s *sockfd) SetRecvBuffer(bytes int) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_RCVBUF, bytes)
}

// SetSendBuffer sets SO_SNDBUF, the kernel's send buffer size in bytes.
func (s *sockfd) SetSendBuffer(bytes int) error {
	return s.setInt(unix.SOL_SOCKET, unix.SO_SNDBUF, bytes)
}

// setNoDelay is TCPSocket.SetNoDelay.
func (s *sockfd) setNoDelay(on bool) error {
	return s.setBool(unix.IPPROTO_TCP, unix.TCP_NODELAY, on)
}

// bind binds the socket to addr.
func (s *sockfd) bind(addr SockAddr) error {
	fd, err := s.sysfd("bind")
	if err != nil {
		return err
	}
	var k kaddr
	if err := addr.kernel(&k); err != nil {
		return err
	}
	return wrapAddr("bind", addr, sysBind(fd, &k))
}

// bindAcceptor binds s to addr and moves its fd out, leaving s closed, for
// Bind's handing of a socket over to its acceptor. A registered socket is
// refused before anything changes: its registration would be left naming
// the wrong object.
func (s *sockfd) bindAcceptor(addr SockAddr, reuseAddr bool) (fdHandle, error) {
	if _, err := s.sysfd("bind"); err != nil {
		return fdHandle{}, err
	}
	if s.owner != nil {
		return fdHandle{}, refuse("bind", addr.String(), "the socket is registered: deregister it first", unix.EBUSY)
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
	fd, err := s.sysfd("listen")
	if err != nil {
		return err
	}
	if backlog <= 0 {
		backlog = math.MaxInt32
	}
	return wrapSyscall("listen", unix.Listen(fd, backlog))
}

// accept takes one pending connection as a non-blocking, close-on-exec fd.
// A connection reset while queued (ECONNABORTED) is skipped, as the peer is
// already gone.
func (s *sockfd) accept() (int, error) {
	fd, err := s.sysfd("accept")
	if err != nil {
		return -1, err
	}
	return acceptOrShed(fd)
}

// dup returns a close-on-exec duplicate of the socket's fd, sharing its
// open file, so also its queue and its non-blocking mode.
func (s *sockfd) dup() (sockfd, error) {
	fd, err := s.sysfd("dup")
	if err != nil {
		return sockfd{}, err
	}
	nfd, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return sockfd{}, wrapSyscall("dup", err)
	}
	return sockfd{fdHandle{fd: nfd}}, nil
}

// connect issues connect(2) once, retrying EINTR only where the caller
// says so (retryIntr): for a datagram socket, which only records its peer,
// a repeated connect is harmless.
func (s *sockfd) connect(addr SockAddr, retryIntr bool) error {
	fd, err := s.sysfd("connect")
	if err != nil {
		return err
	}
	var k kaddr
	if err := addr.kernel(&k); err != nil {
		return err
	}
	err = sysConnect(fd, &k)
	for retryIntr && err == unix.EINTR {
		err = sysConnect(fd, &k)
	}
	return err
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

// Shutdown closes one or both directions; see ShutdownHow. After ShutRead
// or ShutBoth every Read returns io.EOF on every system, also when data
// was queued before or the peer sends more (Linux would deliver it); a
// level-triggered registration is then reported readable with HupHint
// until it is closed or deregistered, as at the peer's end of stream. A how
// that is none of those returns EINVAL. Shutting down a socket that is not
// connected returns ENOTCONN on every system and for every family (Linux
// itself accepts it silently for Unix sockets). A second Shutdown of the
// same direction does what the kernel does: nothing, on Linux.
func (s *stream) Shutdown(how ShutdownHow) error {
	fd, err := s.sysfd("shutdown")
	if err != nil {
		return err
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
		return refuse("shutdown", strconv.Itoa(int(how)), "not ShutRead, ShutWrite or ShutBoth", unix.EINVAL)
	}
	if _, err := unix.Getpeername(fd); err == unix.ENOTCONN {
		return wrapSyscall("shutdown", err)
	}
	if err := unix.Shutdown(fd, h); err != nil {
		return wrapSyscall("shutdown", err)
	}
	s.readShut = s.readShut || how != ShutWrite
	return nil
}

// startConnect issues a non-blocking connect(2) and says how it went.
func (s *stream) startConnect(addr SockAddr) (connectState, error) {
	switch err := s.connect(addr, false); err {
	case nil:
		return connectDone, nil
	case unix.EINPROGRESS, unix.EINTR:
		// After EINTR the connect goes on in the background; its result
		// comes as write readiness like any other in-progress connect.
		return connectInProgress, nil
	case unix.EAGAIN:
		if addr.IsUnix() {
			return connectRetry, nil
		}
		return 0, wrapAddr("connect", addr, err)
	default:
		if _, ok := err.(unix.Errno); !ok {
			return 0, err // closed, or the address did not convert
		}
		return 0, wrapAddr("connect", addr, err)
	}
}

// readFd reads once, mapping the orderly end of stream to io.EOF and
// retrying EINTR. It allocates nothing, also on ErrWouldBlock.
func readFd(fd int, p []byte) (int, error) {
	if fd < 0 {
		return 0, errClosed("read")
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
		return 0, errClosed("write")
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

// gatherMax is the most pieces one gathered write takes. Every system
// allows at least 1024 (IOV_MAX); 64 pieces already amortise the call.
const gatherMax = 64

// gather writes several pieces of a stream with one sendmsg(2), with
// sendFlags so that a closed peer gives EPIPE and no SIGPIPE. Its iovec
// array is kept between calls, so a gathered write allocates nothing. Where
// only libc may make system calls (macOS, OpenBSD), x/sys's gathered send
// allocates its iovecs, so the pieces go one write each there instead.
type gather struct {
	iov [gatherMax]unix.Iovec
}

// write writes pieces in order (at most gatherMax are looked at) until
// the kernel refuses more: the count written and nil, ErrWouldBlock, or
// the wrapped error, as writeFd.
func (g *gather) write(fd int, pieces [][]byte) (int, error) {
	if fd < 0 {
		return 0, errClosed("write")
	}
	pieces = pieces[:min(len(pieces), gatherMax)]
	if libcCalls || len(pieces) == 1 {
		return writePieces(fd, pieces)
	}
	for i, p := range pieces {
		g.iov[i] = unix.Iovec{Base: unsafe.SliceData(p)}
		g.iov[i].SetLen(len(p))
	}
	var msg unix.Msghdr
	msg.Iov = &g.iov[0]
	msg.SetIovlen(len(pieces))
	for {
		r, err := sockSendmsg(fd, &msg, sendFlags)
		switch err {
		case nil:
			clear(g.iov[:len(pieces)]) // keep no caller memory alive
			return r, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, ErrWouldBlock
		default:
			clear(g.iov[:len(pieces)])
			return 0, wrapSyscall("write", err)
		}
	}
}

// writePieces writes the pieces one call each, stopping at the first the
// kernel takes only in part.
func writePieces(fd int, pieces [][]byte) (int, error) {
	total := 0
	for _, p := range pieces {
		n, err := writeFd(fd, p, sysSend)
		total += n
		if err != nil {
			if total > 0 && err == ErrWouldBlock {
				return total, nil
			}
			return total, err
		}
	}
	return total, nil
}
