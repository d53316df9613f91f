//go:build linux

// Command netpoll is the benchmark's echo server on cloudwego/netpoll
// (v0.7.2), written as netpoll's users write one: netpoll.NewEventLoop
// with an OnRequest that reads from connection.Reader() and answers
// through connection.Writer() and Flush, serving a netpoll listener. With
// -loops N it runs N pollers (netpoll.Configure's PollerNum, which
// replaces the deprecated SetNumLoops); with -rpc it answers W5's framed
// requests (package frame) instead of echoing.
//
// What netpoll's model means for the measurement, from its source
// (v0.7.2) and documentation:
//
//   - OnRequest does not run on the poller. The poller goroutine reads
//     (readv, into the connection's LinkBuffer) and, when input arrives
//     on a connection with none, hands a task to a goroutine pool
//     (connection_onevent.go: onProcess → runner.RunTask, by default
//     bytedance/gopkg's gopool.CtxGo). That pool has no cap and a scale
//     threshold of 1, so queueing a task starts a worker goroutine, which
//     exits once the queue is empty: in ping-pong, every message crosses
//     from the poller to a fresh worker goroutine, on the same P here
//     (GOMAXPROCS=1) and possibly on another thread with -loops N, where
//     GOMAXPROCS=N. The task calls OnRequest again while input remains
//     (eventloop.go: "OnRequest will run in a separate goroutine and it
//     is guaranteed that there is one and only one OnRequest running at
//     the same time").
//   - Reads happen on the poller, writes on the worker: Flush sends at
//     once (sendmsg); only when the kernel takes part of it does netpoll
//     watch EPOLLOUT and park the worker until the poller has written the
//     rest (connection_impl.go: flush, waitFlush). The poller goes on
//     reading the connection meanwhile, into a LinkBuffer with no limit:
//     unlike the other servers, netpoll does not stop reading while its
//     output waits.
//   - The poller (poll_default_linux.go: Wait) calls epoll_wait with a
//     timeout of 0 after every batch of events, and only when that finds
//     none yields (runtime.Gosched, where the workers run under
//     GOMAXPROCS=1) and blocks: at least one extra epoll_wait per wake-up.
//     readv, sendmsg, epoll_ctl and the non-blocking epoll_wait are
//     syscall.RawSyscall, without the runtime's entersyscall/exitsyscall.
//   - Reader().Next(n) blocks until n bytes are buffered (waitRead), so an
//     OnRequest decodes a frame split over several reads by waiting for
//     it, parked on the connection's read trigger, as netpoll's codecs do
//     (netpoll-examples echo/codec, netpoll-benchmark netpoll/codec); no
//     read timeout is set, so it waits as long as the peer takes.
//   - netpoll's default is GOMAXPROCS/20+1 pollers, one here; its
//     documentation recommends one poller per 20 cores. -loops N with N > 1
//     (netpoll-multi) is therefore not what netpoll picks on a small
//     machine: it is the same shape as the other -multi servers, N loops
//     and GOMAXPROCS=N, to measure what they cost on one CPU.
//   - TCP_NODELAY is netpoll's default for TCP connections
//     (connection_impl.go: init). The listener is Go's net.Listen,
//     converted; the poller accepts one connection per readiness event.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"github.com/cloudwego/netpoll"
	"github.com/miogo/mio/bench/internal/frame"
)

// echo writes every byte read back: Next takes all that is buffered
// (without copying, when it is one node), Malloc gives room in the output
// LinkBuffer, Flush writes it, and Release frees the input that was read.
func echo(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	in, err := r.Next(r.Len())
	if err != nil {
		return err
	}
	out, _ := w.Malloc(len(in))
	copy(out, in)
	r.Release()
	return w.Flush()
}

// rpc answers one request: Next waits for the header and then for the
// payload, the response is built in room from Malloc and flushed. netpoll
// calls it again while input remains, so several requests in one read are
// answered one by one, each with its own Flush.
func rpc(_ context.Context, c netpoll.Connection) error {
	r, w := c.Reader(), c.Writer()
	header, err := r.Next(frame.HeaderLen)
	if err != nil {
		return err
	}
	n := frame.PayloadLen(header)
	if n > frame.MaxPayload {
		return c.Close()
	}
	payload, err := r.Next(n)
	if err != nil {
		return err
	}
	resp, _ := w.Malloc(frame.HeaderLen + n)
	frame.PutHeader(resp, n)
	copy(resp[frame.HeaderLen:], payload)
	r.Release()
	return w.Flush()
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7000", "address to listen on")
	loops := flag.Int("loops", 1, "pollers (netpoll's PollerNum)")
	rpcMode := flag.Bool("rpc", false, "answer W5's framed requests instead of echoing")
	flag.Parse()
	// Before any connection exists, as netpoll requires.
	if err := netpoll.Configure(netpoll.Config{PollerNum: *loops}); err != nil {
		log.Fatal(err)
	}
	ln, err := netpoll.CreateListener("tcp4", *addr)
	if err != nil {
		log.Fatal(err)
	}
	onRequest := echo
	if *rpcMode {
		onRequest = rpc
	}
	ev, err := netpoll.NewEventLoop(onRequest)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("READY %s\n", *addr)
	os.Stdout.Sync()
	log.Fatal(ev.Serve(ln))
}
