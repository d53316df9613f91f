package mio

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Listen documents that a backlog <= 0 means the system's maximum. The
// kernel's record of the listener's backlog (TCP_INFO on a listening socket
// reports it in tcpi_sacked) must then be net.core.somaxconn, and clients
// that connect to it, not accepted, must all complete at once: a queue of
// one would let one in per SYN retransmission, the first a second later.
func TestListenBacklogZeroIsSomaxconn(t *testing.T) {
	checkNoFdLeaks(t)
	raw, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		t.Skipf("no somaxconn: %v", err)
	}
	somaxconn, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	l := newLoop(t)
	acc, addr := boundTCP(t, loopback4)
	if err := l.Listen(acc, 0, 0); err != nil {
		t.Fatal(err)
	}
	info, err := unix.GetsockoptTCPInfo(acc.Fd(), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	if backlog := int(info.Sacked); backlog != somaxconn {
		t.Errorf("Listen(acc, 0, ...): the kernel's backlog is %d, somaxconn %d", backlog, somaxconn)
	}
	const clients = 8
	for i := range clients {
		c := newTCPSocket4or6(t, loopback4)
		if err := l.Connect(c, addr, Token(1+i)); err != nil {
			t.Fatal(err)
		}
	}
	h := &recorder{}
	connected := 0
	h.onWritable = func(l *EventLoop[int], tok Token) {
		if h.count("w", tok) == 1 {
			connected++
			if connected == clients {
				l.Shutdown()
			}
		}
	}
	stopAfter(t, l, 2*time.Second)
	run(t, l, h)
	if connected != clients {
		t.Fatalf("Listen with backlog 0: %d of %d clients connected within 2s without an accept; the queue is not the system's maximum", connected, clients)
	}
}
