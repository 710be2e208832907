package dialect

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// LengthHeader is how a frame announces the length of what follows it.
type LengthHeader string

const (
	Binary2 LengthHeader = "binary2" // 2 bytes, big-endian binary
	ASCII4  LengthHeader = "ascii4"  // 4 ASCII digits
	BCD2    LengthHeader = "bcd2"    // 2 bytes, 4 BCD digits
)

// LengthHeaders lists the supported length headers, for usage messages.
var LengthHeaders = []LengthHeader{Binary2, ASCII4, BCD2}

// ParseLengthHeader returns the named length header.
func ParseLengthHeader(name string) (LengthHeader, error) {
	for _, h := range LengthHeaders {
		if string(h) == name {
			return h, nil
		}
	}
	return "", fmt.Errorf("unknown length header %q (want binary2, ascii4 or bcd2)", name)
}

// max is the largest length the header can carry.
func (h LengthHeader) max() int {
	if h == Binary2 {
		return 0xFFFF
	}
	return 9999
}

func (h LengthHeader) decode(b, more [2]byte) (int, error) {
	switch h {
	case Binary2:
		return int(b[0])<<8 | int(b[1]), nil
	case BCD2:
		n := 0
		for _, c := range b {
			hi, lo := c>>4, c&0x0F
			if hi > 9 || lo > 9 {
				return 0, fmt.Errorf("%w: BCD length header %X", ErrBadFrame, b)
			}
			n = n*100 + int(hi)*10 + int(lo)
		}
		return n, nil
	default: // ASCII4: b holds the first two digits, more the last two
		digits := [4]byte{b[0], b[1], more[0], more[1]}
		n := 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("%w: ASCII length header %q", ErrBadFrame, digits[:])
			}
			n = n*10 + int(c-'0')
		}
		return n, nil
	}
}

// size is the number of bytes the header takes on the wire.
func (h LengthHeader) size() int {
	if h == ASCII4 {
		return 4
	}
	return 2
}

// appendLength appends the header for a body of n bytes.
func (h LengthHeader) appendLength(dst []byte, n int) []byte {
	switch h {
	case Binary2:
		return append(dst, byte(n>>8), byte(n))
	case BCD2:
		return append(dst, byte(n/1000<<4|n/100%10), byte(n/10%10<<4|n%10))
	default:
		return append(dst, byte('0'+n/1000), byte('0'+n/100%10), byte('0'+n/10%10), byte('0'+n%10))
	}
}

// ErrBadFrame reports bytes that are not a frame of the expected shape. The
// connection they arrived on cannot be trusted to be in step any more.
var ErrBadFrame = errors.New("bad frame")

// ErrFrameTooLarge reports a length header above the configured maximum.
var ErrFrameTooLarge = errors.New("frame too large")

// Framer reads and writes frames: a length header, then the dialect's preamble
// (the cup TPDU and header), then the message.
type Framer struct {
	Header LengthHeader
	// Preamble is the number of bytes between the length header and the MTI.
	Preamble int
	// MaxFrame is the largest frame body accepted, in bytes after the length header.
	MaxFrame int
}

// DefaultMaxFrame is the frame size above which a connection is refused when
// nothing else is configured: well above any real ISO 8583 message.
const DefaultMaxFrame = 8192

// ReadFrame reads one frame into buf (grown if needed) and returns it: the
// preamble followed by the message. It returns io.EOF only when the peer closed
// the connection between frames.
func (f Framer) ReadFrame(r *bufio.Reader, buf []byte) ([]byte, error) {
	// Byte by byte from the buffered reader: nothing escapes to the heap.
	var lb, rest [2]byte
	for i := range lb {
		c, err := r.ReadByte()
		if err != nil {
			if i == 0 {
				return nil, err // io.EOF between frames: the peer hung up
			}
			return nil, fmt.Errorf("%w: connection closed inside a length header: %w", ErrBadFrame, err)
		}
		lb[i] = c
	}
	if f.Header.size() == 4 {
		for i := range rest {
			c, err := r.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("%w: connection closed inside a length header: %w", ErrBadFrame, err)
			}
			rest[i] = c
		}
	}
	n, err := f.Header.decode(lb, rest)
	if err != nil {
		return nil, err
	}
	max := f.MaxFrame
	if max <= 0 {
		max = DefaultMaxFrame
	}
	if n > max {
		return nil, fmt.Errorf("%w: length header says %d bytes, limit is %d", ErrFrameTooLarge, n, max)
	}
	if n < f.Preamble {
		return nil, fmt.Errorf("%w: %d bytes cannot hold the %d-byte preamble", ErrBadFrame, n, f.Preamble)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return nil, fmt.Errorf("%w: connection closed inside a %d-byte frame: %w", ErrBadFrame, n, err)
	}
	return buf, nil
}

// Buffered reports whether r already holds a whole frame, so that reading
// it cannot wait on the network (and needs no deadline).
func (f Framer) Buffered(r *bufio.Reader) bool {
	size := f.Header.size()
	if r.Buffered() < size {
		return false
	}
	h, _ := r.Peek(size)
	var lb, rest [2]byte
	copy(lb[:], h)
	if size == 4 {
		copy(rest[:], h[2:])
	}
	n, err := f.Header.decode(lb, rest)
	return err == nil && r.Buffered() >= size+n
}

// AppendFrame appends a whole frame (length header, preamble, message) to dst.
func (f Framer) AppendFrame(dst, preamble, message []byte) ([]byte, error) {
	n := len(preamble) + len(message)
	if n > f.Header.max() {
		return dst, fmt.Errorf("message of %d bytes does not fit a %s length header", n, f.Header)
	}
	dst = f.Header.appendLength(dst, n)
	dst = append(dst, preamble...)
	return append(dst, message...), nil
}
