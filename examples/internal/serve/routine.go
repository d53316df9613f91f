package serve

import (
	"errors"
	"syscall"
)

// Routine reports whether err, which ended a connection, is the routine
// end of one, not worth logging: the peer resetting the connection or
// vanishing.
func Routine(err error) bool {
	return errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ETIMEDOUT)
}
