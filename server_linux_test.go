package mio

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The Server's tests that look at Linux's own state: what each epoll
// instance watches (/proc/self/fdinfo), and a shed under RLIMIT_NOFILE.

// epollWatches is the set of fds the epoll instance epfd watches, read
// from the kernel's own listing of its registrations.
func epollWatches(t *testing.T, epfd int) map[int]bool {
	t.Helper()
	f, err := os.Open("/proc/self/fdinfo/" + strconv.Itoa(epfd))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fds := map[int]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) >= 2 && fields[0] == "tfd:" {
			fd, err := strconv.Atoi(fields[1])
			if err != nil {
				t.Fatalf("fdinfo line %q: %v", sc.Text(), err)
			}
			fds[fd] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return fds
}

// TestServerHandoffLosesNothing: loop 1 is held in a callback while loop
// 0 accepts a connection whose client has already written; handed off,
// the socket is registered by loop 1 only once it is free again, and
// that registration reports what came meanwhile. The accepting loop's
// epoll never watches the socket.
func TestServerHandoffLosesNothing(t *testing.T) {
	var (
		hold   = make(chan struct{})
		held   sync.WaitGroup
		sockFd = make(chan int, 1)
	)
	g := newServerRig(t, ServerConfig{Loops: 2, Balance: BalanceRoundRobin}, func(g *serverRig) {
		g.other = func(int) Handler[int] { return &delayedAnswers{hold: hold, held: &held} }
		g.onOpen = func(c *Conn) { sockFd <- c.Socket().Fd() }
	})
	g.listen()
	g.srv.loops[0].ch.next = 1 // the first connection goes to loop 1
	g.start()
	held.Add(1)
	if err := g.srv.Loop(1).Channel().Send(holdMsg); err != nil {
		t.Fatal(err)
	}
	held.Wait()
	c := g.dial(netip.Addr{})
	if _, err := io.WriteString(c, "sent before the hand-off"); err != nil {
		t.Fatal(err)
	}
	g.waitFor("the hand-off", func() bool {
		return g.srv.LoopStats(0).Accepted == 1 && g.srv.loops[1].load.Load() == 1
	})
	before := epollWatches(t, g.srv.Loop(0).poller.epfd)
	close(hold)
	got := make([]byte, len("sent before the hand-off"))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != "sent before the hand-off" {
		t.Fatalf("echo of the bytes sent before the hand-off: %q, %v", got, err)
	}
	fd := <-sockFd
	if before[fd] || epollWatches(t, g.srv.Loop(0).poller.epfd)[fd] {
		t.Errorf("the accepting loop's epoll watches the handed-off socket (fd %d)", fd)
	}
	if !epollWatches(t, g.srv.Loop(1).poller.epfd)[fd] {
		t.Errorf("loop 1's epoll does not watch the socket it serves (fd %d)", fd)
	}
	if byLoop := g.loops(); byLoop[1] != 1 || byLoop[0] != 0 {
		t.Errorf("OnOpen by loop %v, want the one Conn on loop 1", byLoop)
	}
	// The end of stream after the hand-off reaches the Conn too.
	c.(*net.TCPConn).CloseWrite()
	if rest, err := io.ReadAll(c); err != nil || len(rest) != 0 {
		t.Errorf("after the client's end: %q, %v; want the Server's end", rest, err)
	}
	g.waitFor("OnClose", func() bool { return g.closed.Load() == 1 })
}

// serverShedEnv, when set, makes TestServerShedEMFILE run its child.
const serverShedEnv = "MIO_SERVER_SHED_CHILD"

// TestServerShedEMFILE runs a two-loop Server in a child process whose
// RLIMIT_NOFILE is used up, with one reuse-port listener per loop. The
// child checks that clients connecting meanwhile are shed (they read an
// end or a reset, not a hang), that no loop spins (a bounded number of
// iterations and under 20% CPU in an idle window), and that once fds are
// free again every loop serves new clients.
func TestServerShedEMFILE(t *testing.T) {
	if os.Getenv(serverShedEnv) != "" {
		serverShedChild(t)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestServerShedEMFILE$", "-test.count=1", "-test.v", "-test.timeout=50s")
	cmd.Env = append(os.Environ(), serverShedEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child failed: %v\n%s", err, out)
	}
	i := strings.Index(string(out), "SERVER-SHED-OK")
	if i < 0 {
		t.Fatalf("child exited 0 without reporting SERVER-SHED-OK:\n%s", out)
	}
	line, _, _ := strings.Cut(string(out[i:]), "\n")
	t.Log(line)
}

// serverShedClients is how many clients connect while no fd is free.
const serverShedClients = 16

func serverShedChild(t *testing.T) {
	g := startServerRig(t, ServerConfig{Loops: 2}, nil)
	// One echo first: the accept takes the reserve fd the shed needs.
	echoOnce(t, g.dial(netip.Addr{}), "first")
	addr, err := ParseSockAddr(g.addr)
	if err != nil {
		t.Fatal(err)
	}
	var clients [serverShedClients]*TCPSocket
	for i := range clients {
		clients[i] = newTCPSocket4or6(t, loopback4)
	}
	free := useUpFds(t)
	for _, c := range clients {
		connectNow(t, c, addr) // the kernel completes it: the listener queues it
	}
	// Every client reads an end or a reset: shed, not left hanging.
	for i, c := range clients {
		waitFd(t, c.Fd(), unix.POLLIN)
		var buf [8]byte
		if _, err := c.Read(buf[:]); err != io.EOF && !isReset(err) {
			t.Fatalf("shed client %d read %v; want an end or a reset", i, err)
		}
	}
	st := g.srv.Stats()
	if st.AcceptErrors == 0 || st.Sheds == 0 {
		t.Fatalf("Stats %+v: no accept error or shed counted", st.ConnStats)
	}
	// An idle window: no loop may spin.
	before := [2]uint64{g.srv.LoopStats(0).Iterations, g.srv.LoopStats(1).Iterations}
	cpu0, wall0 := cpuTime(t), time.Now()
	time.Sleep(300 * time.Millisecond) // the window measured, not a synchronisation
	share := float64(cpuTime(t)-cpu0) / float64(time.Since(wall0))
	for i := range 2 {
		if n := g.srv.LoopStats(i).Iterations - before[i]; n > 5 {
			t.Errorf("loop %d iterated %d times in a 300 ms idle window: it spins", i, n)
		}
	}
	if share > 0.2 {
		t.Errorf("CPU time in the idle window was %.0f%% of the wall time; want < 20%%", 100*share)
	}
	free(64)
	// Every loop serves again.
	early := g.loops()
	for n := 0; g.loops()[0] == early[0] || g.loops()[1] == early[1]; n++ {
		if n == 64 {
			t.Fatalf("after fds were freed, 64 clients reached only %v (before: %v)", g.loops(), early)
		}
		c := g.dial(netip.Addr{})
		echoOnce(t, c, "again")
		c.Close()
	}
	fmt.Printf("SERVER-SHED-OK acceptErrors=%d sheds=%d cpu=%.1f%% byLoop=%v\n", st.AcceptErrors, st.Sheds, 100*share, g.loops())
}

// cpuTime is the process's CPU time so far.
func cpuTime(t *testing.T) time.Duration {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
