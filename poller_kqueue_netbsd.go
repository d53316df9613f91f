package mio

// x/sys defines no EV_RECEIPT for NetBSD, and kernels before 10 lack it, so
// each change is applied by a kevent call of its own, whose error is that
// change's.
const evReceipt = 0
