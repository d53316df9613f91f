package main

import (
	"testing"

	"github.com/miogo/mio"
)

// Slots are reused, tokens are not: a stale token finds nothing, also once
// its slot holds another connection, and no token is the acceptor's or
// has the expiry bit.
func TestConnTableTokensAreNotReused(t *testing.T) {
	var tab connTable
	seen := map[mio.Token]bool{}
	live := map[mio.Token]*conn{}
	for i := range 1000 {
		tok := tab.reserve()
		if tok == acceptorToken || tok&expiryTokens != 0 || seen[tok] {
			t.Fatalf("step %d: token %#x is the acceptor's, an expiry's or was given before", i, tok)
		}
		seen[tok] = true
		c := &conn{tok: tok}
		tab.put(tok, c)
		live[tok] = c
		// Release every other connection at once, so slots are reused.
		if i%2 == 1 {
			tab.release(tok)
			delete(live, tok)
		}
	}
	if tab.n != len(live) {
		t.Fatalf("table holds %d connections, want %d", tab.n, len(live))
	}
	if len(tab.slots) > len(live)+1 {
		t.Fatalf("%d slots for %d connections: released slots were not reused", len(tab.slots), len(live))
	}
	for tok := range seen {
		if got, want := tab.get(tok), live[tok]; got != want {
			t.Fatalf("get(%#x) = %p, want %p", tok, got, want)
		}
	}
	if tab.get(acceptorToken) != nil || tab.get(expiryTokens|1) != nil || tab.get(1<<31) != nil {
		t.Fatal("a token never reserved found a connection")
	}
	tab.each(func(c *conn) { tab.release(c.tok) })
	if tab.n != 0 {
		t.Fatalf("%d connections left after releasing all", tab.n)
	}
}

// A token reserved and released without put (the registration failed)
// gives its slot back.
func TestConnTableReleaseWithoutPut(t *testing.T) {
	var tab connTable
	tok := tab.reserve()
	tab.release(tok)
	tab.release(tok) // a second release must not free the slot twice
	if next := tab.reserve(); next == tok || len(tab.slots) != 1 {
		t.Fatalf("after release without put: token %#x (was %#x), %d slots", next, tok, len(tab.slots))
	}
	if again := tab.reserve(); len(tab.slots) != 2 || again == tok {
		t.Fatalf("the slot was freed twice: token %#x, %d slots", again, len(tab.slots))
	}
}
