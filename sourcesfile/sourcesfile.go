// Package sourcesfile reads MAP.sources.tsv, the file steer build writes
// beside a map: each network of the map with where the build got its entry
// (measured, resolver, extrapolate-as, extrapolate-prefix, extrapolate-geo).
// steer eval scores each kind apart with it, and package explain names the
// origin of a client's entry. It is CGO-free, so the DNS server can link it.
package sourcesfile

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

// Names are the sources a line may give, in the builder's order.
var Names = []string{"measured", "resolver", "extrapolate-as", "extrapolate-prefix", "extrapolate-geo"}

// Read parses a sources file into a longest-prefix table whose values are
// the sources (shared strings of Names), and returns how many networks it
// holds. Lines starting with # and blank lines are skipped; a bad network,
// host bits, an unknown source, a repeated network or a missing tab is an
// error naming the line.
func Read(r io.Reader) (*bart.Table[string], int, error) {
	t := &bart.Table[string]{}
	n := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 4096)
	for ln := 1; sc.Scan(); ln++ {
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		network, from, ok := bytes.Cut(line, []byte{'\t'})
		if !ok {
			return nil, 0, fmt.Errorf("sources line %d: want network<TAB>source, got %.40q", ln, line)
		}
		p, err := netip.ParsePrefix(string(network))
		if err != nil {
			return nil, 0, fmt.Errorf("sources line %d: %w", ln, err)
		}
		if p != p.Masked() {
			return nil, 0, fmt.Errorf("sources line %d: %s has host bits set", ln, p)
		}
		i := slices.Index(Names, string(from))
		if i < 0 {
			return nil, 0, fmt.Errorf("sources line %d: unknown source %.40q (want one of %v)", ln, from, Names)
		}
		if _, dup := t.Get(p); dup {
			return nil, 0, fmt.Errorf("sources line %d: %s listed twice", ln, p)
		}
		t.Insert(p, Names[i])
		n++
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, 0, errors.New("sources: a line longer than 4096 bytes")
		}
		return nil, 0, fmt.Errorf("sources: %w", err)
	}
	return t, n, nil
}
