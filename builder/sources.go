package builder

import (
	"bufio"
	"io"
	"net/netip"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/sourcesfile"
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
var SourceNames = []string{FromMeasured, FromResolver, RuleExtrapolateAS, RuleExtrapolatePfx, RuleExtrapolateGeo}

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
// the value of its longest match (package sourcesfile).
func ReadSources(r io.Reader) (*bart.Table[string], error) {
	t, _, err := sourcesfile.Read(r)
	return t, err
}
