//go:build !linux && !darwin && !dragonfly && !freebsd && !netbsd && !openbsd

// The unix layer's names on the systems without a poller, so that the
// sockets' and pipes' API exists there too: every constructor fails with
// ErrUnsupported, so no socket or pipe exists and nothing else is reached.

package mio

import "net/netip"

// Any three distinct numbers: no socket of any family is ever made here.
const (
	afInet = 1 + iota
	afInet6
	afUnix
)

type dgramSys struct{}

type unixFile struct{}

// unsupported is what every operation here fails with: op, and
// ErrUnsupported.
func unsupported(op string) error { return &opError{op: op, err: ErrUnsupported} }

func newStream(int) (stream, error)         { return stream{}, unsupported("socket") }
func newDgramSock(int) (dgramSock, error)   { return dgramSock{}, unsupported("socket") }
func sysPipe() (int, int, error)            { return -1, -1, unsupported("pipe") }
func sysDgramSocketpair() (int, int, error) { return -1, -1, unsupported("socketpair") }
func closeFd(int) error                     { return unsupported("close") }
func boundFile(SockAddr) unixFile           { return unixFile{} }
func (*unixFile) remove()                   {}

func errFamily(op string, addr SockAddr, why string) error {
	return refuse(op, addr.String(), why, ErrUnsupported)
}

func readFd(int, []byte) (int, error)   { return 0, unsupported("read") }
func sysWrite(int, []byte) (int, error) { return 0, unsupported("write") }

func writeFd(int, []byte, func(int, []byte) (int, error)) (int, error) {
	return 0, unsupported("write")
}

// TakeError fails with ErrUnsupported.
func (*sockfd) TakeError() error                         { return unsupported("getsockopt") }
func (*sockfd) name(op string, _ bool) (SockAddr, error) { return SockAddr{}, unsupported(op) }

// SetReuseAddr fails with ErrUnsupported.
func (*sockfd) SetReuseAddr(bool) error { return unsupported("setsockopt") }

// SetReusePort fails with ErrUnsupported.
func (*sockfd) SetReusePort(bool) error { return unsupported("setsockopt") }

// SetKeepAlive fails with ErrUnsupported.
func (*sockfd) SetKeepAlive(bool) error { return unsupported("setsockopt") }

// SetLinger fails with ErrUnsupported.
func (*sockfd) SetLinger(int) error { return unsupported("setsockopt") }

// SetRecvBuffer fails with ErrUnsupported.
func (*sockfd) SetRecvBuffer(int) error { return unsupported("setsockopt") }

// SetSendBuffer fails with ErrUnsupported.
func (*sockfd) SetSendBuffer(int) error { return unsupported("setsockopt") }
func (*sockfd) setNoDelay(bool) error   { return unsupported("setsockopt") }
func (*sockfd) listen(int) error        { return unsupported("listen") }
func (*sockfd) accept() (int, error)    { return -1, unsupported("accept") }
func (*sockfd) dup() (sockfd, error)    { return sockfd{}, unsupported("dup") }

func (*sockfd) bindAcceptor(SockAddr, bool) (fdHandle, error) {
	return fdHandle{}, unsupported("bind")
}

// Read fails with ErrUnsupported.
func (*stream) Read([]byte) (int, error) { return 0, unsupported("read") }

// Write fails with ErrUnsupported.
func (*stream) Write([]byte) (int, error) { return 0, unsupported("write") }

// Shutdown fails with ErrUnsupported.
func (*stream) Shutdown(ShutdownHow) error { return unsupported("shutdown") }

func (*stream) startConnect(SockAddr) (connectState, error) { return 0, unsupported("connect") }

func (*dgramSock) bindTo(SockAddr) error    { return unsupported("bind") }
func (*dgramSock) connectTo(SockAddr) error { return unsupported("connect") }

func (*dgramSock) sendTo([]byte, SockAddr, bool) (int, error) { return 0, unsupported("sendto") }

func (*dgramSock) recvFrom([]byte, bool) (int, SockAddr, error) {
	return 0, SockAddr{}, unsupported("recvfrom")
}

// The UDP options of dgram_unix.go.

// SetBroadcast fails with ErrUnsupported.
func (*UDPSocket) SetBroadcast(bool) error { return unsupported("setsockopt") }

// Broadcast fails with ErrUnsupported.
func (*UDPSocket) Broadcast() (bool, error) { return false, unsupported("getsockopt") }

// SetTTL fails with ErrUnsupported.
func (*UDPSocket) SetTTL(int) error { return unsupported("setsockopt") }

// TTL fails with ErrUnsupported.
func (*UDPSocket) TTL() (int, error) { return 0, unsupported("getsockopt") }

// SetMulticastTTL fails with ErrUnsupported.
func (*UDPSocket) SetMulticastTTL(int) error { return unsupported("setsockopt") }

// MulticastTTL fails with ErrUnsupported.
func (*UDPSocket) MulticastTTL() (int, error) { return 0, unsupported("getsockopt") }

// SetMulticastLoop fails with ErrUnsupported.
func (*UDPSocket) SetMulticastLoop(bool) error { return unsupported("setsockopt") }

// MulticastLoop fails with ErrUnsupported.
func (*UDPSocket) MulticastLoop() (bool, error) { return false, unsupported("getsockopt") }

// JoinMulticast fails with ErrUnsupported.
func (*UDPSocket) JoinMulticast(netip.Addr, int) error { return unsupported("join multicast group") }

// LeaveMulticast fails with ErrUnsupported.
func (*UDPSocket) LeaveMulticast(netip.Addr, int) error { return unsupported("leave multicast group") }

// SetMulticastInterface fails with ErrUnsupported.
func (*UDPSocket) SetMulticastInterface(int) error { return unsupported("set multicast interface") }

const gatherMax = 64

type gather struct{}

func (*gather) write(int, [][]byte) (int, error) { return 0, unsupported("write") }
