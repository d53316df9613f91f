package mio

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// EventLoop.Listen with backlog 0 takes ListenConfig.Backlog, and the
// system's maximum when that is 0 too. Linux reports a listener's backlog
// in TCP_INFO's tcpi_sacked (tcp_get_info gives sk_max_ack_backlog there
// for a socket in LISTEN).
func TestListenConfigBacklog(t *testing.T) {
	somaxconn := 4096
	if b, err := os.ReadFile("/proc/sys/net/core/somaxconn"); err == nil {
		somaxconn, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	for _, tc := range []struct{ config, listen, want int }{
		{7, 0, 7},
		{0, 0, somaxconn},
		{7, 3, 3},
		{7, -1, somaxconn},
	} {
		l := newLoop(t)
		acc, err := ListenConfig{Backlog: tc.config}.Bind(InetAddr(loopback4, 0))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.Listen(acc, tc.listen, 1); err != nil {
			t.Fatal(err)
		}
		info, err := unix.GetsockoptTCPInfo(acc.Fd(), unix.IPPROTO_TCP, unix.TCP_INFO)
		acc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if int(info.Sacked) != tc.want {
			t.Errorf("ListenConfig.Backlog %d, Listen backlog %d: the kernel's backlog is %d, want %d",
				tc.config, tc.listen, info.Sacked, tc.want)
		}
	}
}
