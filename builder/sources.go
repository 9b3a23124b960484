package builder

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"slices"

	"github.com/gaissmai/bart"
)

// Where a map network's entry came from, as MAP.sources.tsv names it: a
// client network's own samples, a resolver's joined clients, or one of the
// extrapolation rules (RuleExtrapolateAS, RuleExtrapolatePfx,
// RuleExtrapolateGeo).
const (
	FromMeasured = "measured"
	FromResolver = "resolver"
)

// Sources lists every network of a built map with where its entry came
// from, so steer eval can score each kind apart (docs/DESIGN.md,
// "Extrapolation": "the evaluator scores extrapolated entries
// separately") and an operator can ask why a prefix maps where it does.
type Sources struct {
	Networks []netip.Prefix
	From     []string // FromMeasured, FromResolver or an extrapolation rule's name
}

// SourceNames are the valid sources, in report order.
var SourceNames = []string{FromMeasured, FromResolver, string(RuleExtrapolateAS), string(RuleExtrapolatePfx), string(RuleExtrapolateGeo)}

const sourcesHeader = "# steer build: network<TAB>source (measured, resolver, extrapolate-as, extrapolate-prefix, extrapolate-geo)\n"

// WriteTSV writes the sources, one network a line, in map order.
func (s *Sources) WriteTSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(sourcesHeader); err != nil {
		return err
	}
	var buf []byte
	for i, p := range s.Networks {
		buf = p.AppendTo(buf[:0])
		buf = append(buf, '\t')
		buf = append(buf, s.From[i]...)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// ReadSources parses a sources file (WriteTSV's format) into a
// longest-prefix table: the source of the entry that answers an address is
// the value of its longest match. Lines starting with # and blank lines are
// skipped; a bad network, an unknown source, a repeated network or a
// missing tab is an error naming the line.
func ReadSources(r io.Reader) (*bart.Table[string], error) {
	t := &bart.Table[string]{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for ln := 1; sc.Scan(); ln++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		net, from, ok := bytes.Cut(line, []byte{'\t'})
		if !ok {
			return nil, fmt.Errorf("sources line %d: want network<TAB>source, got %.40q", ln, line)
		}
		p, err := netip.ParsePrefix(string(net))
		if err != nil {
			return nil, fmt.Errorf("sources line %d: %w", ln, err)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("sources line %d: %s has host bits set", ln, p)
		}
		i := slices.Index(SourceNames, string(from))
		if i < 0 {
			return nil, fmt.Errorf("sources line %d: unknown source %.40q (want one of %v)", ln, from, SourceNames)
		}
		if _, dup := t.Get(p); dup {
			return nil, fmt.Errorf("sources line %d: %s listed twice", ln, p)
		}
		t.Insert(p, SourceNames[i])
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errors.New("sources: a line longer than 4096 bytes")
		}
		return nil, fmt.Errorf("sources: %w", err)
	}
	return t, nil
}
