// Package frame is the wire format of workload W5, the RPC shape of
// netpoll's own benchmark (cloudwego/netpoll-benchmark): a request is a
// 4-byte big-endian payload length followed by the payload, and the
// response is a frame of the same format carrying the payload back.
//
// A server in -rpc mode waits for a whole request however it arrives
// (a frame split over several reads, or several frames in one read),
// answers each request with a response built in a buffer of its own (not
// the input written back, which is what the echo servers do), and closes
// a connection whose request announces more than MaxPayload bytes.
// cfloor/echo.c repeats these constants in C.
package frame

import "encoding/binary"

// HeaderLen is the size of the length header.
const HeaderLen = 4

// MaxPayload is the largest payload a server accepts: a whole request fits
// every server's input limit (mio-conn sets its ReadLimit to MaxFrame) and
// a response fits its output limit.
const MaxPayload = 256 << 10

// MaxFrame is the largest frame, header included.
const MaxFrame = HeaderLen + MaxPayload

// PayloadLen is the payload length a header announces.
func PayloadLen(header []byte) int { return int(binary.BigEndian.Uint32(header)) }

// PutHeader writes the header of a frame with n bytes of payload into p.
func PutHeader(p []byte, n int) { binary.BigEndian.PutUint32(p, uint32(n)) }

// AppendHeader appends the header of a frame with n bytes of payload.
func AppendHeader(dst []byte, n int) []byte { return binary.BigEndian.AppendUint32(dst, uint32(n)) }
