// Package rttfile reads and writes MAP.rtt.tsv, the file `steer build`
// writes next to a map: for every network of the map, its traffic weight
// and the builder's expected RTT to each PoP it ranked, in rank order.
//
//	# steer build: network<TAB>weight<TAB>label=rtt_ms,label=rtt_ms,... (ranked; rtt is the builder's estimate)
//	203.0.113.0/24	12	fra=23.1,ams=25.4,lhr=31.0
//
// A label whose RTT the builder does not know is written bare (`lhr`). The
// load controller (package loadctl) reads it to know how much traffic a
// move shifts and what latency it costs.
//
// The package is pure Go and imports no analytics code, so a data-plane
// program (built with CGO_ENABLED=0) can read the file; package builder,
// which links DuckDB, writes it through here. It exports no metrics.
package rttfile

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"unicode/utf8"

	"github.com/steer-gslb/steer/popmap"
)

// Choice is one ranked PoP of a network and the expected RTT to it.
type Choice struct {
	Label popmap.Label
	RTT   float64 // ms; NaN when unknown
}

// Entry is one network of a map: its weight and ranked PoPs.
type Entry struct {
	Network netip.Prefix
	Weight  float64 // traffic weight (beacons, or the builder's estimate for extrapolated entries); ≥ 0
	Ranked  []Choice
}

// Header is the comment line Write starts the file with.
const Header = "# steer build: network<TAB>weight<TAB>label=rtt_ms,label=rtt_ms,... (ranked; rtt is the builder's estimate)\n"

// MaxLine bounds a line's length in bytes when reading.
const MaxLine = 1 << 16

// Write writes entries, one a line, in the order given. Numbers are
// written in the shortest form that reads back to the same float64, so
// Read(Write(es)) gives es exactly; round RTTs before (the builder writes
// 0.1 ms). A NaN RTT is written as a bare label. Write does not validate:
// what it is given that Read would refuse (a negative weight, a label with
// a comma) comes back as an error from Read, not from Write.
func Write(w io.Writer, es []Entry) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(Header); err != nil {
		return err
	}
	var buf []byte
	for i := range es {
		buf = AppendEntry(buf[:0], &es[i])
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// AppendEntry appends e's line (without the newline) to b.
func AppendEntry(b []byte, e *Entry) []byte {
	b = e.Network.AppendTo(b)
	b = append(b, '\t')
	b = strconv.AppendFloat(b, e.Weight, 'f', -1, 64)
	b = append(b, '\t')
	for j, c := range e.Ranked {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(b, c.Label...)
		if !math.IsNaN(c.RTT) {
			b = append(b, '=')
			b = strconv.AppendFloat(b, c.RTT, 'f', -1, 64)
		}
	}
	return b
}

// Read parses an RTT file (Write's format). Lines starting with # and
// blank lines are skipped. It is strict, and every error names the line:
// a bad or host-bits-set network, a network listed twice, a weight or RTT
// that is not a finite number ≥ 0, an empty ranking, an empty, repeated or
// malformed label, a wrong number of fields, a line longer than MaxLine.
// v4-mapped IPv6 networks read as the IPv4 network they denote (as in a
// map).
func Read(r io.Reader) ([]Entry, error) {
	var out []Entry
	seen := map[netip.Prefix]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), MaxLine)
	for ln := 1; sc.Scan(); ln++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		e, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("rtt line %d: %w", ln, err)
		}
		if first, dup := seen[e.Network]; dup {
			return nil, fmt.Errorf("rtt line %d: %s listed twice (first on line %d)", ln, e.Network, first)
		}
		seen[e.Network] = ln
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("rtt: a line longer than %d bytes", MaxLine)
		}
		return nil, fmt.Errorf("rtt: %w", err)
	}
	return out, nil
}

func parseLine(line []byte) (Entry, error) {
	var e Entry
	net, rest, ok1 := bytes.Cut(line, []byte{'\t'})
	weight, ranked, ok2 := bytes.Cut(rest, []byte{'\t'})
	if !ok1 || !ok2 || bytes.IndexByte(ranked, '\t') >= 0 {
		return e, fmt.Errorf("want network<TAB>weight<TAB>label=rtt,..., got %.60q", line)
	}
	p, err := popmap.ParseNetwork(string(net))
	if err != nil {
		return e, err
	}
	e.Network = p
	if e.Weight, err = number(weight); err != nil {
		return e, fmt.Errorf("%s: weight: %w", p, err)
	}
	if len(ranked) == 0 {
		return e, fmt.Errorf("%s: no ranked PoP", p)
	}
	for item := range bytes.SplitSeq(ranked, []byte{','}) {
		label, rtt, hasRTT := bytes.Cut(item, []byte{'='})
		if err := checkLabel(label); err != nil {
			return e, fmt.Errorf("%s: %w", p, err)
		}
		c := Choice{Label: popmap.Label(label), RTT: math.NaN()}
		for _, o := range e.Ranked {
			if o.Label == c.Label {
				return e, fmt.Errorf("%s: label %q ranked twice", p, label)
			}
		}
		if hasRTT {
			if c.RTT, err = number(rtt); err != nil {
				return e, fmt.Errorf("%s: rtt of %s: %w", p, label, err)
			}
		}
		e.Ranked = append(e.Ranked, c)
	}
	return e, nil
}

// number parses a finite number ≥ 0.
func number(s []byte) (float64, error) {
	v, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return 0, fmt.Errorf("%.30q is not a number", s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 {
		return 0, fmt.Errorf("%.30q is not a finite number ≥ 0", s)
	}
	return v, nil
}

// checkLabel applies the map's label rule (popmap: 1–63 bytes of UTF-8, no
// space, control or quote characters) and refuses this file's separators,
// ',' and '='.
func checkLabel(s []byte) error {
	switch {
	case len(s) == 0:
		return errors.New("empty label")
	case len(s) > popmap.MaxLabelLen:
		return fmt.Errorf("label %.20q… longer than %d bytes", s, popmap.MaxLabelLen)
	case !utf8.Valid(s):
		return fmt.Errorf("label %q: invalid UTF-8", s)
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '"' || c == '\\' || c == ',' || c == '=' {
			return fmt.Errorf("label %q: contains a space, control, quote, ',' or '=' character", s)
		}
	}
	return nil
}
