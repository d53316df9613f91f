package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The command end to end: it prints the address it really listens on,
// echoes, and exits with status 0 on SIGINT.
func TestCommand(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	c := startCommand(t, buildCommand(t), "-addr", "127.0.0.1:0", "-buf", "4KiB")
	if err := echoClient("tcp", c.addr, 7, 256<<10); err != nil {
		t.Error(err)
	}
	c.interrupt(t)
}

// With few fds, accept fails with EMFILE: the command does not spin,
// counts the failures in its statistics, and serves new clients once
// connections close.
func TestCommandFdLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("no shell to set the limit with: %v", err)
	}
	bin := buildCommand(t)
	// ulimit -n sets the hard limit too, so Go's runtime cannot raise it.
	c := startCommand(t, sh, "-c", `ulimit -n 24 && exec "$0" "$@"`, bin, "-addr", "127.0.0.1:0", "-stats")

	var conns []net.Conn
	defer func() {
		for _, conn := range conns {
			conn.Close()
		}
	}()
	for range 40 {
		conn, err := net.Dial("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, conn)
	}
	// The server holds fewer than 40 connections. Depending on mio, the
	// ones it cannot take wait in the queue or are closed at once; either
	// way the last one gets no echo. Its read waits for up to a second
	// with the server out of fds, which a spinning server would show in
	// its CPU time.
	last := conns[len(conns)-1]
	last.Write([]byte("x"))
	last.SetReadDeadline(time.Now().Add(time.Second))
	if n, err := last.Read(make([]byte, 1)); n > 0 {
		t.Fatal("the last connection was served although the server is out of fds")
	} else {
		t.Logf("the client beyond the limit: %v", err)
	}
	for _, conn := range conns {
		conn.Close()
	}
	conns = nil
	// The server frees its fds as it sees these connections end; until
	// then mio may close new ones too, so a client tries again. Each try
	// waits out mio's retry of the accept, so this loop does not spin.
	for start := time.Now(); ; {
		err := echoClient("tcp", c.addr, 3, 1000)
		if err == nil {
			break
		}
		if time.Since(start) > testTimeout {
			t.Fatalf("no service once fds were free: %v; stderr:\n%s", err, c.stderr)
		}
	}
	c.out.wait(t, "the accept errors counted", func(line string) bool {
		n, err := strconv.Atoi(statsFields(line)["accept-errors"])
		return err == nil && n > 0
	})
	state := c.interrupt(t)
	if cpu := state.UserTime() + state.SystemTime(); cpu > 500*time.Millisecond {
		t.Errorf("the command used %v of CPU: it spins while out of fds", cpu)
	}
	t.Logf("CPU %v; stderr:\n%s", state.UserTime()+state.SystemTime(), c.stderr)
}

// -stats prints the statistics once a second, and they count the echo a
// client had.
func TestCommandStats(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the command")
	}
	const bulk = 64 << 10
	c := startCommand(t, buildCommand(t), "-addr", "127.0.0.1:0", "-loops", "2", "-balance", "round-robin", "-stats")
	if c.loops != 2 {
		t.Errorf("listening with %d loop(s), want 2", c.loops)
	}
	if err := echoClient("tcp", c.addr, 5, bulk); err != nil {
		t.Fatal(err)
	}
	n := strconv.Itoa(echoed(bulk))
	c.out.wait(t, "the echo counted", func(line string) bool {
		f := statsFields(line)
		return f["accepted"] == "1" && f["closed"] == "1" && f["open"] == "0" && f["read"] == n && f["written"] == n
	})
	c.interrupt(t)
}

// buildCommand builds the command into a temporary directory.
func buildCommand(t *testing.T) string {
	t.Helper()
	gocmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build with: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := filepath.Join(t.TempDir(), "echo")
	build := exec.CommandContext(ctx, gocmd, "build", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// command is a running echo command.
type command struct {
	cmd    *exec.Cmd
	cancel context.CancelFunc
	out    *lineLog // standard output after the listening line
	copied chan struct{}
	stderr *lockedBuffer
	addr   string // from the listening line
	loops  int    // from the listening line
}

// startCommand starts name with args and reads the listening line; the
// rest of standard output goes to c.out. The command is killed if it is
// still running after testTimeout, which ends any read or wait on it.
func startCommand(t *testing.T, name string, args ...string) *command {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	c := &command{cmd: exec.CommandContext(ctx, name, args...), cancel: cancel,
		out: newLineLog(), copied: make(chan struct{}), stderr: &lockedBuffer{}}
	c.cmd.Stderr = c.stderr
	c.cmd.WaitDelay = 5 * time.Second
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		<-c.copied
		c.cmd.Wait()
	})
	out := bufio.NewReader(stdout)
	line, err := out.ReadString('\n')
	go func() {
		io.Copy(c.out, out) // until the command exits
		close(c.copied)
	}()
	if err != nil {
		t.Fatalf("reading the listening line %q: %v; stderr:\n%s", line, err, c.stderr)
	}
	c.parseListening(t, line)
	return c
}

// parseListening reads the address and the number of loops from the
// listening line.
func (c *command) parseListening(t *testing.T, line string) {
	t.Helper()
	f := strings.Fields(line)
	if len(f) != 7 || strings.Join(f[:3], " ") != "echo: listening on" || f[4] != "with" || f[6] != "loop(s)" {
		t.Fatalf("listening line %q", line)
	}
	c.addr = f[3]
	if strings.HasSuffix(c.addr, ":0") {
		t.Fatalf("listening line %q names port 0, not the bound port", line)
	}
	var err error
	if c.loops, err = strconv.Atoi(f[5]); err != nil || c.loops < 1 {
		t.Fatalf("listening line %q: no number of loops", line)
	}
}

// interrupt sends SIGINT and checks the command exits with status 0 in
// time and prints nothing more than statistics.
func (c *command) interrupt(t *testing.T) *os.ProcessState {
	t.Helper()
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	<-c.copied // the command's exit ends it, or testTimeout's kill
	err := c.cmd.Wait()
	if errors.Is(err, context.DeadlineExceeded) || c.cmd.ProcessState == nil {
		t.Fatalf("no exit within %v; stderr:\n%s", testTimeout, c.stderr)
	}
	if err != nil {
		t.Fatalf("exit: %v (want status 0); stderr:\n%s", err, c.stderr)
	}
	for _, line := range c.out.all() {
		if statsFields(line) == nil {
			t.Errorf("more output after the listening line: %q", line)
		}
	}
	return c.cmd.ProcessState
}
