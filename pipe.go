package mio

// PipeReader is the read end of a non-blocking, close-on-exec pipe.
type PipeReader struct {
	fdHandle
}

// PipeWriter is the write end of a non-blocking, close-on-exec pipe.
type PipeWriter struct {
	fdHandle
}

// Pipe opens a pipe whose two ends can be registered with a loop.
func Pipe() (*PipeReader, *PipeWriter, error) {
	r, w, err := sysPipe()
	if err != nil {
		return nil, nil, wrapSyscall("pipe", err)
	}
	return &PipeReader{fdHandle{fd: r}}, &PipeWriter{fdHandle{fd: w}}, nil
}

// Read reads into p. It returns ErrWouldBlock when the pipe is empty and
// io.EOF once every writer has closed and the data is drained.
func (p *PipeReader) Read(b []byte) (int, error) { return readFd(p.fd, b) }

// Close deregisters and closes the read end. A second Close returns
// ErrClosed.
func (p *PipeReader) Close() error { return p.close() }

// Write writes b, as much as the pipe takes; n < len(b) comes with
// ErrWouldBlock. Once the reader has closed, Write returns EPIPE. A pipe
// has no MSG_NOSIGNAL: the kernel also raises SIGPIPE, which the Go runtime
// ignores for fds other than 1 and 2 (unless the program asked os/signal
// for SIGPIPE, when it is delivered there too).
func (p *PipeWriter) Write(b []byte) (int, error) { return writeFd(p.fd, b, sysWrite) }

// Close deregisters and closes the write end. A second Close returns
// ErrClosed.
func (p *PipeWriter) Close() error { return p.close() }
