//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

// The socket file of a bound Unix socket, on the unix systems: which file
// Bind made, and removing only that one at Close.

package mio

import (
	"os"

	"golang.org/x/sys/unix"
)

// unixFile is the socket file a Bind created, which Close removes again, as
// Go's net does for the listeners it creates. Only that file is removed:
// once a restarted server has removed it and bound the path anew, the path
// names the new server's socket, and removing it would cut that server off
// from its clients.
//
// The file is known by the identity (device and inode) that the path had
// right after bind; fstat of the socket cannot say it, since on Linux it
// describes the socket's own inode, not the file's. Two windows remain, both
// between system calls on a path that another process changes: a socket
// file that replaces ours between bind and that first lstat is taken for ours, and one
// that replaces ours between Close's lstat and its unlink is removed. Both
// need another process to remove our socket file within microseconds of
// our own call. While the socket is open its file's inode number cannot be
// given to a new file (the bound socket holds a reference to the inode, on
// Linux and the BSDs), which is why Close compares before it closes.
type unixFile struct {
	path string
	fi   os.FileInfo // nil: nothing to remove
}

// boundFile records the file that binding to addr created, if any. An
// abstract name and the unnamed address create none; a path whose lstat
// fails or is no socket is not recorded, so Close leaves it alone.
func boundFile(addr SockAddr) unixFile {
	if addr.IsAbstract() || addr.Path() == "" {
		return unixFile{}
	}
	fi, err := os.Lstat(addr.Path())
	if err != nil || fi.Mode().Type() != os.ModeSocket {
		return unixFile{}
	}
	return unixFile{path: addr.Path(), fi: fi}
}

// remove unlinks the file if the path still names it, and forgets it
// either way. A file that is gone, or that the path no longer names (it was
// replaced, or the path is relative and the working directory changed), is
// left alone; so is an error, as Close has nothing better to do with it.
func (f *unixFile) remove() {
	if f.fi == nil {
		return
	}
	if now, err := os.Lstat(f.path); err == nil && os.SameFile(f.fi, now) {
		// unlink, not os.Remove, which would go on to rmdir a directory
		// that replaced the file in the window.
		unix.Unlink(f.path)
	}
	*f = unixFile{}
}
