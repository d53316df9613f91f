package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// tool returns the path of a Redis command-line tool, skipping the test
// where it is not installed (CI installs the redis-tools package).
func tool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (Debian package redis-tools): %v", name, err)
	}
	return path
}

// runTool runs a tool against the server with stdin as its input and
// returns its standard output.
func runTool(t *testing.T, r *running, path, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	defer cancel()
	ap, _ := r.addr.AddrPort()
	args = append([]string{"-h", ap.Addr().String(), "-p", strconv.Itoa(int(ap.Port()))}, args...)
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %q: %v\nstdout:\n%s\nstderr:\n%s", path, args, err, &stdout, &stderr)
	}
	return stdout.String()
}

// redis-cli, one command per run as a user types them at a shell; then
// several commands piped into one run; then --pipe, which sends its input
// as it is, pipelined, and counts the replies.
func TestRedisCLI(t *testing.T) {
	cli := tool(t, "redis-cli")
	r := startServer(t, config{verbose: true})
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"PING"}, "PONG\n"},
		{[]string{"SET", "greeting", "hello world"}, "OK\n"},
		{[]string{"GET", "greeting"}, "hello world\n"},
		{[]string{"SET", "n", "41"}, "OK\n"},
		{[]string{"INCR", "n"}, "42\n"},
		{[]string{"MGET", "greeting", "missing", "n"}, "hello world\n\n42\n"},
		{[]string{"NOSUCHCOMMAND", "x"}, "ERR unknown command 'NOSUCHCOMMAND'\n\n"},
		{[]string{"GET", "a", "b"}, "ERR wrong number of arguments for 'get' command\n\n"},
	} {
		if got := runTool(t, r, cli, "", tc.args...); got != tc.want {
			t.Errorf("redis-cli %q: got %q, want %q", tc.args, got, tc.want)
		}
	}

	piped := "SET counter 10\nINCR counter\nINCR counter\nGET counter\nDEL counter greeting\nEXISTS counter\n"
	if got, want := runTool(t, r, cli, piped), "OK\n11\n12\n12\n2\n0\n"; got != want {
		t.Errorf("piped commands: got %q, want %q", got, want)
	}

	var pipe strings.Builder
	const n = 10000
	for i := range n {
		pipe.Write(encode("SET", fmt.Sprintf("key:%d", i), strings.Repeat("v", i%100)))
	}
	out := runTool(t, r, cli, pipe.String(), "--pipe")
	if !strings.Contains(out, fmt.Sprintf("errors: 0, replies: %d", n)) {
		t.Errorf("redis-cli --pipe: %q", out)
	}
	if got, want := runTool(t, r, cli, "", "DBSIZE"), fmt.Sprintf("%d\n", n+1); got != want {
		t.Errorf("DBSIZE after --pipe: got %q, want %q", got, want)
	}
	if strings.Count(r.Logs.String(), "unknown command:") != 1 { // NOSUCHCOMMAND's
		t.Errorf("redis-cli sent commands the server does not know:\n%s", r.Logs)
	}
}

// redis-benchmark runs every test of the benchmark script, with and
// without pipelining, without warnings about what it asked at start-up,
// on one loop and on several.
func TestRedisBenchmark(t *testing.T) {
	bench := tool(t, "redis-benchmark")
	for _, loops := range []int{1, 3} {
		t.Run(strconv.Itoa(loops)+"-loops", func(t *testing.T) { testRedisBenchmark(t, bench, loops) })
	}
}

func testRedisBenchmark(t *testing.T, bench string, loops int) {
	r := startServer(t, config{loops: loops, verbose: true})
	for _, p := range []string{"1", "16"} {
		out := runTool(t, r, bench, "", "-t", "ping_inline,ping_mbulk,set,get,incr,mset",
			"-n", "2000", "-c", "5", "-P", p, "-q")
		for _, test := range []string{"PING_INLINE: ", "PING_MBULK: ", "SET: ", "GET: ", "INCR: ", "MSET (10 keys): "} {
			if !strings.Contains(out, test) {
				t.Errorf("-P %s: no result for %s in\n%s", p, test, out)
			}
		}
		if strings.Contains(strings.ToLower(out), "warning") || strings.Contains(strings.ToLower(out), "error") {
			t.Errorf("-P %s: redis-benchmark complained:\n%s", p, out)
		}
	}
	if strings.Contains(r.Logs.String(), "unknown command:") {
		t.Errorf("redis-benchmark sent commands the server does not know:\n%s", r.Logs)
	}
}
