package explain

import (
	"fmt"
	"io"
	"net/netip"
	"os"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/sourcesfile"
)

// Origins of a map entry, as a build's MAP.sources.tsv names them (the
// builder's FromMeasured, FromResolver and extrapolation rules; the
// builder is not imported here because it links DuckDB).
const (
	OriginMeasured          = "measured"           // the client network's own samples
	OriginResolver          = "resolver"           // a resolver's joined clients
	OriginExtrapolateAS     = "extrapolate-as"     // its AS's measured networks agree
	OriginExtrapolatePrefix = "extrapolate-prefix" // its announced prefix's measured networks agree
	OriginExtrapolateGeo    = "extrapolate-geo"    // a GeoIP block, by its prefix's or AS's latencies
)

// Origins are the valid origins, in the builder's report order.
var Origins = []string{OriginMeasured, OriginResolver, OriginExtrapolateAS, OriginExtrapolatePrefix, OriginExtrapolateGeo}

// Sources says which map network answers an address and where that
// network's entry came from. It is immutable once read.
type Sources struct {
	t *bart.Table[string]
	n int
}

// Len is the number of networks listed.
func (s *Sources) Len() int { return s.n }

// Lookup returns the network of the map entry that answers addr (the
// longest listed network containing it) and its origin ("" when the
// sources came from a map without a sources file).
func (s *Sources) Lookup(addr netip.Addr) (netip.Prefix, string, bool) {
	if s == nil || !addr.IsValid() {
		return netip.Prefix{}, "", false
	}
	addr = addr.Unmap()
	return s.t.LookupPrefixLPM(netip.PrefixFrom(addr, addr.BitLen()))
}

// LoadSources reads a sources file (a build's MAP.sources.tsv).
func LoadSources(path string) (*Sources, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sources: %w", err)
	}
	defer func() { _ = f.Close() }()
	s, err := ReadSources(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ReadSources parses a sources file (package sourcesfile: the format
// builder.Sources writes). A bad network, host bits, an unknown origin, a
// repeated network or a missing tab is an error naming the line.
func ReadSources(r io.Reader) (*Sources, error) {
	t, n, err := sourcesfile.Read(r)
	if err != nil {
		return nil, err
	}
	return &Sources{t: t, n: n}, nil
}

// SourcesFromMap lists a map's networks without origins, for a map that
// has no sources file: the report then still names the matched entry's
// prefix.
func SourcesFromMap(m *popmap.Map) *Sources {
	s := &Sources{t: &bart.Table[string]{}}
	for _, e := range m.Entries {
		for _, p := range e.Networks {
			s.t.Insert(p, "")
			s.n++
		}
	}
	return s
}
