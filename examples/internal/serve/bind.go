package serve

import (
	"fmt"

	"github.com/miogo/mio"
)

// Bind parses flagAddr, the value of an -addr flag (any form
// mio.ParseSockAddr reads), and binds an acceptor to it: TCP or Unix,
// after the address (mio.Bind). It returns the acceptor with the address
// bound, which names the port the kernel chose when flagAddr asks for
// port 0. On error nothing is left open. A program of several loops uses
// mio.Server's Listen instead, which binds one acceptor per loop where
// the kernel balances them.
func Bind(flagAddr string) (mio.Acceptor, mio.SockAddr, error) {
	addr, err := mio.ParseSockAddr(flagAddr)
	if err != nil {
		return nil, mio.SockAddr{}, fmt.Errorf("-addr: %w", err)
	}
	acc, err := mio.Bind(addr)
	if err != nil {
		return nil, mio.SockAddr{}, err
	}
	if addr, err = acc.LocalAddr(); err != nil {
		acc.Close()
		return nil, mio.SockAddr{}, fmt.Errorf("address of the acceptor: %w", err)
	}
	return acc, addr, nil
}
