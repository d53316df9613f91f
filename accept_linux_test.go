package mio

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/sys/unix"
)

// hzConnectCount counts clients whose connect completed, without the
// server ever accepting: only the listen backlog holds them.
type hzConnectCount struct {
	NopHandler[int]
	t         *testing.T
	want      int
	connected map[Token]bool
	timedOut  bool
}

func (h *hzConnectCount) Writable(l *EventLoop[int], tok Token) {
	if h.connected[tok] {
		return
	}
	h.connected[tok] = true
	if len(h.connected) == h.want {
		l.Shutdown()
	}
}

func (h *hzConnectCount) Timeout(l *EventLoop[int], _ Token) {
	h.timedOut = true
	l.Shutdown()
}

// Listen documents that a backlog <= 0 means the system's maximum. The
// kernel's record of the listener's backlog (TCP_INFO on a listening socket
// reports it in tcpi_sacked) must then be net.core.somaxconn, and that many
// clients must be able to complete their connects before any is accepted.
func TestHarnessListenBacklogZeroIsSystemMax(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
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
	defer acc.Close()
	if err := l.Listen(acc, 0, 1); err != nil {
		t.Fatal(err)
	}
	info, err := unix.GetsockoptTCPInfo(acc.Fd(), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	backlog := int(info.Sacked)
	const clients = 8
	h := &hzConnectCount{t: t, want: clients, connected: map[Token]bool{}}
	for i := range clients {
		s, err := NewTCPSocketV4()
		if err != nil {
			t.Fatal(err)
		}
		defer s.Close()
		if err := l.Connect(s, addr, Token(100+i)); err != nil {
			t.Fatal(err)
		}
	}
	// A dropped SYN is sent again after a second, and dropped again while
	// nobody accepts: the deadline only ends a test that already failed.
	if _, err := l.Timeout(0, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := l.Run(h); err != nil {
		t.Fatal(err)
	}
	if backlog != somaxconn || h.timedOut {
		t.Fatalf("Listen(acc, 0, ...): the kernel's backlog is %d (somaxconn %d); %d of %d clients connected without an accept in 5s",
			backlog, somaxconn, len(h.connected), clients)
	}
}
