package mio

import "golang.org/x/sys/unix"

// kqueue.go names FreeBSD's ENOTCAPABLE by number so that Linux tests its
// rule; this fails to compile should the two ever differ.
var _ [0]struct{} = [unix.ENOTCAPABLE - kqueueENOTCAPABLE]struct{}{}
