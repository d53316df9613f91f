package mio

// TCPSocket is a non-blocking, close-on-exec TCP socket: a client to be
// connected with EventLoop.Connect, or a connection from TCPAcceptor.Accept.
// Like all the library's types it is used from one goroutine at a time.
type TCPSocket struct {
	stream
}

// TCPAcceptor is a TCP socket bound to an address, ready for
// EventLoop.Listen, that accepts connections.
type TCPAcceptor struct {
	sockfd
	backlog int // ListenConfig.Backlog, for EventLoop.Listen's backlog 0
}

// NewTCPSocketV4 opens an IPv4 TCP socket.
func NewTCPSocketV4() (*TCPSocket, error) { return newTCPSocket(afInet) }

// NewTCPSocketV6 opens an IPv6 TCP socket.
func NewTCPSocketV6() (*TCPSocket, error) { return newTCPSocket(afInet6) }

func newTCPSocket(family int) (*TCPSocket, error) {
	s, err := newStream(family)
	if err != nil {
		return nil, err
	}
	return &TCPSocket{s}, nil
}

// SetNoDelay sets TCP_NODELAY: small writes go out at once instead of
// waiting to be coalesced (Nagle's algorithm).
func (s *TCPSocket) SetNoDelay(on bool) error {
	return s.setNoDelay(on)
}

// Bind binds the socket to addr and turns it into an acceptor, as early
// mio's bind did: s is closed afterwards and its fd belongs to the returned
// TCPAcceptor. SO_REUSEADDR is turned on first, as Go's net does, so a
// restarted server can bind a port that old connections hold in TIME_WAIT.
// Port 0 asks the kernel for a free port; LocalAddr says which.
func (s *TCPSocket) Bind(addr SockAddr) (*TCPAcceptor, error) {
	if !addr.IsInet() {
		return nil, errFamily("bind", addr, "not an IP address, and the socket is a TCP one")
	}
	h, err := s.bindAcceptor(addr, true)
	if err != nil {
		return nil, err
	}
	return &TCPAcceptor{sockfd: sockfd{h}}, nil
}

// AcceptTCP takes one pending connection. It returns ErrWouldBlock when none
// is pending: with the default edge-triggered Listen, call it until then.
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
func (a *TCPAcceptor) AcceptTCP() (*TCPSocket, error) {
	fd, err := a.accept()
	if err != nil {
		return nil, err
	}
	return &TCPSocket{stream{sockfd: sockfd{fdHandle{fd: fd}}}}, nil
}

// Accept is AcceptTCP returning a Socket, so that code written against the
// Acceptor interface serves TCP and Unix sockets alike (as net.Listener's
// Accept does for net.TCPListener's AcceptTCP).
func (a *TCPAcceptor) Accept() (Socket, error) {
	s, err := a.AcceptTCP()
	if err != nil {
		return nil, err // not a nil *TCPSocket in a non-nil Socket
	}
	return s, nil
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
