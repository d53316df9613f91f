package serve

import (
	"errors"
	"fmt"

	"github.com/miogo/mio"
)

// Bind parses flagAddr, the value of an -addr flag (any form
// mio.ParseSockAddr reads), and binds n acceptors to it, one for each of
// n loops. It returns them with the address bound, which names the port
// the kernel chose when flagAddr asks for port 0. On error nothing is
// left open.
//
// The acceptors split the connections through SO_REUSEPORT where the
// kernel balances it (mio.ReusePortBalances); elsewhere, for Unix
// sockets, and when share is set (tests use it to run on Linux what macOS
// runs), they are Dups of one listening socket, all accepting from its
// queue.
func Bind(flagAddr string, n int, share bool) ([]mio.Acceptor, mio.SockAddr, error) {
	addr, err := mio.ParseSockAddr(flagAddr)
	if err != nil {
		return nil, mio.SockAddr{}, fmt.Errorf("-addr: %w", err)
	}
	dup, reusePort := plan(n, share || addr.IsUnix() || !mio.ReusePortBalances())
	first, err := bindOne(addr, reusePort)
	if err != nil {
		return nil, mio.SockAddr{}, err
	}
	accs := []mio.Acceptor{first}
	// The others bind the port the first got, also when it was port 0.
	if addr, err = first.LocalAddr(); err != nil {
		first.Close()
		return nil, mio.SockAddr{}, fmt.Errorf("address of the acceptor: %w", err)
	}
	for len(accs) < n {
		var acc mio.Acceptor
		if dup {
			acc, err = dupAcceptor(first)
		} else {
			acc, err = bindOne(addr, reusePort)
		}
		if err != nil {
			return nil, mio.SockAddr{}, errors.Join(err, CloseAll(accs))
		}
		accs = append(accs, acc)
	}
	return accs, addr, nil
}

// plan decides how n acceptors share an address: one loop needs neither
// Dup nor SO_REUSEPORT; several Dup one socket when they must share it,
// and otherwise each binds its own with SO_REUSEPORT.
func plan(n int, mustShare bool) (dup, reusePort bool) {
	if n < 2 {
		return false, false
	}
	return mustShare, !mustShare
}

// CloseAll closes every acceptor of accs and returns their errors.
func CloseAll(accs []mio.Acceptor) error {
	var errs []error
	for _, acc := range accs {
		errs = append(errs, acc.Close())
	}
	return errors.Join(errs...)
}

// dupAcceptor gives another loop its own fd for acc's listening socket.
func dupAcceptor(acc mio.Acceptor) (mio.Acceptor, error) {
	switch a := acc.(type) {
	case *mio.TCPAcceptor:
		return a.Dup()
	case *mio.UnixAcceptor:
		return a.Dup()
	}
	return nil, fmt.Errorf("no Dup for acceptor %T", acc)
}

// bindOne binds an acceptor of addr's kind (mio.ListenConfig picks TCP v4,
// TCP v6 or Unix), with SO_REUSEPORT when asked.
func bindOne(addr mio.SockAddr, reusePort bool) (mio.Acceptor, error) {
	return mio.ListenConfig{ReusePort: reusePort}.Bind(addr)
}
