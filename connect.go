package mio

import (
	"time"
)

// Connect starts connecting sock to addr and registers it with token,
// edge-triggered for Readable and Writable as early mio did. The handler's
// Writable is called once the connection is established or has failed,
// also when connect(2) finished at once, and never before; a failure shows
// through sock.TakeError. An error connect(2) returns at once is returned
// here, and sock is then not registered.
//
// A Unix socket whose peer's queue is full (Linux answers EAGAIN) is not
// registered with the kernel until a retry succeeds, because an unconnected
// stream socket polls as writable: the loop retries on a short back-off
// timer and never reports the socket before it is connected.
func (l *EventLoop[M]) Connect(sock Socket, addr SockAddr, token Token) error {
	return l.ConnectWith(sock, addr, token, Readable|Writable, Edge)
}

// ConnectWith is Connect with the interest and options chosen by the
// caller. Writable is always added to in, since it carries the outcome.
func (l *EventLoop[M]) ConnectWith(sock Socket, addr SockAddr, token Token, in Interest, opt PollOpt) error {
	in |= Writable
	if err := l.checkNew("connect", sock, in, opt); err != nil {
		return err
	}
	state, err := sock.startConnect(addr)
	if err != nil {
		return err
	}
	if state != connectRetry {
		return l.register(sock, token, in, opt, false)
	}
	if err := l.register(sock, token, in, opt, true); err != nil {
		return err
	}
	l.retries = append(l.retries, pendingConnect{
		fd: sock.Fd(), sock: sock, addr: addr,
		due: l.now() + int64(connectBackoffMin), backoff: connectBackoffMin,
	})
	return nil
}

// Listen makes acc listen with the given backlog and registers it with
// token, edge-triggered for
// Readable as early mio did: the handler's Readable with DataHint comes for
// pending connections, including any queued before the registration, and
// must Accept until ErrWouldBlock.
//
// A backlog of 0 takes the acceptor's own: the ListenConfig.Backlog it was
// bound with, else the system's maximum; a negative backlog asks for the
// system's maximum.
func (l *EventLoop[M]) Listen(acc Acceptor, backlog int, token Token) error {
	return l.ListenWith(acc, backlog, token, Edge)
}

// ListenWith is Listen with the poll options chosen by the caller; Level
// suits a handler that accepts a bounded number of connections per call.
func (l *EventLoop[M]) ListenWith(acc Acceptor, backlog int, token Token, opt PollOpt) error {
	if err := l.checkNew("listen", acc, Readable, opt); err != nil {
		return err
	}
	if err := acc.listen(backlog); err != nil {
		return err
	}
	return l.register(acc, token, Readable, opt, false)
}

// connectBackoff bounds the retry interval of a Unix connect that met a
// full queue: short at first, since a busy acceptor drains its queue fast,
// and never so short that a stuck peer makes the loop spin.
const (
	connectBackoffMin = 200 * time.Microsecond
	connectBackoffMax = 50 * time.Millisecond
)

// pendingConnect is a Unix connect that met a full queue, waiting for its
// next try.
type pendingConnect struct {
	fd      int
	sock    Socket
	addr    SockAddr
	due     int64 // on the loop's clock, see now
	backoff time.Duration
}

// nextRetry returns the earliest due time of a pending connect retry.
func (l *EventLoop[M]) nextRetry() (int64, bool) {
	if len(l.retries) == 0 {
		return 0, false
	}
	next := l.retries[0].due
	for _, r := range l.retries[1:] {
		next = min(next, r.due)
	}
	return next, true
}

// retryConnects tries again every connect that is due, keeping in place
// those still waiting.
func (l *EventLoop[M]) retryConnects() {
	if len(l.retries) == 0 {
		return
	}
	now := l.now()
	kept := l.retries[:0]
	for _, r := range l.retries {
		s := l.reg.lookup(r.fd)
		// Closed or deregistered while waiting; a closed socket's number
		// may already belong to a new socket waiting here too.
		if s == nil || !s.deferred || r.sock.Fd() != r.fd {
			continue
		}
		if r.due > now || l.retryConnect(&r, s, now) {
			kept = append(kept, r)
		}
	}
	clear(l.retries[len(kept):])
	l.retries = kept
}

// retryConnect tries one connect again and reports whether it must wait
// further. A success hands the fd to the kernel, whose write readiness then
// reports the connection; a failure is recorded on the socket and reported
// by an injected event, as the kernel would report a failed connect.
func (l *EventLoop[M]) retryConnect(r *pendingConnect, s *registration, now int64) bool {
	state, err := r.sock.startConnect(r.addr)
	if err == nil && state == connectRetry {
		r.backoff = min(2*r.backoff, connectBackoffMax)
		r.due = now + int64(r.backoff)
		return true
	}
	if err == nil {
		if err = l.poller.add(r.fd, s.gen, s.interest, s.opt); err == nil {
			s.deferred = false
			return false
		}
		err = refuse("connect", r.addr.String(), "register", err)
	}
	r.sock.setConnectError(err)
	l.injected = append(l.injected, event{fd: int32(r.fd), gen: s.gen, ready: readyErr | readyHup | readyWrite})
	return false
}
