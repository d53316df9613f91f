//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Issue 12, item 8: Close removes the socket file that Bind created, and
// only that one. A restarted server removes the old file and binds the path
// again; closing the old socket afterwards must leave the new file alone.

// unixBoundAt binds a Unix socket of the given kind to path and returns a
// closer for it; kind is "stream" (a listening UnixAcceptor) or "dgram".
func unixBoundAt(t *testing.T, kind, path string) func() error {
	t.Helper()
	if kind == "dgram" {
		u, err := NewUnixDatagram()
		if err != nil {
			t.Fatal(err)
		}
		if err := u.Bind(UnixAddr(path)); err != nil {
			u.Close()
			t.Fatal(err)
		}
		t.Cleanup(func() { u.Close() })
		return u.Close
	}
	s, err := NewUnixSocket()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	a, err := s.Bind(UnixAddr(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	if err := a.listen(16); err != nil {
		t.Fatal(err)
	}
	return a.Close
}

// unixReachable reports whether a socket of the given kind answers at path:
// a connect succeeds for a listener, a send for a datagram socket.
func unixReachable(t *testing.T, kind, path string) bool {
	t.Helper()
	typ := unix.SOCK_STREAM
	if kind == "dgram" {
		typ = unix.SOCK_DGRAM
	}
	fd, err := unix.Socket(unix.AF_UNIX, typ, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	if err := unix.Connect(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return false
	}
	if kind == "dgram" {
		_, err = unix.Write(fd, []byte("x"))
	}
	return err == nil
}

func TestUnixCloseLeavesReplacedSocketFile(t *testing.T) {
	for _, kind := range []string{"stream", "dgram"} {
		t.Run(kind, func(t *testing.T) {
			checkNoFdLeaks(t)
			path := filepath.Join(t.TempDir(), "s")
			closeOld := unixBoundAt(t, kind, path)
			// The restarted server: removes the stale file, binds anew.
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			unixBoundAt(t, kind, path)
			fresh, err := os.Lstat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := closeOld(); err != nil {
				t.Fatal(err)
			}
			now, err := os.Lstat(path)
			if err != nil || !os.SameFile(fresh, now) {
				t.Fatalf("closing the old socket removed the new one's file (%v)", err)
			}
			if !unixReachable(t, kind, path) {
				t.Fatal("the new socket is unreachable after the old one closed")
			}
		})
	}
}

func TestUnixCloseLeavesOtherFile(t *testing.T) {
	for _, kind := range []string{"stream", "dgram"} {
		t.Run(kind, func(t *testing.T) {
			checkNoFdLeaks(t)
			path := filepath.Join(t.TempDir(), "s")
			closeOld := unixBoundAt(t, kind, path)
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte("not a socket"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := closeOld(); err != nil {
				t.Fatal(err)
			}
			if b, err := os.ReadFile(path); err != nil || string(b) != "not a socket" {
				t.Fatalf("Close removed or changed a file that replaced its socket: %q, %v", b, err)
			}
		})
	}
}

func TestUnixCloseRemovesOwnFileOnce(t *testing.T) {
	for _, kind := range []string{"stream", "dgram"} {
		t.Run(kind, func(t *testing.T) {
			checkNoFdLeaks(t)
			path := filepath.Join(t.TempDir(), "s")
			closeIt := unixBoundAt(t, kind, path)
			if err := closeIt(); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("socket file still there after Close: %v", err)
			}
			// A second Close removes nothing, not even a new file there.
			unixBoundAt(t, kind, path)
			if err := closeIt(); !errors.Is(err, ErrClosed) {
				t.Fatalf("second Close: %v, want ErrClosed", err)
			}
			if _, err := os.Lstat(path); err != nil {
				t.Fatalf("a second Close removed another socket's file: %v", err)
			}
		})
	}
}
