//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/sys/unix"
)

// dgramSock is the part that UDPSocket and UnixDatagram share: sending and
// receiving whole datagrams, with or without addresses. The per-system
// halves (dgramSys, sysRecv, sysSend, sysDgramSocketpair) live in
// sys_dgram_*.go.
type dgramSock struct {
	sockfd
	// family is the socket's address family; SendTo, Bind and Connect
	// refuse addresses of another family before the kernel sees them, so
	// that the error says what is wrong rather than a bare EINVAL.
	family int
	dgramSys
}

func newDgramSock(family int) (dgramSock, error) {
	s, err := newSockfd(family, unix.SOCK_DGRAM)
	if err != nil {
		return dgramSock{}, err
	}
	return dgramSock{sockfd: s, family: family}, nil
}

// checkAddr says why addr cannot be used with a socket of d's family, or
// nil. An IPv4 address on an IPv6 socket is refused rather than mapped:
// SockAddr keeps the kernel's family, so a silent mapping would make the
// address a reply comes from differ from the address it was sent to.
func (d *dgramSock) checkAddr(op string, addr SockAddr) error {
	var ok bool
	switch d.family {
	case unix.AF_INET:
		ap, inet := addr.AddrPort()
		ok = inet && ap.Addr().Is4()
	case unix.AF_INET6:
		ap, inet := addr.AddrPort()
		ok = inet && ap.Addr().Is6()
	case unix.AF_UNIX:
		ok = addr.IsUnix()
	}
	if ok {
		return nil
	}
	return fmt.Errorf("mio: %s %s: %s: %w", op, addr, dgramFamilyMismatch(d.family), unix.EAFNOSUPPORT)
}

func dgramFamilyMismatch(family int) string {
	switch family {
	case unix.AF_INET:
		return "not an IPv4 address, and the socket is IPv4"
	case unix.AF_INET6:
		return "not an IPv6 address, and the socket is IPv6 (an IPv4 peer is written [::ffff:a.b.c.d])"
	}
	return "not a Unix address, and the socket is a Unix one"
}

func (d *dgramSock) bindTo(addr SockAddr) error {
	if err := d.checkAddr("bind", addr); err != nil {
		return err
	}
	return d.bind(addr)
}

// connectTo connects the socket. For a datagram socket connect(2) only
// records the peer, so it completes at once and needs no event loop.
func (d *dgramSock) connectTo(addr SockAddr) error {
	if d.fd < 0 {
		return ErrClosed
	}
	if err := d.checkAddr("connect", addr); err != nil {
		return err
	}
	sa, err := addr.sockaddr()
	if err != nil {
		return err
	}
	for {
		err := sysConnect(d.fd, sa)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("mio: connect %s: %w", addr, wrapSyscall("connect", err))
		}
		return nil
	}
}

// sendTo sends p as one datagram to addr, or to the connected peer when
// hasTo is false.
func (d *dgramSock) sendTo(p []byte, addr SockAddr, hasTo bool) (int, error) {
	if d.fd < 0 {
		return 0, ErrClosed
	}
	if hasTo {
		if err := d.checkAddr("sendto", addr); err != nil {
			return 0, err
		}
		if addr.kind == kindUnix && addr.path == "" {
			// What RecvFrom reports for an unbound sender; Linux would
			// read it as "autobind" and answer a bare EINVAL.
			return 0, fmt.Errorf("mio: sendto the unnamed Unix address: the sender was not bound and cannot be answered: %w", unix.EDESTADDRREQ)
		}
	}
	for {
		n, err := d.sysSend(p, addr, hasTo)
		switch err {
		case nil:
			return n, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, ErrWouldBlock
		}
		if _, ok := err.(unix.Errno); !ok {
			return 0, err // the address did not convert; already explained
		}
		if hasTo {
			return 0, fmt.Errorf("mio: sendto %s: %w", addr, wrapSyscall("sendto", err))
		}
		return 0, wrapSyscall("send", err)
	}
}

// recvFrom receives one datagram into p, and its source when wantFrom.
func (d *dgramSock) recvFrom(p []byte, wantFrom bool) (int, SockAddr, error) {
	if d.fd < 0 {
		return 0, SockAddr{}, ErrClosed
	}
	for {
		n, from, trunc, err := d.sysRecv(p, wantFrom)
		switch err {
		case nil:
			if trunc {
				return len(p), from, ErrTruncated
			}
			return n, from, nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return 0, SockAddr{}, ErrWouldBlock
		}
		if wantFrom {
			return 0, SockAddr{}, wrapSyscall("recvfrom", err)
		}
		return 0, SockAddr{}, wrapSyscall("recv", err)
	}
}

// PeerAddr returns the address the socket is connected to. It fails with
// ENOTCONN when Connect was not called.
func (d *dgramSock) PeerAddr() (SockAddr, error) {
	if d.fd < 0 {
		return SockAddr{}, ErrClosed
	}
	a, err := sysGetpeername(d.fd)
	if err != nil {
		return SockAddr{}, wrapSyscall("getpeername", err)
	}
	return a, nil
}

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
func NewUDPSocketV4() (*UDPSocket, error) { return newUDPSocket(unix.AF_INET) }

