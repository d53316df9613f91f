package mio

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"syscall"
	"time"
)

// dialing is a Dial or DialHost in progress: the address being tried, and
// those left to try, in the order the resolver gave them.
type dialing struct {
	cur     SockAddr
	left    []SockAddr
	lastErr error
}

// connect starts connecting c to addr, on a socket of its own.
func (t *connTable) connect(c *Conn, addr SockAddr) error {
	sock, err := NewSocketFor(addr)
	if err != nil {
		return err
	}
	if err := t.lp.startConnect(sock, addr, c.token); err != nil {
		sock.Close()
		return err
	}
	c.sock, c.dial.cur = sock, addr
	return nil
}

// connected serves the Writable that reports c's connect: OnOpen when it
// worked, the next address or OnClose when it failed.
func (t *connTable) connected(c *Conn) {
	if err := c.sock.TakeError(); err != nil {
		t.dialFailed(c, wrapAddr("connect", c.dial.cur, unwrapOp(err)))
		return
	}
	c.flags = c.flags&^cConnecting | cOpenDue
	if c.flags&cClosing == 0 {
		c.until = 0
	}
	c.dial = nil
	t.setupSocket(c.sock)
	if c.idle|c.readTO|c.writeTO != 0 {
		now := t.clock()
		c.lastRead, c.lastWrite = now, now
	}
	t.service(c)
}

// unwrapOp is the cause of one of the library's errors, so that a connect
// error names the address once.
func unwrapOp(err error) error {
	if e, ok := err.(*opError); ok {
		return e.err
	}
	return err
}

// dialFailed moves on to c's next address, or closes c with err.
func (t *connTable) dialFailed(c *Conn, err error) {
	if c.sock != nil {
		c.sock.Close()
		c.sock = nil
	}
	c.dial.lastErr = err
	t.dialNext(c)
}

// dialNext tries c's addresses in turn until a connect starts.
func (t *connTable) dialNext(c *Conn) {
	for len(c.dial.left) > 0 {
		addr := c.dial.left[0]
		c.dial.left = c.dial.left[1:]
		if err := t.connect(c, addr); err != nil {
			c.dial.lastErr = err
			continue
		}
		t.armTimer(c)
		return
	}
	c.fail(c.dial.lastErr)
	t.service(c)
}

// DialHost connects to hostport ("host:port"), resolving the host off the
// loop with net.DefaultResolver, then connecting on the loop to each
// address it gave in turn until one connects, all within timeout (0: no
// limit but the resolver's and the kernel's). It returns the Conn at
// once, as Dial does; OnOpen follows once connected, OnClose with the
// last address's error or a timeout error otherwise. A literal IP address
// is not resolved. A hostport that does not parse is an error here.
func (s *Conns[M]) DialHost(hostport string, timeout time.Duration) (*Conn, error) {
	host, portText, err := net.SplitHostPort(hostport)
	if err != nil {
		return nil, refuse("dial", hostport, "not host:port", syscall.EINVAL)
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, refuse("dial", hostport, "bad port", syscall.EINVAL)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return s.Dial(InetAddr(ip, uint16(port)), timeout)
	}
	c := s.newConn(nil)
	c.flags |= cConnecting
	c.dial = &dialing{}
	if timeout > 0 {
		c.until = s.clock() + int64(timeout)
		s.armTimer(c)
	}
	go resolve(c.Ref(), host, uint16(port), timeout)
	return c, nil
}

// resolve looks host up and posts the addresses (or the error) to the
// loop. It ends within timeout, or when the resolver gives up.
func resolve(r ConnRef, host string, port uint16, timeout time.Duration) {
	ctx := context.Background()
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	op := connOp{kind: opResolved, c: r.c}
	if err != nil {
		op.err = &opError{op: "dial", addr: host, err: err}
	}
	for _, ip := range ips {
		op.addrs = append(op.addrs, InetAddr(ip.Unmap(), port))
	}
	if len(op.addrs) == 0 && op.err == nil {
		op.err = refuse("dial", host, "no addresses", syscall.EADDRNOTAVAIL)
	}
	// A full queue clears as the loop runs; a closed loop or a Conn that
	// is gone (its timeout) needs the result no more.
	for r.c.t.post(op) == ErrNotifyFull && !r.c.gone.Load() {
		time.Sleep(time.Millisecond)
	}
}

// resolved serves a resolution's result on the loop.
func (t *connTable) resolved(c *Conn, op *connOp) {
	if c.flags&cDone != 0 || c.sock != nil {
		return
	}
	if op.err != nil {
		c.fail(op.err)
		return
	}
	c.dial.left = op.addrs
	t.dialNext(c)
}
