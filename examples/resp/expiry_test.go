package main

import (
	"slices"
	"strings"
	"testing"

	"github.com/miogo/mio"
)

// A key set with PX is removed by its loop timeout, without a read.
func TestExpiryTimer(t *testing.T) {
	r := startServer(t, config{})
	c := dial(t, r)
	if got := show(c.do(t, "SET", "k", "v", "PX", "20")); got != "OK" {
		t.Fatalf("SET PX: %s", got)
	}
	if got := show(c.do(t, "SET", "keep", "v")); got != "OK" {
		t.Fatalf("SET: %s", got)
	}
	r.onLoop(t, func() {
		if len(r.db.timed) != 1 {
			t.Errorf("%d expiry timeouts, want 1", len(r.db.timed))
		}
	})
	r.waitFor(t, "the expiry timeout to remove the key", func() bool {
		_, ok := r.db.m["k"]
		return !ok
	})
	r.onLoop(t, func() {
		if len(r.db.timed) != 0 {
			t.Errorf("%d expiry timeouts left", len(r.db.timed))
		}
	})
	if got := show(c.do(t, "GET", "k")); got != "(nil)" {
		t.Errorf("GET after expiry: %s", got)
	}
	if got := show(c.do(t, "EXISTS", "k", "keep")); got != ":1" {
		t.Errorf("EXISTS: %s", got)
	}
}

// Overwriting or deleting a key clears its timeout, and a timeout that
// fires for a token the key no longer holds does nothing.
func TestExpiryCleared(t *testing.T) {
	r := startServer(t, config{})
	c := dial(t, r)
	for _, step := range []struct {
		req   []string
		timed string // the keys with an expiry timeout afterwards
	}{
		{[]string{"SET", "a", "1", "EX", "100"}, "a"},
		{[]string{"SET", "a", "2"}, ""}, // no expiry any more
		{[]string{"SET", "b", "1", "PX", "100000"}, "b"},
		{[]string{"DEL", "b"}, ""},
		{[]string{"SET", "c", "1", "EX", "100"}, "c"},
		{[]string{"INCR", "c"}, "c"}, // keeps the expiry
		{[]string{"SET", "d", "1", "EX", "100"}, "c d"},
		{[]string{"SET", "d", "2", "KEEPTTL"}, "c d"},
		{[]string{"MSET", "d", "3"}, "c"}, // clears it
		{[]string{"SET", "e", "1", "EX", "100"}, "c e"},
		{[]string{"FLUSHALL"}, ""},
	} {
		c.do(t, step.req...)
		r.onLoop(t, func() {
			var keys []string
			for tok, e := range r.db.timed {
				keys = append(keys, e.key)
				if e.tok != tok || r.db.m[e.key] != e || e.expires == 0 {
					t.Errorf("after %q: expiry timeout for %q (token %#x, entry's %#x)", step.req, e.key, tok, e.tok)
				}
			}
			slices.Sort(keys)
			if got := strings.Join(keys, " "); got != step.timed {
				t.Errorf("after %q: expiry timeouts for %q, want %q", step.req, got, step.timed)
			}
		})
	}
	r.onLoop(t, func() {
		if len(r.db.timed) != 0 || len(r.db.m) != 0 {
			t.Errorf("after FLUSHALL: %d keys, %d expiry timeouts", len(r.db.m), len(r.db.timed))
		}
	})

	// A late timeout for an overwritten key's old expiry.
	c.do(t, "SET", "k", "old", "EX", "100")
	var stale mio.Token
	r.onLoop(t, func() { stale = r.db.m["k"].tok })
	c.do(t, "SET", "k", "new", "EX", "200")
	r.onLoop(t, func() {
		loopHandler{s: r.server}.Timeout(r.srv.Loop(0), stale)
		if e := r.db.m["k"]; e == nil || string(e.val) != "new" || e.tok == stale || e.tok == 0 {
			t.Errorf("a stale expiry token changed the key: %+v", e)
		}
	})
}

// A read never returns a key past its deadline, even when its timeout has
// not run yet.
func TestExpiryLazy(t *testing.T) {
	r := startServer(t, config{})
	c := dial(t, r)
	c.do(t, "SET", "k", "v", "EX", "100")
	c.do(t, "SET", "j", "v", "EX", "100")
	r.onLoop(t, func() {
		// As if the loop were late: the deadline has passed, the timeout
		// is still pending.
		r.db.m["k"].expires = 1
		r.db.m["j"].expires = 1
	})
	if got := show(c.do(t, "GET", "k")); got != "(nil)" {
		t.Errorf("GET past the deadline: %s", got)
	}
	if got := show(c.do(t, "EXISTS", "j")); got != ":0" {
		t.Errorf("EXISTS past the deadline: %s", got)
	}
	r.onLoop(t, func() {
		if len(r.db.m) != 0 || len(r.db.timed) != 0 {
			t.Errorf("%d keys and %d expiry timeouts left", len(r.db.m), len(r.db.timed))
		}
	})
}
