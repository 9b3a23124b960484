package explain

import (
	"fmt"
	"math"
	"net/netip"
	"os"
	"strings"

	"github.com/gaissmai/bart"

	"github.com/steer-gslb/steer/rttfile"
)

// Expected is the build's expected RTT for a network at one PoP: the
// estimate it ranked the PoPs on (MAP.rtt.tsv).
type Expected struct {
	PoP   string  `json:"pop"`
	RTTMs float64 `json:"rttMs"`
}

// RTTs are a map's MAP.rtt.tsv: each network's expected RTT at its ranked
// PoPs, by longest prefix. Immutable once read.
type RTTs struct {
	t *bart.Table[[]Expected]
}

// RTTPath is the RTT file a build writes beside map: MAP.rtt.tsv.
func RTTPath(mapPath string) string { return strings.TrimSuffix(mapPath, ".json") + ".rtt.tsv" }

// LoadRTTs reads an RTT file (package rttfile's format).
func LoadRTTs(path string) (*RTTs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rtt: %w", err)
	}
	defer func() { _ = f.Close() }()
	es, err := rttfile.Read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	r := &RTTs{t: &bart.Table[[]Expected]{}}
	for _, e := range es {
		ex := make([]Expected, 0, len(e.Ranked))
		for _, c := range e.Ranked {
			if !math.IsNaN(c.RTT) {
				ex = append(ex, Expected{PoP: string(c.Label), RTTMs: c.RTT})
			}
		}
		r.t.Insert(e.Network, ex)
	}
	return r, nil
}

// Lookup returns the expected RTTs of the network containing addr.
func (r *RTTs) Lookup(addr netip.Addr) ([]Expected, bool) {
	if r == nil || !addr.IsValid() {
		return nil, false
	}
	addr = addr.Unmap()
	_, ex, ok := r.t.LookupPrefixLPM(netip.PrefixFrom(addr, addr.BitLen()))
	return ex, ok
}
