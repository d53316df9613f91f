//go:build linux || darwin || dragonfly || freebsd || netbsd || openbsd

package mio

import (
	"bytes"
	"io"
	"testing"
)

// A Conn echoes what its peer sends and, at the peer's end of stream,
// flushes and closes: OnOpen, OnData, OnClose(nil), once each in order.
func TestConnEchoThenPeerEOF(t *testing.T) {
	g := newConnRig(t, ConnConfig{})
	g.rec.echo = true
	c, client := g.adopt(0)
	msg := randomBytes(100<<10, 1)
	var back []byte
	var err error
	sent := 0
	g.until(func() bool {
		if sent < len(msg) {
			n, _ := client.Write(msg[sent:])
			sent += max(n, 0)
		}
		back, err = readSome(t, client, back)
		return len(back) == len(msg) || err != nil
	})
	if !bytes.Equal(back, msg) {
		t.Fatalf("echoed %d bytes, want the %d sent", len(back), len(msg))
	}
	if err := client.Shutdown(ShutWrite); err != nil {
		t.Fatal(err)
	}
	g.until(func() bool { return g.rec.closed(c) })
	back, err = readSome(t, client, nil)
	if err != io.EOF || len(back) != 0 {
		t.Fatalf("after the close the client read %d bytes and %v, want io.EOF", len(back), err)
	}
	if g.rec.errs[c] != nil || g.rec.closes[c] != 1 {
		t.Fatalf("OnClose %d times, err %v; want once with nil", g.rec.closes[c], g.rec.errs[c])
	}
	if g.conns.Len() != 0 {
		t.Fatalf("Len %d after the close", g.conns.Len())
	}
}
