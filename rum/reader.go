package rum

import (
	"bufio"
	"errors"
	"fmt"
	"io"
)

// MaxLineSize bounds one NDJSON line read by a Reader.
const MaxLineSize = 1 << 20

// ErrLineTooLong is returned (wrapped, with the line number) by Reader.Err
// for a line longer than MaxLineSize.
var ErrLineTooLong = errors.New("line longer than 1 MiB")

// Reader reads NDJSON one line at a time, for bulk files of beacons or
// query log lines:
//
//	r := rum.NewReader(f)
//	for line, ok := r.Next(); ok; line, ok = r.Next() {
//		if _, err := rum.ParseBeacon(line, rum.Bulk, &b); err != nil {
//			// count it: fmt.Errorf("line %d: %w", r.Line(), err)
//		}
//	}
//	if err := r.Err(); err != nil { … }
//
// Lines end with "\n" or "\r\n"; the last one may lack its newline. Blank
// lines (white space only) are skipped but counted in line numbers. A line
// longer than MaxLineSize stops the reader: Err reports it with its number.
type Reader struct {
	sc   *bufio.Scanner
	line int
	err  error
}

// NewReader returns a Reader of r. It buffers: do not read r elsewhere.
func NewReader(r io.Reader) *Reader {
	sc := bufio.NewScanner(r)
	// Room for the longest line, its "\r\n", and one byte more so that a
	// line one byte too long is seen as such rather than split.
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineSize+3)
	return &Reader{sc: sc}
}

// Next returns the next non-blank line without its line ending, or false at
// the end of the input or on an error (see Err). The line is valid until
// the next call.
func (r *Reader) Next() ([]byte, bool) {
	if r.err != nil {
		return nil, false
	}
	for r.sc.Scan() {
		r.line++
		b := r.sc.Bytes()
		if len(b) > MaxLineSize {
			r.err = fmt.Errorf("line %d: %w", r.line, ErrLineTooLong)
			return nil, false
		}
		if !blank(b) {
			return b, true
		}
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			r.err = fmt.Errorf("line %d: %w", r.line+1, ErrLineTooLong)
		} else {
			r.err = fmt.Errorf("reading line %d: %w", r.line+1, err)
		}
	}
	return nil, false
}

// Line returns the 1-based number of the line Next returned last.
func (r *Reader) Line() int { return r.line }

// Err returns the error that stopped the reader, or nil at a clean end.
func (r *Reader) Err() error { return r.err }

func blank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}
