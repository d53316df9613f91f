package serve

import (
	"context"
	"errors"
	"log"
	"time"

	"github.com/miogo/mio"
)

// Serve runs srv (mio.Server.Run) until it stops. A stop that came before
// Run, as when a signal arrives while the command starts, is no error:
// Run's ErrClosed then says only that there was nothing left to serve.
func Serve[M any](srv *mio.Server[M]) error {
	if err := srv.Run(); !errors.Is(err, mio.ErrClosed) {
		return err
	}
	return nil
}

// Shutdown stops srv gracefully (mio.Server.Shutdown): it stops accepting
// at once and waits up to grace for the connections to end, then closes
// those left, which takes at most their Linger more, and says so on lg.
// It is safe from any goroutine, before Serve too, and more than once.
func Shutdown[M any](srv *mio.Server[M], grace time.Duration, lg *log.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		lg.Printf("connections still open after %v: closed them", grace)
	}
}
