package bgp

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// ParsePyASN reads pyasn's text form and calls fn for every route:
//
//	; IP-ASN32-DAT file
//	1.0.0.0/24	15169
//	2001:200::/32	2500
//
// A line is `prefix<TAB>asn`, optionally ending in "\r"; lines starting with
// ';' are comments and empty or all-blank lines are ignored. Everything else
// is an error naming the line: a bad prefix, a prefix with host bits set, a
// missing tab, a missing, non-decimal, zero or out-of-range ASN, or anything
// after the ASN. A last line without a newline is parsed, unless the reader
// failed with io.ErrUnexpectedEOF (a cut compressed stream): then that partial
// line is dropped and Stats.Truncated is set.
//
// If fn returns an error, ParsePyASN stops and returns that error unchanged.
func ParsePyASN(r io.Reader, fn func(Route) error) (Stats, error) {
	st := Stats{Format: FormatPyASN}
	br := bufio.NewReaderSize(r, bufSize)
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return st, fmt.Errorf("line %d: longer than %d bytes", st.Lines+1, bufSize)
		}
		if len(line) > 0 {
			if line[len(line)-1] != '\n' && isCut(err) {
				st.Truncated = true
				return st, nil
			}
			st.Lines++
			rt, ok, perr := parsePyASNLine(line)
			if perr != nil {
				return st, fmt.Errorf("line %d: %w", st.Lines, perr)
			}
			if ok {
				if err := fn(rt); err != nil {
					return st, err
				}
				st.Routes++
			}
		}
		switch {
		case err == nil:
		case errors.Is(err, io.EOF):
			return st, nil
		case isCut(err):
			st.Truncated = true
			return st, nil
		default:
			return st, fmt.Errorf("line %d: reading: %w", st.Lines+1, err)
		}
	}
}

// parsePyASNLine parses one line (with or without its newline). ok is false
// for comments and blank lines.
func parsePyASNLine(line []byte) (r Route, ok bool, err error) {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) == 0 || line[0] == ';' || len(bytes.Trim(line, " \t")) == 0 {
		return Route{}, false, nil
	}
	tab := bytes.IndexByte(line, '\t')
	if tab < 0 {
		return Route{}, false, fmt.Errorf("missing tab between prefix and ASN in %q", line)
	}
	pb, ab := line[:tab], line[tab+1:]
	p, ok := parseIPv4Prefix(pb)
	if !ok {
		var perr error
		if p, perr = netip.ParsePrefix(string(pb)); perr != nil {
			return Route{}, false, fmt.Errorf("bad prefix %q: %w", pb, unquoteNetipErr(perr))
		}
	}
	if m := p.Masked(); p != m {
		return Route{}, false, fmt.Errorf("prefix %s has host bits set (want %s)", p, m)
	}
	asn, err := parseASN(ab)
	if err != nil {
		return Route{}, false, fmt.Errorf("prefix %s: %w", p, err)
	}
	return Route{Prefix: p, ASN: asn}, true, nil
}

// parseASN parses a decimal ASN in 1..4294967295 (asplain; no "AS" prefix,
// no asdot).
func parseASN(b []byte) (uint32, error) {
	if len(b) == 0 {
		return 0, errors.New("missing ASN")
	}
	var n uint64
	for i, c := range b {
		if c < '0' || c > '9' {
			if i > 0 && (c == ' ' || c == '\t') {
				return 0, fmt.Errorf("trailing data after ASN in %q", b)
			}
			return 0, fmt.Errorf("bad ASN %q: not a decimal number", b)
		}
		n = n*10 + uint64(c-'0')
		if n > 1<<32-1 {
			return 0, fmt.Errorf("ASN %q out of range (max 4294967295)", b)
		}
	}
	if n == 0 {
		return 0, errors.New("ASN 0 is reserved")
	}
	return uint32(n), nil
}

// parseIPv4Prefix is a fast path for the common "a.b.c.d/n" form, which is
// most of every file. It accepts exactly what netip.ParsePrefix accepts for
// IPv4 (no leading zeros, octets ≤ 255, 0 ≤ n ≤ 32) and leaves everything
// else, errors included, to netip.ParsePrefix.
func parseIPv4Prefix(b []byte) (netip.Prefix, bool) {
	var a [4]byte
	i := 0
	for k := range 4 {
		start := i
		v := 0
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			v = v*10 + int(b[i]-'0')
			i++
			if i-start > 3 {
				return netip.Prefix{}, false
			}
		}
		if i == start || v > 255 || (i-start > 1 && b[start] == '0') {
			return netip.Prefix{}, false
		}
		a[k] = byte(v)
		sep := byte('.')
		if k == 3 {
			sep = '/'
		}
		if i >= len(b) || b[i] != sep {
			return netip.Prefix{}, false
		}
		i++
	}
	start := i
	bits := 0
	for i < len(b) && b[i] >= '0' && b[i] <= '9' && i-start < 2 {
		bits = bits*10 + int(b[i]-'0')
		i++
	}
	if i == start || i != len(b) || bits > 32 || (i-start > 1 && b[start] == '0') {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(netip.AddrFrom4(a), bits), true
}

// unquoteNetipErr drops netip's `netip.ParsePrefix("…"): ` preamble, since
// our message already quotes the input.
func unquoteNetipErr(err error) error {
	s := err.Error()
	if i := strings.Index(s, "): "); i >= 0 && strings.HasPrefix(s, "netip.ParsePrefix(") {
		return errors.New(s[i+3:])
	}
	return err
}

// WritePyASN writes routes in pyasn's text form: each line of comment (if not
// empty) as a "; " header line, then one `prefix<TAB>asn` line per route, in
// the order given. A route that fails Validate is an error naming its index;
// nothing after it is written.
func WritePyASN(w io.Writer, routes []Route, comment string) error {
	// A bufio.Writer keeps its first error and returns it from Flush, so
	// the writes need no checks of their own.
	bw := bufio.NewWriterSize(w, bufSize)
	var buf []byte
	if comment != "" {
		for l := range strings.SplitSeq(comment, "\n") {
			buf = append(buf, ';')
			if l = strings.TrimSuffix(l, "\r"); l != "" {
				buf = append(append(buf, ' '), l...)
			}
			buf = append(buf, '\n')
		}
	}
	for i, r := range routes {
		if err := r.Validate(); err != nil {
			return fmt.Errorf("writing pyasn: route %d: %w", i, err)
		}
		buf = r.Prefix.AppendTo(buf)
		buf = append(buf, '\t')
		buf = strconv.AppendUint(buf, uint64(r.ASN), 10)
		buf = append(buf, '\n')
		_, _ = bw.Write(buf)
		buf = buf[:0]
	}
	_, _ = bw.Write(buf) // the comment when there are no routes
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing pyasn: %w", err)
	}
	return nil
}
