package popmap

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/steer-gslb/steer/internal/hugemem"
)

// LoadTable reads and compiles the route map at path without building a
// Map: what the DNS server does at start and on every reload. It accepts
// and rejects exactly what Load does, with the same errors, and returns the
// same Table; it is faster and allocates about half as much, all of it
// pointer-free, because the networks go from the JSON text straight into
// the packed keys Compile sorts.
func LoadTable(path string) (*Table, error) { return LoadTableWith(path, CompileOptions{}) }

// LoadTableWith is LoadTable with the options of CompileWith.
func LoadTableWith(path string, o CompileOptions) (*Table, error) {
	data, err := hugemem.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading map: %w", err)
	}
	return LoadTableBytesWith(data, path, o)
}

// LoadTableBytes is LoadTable of a map already read; path names it in
// errors. A compiled table (MarshalBinary) is decoded instead of compiled.
func LoadTableBytes(data []byte, path string) (*Table, error) {
	return LoadTableBytesWith(data, path, CompileOptions{})
}

// LoadTableBytesWith is LoadTableBytes with the options of CompileWith.
func LoadTableBytesWith(data []byte, path string, o CompileOptions) (*Table, error) {
	if IsTable(data) {
		t, err := DecodeTableWith(data, o)
		if err != nil {
			return nil, fmt.Errorf("map %s: %w", path, err)
		}
		return t, nil
	}
	t, err := compileJSON(data, o)
	if err == nil {
		return t, nil
	}
	// The fast path stops at the first problem. Load's path names it (a
	// duplicate network with both of its places), so errors read the same
	// whichever loader met them; should it accept what the fast path
	// refused, its table is served (FuzzLoadTable holds the two equal).
	_, t, lerr := LoadBytesWith(data, path, o)
	if lerr != nil {
		return nil, lerr
	}
	return t, nil
}

// CheckLabels reports the first label that known rejects, naming its entry
// as Map.CheckLabels does. The DNS server checks a map against its
// configured PoPs with it.
func (t *Table) CheckLabels(known func(Label) bool) error {
	for i, ls := range t.answers {
		for j, l := range ls {
			if !known(l) {
				return fmt.Errorf("map[%d].labels[%d]: %q is not a configured PoP", t.answerEntry[i], j, l)
			}
		}
	}
	return nil
}

// compileJSON parses a route map with the checks of Parse (but the
// duplicate networks, which finish finds) into a tableBuilder.
func compileJSON(data []byte, o CompileOptions) (*Table, error) {
	p := parser{data: data}
	var meta Meta
	var b *tableBuilder
	err := p.mapObject(&meta, func() error {
		// Every network has exactly one '/': an upper bound for the IPv4
		// keys, which are most of them.
		b = newTableBuilder(meta, 0, bytes.Count(data[p.pos:], []byte{'/'}))
		var key []byte
		return p.array(func(i int) error {
			var err error
			key, err = p.compileEntry(i, b, key)
			b.t.entries = i + 1
			return err
		})
	})
	if err != nil {
		return nil, err
	}
	b.t.meta = meta // "meta" may follow "map"
	return b.finish(o)
}

// compileEntry parses map entry i into b, with parseEntry's checks. key is
// scratch space for the label list, returned for reuse.
func (p *parser) compileEntry(i int, b *tableBuilder, key []byte) ([]byte, error) {
	from4, from6 := len(b.items4), len(b.items6)
	var seenNets, seenLabels bool
	key = key[:0]
	nlabels := 0
	err := p.object(func(k string) error {
		switch k {
		case "networks":
			if seenNets {
				return p.errorf("map[%d]: duplicate key \"networks\"", i)
			}
			seenNets = true
			return p.compileNetworks(i, b)
		case "labels":
			if seenLabels {
				return p.errorf("map[%d]: duplicate key \"labels\"", i)
			}
			seenLabels = true
			return p.array(func(j int) error {
				s, err := p.str()
				if err != nil {
					return fmt.Errorf("map[%d].labels[%d]: %w", i, j, err)
				}
				if err := checkLabel(s); err != nil {
					return fmt.Errorf("map[%d].labels[%d]: %w", i, j, err)
				}
				for rest := key; len(rest) > 0; {
					n := bytes.IndexByte(rest, 0)
					if bytes.Equal(rest[:n], s) {
						return fmt.Errorf("map[%d].labels[%d]: %q listed twice", i, j, s)
					}
					rest = rest[n+1:]
				}
				key = append(key, s...)
				key = append(key, 0)
				nlabels++
				return nil
			})
		default:
			return p.errorf("map[%d]: unknown key %q (want \"networks\" or \"labels\")", i, k)
		}
	})
	if err != nil {
		return key, err
	}
	if len(b.items4) == from4 && len(b.items6) == from6 {
		return key, fmt.Errorf("map[%d]: no networks", i)
	}
	if nlabels == 0 {
		return key, fmt.Errorf("map[%d]: no labels", i)
	}
	id, err := b.answer(key, i)
	if err != nil {
		return key, err
	}
	b.setAnswer(from4, from6, id)
	return key, nil
}

// compileNetworks parses an entry's "networks" array into b. The common
// forms, "a.b.c.d/n" and hexadecimal IPv6 networks, are read in place,
// without a netip.Prefix; anything else takes parseNetwork.
func (p *parser) compileNetworks(i int, b *tableBuilder) error {
	if err := p.expect('['); err != nil {
		return err
	}
	if p.peek() == ']' {
		p.pos++
		return nil
	}
	for j := 0; ; j++ {
		done := false
		if p.peek() == '"' {
			rest := p.data[p.pos+1:]
			if q := bytes.IndexByte(rest, '"'); q >= 0 {
				if v, n, ok := parseIPv4(rest[:q]); ok {
					p.pos += q + 2
					b.add4(v, n, 0)
					done = true
				} else if a, n, ok := parseIPv6(rest[:q]); ok {
					p.pos += q + 2
					b.add6(a, n, 0)
					done = true
				}
			}
		}
		if !done {
			s, err := p.str()
			if err != nil {
				return fmt.Errorf("map[%d].networks[%d]: %w", i, j, err)
			}
			pfx, err := parseNetwork(s)
			if err != nil {
				return fmt.Errorf("map[%d].networks[%d]: %w", i, j, err)
			}
			if a := pfx.Addr(); a.Is4() {
				b.add4(binary.BigEndian.Uint32(a.AsSlice()), pfx.Bits(), 0)
			} else {
				b.add6(u128From16(a.As16()), pfx.Bits(), 0)
			}
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
			p.pos++
			return nil
		case 0:
			return p.errorf("unexpected end of input in array")
		default:
			return p.errorf("unexpected %q in array, want ',' or ']'", p.data[p.pos])
		}
	}
}