// NewUDPSocketV6 opens an IPv6 UDP socket. Whether it also receives IPv4
// traffic (as IPv4-mapped addresses) is the system's default for
// IPV6_V6ONLY; addresses given to it must be IPv6 ones either way.
func NewUDPSocketV6() (*UDPSocket, error) { return newUDPSocket(unix.AF_INET6) }

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

// SetBroadcast sets SO_BROADCAST, without which sending to a broadcast
// address fails with EACCES.
func (s *UDPSocket) SetBroadcast(on bool) error {
	return s.setBool(unix.SOL_SOCKET, unix.SO_BROADCAST, on)
}

// Broadcast reports whether SO_BROADCAST is set.
func (s *UDPSocket) Broadcast() (bool, error) {
	v, err := s.dgramGetInt(unix.SOL_SOCKET, unix.SO_BROADCAST)
	return v != 0, err
}

// SetTTL sets the time to live (IPv4) or hop limit (IPv6) of unicast
// datagrams, 1 to 255.
func (s *UDPSocket) SetTTL(ttl int) error {
	if ttl < 1 || ttl > 255 {
		return fmt.Errorf("mio: set TTL %d: want 1 to 255: %w", ttl, unix.EINVAL)
	}
	if s.family == unix.AF_INET6 {
		return s.dgramSetInt(unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
	}
	return s.dgramSetInt(unix.IPPROTO_IP, unix.IP_TTL, ttl)
}

// TTL returns the time to live (IPv4) or hop limit (IPv6) of unicast
// datagrams.
func (s *UDPSocket) TTL() (int, error) {
	if s.family == unix.AF_INET6 {
		return s.dgramGetInt(unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS)
	}
	return s.dgramGetInt(unix.IPPROTO_IP, unix.IP_TTL)
}

// SetMulticastTTL sets how many hops multicast datagrams sent by this
// socket travel, 0 to 255 (IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS). The
// system's default is 1, the local network; 0 keeps them on this host.
func (s *UDPSocket) SetMulticastTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return fmt.Errorf("mio: set multicast TTL %d: want 0 to 255: %w", ttl, unix.EINVAL)
	}
	if s.family == unix.AF_INET6 {
		return s.dgramSetInt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl)
	}
	// The BSDs and macOS take a single byte here, and Linux accepts one.
	return s.dgramSetByte(unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, byte(ttl))
}

// MulticastTTL returns the hop count of multicast datagrams.
func (s *UDPSocket) MulticastTTL() (int, error) {
	if s.family == unix.AF_INET6 {
		return s.dgramGetInt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS)
	}
	v, err := s.dgramGetByte(unix.IPPROTO_IP, unix.IP_MULTICAST_TTL)
	return int(v), err
}

// SetMulticastLoop sets whether multicast datagrams this socket sends are
// also delivered to members of the group on this host, including itself
// (IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP; on by default).
func (s *UDPSocket) SetMulticastLoop(on bool) error {
	if s.family == unix.AF_INET6 {
		return s.setBool(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, on)
	}
	var v byte
	if on {
		v = 1
	}
	return s.dgramSetByte(unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, v)
}

// MulticastLoop reports whether multicast loopback is on.
func (s *UDPSocket) MulticastLoop() (bool, error) {
	if s.family == unix.AF_INET6 {
		v, err := s.dgramGetInt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP)
		return v != 0, err
	}
	v, err := s.dgramGetByte(unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP)
	return v != 0, err
}

// JoinMulticast joins the multicast group on the interface with index
// ifindex (net.Interface.Index), or on the one the routing table picks for
// the group when ifindex is 0. The group must be of the socket's family;
// an IPv6 group's zone, if any, stands for the interface when ifindex is 0.
// The socket then receives datagrams sent to the group on its bound port,
// so bind it to the port (and SetReuseAddr for several receivers) first.
// On IPv4 the kernel names the interface by an address, so ifindex != 0
// needs the interface to have an IPv4 address.
func (s *UDPSocket) JoinMulticast(group netip.Addr, ifindex int) error {
	return s.membership("join", group, ifindex, unix.IP_ADD_MEMBERSHIP, unix.IPV6_JOIN_GROUP)
}

// LeaveMulticast leaves a group joined with JoinMulticast, with the same
// arguments. Closing the socket leaves all its groups.
func (s *UDPSocket) LeaveMulticast(group netip.Addr, ifindex int) error {
	return s.membership("leave", group, ifindex, unix.IP_DROP_MEMBERSHIP, unix.IPV6_LEAVE_GROUP)
}

