package mio

// Token is the caller's name for a registration, a timeout or a connection.
// The loop hands it back unchanged in every callback; it never interprets it.
type Token uint64

// Interest is the set of readiness kinds a registration asks for.
type Interest uint8

const (
	// Readable asks for a callback when the fd has data, a pending
	// connection, or the peer's end of stream.
	Readable Interest = 1 << iota
	// Writable asks for a callback when the fd can take more data, or when a
	// connect(2) in progress completes or fails.
	Writable
)

// PollOpt chooses how readiness is reported. Level is the zero value.
// Edge and Level exclude each other; Oneshot combines with either.
type PollOpt uint8

const (
	// Level reports readiness on every poll while the condition holds.
	Level PollOpt = 0
	// Edge reports readiness once per transition to ready (EPOLLET,
	// EV_CLEAR): the handler must drain until ErrWouldBlock.
	Edge PollOpt = 1 << 0
	// Oneshot disarms the registration after one event is delivered; it stays
	// silent until Reregister arms it again (EPOLLONESHOT, EV_DISPATCH-like).
	Oneshot PollOpt = 1 << 1
)

// ReadHint tells a Readable callback why the fd became readable. Several
// bits may be set at once: data may remain to be read after a hang-up.
type ReadHint uint8

const (
	// DataHint means there is data (or a pending connection) to take.
	DataHint ReadHint = 1 << iota
	// HupHint means the fd is at end of stream: the peer shut down its
	// writing side, closed or reset the connection, or the socket was shut
	// down for reading. Reads drain what is left and then return io.EOF
	// (or the error). It comes only to a registration with Readable
	// interest, the same on epoll and kqueue; a write-only registration
	// learns that the connection can take no more from Writable, whose
	// write then fails, and hears nothing of a peer's half-close.
	HupHint
	// ErrorHint means the fd has a pending error; TakeError, or the next read
	// or write, returns it.
	ErrorHint
)

// Handler receives the loop's events. Every method runs on the goroutine that
// called Run or RunOnce, one at a time, so a handler needs no locking for its
// own state. Embed NopHandler to implement only the methods you need.
type Handler[M any] interface {
	// Readable is called when a registration with the given token is
	// readable or at end of stream (HupHint), and also, when it did not
	// ask to read, when the fd has a pending error (ErrorHint).
	Readable(loop *EventLoop[M], token Token, hint ReadHint)
	// Writable is called when a registration with write interest can be
	// written, has completed a connect, hung up or failed.
	Writable(loop *EventLoop[M], token Token)
	// Notify delivers a message sent through the loop's Sender.
	Notify(loop *EventLoop[M], msg M)
	// Timeout is called when a timeout set with the given token expires.
	Timeout(loop *EventLoop[M], token Token)
}

// Ticker is an optional extension of Handler: if the handler passed to Run or
// RunOnce also has this method, it is called once at the end of every loop
// iteration, after all events, timeouts and messages of that iteration.
type Ticker[M any] interface {
	Tick(loop *EventLoop[M])
}

// NopHandler implements every Handler method as a no-op. Embed it in a
// handler type to supply only the callbacks that matter to it, as early mio's
// default trait methods did.
type NopHandler[M any] struct{}

// Readable does nothing.
func (NopHandler[M]) Readable(*EventLoop[M], Token, ReadHint) {}

// Writable does nothing.
func (NopHandler[M]) Writable(*EventLoop[M], Token) {}

// Notify does nothing.
func (NopHandler[M]) Notify(*EventLoop[M], M) {}

// Timeout does nothing.
func (NopHandler[M]) Timeout(*EventLoop[M], Token) {}
