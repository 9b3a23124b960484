package explain

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/popmap"
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
	t bart.Table[string]
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

// ReadSources parses a sources file: "network<TAB>origin" a line, lines
// starting with # and blank lines skipped (the format builder.Sources
// writes). A bad network, host bits, an unknown origin, a repeated network
// or a missing tab is an error naming the line.
func ReadSources(r io.Reader) (*Sources, error) {
	s := &Sources{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for ln := 1; sc.Scan(); ln++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		network, from, ok := bytes.Cut(line, []byte{'\t'})
		if !ok {
			return nil, fmt.Errorf("sources line %d: want network<TAB>origin, got %.40q", ln, line)
		}
		p, err := netip.ParsePrefix(string(network))
		if err != nil {
			return nil, fmt.Errorf("sources line %d: %w", ln, err)
		}
		if p != p.Masked() {
			return nil, fmt.Errorf("sources line %d: %s has host bits set", ln, p)
		}
		i := slices.Index(Origins, string(from))
		if i < 0 {
			return nil, fmt.Errorf("sources line %d: unknown origin %.40q (want one of %v)", ln, from, Origins)
		}
		if _, dup := s.t.Get(p); dup {
			return nil, fmt.Errorf("sources line %d: %s listed twice", ln, p)
		}
		s.t.Insert(p, Origins[i])
		s.n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, errors.New("sources: a line longer than 4096 bytes")
		}
		return nil, fmt.Errorf("sources: %w", err)
	}
	return s, nil
}

// SourcesFromMap lists a map's networks without origins, for a map that
// has no sources file: the report then still names the matched entry's
// prefix.
func SourcesFromMap(m *popmap.Map) *Sources {
	s := &Sources{}
	for _, e := range m.Entries {
		for _, p := range e.Networks {
			s.t.Insert(p, "")
			s.n++
		}
	}
	return s
}
