//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// Datagram sockets on the unix systems: the send and receive paths shared
// by UDPSocket and UnixDatagram, and the UDP options.

package mio

import (
	"fmt"
	"net"
	"net/netip"
	"unsafe"

	"golang.org/x/sys/unix"
)

// dgramSys is the per-socket state of the datagram path. Where the library
// makes the system calls itself it is the last Unix path a datagram came
// from, so that a peer sending many datagrams costs one string, not one per
// datagram. Where x/sys makes them (libcCalls) it is the last destination,
// converted, so that replying to the same peer again and again costs no
// conversion and no allocation.
type dgramSys struct {
	lastPath string
	lastTo   SockAddr
	lastToSa unix.Sockaddr
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
	return errFamily(op, addr, dgramFamilyMismatch(d.family))
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
	if err := d.checkAddr("connect", addr); err != nil {
		return err
	}
	err := d.connect(addr, true)
	if _, ok := err.(unix.Errno); ok {
		return wrapAddr("connect", addr, err)
	}
	return err
}

// sendTo sends p as one datagram to addr, or to the connected peer when
// hasTo is false.
func (d *dgramSock) sendTo(p []byte, addr SockAddr, hasTo bool) (int, error) {
	fd, err := d.sysfd("send")
	if err != nil {
		return 0, err
	}
	if hasTo {
		if err := d.checkAddr("sendto", addr); err != nil {
			return 0, err
		}
		if addr.kind == kindUnix && addr.path == "" {
			// What RecvFrom reports for an unbound sender; Linux would
			// read it as "autobind" and answer a bare EINVAL.
			return 0, refuse("sendto", "the unnamed Unix address", "the sender was not bound and cannot be answered", unix.EDESTADDRREQ)
		}
	}
	for {
		n, err := d.sysSend(fd, p, addr, hasTo)
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
			return 0, wrapAddr("sendto", addr, err)
		}
		return 0, wrapSyscall("send", err)
	}
}

// recvFrom receives one datagram into p, and its source when wantFrom.
func (d *dgramSock) recvFrom(p []byte, wantFrom bool) (int, SockAddr, error) {
	op := "recv"
	if wantFrom {
		op = "recvfrom"
	}
	fd, err := d.sysfd(op)
	if err != nil {
		return 0, SockAddr{}, err
	}
	for {
		n, from, trunc, err := d.sysRecv(fd, p, wantFrom)
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
		return 0, SockAddr{}, wrapSyscall(op, err)
	}
}

// sysRecv receives one datagram with recvmsg, which reports truncation in
// msg_flags on every system (recvfrom would need Linux's MSG_TRUNC input
// flag, which the BSDs lack). The library makes the call itself, with the
// kernel's address in a RawSockaddrAny on the stack: x/sys's Recvmsg hands
// the address out as a heap object, and cuts an abstract name at the first
// NUL. Where only libc may make system calls (macOS and OpenBSD), x/sys's
// Recvmsg it is, which allocates; neither system has abstract names.
func (d *dgramSock) sysRecv(fd int, p []byte, wantFrom bool) (n int, from SockAddr, trunc bool, err error) {
	if libcCalls {
		n, _, flags, sa, err := unix.Recvmsg(fd, p, nil, 0)
		if err != nil {
			return 0, SockAddr{}, false, err
		}
		if wantFrom {
			from = d.fromXsys(sa)
		}
		return n, from, flags&unix.MSG_TRUNC != 0, nil
	}
	var rsa unix.RawSockaddrAny
	var iov unix.Iovec
	var msg unix.Msghdr
	if len(p) > 0 {
		iov.Base = &p[0]
		iov.SetLen(len(p))
	}
	msg.Iov = &iov
	msg.SetIovlen(1)
	if wantFrom {
		msg.Name = (*byte)(unsafe.Pointer(&rsa))
		msg.Namelen = unix.SizeofSockaddrAny
	}
	r, err := sockRecvmsg(fd, &msg)
	if err != nil {
		return 0, SockAddr{}, false, err
	}
	if wantFrom {
		from = d.fromRaw(&rsa, msg.Namelen)
	}
	return r, from, msg.Flags&unix.MSG_TRUNC != 0, nil
}

// fromRaw converts the source address recvmsg wrote, salen bytes of it.
func (d *dgramSock) fromRaw(rsa *unix.RawSockaddrAny, salen uint32) SockAddr {
	if salen == 0 {
		return d.unbound()
	}
	return sockAddrFromRaw(rsa, salen, &d.lastPath)
}

func (d *dgramSock) fromXsys(sa unix.Sockaddr) SockAddr {
	if sa == nil {
		return d.unbound()
	}
	return sockAddrFromUnix(sa)
}

// unbound is the source of a datagram that came with no address: an
// unbound Unix sender, which Linux reports as no address at all.
func (d *dgramSock) unbound() SockAddr {
	if d.family == unix.AF_UNIX {
		return UnixAddr("")
	}
	return SockAddr{}
}

