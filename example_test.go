//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/miogo/mio"
)

// readOnce reads what a registration has, prints it and stops the loop.
type readOnce struct {
	mio.NopHandler[struct{}]
	r interface{ Read([]byte) (int, error) }
}

func (h *readOnce) Readable(loop *mio.EventLoop[struct{}], tok mio.Token, hint mio.ReadHint) {
	var buf [64]byte
	n, err := h.r.Read(buf[:])
	if errors.Is(err, mio.ErrWouldBlock) {
		return
	}
	fmt.Printf("token %d read %q (%v)\n", tok, buf[:n], err)
	loop.Shutdown()
}

// Register watches any fd: here the read end of an os.Pipe, adopted by
// RawFd, which also closes it.
func ExampleEventLoop_Register() {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	r, w, err := os.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer w.Close()
	fd, err := syscall.Dup(int(r.Fd())) // RawFd takes ownership of its fd
	r.Close()
	if err != nil {
		fmt.Println(err)
		return
	}
	syscall.SetNonblock(fd, true)
	raw := mio.NewRawFd(fd)
	defer raw.Close()
	if err := loop.Register(raw, 7, mio.Readable, mio.Level); err != nil {
		fmt.Println(err)
		return
	}
	w.Write([]byte("hello"))
	if err := loop.Run(&readOnce{r: fdReader{raw}}); err != nil {
		fmt.Println(err)
	}
	// Output: token 7 read "hello" (<nil>)
}

// fdReader reads a RawFd with a plain read(2).
type fdReader struct{ fd *mio.RawFd }

func (f fdReader) Read(p []byte) (int, error) { return syscall.Read(f.fd.Fd(), p) }

// Pipe's ends are non-blocking and close-on-exec, ready to register.
func ExamplePipe() {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	r, w, err := mio.Pipe()
	if err != nil {
		fmt.Println(err)
		return
	}
	defer r.Close()
	defer w.Close()
	if err := loop.Register(r, 1, mio.Readable, mio.Edge); err != nil {
		fmt.Println(err)
		return
	}
	w.Write([]byte("ping"))
	w.Close() // the reader sees the data, then io.EOF
	if err := loop.Run(&readOnce{r: r}); err != nil {
		fmt.Println(err)
	}
	// Output: token 1 read "ping" (<nil>)
}

// timeouts prints each timeout and stops after the last.
type timeouts struct {
	mio.NopHandler[struct{}]
	left int
}

func (h *timeouts) Timeout(loop *mio.EventLoop[struct{}], tok mio.Token) {
	fmt.Println("timeout", tok)
	if h.left--; h.left == 0 {
		loop.Shutdown()
	}
}

