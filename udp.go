package mio

// UDPSocket is a non-blocking, close-on-exec UDP socket. Register it with an
// event loop like any Evented: Readable means a datagram (or an error from
// an earlier send, such as ECONNREFUSED) is waiting, Writable that the send
// buffer has room again. Like all the library's types it is used from one
// goroutine at a time.
//
// On Linux, FreeBSD, NetBSD and DragonFly, RecvFrom and SendTo allocate
// nothing per datagram: the kernel's address is converted to and from a
// SockAddr value on the stack. On macOS and OpenBSD, where system calls go
// through libc and x/sys hands out addresses as heap objects, RecvFrom
// allocates (also when it finds nothing); SendTo to the same address as the
// previous call does not.
type UDPSocket struct {
	dgramSock
}

// NewUDPSocketV4 opens an IPv4 UDP socket. It is not bound: Bind it to
// receive on a known port, or let the first SendTo bind it to a free one.
func NewUDPSocketV4() (*UDPSocket, error) { return newUDPSocket(afInet) }

// NewUDPSocketV6 opens an IPv6 UDP socket. Whether it also receives IPv4
// traffic (as IPv4-mapped addresses) is the system's default for
// IPV6_V6ONLY; addresses given to it must be IPv6 ones either way.
func NewUDPSocketV6() (*UDPSocket, error) { return newUDPSocket(afInet6) }

func newUDPSocket(family int) (*UDPSocket, error) {
	d, err := newDgramSock(family)
	if err != nil {
		return nil, err
	}
	return &UDPSocket{d}, nil
}

// Bind binds the socket to addr; port 0 asks for a free port, which
// LocalAddr then names. Unlike TCPSocket.Bind it keeps the socket (a UDP
// socket both sends and receives) and leaves SO_REUSEADDR alone, because on
// UDP that lets two sockets share a port and split its datagrams; call
// SetReuseAddr first where that is wanted, as for multicast receivers.
func (s *UDPSocket) Bind(addr SockAddr) error { return s.bindTo(addr) }

// Connect sets the socket's peer: Send and Recv then use it, datagrams from
// other sources are dropped by the kernel, and an ICMP port unreachable
// from the peer is reported (as ECONNREFUSED from a later Send or Recv, and
// as an error event). It completes at once; connecting again replaces the
// peer.
func (s *UDPSocket) Connect(addr SockAddr) error { return s.connectTo(addr) }

// SendTo sends p as one datagram to addr. The datagram goes whole or not at
// all: on success n == len(p); a full send buffer gives (0, ErrWouldBlock),
// after which Writable says when to try again; a datagram too large for the
// path gives EMSGSIZE. Other errors name the operation and the address.
func (s *UDPSocket) SendTo(p []byte, addr SockAddr) (int, error) { return s.sendTo(p, addr, true) }

// RecvFrom receives one datagram into p and returns its length and source
// address. It returns ErrWouldBlock when none is waiting. A datagram longer
// than p fills p and returns ErrTruncated together with the source; the
// rest of it is lost, so size p for the largest datagram expected (65507
// bytes is the IPv4 maximum). A zero-length datagram is (0, addr, nil),
// not an end of stream: datagram sockets have none.
func (s *UDPSocket) RecvFrom(p []byte) (int, SockAddr, error) { return s.recvFrom(p, true) }

// Send sends p as one datagram to the peer set by Connect, like SendTo.
// Without a peer it fails with EDESTADDRREQ (ENOTCONN on some systems).
func (s *UDPSocket) Send(p []byte) (int, error) { return s.sendTo(p, SockAddr{}, false) }

// Recv receives one datagram into p, like RecvFrom without the address: on
// a connected socket the source is always the peer.
func (s *UDPSocket) Recv(p []byte) (int, error) {
	n, _, err := s.recvFrom(p, false)
	return n, err
}

// The UDP options, SetBroadcast to SetMulticastInterface, are system calls
// through and through: dgram_unix.go has them.
