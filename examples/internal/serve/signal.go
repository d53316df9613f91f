package serve

import (
	"log"
	"os"
	"os/signal"
	"syscall"
)

// Signals are SIGINT and SIGTERM, caught from CatchSignals on.
type Signals struct{ c chan os.Signal }

// CatchSignals starts catching SIGINT and SIGTERM. A command calls it
// before anything is announced, so that a signal sent as soon as its
// listening line appears shuts it down cleanly rather than killing it.
func CatchSignals() *Signals {
	s := &Signals{c: make(chan os.Signal, 1)}
	signal.Notify(s.c, os.Interrupt, syscall.SIGTERM)
	return s
}

// Run runs run on its own goroutine until it returns, or until a signal
// comes: then it logs the signal, calls stop (which must make run
// return) and waits for run. It returns run's error. After the first
// signal, a second one kills the process at once, as without Run.
func (s *Signals) Run(lg *log.Logger, run func() error, stop func()) error {
	done := make(chan error, 1)
	go func() { done <- run() }()
	select {
	case sig := <-s.c:
		lg.Printf("%v: shutting down", sig)
		signal.Stop(s.c)
		stop()
		return <-done
	case err := <-done: // the server failed on its own
		return err
	}
}
