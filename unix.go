package mio

// UnixSocket is a non-blocking, close-on-exec Unix stream socket: a client
// to be connected with EventLoop.Connect, or a connection from
// UnixAcceptor.Accept.
type UnixSocket struct {
	stream
}

// UnixAcceptor is a Unix stream socket bound to a path or an abstract name,
// ready for EventLoop.Listen, that accepts connections.
type UnixAcceptor struct {
	sockfd
	// file is the socket file Bind created, for Close to remove.
	file    unixFile
	backlog int // ListenConfig.Backlog, for EventLoop.Listen's backlog 0
}

// NewUnixSocket opens a Unix stream socket.
func NewUnixSocket() (*UnixSocket, error) {
	s, err := newStream(afUnix)
	if err != nil {
		return nil, err
	}
	return &UnixSocket{s}, nil
}

// Bind binds the socket to addr and turns it into an acceptor: s is closed
// afterwards and its fd belongs to the returned UnixAcceptor. A path too
// long for the kernel is an error, never truncated; an existing file at the
// path gives EADDRINUSE. Bind notes which file it created (its device and
// inode), so that Close removes that file and no other.
func (s *UnixSocket) Bind(addr SockAddr) (*UnixAcceptor, error) {
	if !addr.IsUnix() {
		return nil, errFamily("bind", addr, "not a Unix address, and the socket is a Unix one")
	}
	h, err := s.bindAcceptor(addr, false)
	if err != nil {
		return nil, err
	}
	return &UnixAcceptor{sockfd: sockfd{h}, file: boundFile(addr)}, nil
}

// AcceptUnix takes one pending connection. It returns ErrWouldBlock when none
// is pending.
// A connection reset while it was queued (ECONNABORTED) is skipped.
//
// When the process or the system is out of file descriptors (EMFILE,
// ENFILE), the kernel leaves connections queued, so a level-triggered
// acceptor would be reported again on every poll and an edge-triggered one
// with a full queue never again. Accept therefore keeps one descriptor in
// reserve for the whole process, opened by the first Accept: it releases it,
// accepts and at once closes the pending connections (at most 4096), so
// their clients see the connection end instead of waiting, takes the reserve
// again and returns an error matching errors.Is(err, syscall.EMFILE) (or
// ENFILE). Treat it like ErrWouldBlock: stop accepting until the next
// Readable, and free descriptors if you can. On macOS the kernel itself
// drops the connection whose accept failed, so the listener does not stay
// readable for it, and Accept returns the error without shedding the
// others, which can still be served.
func (a *UnixAcceptor) AcceptUnix() (*UnixSocket, error) {
	fd, err := a.accept()
	if err != nil {
		return nil, err
	}
	return &UnixSocket{stream{sockfd: sockfd{fdHandle{fd: fd}}}}, nil
}

// Close deregisters and closes the acceptor and removes the socket file
// that Bind created, if the path still names that file. A file that is gone,
// or that replaced it (a restarted server's socket), is left alone. A
// second Close returns ErrClosed and removes nothing.
func (a *UnixAcceptor) Close() error {
	if a.fd >= 0 {
		a.file.remove() // while the open socket keeps the inode from reuse
	}
	return a.close()
}

// Accept is AcceptUnix returning a Socket, so that code written against the
// Acceptor interface serves TCP and Unix sockets alike (as net.Listener's
// Accept does for net.TCPListener's AcceptTCP).
func (a *UnixAcceptor) Accept() (Socket, error) {
	s, err := a.AcceptUnix()
	if err != nil {
		return nil, err // not a nil *UnixSocket in a non-nil Socket
	}
	return s, nil
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
