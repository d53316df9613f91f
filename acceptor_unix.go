//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import "golang.org/x/sys/unix"

// dup returns a close-on-exec duplicate of the socket's fd, sharing its
// open file, so also its queue and its non-blocking mode.
func (s *sockfd) dup() (sockfd, error) {
	if s.fd < 0 {
		return sockfd{}, ErrClosed
	}
	fd, err := unix.FcntlInt(uintptr(s.fd), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return sockfd{}, wrapSyscall("fcntl", err)
	}
	return sockfd{fdHandle{fd: fd}}, nil
}

// Dup returns a second acceptor for the same listening socket, for another
// event loop: each loop registers its own fd and accepts from the one
// queue, an accept that loses the race getting ErrWouldBlock. It is the way
// to share a listener between loops where ReusePortBalances is false. The
// two are closed separately; the socket lives until both are.
func (a *TCPAcceptor) Dup() (*TCPAcceptor, error) {
	s, err := a.dup()
	if err != nil {
		return nil, err
	}
	return &TCPAcceptor{sockfd: s, backlog: a.backlog}, nil
}

// Dup returns a second acceptor for the same listening socket, as
// TCPAcceptor.Dup does. Only the acceptor that Bind returned removes the
// socket file when it is closed.
func (a *UnixAcceptor) Dup() (*UnixAcceptor, error) {
	s, err := a.dup()
	if err != nil {
		return nil, err
	}
	return &UnixAcceptor{sockfd: s, backlog: a.backlog}, nil
}

// listen starts listening; a backlog of 0 takes the one ListenConfig gave.
func (a *TCPAcceptor) listen(backlog int) error {
	return a.sockfd.listen(orBacklog(backlog, a.backlog))
}

// listen starts listening; a backlog of 0 takes the one ListenConfig gave.
func (a *UnixAcceptor) listen(backlog int) error {
	return a.sockfd.listen(orBacklog(backlog, a.backlog))
}

// orBacklog is EventLoop.Listen's backlog, or the acceptor's own when that
// is 0 (and the system's maximum when both are).
func orBacklog(backlog, own int) int {
	if backlog == 0 {
		return own
	}
	return backlog
}