// sysSend sends one datagram with sendto, to the connected peer when hasTo
// is false, as sysRecv receives: a direct call with the address on the
// stack, or x/sys's SendmsgN with the converted address cached.
func (d *dgramSock) sysSend(fd int, p []byte, to SockAddr, hasTo bool) (int, error) {
	if libcCalls {
		var sa unix.Sockaddr
		if hasTo {
			if d.lastToSa == nil || d.lastTo != to {
				s, err := to.sockaddr()
				if err != nil {
					return 0, err
				}
				d.lastTo, d.lastToSa = to, s
			}
			sa = d.lastToSa
		}
		return unix.SendmsgN(fd, p, nil, sa, sendFlags)
	}
	var k kaddr
	var sa unsafe.Pointer
	if hasTo {
		if err := to.kernel(&k); err != nil {
			return 0, err
		}
		sa = unsafe.Pointer(&k.rsa)
	}
	var base unsafe.Pointer
	if len(p) > 0 {
		base = unsafe.Pointer(&p[0])
	}
	return sockSendto(fd, base, len(p), sendFlags, sa, k.n)
}

// SetBroadcast sets SO_BROADCAST, without which sending to a broadcast
// address fails with EACCES.
func (s *UDPSocket) SetBroadcast(on bool) error {
	return s.setBool(unix.SOL_SOCKET, unix.SO_BROADCAST, on)
}

// Broadcast reports whether SO_BROADCAST is set.
func (s *UDPSocket) Broadcast() (bool, error) {
	return s.getBool(unix.SOL_SOCKET, unix.SO_BROADCAST)
}

// SetTTL sets the time to live (IPv4) or hop limit (IPv6) of unicast
// datagrams, 1 to 255.
func (s *UDPSocket) SetTTL(ttl int) error {
	if ttl < 1 || ttl > 255 {
		return refuse("set TTL", fmt.Sprint(ttl), "want 1 to 255", unix.EINVAL)
	}
	if s.family == unix.AF_INET6 {
		return s.setInt(unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS, ttl)
	}
	return s.setInt(unix.IPPROTO_IP, unix.IP_TTL, ttl)
}

// TTL returns the time to live (IPv4) or hop limit (IPv6) of unicast
// datagrams.
func (s *UDPSocket) TTL() (int, error) {
	if s.family == unix.AF_INET6 {
		return getsockopt(&s.sockfd, unix.GetsockoptInt, unix.IPPROTO_IPV6, unix.IPV6_UNICAST_HOPS)
	}
	return getsockopt(&s.sockfd, unix.GetsockoptInt, unix.IPPROTO_IP, unix.IP_TTL)
}

// SetMulticastTTL sets how many hops multicast datagrams sent by this
// socket travel, 0 to 255 (IP_MULTICAST_TTL, IPV6_MULTICAST_HOPS). The
// system's default is 1, the local network; 0 keeps them on this host.
func (s *UDPSocket) SetMulticastTTL(ttl int) error {
	if ttl < 0 || ttl > 255 {
		return refuse("set multicast TTL", fmt.Sprint(ttl), "want 0 to 255", unix.EINVAL)
	}
	if s.family == unix.AF_INET6 {
		return s.setInt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, ttl)
	}
	// The BSDs and macOS take a single byte here, and Linux accepts one.
	return setsockopt(&s.sockfd, unix.SetsockoptByte, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, byte(ttl))
}

// MulticastTTL returns the hop count of multicast datagrams.
func (s *UDPSocket) MulticastTTL() (int, error) {
	if s.family == unix.AF_INET6 {
		return getsockopt(&s.sockfd, unix.GetsockoptInt, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS)
	}
	v, err := getsockopt(&s.sockfd, unix.GetsockoptByte, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL)
	return int(v), err
}

// SetMulticastLoop sets whether multicast datagrams this socket sends are
// also delivered to members of the group on this host, including itself
// (IP_MULTICAST_LOOP, IPV6_MULTICAST_LOOP; on by default).
func (s *UDPSocket) SetMulticastLoop(on bool) error {
	if s.family == unix.AF_INET6 {
		return s.setBool(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP, on)
	}
	return setsockopt(&s.sockfd, unix.SetsockoptByte, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP, byte(boolInt(on)))
}

// MulticastLoop reports whether multicast loopback is on.
func (s *UDPSocket) MulticastLoop() (bool, error) {
	if s.family == unix.AF_INET6 {
		return s.getBool(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_LOOP)
	}
	v, err := getsockopt(&s.sockfd, unix.GetsockoptByte, unix.IPPROTO_IP, unix.IP_MULTICAST_LOOP)
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
	op += " multicast group"
	if _, err := s.sysfd(op); err != nil {
		return err
	}
	target := fmt.Sprintf("%s on interface %d", group, ifindex)
	fail := func(err error) error {
		if err == nil {
			return nil
		}
		return &opError{op: op, addr: target, err: err}
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
		return fail(unix.SetsockoptIPv6Mreq(s.fd, unix.IPPROTO_IPV6, opt6, &mreq))
	}
	ifaddr, err := udpInterfaceAddr4(ifindex)
	if err != nil {
		return fail(err)
	}
	mreq := unix.IPMreq{Multiaddr: group.As4(), Interface: ifaddr}
	return fail(unix.SetsockoptIPMreq(s.fd, unix.IPPROTO_IP, opt4, &mreq))
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
	const op = "set multicast interface"
	if ifindex < 0 {
		return refuse(op, fmt.Sprint(ifindex), "negative interface index", unix.EINVAL)
	}
	if _, err := s.sysfd(op); err != nil {
		return err
	}
	if s.family == unix.AF_INET6 {
		return s.setInt(unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifindex)
	}
	ifaddr, err := udpInterfaceAddr4(ifindex)
	if err != nil {
		return &opError{op: op, addr: fmt.Sprint(ifindex), err: err}
	}
	return setsockopt(&s.sockfd, unix.SetsockoptInet4Addr, unix.IPPROTO_IP, unix.IP_MULTICAST_IF, ifaddr)
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
