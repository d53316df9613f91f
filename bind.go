package mio

import (
	"fmt"
	"syscall"
)

// ListenConfig holds the options of a listening socket that must be set
// before it binds or listens: the few a server chooses, as Go's
// net.ListenConfig holds those of net.Listen. The zero value binds with the
// system's defaults.
type ListenConfig struct {
	// ReusePort lets several acceptors, typically one per event loop, bind
	// the same TCP address (see SetReusePort and ReusePortBalances). It is
	// ignored for Unix addresses, which cannot be shared so; share those
	// through Dup.
	ReusePort bool
	// RecvBuffer and SendBuffer set SO_RCVBUF and SO_SNDBUF before bind,
	// so that the connections the acceptor accepts inherit them, and TCP
	// can announce a window scale to match. 0 keeps the system's.
	RecvBuffer, SendBuffer int
	// Backlog is the listen queue's length when EventLoop.Listen is given
	// a backlog of 0; 0 here asks for the system's maximum, as a negative
	// backlog does there.
	Backlog int
}

// Bind returns an acceptor bound to addr with the zero ListenConfig: a
// TCP acceptor (IPv4 or IPv6, after addr's family) for an IP address, a
// Unix one for a path or an abstract name. EventLoop.Listen then listens
// and registers it.
func Bind(addr SockAddr) (Acceptor, error) { return ListenConfig{}.Bind(addr) }

// Bind returns an acceptor bound to addr with lc's options, of the kind
// addr's family asks for, as the package-level Bind does. Nothing is left
// open when it fails.
func (lc ListenConfig) Bind(addr SockAddr) (Acceptor, error) {
	if !addr.IsValid() {
		return nil, refuse("bind", addr.String(), "not a socket address", syscall.EINVAL)
	}
	sock, err := NewSocketFor(addr)
	if err != nil {
		return nil, err
	}
	acc, err := lc.bind(sock, addr)
	if err != nil {
		sock.Close()
		return nil, err
	}
	return acc, nil
}

// bind sets lc's options on sock and binds it.
func (lc ListenConfig) bind(sock Socket, addr SockAddr) (Acceptor, error) {
	switch s := sock.(type) {
	case *TCPSocket:
		if err := lc.setOptions(&s.sockfd, true); err != nil {
			return nil, err
		}
		acc, err := s.Bind(addr)
		return withBacklog(acc, err, lc.Backlog)
	case *UnixSocket:
		if err := lc.setOptions(&s.sockfd, false); err != nil {
			return nil, err
		}
		acc, err := s.Bind(addr)
		return withBacklog(acc, err, lc.Backlog)
	}
	return nil, refuse("bind", addr.String(), "no acceptor for a "+fmt.Sprintf("%T", sock), syscall.EINVAL)
}

// backlogged is an acceptor that keeps a ListenConfig's backlog.
type backlogged interface {
	Acceptor
	setBacklog(n int)
}

// withBacklog gives a freshly bound acceptor its backlog, and returns it
// as an Acceptor: nil, not a nil pointer inside one, when Bind failed.
func withBacklog[A backlogged](acc A, err error, backlog int) (Acceptor, error) {
	if err != nil {
		return nil, err
	}
	acc.setBacklog(backlog)
	return acc, nil
}

func (a *TCPAcceptor) setBacklog(n int)  { a.backlog = n }
func (a *UnixAcceptor) setBacklog(n int) { a.backlog = n }

// setOptions applies the options that exist for the socket's kind.
func (lc ListenConfig) setOptions(s *sockfd, inet bool) error {
	if lc.ReusePort && inet {
		if err := s.SetReusePort(true); err != nil {
			return err
		}
	}
	if lc.RecvBuffer > 0 {
		if err := s.SetRecvBuffer(lc.RecvBuffer); err != nil {
			return err
		}
	}
	if lc.SendBuffer > 0 {
		return s.SetSendBuffer(lc.SendBuffer)
	}
	return nil
}

// NewSocketFor opens the stream socket that can connect to addr: a TCP
// socket of addr's IP family, or a Unix socket for a path or an abstract
// name. Connect it with EventLoop.Connect.
func NewSocketFor(addr SockAddr) (Socket, error) {
	switch {
	case addr.IsUnix():
		return asSocket(NewUnixSocket())
	case !addr.IsInet():
		return nil, refuse("socket for", addr.String(), "not a socket address", syscall.EINVAL)
	}
	if ap, _ := addr.AddrPort(); ap.Addr().Is4() {
		return asSocket(NewTCPSocketV4())
	}
	return asSocket(NewTCPSocketV6())
}

// asSocket returns a constructor's socket as a Socket: nil, not a nil
// pointer inside a Socket, when it failed.
func asSocket[S Socket](s S, err error) (Socket, error) {
	if err != nil {
		return nil, err
	}
	return s, nil
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
