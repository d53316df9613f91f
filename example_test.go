//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio_test

import (
	"errors"
	"fmt"
	"net"

	"github.com/miogo/mio"
)

// acceptOnce accepts the first connection and stops the loop.
type acceptOnce struct {
	mio.NopHandler[struct{}]
	acc *mio.TCPAcceptor
}

func (h *acceptOnce) Readable(loop *mio.EventLoop[struct{}], tok mio.Token, hint mio.ReadHint) {
	conn, err := h.acc.Accept()
	if errors.Is(err, mio.ErrWouldBlock) {
		return
	}
	if err != nil {
		fmt.Println("accept:", err)
		loop.Shutdown()
		return
	}
	defer conn.Close()
	fmt.Println("accepted a connection, token", tok, "data hint", hint&mio.DataHint != 0)
	loop.Shutdown()
}

// Listen binds a TCP socket to a free loopback port and reports the
// connection a client makes with Go's net package.
func ExampleEventLoop_Listen() {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	sock, _ := mio.NewTCPSocketV4()
	addr, _ := mio.ParseSockAddr("127.0.0.1:0")
	acc, err := sock.Bind(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer acc.Close()
	if err := loop.Listen(acc, 128, 1); err != nil {
		fmt.Println(err)
		return
	}

	bound, _ := acc.LocalAddr()
	client, err := net.Dial("tcp", bound.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	defer client.Close()

	if err := loop.Run(&acceptOnce{acc: acc}); err != nil {
		fmt.Println(err)
	}
	// Output: accepted a connection, token 1 data hint true
}

// connectReport prints how a connect ended.
type connectReport struct {
	mio.NopHandler[struct{}]
	sock *mio.TCPSocket
}

func (h *connectReport) Writable(loop *mio.EventLoop[struct{}], tok mio.Token) {
	if err := h.sock.TakeError(); err != nil {
		fmt.Println("connect failed:", err)
	} else {
		fmt.Println("connected, token", tok)
	}
	loop.Shutdown()
}

// Connect starts a non-blocking connect; Writable reports its outcome,
// which TakeError tells.
func ExampleEventLoop_Connect() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer ln.Close()

	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	sock, _ := mio.NewTCPSocketV4()
	defer sock.Close()
	addr, _ := mio.ParseSockAddr(ln.Addr().String())
	if err := loop.Connect(sock, addr, 42); err != nil {
		fmt.Println(err)
		return
	}
	if err := loop.Run(&connectReport{sock: sock}); err != nil {
		fmt.Println(err)
	}
	// Output: connected, token 42
}