// Timeout fires once its delay has passed, never early, in deadline order.
func ExampleEventLoop_Timeout() {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	loop.Timeout(2, 20*time.Millisecond)
	loop.Timeout(1, 10*time.Millisecond)
	cancelled, _ := loop.Timeout(3, 5*time.Millisecond)
	loop.ClearTimeout(cancelled)
	if err := loop.Run(&timeouts{left: 2}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// timeout 1
	// timeout 2
}

// messages prints the messages and stops at "done".
type messages struct{ mio.NopHandler[string] }

func (messages) Notify(loop *mio.EventLoop[string], msg string) {
	fmt.Println(msg)
	if msg == "done" {
		loop.Shutdown()
	}
}

// Channel's Sender posts messages from any goroutine; one sender's arrive
// in the order it sent them.
func ExampleEventLoop_Channel() {
	loop, err := mio.NewEventLoop[string](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	sender := loop.Channel()
	go func() {
		for _, m := range []string{"one", "two", "done"} {
			if err := sender.Send(m); err != nil {
				fmt.Println(err)
			}
		}
	}()
	if err := loop.Run(messages{}); err != nil {
		fmt.Println(err)
	}
	// Output:
	// one
	// two
	// done
}

// acceptOnce accepts the first connection and stops the loop.
type acceptOnce struct {
	mio.NopHandler[struct{}]
	acc mio.Acceptor
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

// Listen listens on an acceptor from Bind, here on a free loopback port,
// and reports the connection a client makes with Go's net package.
func ExampleEventLoop_Listen() {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	addr, _ := mio.ParseSockAddr("127.0.0.1:0")
	acc, err := mio.Bind(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer acc.Close()
	if err := loop.Listen(acc, 0, 1); err != nil {
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
	sock mio.Socket
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

	addr, _ := mio.ParseSockAddr(ln.Addr().String())
	sock, err := mio.NewSocketFor(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer sock.Close()
	if err := loop.Connect(sock, addr, 42); err != nil {
		fmt.Println(err)
		return
	}
	if err := loop.Run(&connectReport{sock: sock}); err != nil {
		fmt.Println(err)
	}
	// Output: connected, token 42
}

// datagrams prints the datagram that arrives and who sent it.
type datagrams struct {
	mio.NopHandler[struct{}]
	sock   *mio.UDPSocket
	sender mio.SockAddr
}

func (h *datagrams) Readable(loop *mio.EventLoop[struct{}], tok mio.Token, hint mio.ReadHint) {
	var buf [64]byte
	n, from, err := h.sock.RecvFrom(buf[:])
	if errors.Is(err, mio.ErrWouldBlock) {
		return
	}
	fmt.Printf("%q from the sender: %v (%v)\n", buf[:n], from == h.sender, err)
	loop.Shutdown()
}

// A UDPSocket bound to loopback receives a datagram; RecvFrom says who sent
// it, without allocating for a sender it has seen before.
func ExampleUDPSocket() {
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer loop.Close()

	loopback, _ := mio.ParseSockAddr("127.0.0.1:0")
	recv, _ := mio.NewUDPSocketV4()
	defer recv.Close()
	send, _ := mio.NewUDPSocketV4()
	defer send.Close()
	if err := errors.Join(recv.Bind(loopback), send.Bind(loopback)); err != nil {
		fmt.Println(err)
		return
	}
	to, _ := recv.LocalAddr()
	from, _ := send.LocalAddr()
	if err := loop.Register(recv, 5, mio.Readable, mio.Level); err != nil {
		fmt.Println(err)
		return
	}
	if _, err := send.SendTo([]byte("datagram"), to); err != nil {
		fmt.Println(err)
		return
	}
	if err := loop.Run(&datagrams{sock: recv, sender: from}); err != nil {
		fmt.Println(err)
	}
	// Output: "datagram" from the sender: true (<nil>)
}

// echoConns writes back whatever a Conn receives.
type echoConns struct{}

func (echoConns) OnOpen(*mio.Conn) {}
func (echoConns) OnData(c *mio.Conn) {
	if _, err := c.Write(c.In().Bytes()); err == nil {
		c.In().Discard(c.In().Len())
	}
}
func (echoConns) OnDrain(*mio.Conn)        {}
func (echoConns) OnClose(*mio.Conn, error) {}

// A Server runs an echo on two loops; its statistics are plain values,
// which expvar publishes as JSON without the library importing expvar:
//
//	expvar.Publish("mio", expvar.Func(func() any { return srv.Stats() }))
func ExampleServer() {
	srv, err := mio.NewServer[struct{}](mio.ServerConfig{Loops: 2}, echoConns{}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	addr, _ := mio.ParseSockAddr("127.0.0.1:0")
	bound, err := srv.Listen(addr)
	if err != nil {
		fmt.Println(err)
		return
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run() }()

	client, err := net.Dial("tcp", bound.String())
	if err != nil {
		fmt.Println(err)
		return
	}
	client.Write([]byte("hello"))
	buf := make([]byte, 5)
	_, err = io.ReadFull(client, buf)
	fmt.Printf("%q %v\n", buf, err)
	client.Close()

	// Shutdown waits for the client's end, which has been sent.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	fmt.Println("shutdown:", srv.Shutdown(ctx), "run:", <-done)
	st := srv.Stats()
	js, _ := json.Marshal(st.ConnStats)
	fmt.Println(string(js))
	// Output:
	// "hello" <nil>
	// shutdown: <nil> run: <nil>
	// {"Open":0,"Opened":1,"Accepted":1,"Closed":1,"AcceptErrors":0,"Sheds":0,"BytesRead":5,"BytesWritten":5,"InputHeld":0,"OutputHeld":0}
}