func (s *UDPSocket) membership(op string, group netip.Addr, ifindex int, opt4, opt6 int) error {
	if s.fd < 0 {
		return ErrClosed
	}
	fail := func(err error) error {
		return fmt.Errorf("mio: %s multicast group %s on interface %d: %w", op, group, ifindex, err)
	}
	if err := s.checkGroup(group, ifindex); err != nil {
		return fail(err)
	}
	if s.family == unix.AF_INET6 {
		idx := uint32(ifindex)
		if idx == 0 && group.Zone() != "" {
			id, err := zoneIndex(group.Zone())
			if err != nil {
				return fail(err)
			}
			idx = id
		}
		mreq := unix.IPv6Mreq{Multiaddr: group.As16(), Interface: idx}
		return udpOptErr(fail, unix.SetsockoptIPv6Mreq(s.fd, unix.IPPROTO_IPV6, opt6, &mreq))
	}
	ifaddr, err := udpInterfaceAddr4(ifindex)
	if err != nil {
		return fail(err)
	}
	mreq := unix.IPMreq{Multiaddr: group.As4(), Interface: ifaddr}
	return udpOptErr(fail, unix.SetsockoptIPMreq(s.fd, unix.IPPROTO_IP, opt4, &mreq))
}

// fail0 wraps a setsockopt error with fail, and leaves nil alone.
func udpOptErr(fail func(error) error, err error) error {
	if err != nil {
		return fail(wrapSyscall("setsockopt", err))
	}
	return nil
}

// checkGroup rejects a group that is not a multicast address of the
// socket's family, and a negative interface index, before the kernel gives
// a less telling EINVAL.
func (s *UDPSocket) checkGroup(group netip.Addr, ifindex int) error {
	switch {
	case !group.IsValid():
		return fmt.Errorf("no group address: %w", unix.EINVAL)
	case s.family == unix.AF_INET && !group.Is4():
		return fmt.Errorf("not an IPv4 group, and the socket is IPv4: %w", unix.EINVAL)
	case s.family == unix.AF_INET6 && !group.Is6():
		return fmt.Errorf("not an IPv6 group, and the socket is IPv6: %w", unix.EINVAL)
	case !group.IsMulticast():
		return fmt.Errorf("not a multicast address: %w", unix.EINVAL)
	case ifindex < 0:
		return fmt.Errorf("negative interface index: %w", unix.EINVAL)
	}
	return nil
}

// SetMulticastInterface chooses the interface, by index, that multicast
// datagrams from this socket leave by; 0 restores the routing table's
// choice (IP_MULTICAST_IF, IPV6_MULTICAST_IF). On IPv4 the interface needs
// an IPv4 address, by which the kernel names it.
func (s *UDPSocket) SetMulticastInterface(ifindex int) error {
	if ifindex < 0 {
		return fmt.Errorf("mio: set multicast interface %d: negative interface index: %w", ifindex, unix.EINVAL)
	}
	if s.fd < 0 {
		return ErrClosed
	}
	if s.family == unix.AF_INET6 {
		return s.dgramSetInt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex)
	}
	ifaddr, err := udpInterfaceAddr4(ifindex)
	if err != nil {
		return fmt.Errorf("mio: set multicast interface %d: %w", ifindex, err)
	}
	return wrapSyscall("setsockopt", unix.SetsockoptInet4Addr(s.fd, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, ifaddr))
}

// udpInterfaceAddr4 returns the first IPv4 address of the interface with
// the given index, or 0.0.0.0 (the kernel's "any") for index 0. The IPv4
// multicast options take an address rather than an index on every system
// but Linux, so this is the portable way to name an interface there.
func udpInterfaceAddr4(ifindex int) ([4]byte, error) {
	if ifindex == 0 {
		return [4]byte{}, nil
	}
	ifi, err := net.InterfaceByIndex(ifindex)
	if err != nil {
		return [4]byte{}, err
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return [4]byte{}, err
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok {
			if ip4 := ipn.IP.To4(); ip4 != nil {
				return [4]byte(ip4), nil
			}
		}
	}
	return [4]byte{}, fmt.Errorf("interface %s has no IPv4 address: %w", ifi.Name, unix.EADDRNOTAVAIL)
}

func (d *dgramSock) dgramSetInt(level, opt, v int) error {
	if d.fd < 0 {
		return ErrClosed
	}
	return wrapSyscall("setsockopt", unix.SetsockoptInt(d.fd, level, opt, v))
}

func (d *dgramSock) dgramGetInt(level, opt int) (int, error) {
	if d.fd < 0 {
		return 0, ErrClosed
	}
	v, err := unix.GetsockoptInt(d.fd, level, opt)
	return v, wrapSyscall("getsockopt", err)
}

func (d *dgramSock) dgramSetByte(level, opt int, v byte) error {
	if d.fd < 0 {
		return ErrClosed
	}
	return wrapSyscall("setsockopt", unix.SetsockoptByte(d.fd, level, opt, v))
}

func (d *dgramSock) dgramGetByte(level, opt int) (byte, error) {
	if d.fd < 0 {
		return 0, ErrClosed
	}
	v, err := unix.GetsockoptByte(d.fd, level, opt)
	return v, wrapSyscall("getsockopt", err)
}
