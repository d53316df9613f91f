package mio

// UnixDatagram is a non-blocking, close-on-exec Unix datagram socket: bound
// to a path or a Linux abstract name, or unbound, connected to a peer or
// not. It keeps datagram boundaries and, unlike UDP on a network, never
// loses a datagram it accepted. What a full receiver does to a sender
// depends on the kernel:
//
//   - Linux queues the sender: sending gives ErrWouldBlock, and for the
//     connected peer Writable says when there is room again.
//   - macOS and the BSDs refuse the datagram: sending fails with ENOBUFS
//     (errors.Is(err, syscall.ENOBUFS)) and nothing is queued. The sender's
//     own socket keeps no datagrams, so it stays writable and Writable
//     never tracks the receiver's room: waiting for Writable there would
//     spin. Retry on a timeout instead (EventLoop.Timeout, with a back-off),
//     or drop the datagram.
//
// A receiver learns a sender's address only if the sender is bound, so a
// client that wants replies binds first. On Linux, FreeBSD, NetBSD and
// DragonFly, RecvFrom allocates only when the sender's path differs from the
// previous datagram's; on macOS and OpenBSD it allocates per datagram (see
// UDPSocket).
type UnixDatagram struct {
	dgramSock
	// file is the socket file Bind created, for Close to remove, as
	// UnixAcceptor does.
	file unixFile
}

// NewUnixDatagram opens an unbound Unix datagram socket. It can send with
// SendTo at once; replies need an address, given by Bind.
func NewUnixDatagram() (*UnixDatagram, error) {
	d, err := newDgramSock(afUnix)
	if err != nil {
		return nil, err
	}
	return &UnixDatagram{dgramSock: d}, nil
}

// UnixDatagramPair returns two Unix datagram sockets connected to each
// other (socketpair(2)), non-blocking and close-on-exec, for talking to a
// child process or between parts of a program. Neither has an address.
func UnixDatagramPair() (*UnixDatagram, *UnixDatagram, error) {
	a, b, err := sysDgramSocketpair()
	if err != nil {
		return nil, nil, wrapSyscall("socketpair", err)
	}
	mk := func(fd int) *UnixDatagram {
		return &UnixDatagram{dgramSock: dgramSock{sockfd: sockfd{fdHandle{fd: fd}}, family: afUnix}}
	}
	return mk(a), mk(b), nil
}

// Bind gives the socket the address addr, a path or (on Linux) an abstract
// "@name"; on Linux UnixAddr("") asks for an automatic abstract name, which
// LocalAddr then reports. A path too long for the kernel is an error, never
// truncated; an existing file at the path gives EADDRINUSE. Close removes
// the file that Bind created, and no other (see UnixAcceptor.Bind).
func (u *UnixDatagram) Bind(addr SockAddr) error {
	if err := u.bindTo(addr); err != nil {
		return err
	}
	u.file = boundFile(addr)
	return nil
}

// Connect sets the socket's peer: Send and Recv then use it, and only the
// peer's datagrams are received. It completes at once; ECONNREFUSED means
// no socket is bound at addr.
func (u *UnixDatagram) Connect(addr SockAddr) error { return u.connectTo(addr) }

// SendTo sends p as one datagram to addr. The datagram goes whole or not at
// all: on success n == len(p). A full receiver gives (0, ErrWouldBlock) on
// Linux, where Writable then says when to try again if the receiver is the
// connected peer; for another receiver Linux may report Writable while it
// is still full, so a sender must be ready to meet ErrWouldBlock again (or
// retry on a timeout). On macOS and the BSDs a full receiver gives ENOBUFS
// and Writable does not follow it: retry on a timeout (see UnixDatagram).
// A datagram larger than the send buffer gives EMSGSIZE.
func (u *UnixDatagram) SendTo(p []byte, addr SockAddr) (int, error) {
	return u.sendTo(p, addr, true)
}

// RecvFrom receives one datagram into p and returns its length and the
// sender's address: UnixAddr("") (IsUnix, empty Path) when the sender is
// unbound and cannot be answered. A sender's abstract name is reported
// whole, with any NUL bytes in it, so a reply reaches that sender. It
// returns ErrWouldBlock when none is waiting, and ErrTruncated, with p
// full, for a datagram longer than p.
func (u *UnixDatagram) RecvFrom(p []byte) (int, SockAddr, error) { return u.recvFrom(p, true) }

// Send sends p as one datagram to the connected peer, like SendTo.
func (u *UnixDatagram) Send(p []byte) (int, error) { return u.sendTo(p, SockAddr{}, false) }

// Recv receives one datagram into p, like RecvFrom without the address.
func (u *UnixDatagram) Recv(p []byte) (int, error) {
	n, _, err := u.recvFrom(p, false)
	return n, err
}

// Close deregisters and closes the socket and removes the socket file that
// Bind created, if the path still names that file; see UnixAcceptor.Close.
func (u *UnixDatagram) Close() error {
	if u.fd >= 0 {
		u.file.remove() // while the open socket keeps the inode from reuse
	}
	return u.close()
}
