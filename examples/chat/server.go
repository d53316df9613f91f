package main

import (
	"bytes"
	"errors"
	"fmt"
	"log"
	"os"
	"sync"
	"time"

	"github.com/miogo/mio"
	"github.com/miogo/mio/examples/internal/serve"
)

// server is one chat room on one event loop. Its handler methods run on
// the loop's goroutine; Announce is for any other goroutine.
type server struct {
	loop  *mio.EventLoop[struct{}]
	conns *mio.Conns[struct{}]
	acc   mio.Acceptor
	addr  mio.SockAddr
	log   *log.Logger

	// The loop's own state.
	members  map[*mio.Conn]*member
	next     int  // the number of the next user
	stopping bool // the loop is closing: no more announcements

	// refs is the copy of the members for other goroutines: kept by
	// OnOpen and OnClose, read by Announce.
	mu   sync.Mutex
	refs map[*mio.Conn]mio.ConnRef
}

// member is one connected client.
type member struct {
	name string
	gone bool // its leave was announced
}

// newServer binds cfg.addr and makes the loop that serves it.
func newServer(cfg config) (*server, error) {
	acc, addr, err := serve.Bind(cfg.addr)
	if err != nil {
		return nil, err
	}
	loop, err := mio.NewEventLoop[struct{}](mio.Config{})
	if err != nil {
		acc.Close()
		return nil, err
	}
	s := &server{
		loop: loop, acc: acc, addr: addr, log: cfg.log,
		members: make(map[*mio.Conn]*member),
		refs:    make(map[*mio.Conn]mio.ConnRef),
		next:    1,
	}
	s.conns, err = mio.NewConns[struct{}](loop, s, nil, mio.ConnConfig{
		ReadLimit:   cfg.maxLine,
		WriteLimit:  cfg.outBuf,
		ReadTimeout: cfg.idle,
		Linger:      5 * time.Second, // for a kicked client to read its last message
	})
	if err == nil {
		err = s.conns.Listen(s.acc)
	}
	if err != nil {
		loop.Close()
		s.acc.Close()
		return nil, err
	}
	return s, nil
}

// run serves until stop, then closes every connection and the acceptor.
func (s *server) run() error {
	err := s.loop.Run(s.conns)
	s.stopping = true // the loop's goroutine no longer runs callbacks but ours below
	s.loop.Close()    // closes every Conn: OnClose runs here
	s.acc.Close()
	return err
}

// stop makes run return; safe from any goroutine.
func (s *server) stop() { s.loop.Shutdown() }

// OnOpen names the new client, welcomes it and tells the others.
func (s *server) OnOpen(c *mio.Conn) {
	m := &member{name: fmt.Sprintf("user%d", s.next)}
	s.next++
	c.SetContext(m)
	s.broadcast(c, []byte("* "+m.name+" joined\n"))
	s.members[c] = m
	s.mu.Lock()
	s.refs[c] = c.Ref()
	s.mu.Unlock()
	s.send(c, []byte("* welcome, you are "+m.name+"\n"))
}

// OnData passes each complete line on to the others.
func (s *server) OnData(c *mio.Conn) {
	m := c.Context().(*member)
	in := c.In()
	for !c.Closed() {
		i := bytes.IndexByte(in.Bytes(), '\n')
		if i < 0 {
			break
		}
		line := in.Next(i + 1)
		msg := make([]byte, 0, len(m.name)+2+len(line))
		msg = append(append(append(msg, m.name...), ": "...), line...)
		s.broadcast(c, msg)
	}
	if !c.Closed() && in.Available() == 0 {
		// The input is full and holds no newline: the line is too long.
		in.Discard(in.Len())
		c.Write([]byte("* error: line too long, goodbye\n")) // best effort
		s.kick(c, "line too long", false)
	}
}

// OnDrain is not used: a full output closes the client instead.
func (s *server) OnDrain(c *mio.Conn) {}

// OnClose forgets the client and tells the others why it left, unless
// kick did so already.
func (s *server) OnClose(c *mio.Conn, err error) {
	m := c.Context().(*member)
	if m.gone {
		return
	}
	why := ""
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		why = "idle"
	case errors.Is(err, mio.ErrBufferFull):
		why = "slow reader" // a ConnRef write found its output full
	case err != nil && !errors.Is(err, mio.ErrClosed) && !serve.Routine(err):
		// A reset is a client's routine way to leave; anything else is
		// worth saying.
		why = err.Error()
		s.log.Printf("%s: %v", m.name, err)
	}
	s.leave(c, why)
}

// kick closes c for why, at once (abort) or gracefully, and tells the
// others now: a graceful close waits for the client to finish (up to the
// linger time), and nobody needs to wait with it.
func (s *server) kick(c *mio.Conn, why string, abort bool) {
	if abort {
		c.Abort()
	} else {
		c.Close()
	}
	s.leave(c, why)
}

// leave forgets c, once, and announces its leave to the others.
func (s *server) leave(c *mio.Conn, why string) {
	m := c.Context().(*member)
	if m.gone {
		return
	}
	m.gone = true
	delete(s.members, c)
	s.mu.Lock()
	delete(s.refs, c)
	s.mu.Unlock()
	if s.stopping {
		return
	}
	text := "* " + m.name + " left"
	if why != "" {
		text += " (" + why + ")"
	}
	s.broadcast(c, []byte(text+"\n"))
}

// broadcast sends msg, which must never change, to every client but from.
func (s *server) broadcast(from *mio.Conn, msg []byte) {
	for c := range s.members {
		if c != from {
			s.send(c, msg)
		}
	}
}

// send queues msg for c without copying it; a client whose output is
// full is a slow reader and is disconnected.
func (s *server) send(c *mio.Conn, msg []byte) {
	err := c.WriteNoCopy(msg)
	switch {
	case err == nil, c.Closed():
	case errors.Is(err, mio.ErrBufferFull):
		// Its queued output is dropped: Close would wait to flush it.
		s.kick(c, "slow reader", true)
	}
}

// Announce sends "* server: text" to every client from the calling
// goroutine, which need not be the loop's, through each client's
// ConnRef. It returns how many clients it reached, and how many it could
// not: gone (closed meanwhile, mio.ErrClosed) or dropped (the loop's
// queue was full, mio.ErrNotifyFull or mio.ErrBufferFull).
func (s *server) Announce(text string) (sent, gone, dropped int) {
	s.mu.Lock()
	refs := make([]mio.ConnRef, 0, len(s.refs))
	for _, r := range s.refs {
		refs = append(refs, r)
	}
	s.mu.Unlock()
	msg := []byte("* server: " + text + "\n")
	for _, r := range refs {
		err := r.Write(msg)
		switch {
		case err == nil:
			sent++
		case errors.Is(err, mio.ErrClosed):
			gone++
		default: // ErrNotifyFull, ErrBufferFull: the loop is behind; skip this one
			dropped++
		}
	}
	if dropped > 0 {
		s.log.Printf("announcement dropped for %d client(s): the loop is behind", dropped)
	}
	return sent, gone, dropped
}

// announceEvery starts a goroutine announcing the time every d; the
// function it returns stops it and waits for it.
func (s *server) announceEvery(d time.Duration) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(d)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				s.Announce("the time is " + now.Format(time.TimeOnly))
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}
