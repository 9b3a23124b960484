package bgp

import (
	"bufio"
	"compress/bzip2"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"time"
)

// Route is one announcement: a prefix (masked, IPv4 or IPv6) and its origin AS.
type Route struct {
	Prefix netip.Prefix
	ASN    uint32
}

// String formats r as "prefix ASn", e.g. "1.0.0.0/24 AS15169".
func (r Route) String() string {
	return r.Prefix.String() + " AS" + strconv.FormatUint(uint64(r.ASN), 10)
}

// Validate reports what is wrong with r, if anything: every route a reader
// returns, and every route a writer accepts, has a valid masked prefix and a
// non-zero ASN.
func (r Route) Validate() error {
	switch {
	case !r.Prefix.IsValid():
		return errors.New("invalid prefix")
	case r.Prefix != r.Prefix.Masked():
		return fmt.Errorf("prefix %s has host bits set (want %s)", r.Prefix, r.Prefix.Masked())
	case r.ASN == 0:
		return fmt.Errorf("prefix %s: ASN 0 is reserved", r.Prefix)
	}
	return nil
}

// The values of Stats.Format.
const (
	FormatPyASN = "pyasn"
	FormatMRT   = "mrt"
)

// The values of Stats.Compression.
const (
	CompressionNone  = ""
	CompressionGzip  = "gzip"
	CompressionBzip2 = "bzip2"
)

// Stats describes what a reader saw.
type Stats struct {
	Format      string // FormatPyASN or FormatMRT; empty if Read saw a stream cut before any data
	Compression string // set by Read only: CompressionGzip, CompressionBzip2 or CompressionNone
	Routes      int    // routes passed to fn
	// Skipped counts what was read but gave no route: MRT records of other
	// types and subtypes, and RIB records without a usable origin (see
	// ParseMRT). The pyasn reader skips nothing: a line is a route, a
	// comment, a blank or an error.
	Skipped int
	// Truncated is set when the input was cut short: it ended inside an MRT
	// record or a compressed stream. The routes read before the cut were
	// returned; the partial record or line was dropped.
	Truncated bool

	Lines   int       // pyasn: lines read, comments and blanks included
	Records int       // mrt: complete records read, skipped ones included
	Peers   int       // mrt: peers in the PEER_INDEX_TABLE
	Time    time.Time // mrt: timestamp of the PEER_INDEX_TABLE record (the dump time)
	ASSets  int       // mrt: routes whose origin was taken from a trailing AS_SET
}

// ReadFile is Read on the file at path; errors name the file.
func ReadFile(path string, fn func(Route) error) (Stats, error) {
	f, err := os.Open(path)
	if err != nil {
		return Stats{}, fmt.Errorf("reading bgp data: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to lose
	st, err := Read(f, fn)
	if err != nil {
		return st, fmt.Errorf("bgp data %s: %w", path, err)
	}
	return st, nil
}

// Read detects the compression (gzip or bzip2 by their magic bytes, or none)
// and then the format (MRT, or pyasn text) and calls fn for every route, as
// ParseMRT or ParsePyASN do. A compressed stream cut short is not an error:
// Read returns the routes before the cut with Stats.Truncated set. Any other
// damage is an error naming the problem and where it is (line, or MRT record
// and byte offset in the decompressed stream). If fn returns an error, Read
// stops and returns that error unchanged.
func Read(r io.Reader, fn func(Route) error) (Stats, error) {
	br := bufio.NewReaderSize(&stickyReader{r: r}, bufSize)
	magic, _ := br.Peek(4) // a short or failing read shows up again in the parser
	var (
		comp string
		dbr  *bufio.Reader
	)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		comp = CompressionGzip
		zr, err := gzip.NewReader(br)
		if err != nil {
			if isCut(err) {
				return Stats{Compression: comp, Truncated: true}, nil
			}
			return Stats{Compression: comp}, fmt.Errorf("reading gzip header: %w", err)
		}
		defer func() { _ = zr.Close() }() // frees nothing, reports nothing new
		dbr = bufio.NewReaderSize(&stickyReader{r: zr}, bufSize)
	case len(magic) == 4 && magic[0] == 'B' && magic[1] == 'Z' && magic[2] == 'h' && '1' <= magic[3] && magic[3] <= '9':
		comp = CompressionBzip2
		dbr = bufio.NewReaderSize(&stickyReader{r: bzip2.NewReader(br)}, bufSize)
	default:
		dbr = br
	}
	head, _ := dbr.Peek(mrtHeaderLen)
	var (
		st  Stats
		err error
	)
	if isMRT(head) {
		st, err = ParseMRT(dbr, fn)
	} else {
		st, err = ParsePyASN(dbr, fn)
	}
	st.Compression = comp
	return st, err
}

// bufSize is the read buffer of the parsers; it also bounds a pyasn line.
const bufSize = 64 << 10

// isMRT tells the formats apart by their first bytes: an MRT header has
// control bytes (its type field is 0x00 0x0d for TABLE_DUMP_V2), and text has
// none besides tab, CR and LF. Binary garbage is thus handed to the MRT
// parser and text garbage to the pyasn parser, whose errors describe each
// best.
func isMRT(head []byte) bool {
	for _, c := range head {
		if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') || c == 0x7f {
			return true
		}
	}
	return false
}

// isCut reports whether err means the input was cut short: a compressed
// stream or a record that ended early.
func isCut(err error) bool {
	return errors.Is(err, io.ErrUnexpectedEOF)
}

// stickyReader returns the first error of r on every later call too. Read
// peeks at the input before the parser reads it, and bufio.Reader hands a
// read error to the peek only: without this, the io.ErrUnexpectedEOF of a cut
// stream could be seen by the peek and never by the parser.
type stickyReader struct {
	r   io.Reader
	err error
}

func (s *stickyReader) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	n, err := s.r.Read(p)
	s.err = err
	return n, err
}
