package popmap

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Map is a decoded NS1 route map: a list of entries, each a set of networks
// and the PoP labels they prefer, best first. It is the interchange form;
// Compile turns it into a Table for lookups.
//
//	{"meta": {"version": 1}, "map": [{"networks": ["203.0.113.0/24"], "labels": ["fra", "ams"]}]}
type Map struct {
	Meta    Meta
	Entries []Entry
}

// Meta is the "meta" object of a route map.
type Meta struct {
	Version int64 // "version"; 0 when absent
}

// Entry is one element of the "map" array.
type Entry struct {
	Networks []netip.Prefix
	Labels   []Label
}

// MaxLabelLen bounds a label's length in bytes.
const MaxLabelLen = 63

// ReadFile reads and parses the route map at path. A compiled table
// (MarshalBinary) is decoded and its Map rebuilt (Table.Map).
func ReadFile(path string) (*Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading map: %w", err)
	}
	if IsTable(data) {
		m, _, err := LoadBytes(data, path)
		return m, err
	}
	m, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("map %s: %w", path, err)
	}
	return m, nil
}

// Parse decodes and validates a route map in NS1 JSON form. It is strict:
// unknown keys, bad CIDRs, host bits set, duplicate networks (also across
// entries), empty or repeated labels are errors that name the entry, e.g.
// `map[3].networks[1]: "10.0.0.1/24": host bits set (want 10.0.0.0/24)`.
//
// IPv4-mapped IPv6 networks (::ffff:a.b.c.d/n with n ≥ 96) are stored as the
// IPv4 network they denote, because lookups treat v4-mapped addresses as IPv4.
func Parse(data []byte) (*Map, error) {
	m, err := parseNoDupCheck(data)
	if err != nil {
		return nil, err
	}
	if err := m.checkDuplicates(); err != nil {
		return nil, err
	}
	return m, nil
}

// Load reads, parses and compiles the map at path: what a server does on
// every reload. It skips Parse's separate duplicate pass, because Compile
// sorts the networks anyway and finds duplicates there; only then is the
// slower pass run, to name both entries in the error.
func Load(path string) (*Map, *Table, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("reading map: %w", err)
	}
	return LoadBytes(data, path)
}

// LoadBytes is Load of a map already read; path names it in errors. A
// compiled table (MarshalBinary) is decoded, and its Map rebuilt from it
// (Table.Map).
func LoadBytes(data []byte, path string) (*Map, *Table, error) {
	return LoadBytesWith(data, path, CompileOptions{})
}

// LoadBytesWith is LoadBytes with the options of CompileWith.
func LoadBytesWith(data []byte, path string, o CompileOptions) (*Map, *Table, error) {
	if IsTable(data) {
		t, err := DecodeTableWith(data, o)
		if err != nil {
			return nil, nil, fmt.Errorf("map %s: %w", path, err)
		}
		return t.Map(), t, nil
	}
	m, err := parseNoDupCheck(data)
	if err != nil {
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	t, err := CompileWith(m, o)
	if err != nil {
		if derr := m.checkDuplicates(); derr != nil {
			err = derr
		}
		return nil, nil, fmt.Errorf("map %s: %w", path, err)
	}
	return m, t, nil
}

func parseNoDupCheck(data []byte) (*Map, error) {
	p := parser{data: data}
	// Every network has exactly one '/', so this bounds the arena.
	p.arena = make([]netip.Prefix, 0, bytes.Count(data, []byte{'/'}))
	return p.parseMap()
}

// CheckLabels reports the first label that known rejects, naming its entry.
// The DNS server checks a map against its configured PoPs with it.
func (m *Map) CheckLabels(known func(Label) bool) error {
	for i, e := range m.Entries {
		for j, l := range e.Labels {
			if !known(l) {
				return fmt.Errorf("map[%d].labels[%d]: %q is not a configured PoP", i, j, l)
			}
		}
	}
	return nil
}

// checkDuplicates finds a network listed twice. Sorting packed keys is
// several times faster than a hash set of a million prefixes; only when a
// duplicate exists does the slow pass run to name both places.
func (m *Map) checkDuplicates() error {
	var k4 []uint64
	var k6 []u128
	for _, e := range m.Entries {
		for _, p := range e.Networks {
			b := p.Addr().As16()
			if p.Addr().Is4() {
				k4 = append(k4, uint64(binary.BigEndian.Uint32(b[12:]))<<8|uint64(p.Bits()))
			} else {
				k6 = append(k6, u128{binary.BigEndian.Uint64(b[:8]), binary.BigEndian.Uint64(b[8:])&^0xff | uint64(p.Bits())})
			}
		}
	}
	// An IPv6 prefix of length ≤ 120 has its low 8 bits zero, so they can
	// hold the length; longer ones fall back to the slow pass if they collide.
	radixSort(k4)
	slices.SortFunc(k6, u128.cmp)
	dup := false
	for i := 1; i < len(k4) && !dup; i++ {
		dup = k4[i] == k4[i-1]
	}
	for i := 1; i < len(k6) && !dup; i++ {
		dup = k6[i] == k6[i-1]
	}
	if !dup {
		return nil
	}
	type where struct{ entry, idx int }
	seen := make(map[netip.Prefix]where)
	for i, e := range m.Entries {
		for j, p := range e.Networks {
			if w, dup := seen[p]; dup {
				return fmt.Errorf("map[%d].networks[%d]: duplicate network %s (first in map[%d].networks[%d])", i, j, p, w.entry, w.idx)
			}
			seen[p] = where{i, j}
		}
	}
	return nil
}

// MarshalJSON encodes m in NS1 form (Encode), so that a Map embedded in
// other JSON (the control server's state and publish calls) keeps the
// contract's shape.
func (m *Map) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	if err := m.Encode(&b); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// UnmarshalJSON parses NS1 form strictly (Parse).
func (m *Map) UnmarshalJSON(data []byte) error {
	p, err := Parse(data)
	if err != nil {
		return err
	}
	*m = *p
	return nil
}

// Encode writes m in NS1 JSON form, one entry per line, so that Parse(Encode(m))
// gives m back.
func (m *Map) Encode(w io.Writer) error {
	buf := make([]byte, 0, 64<<10)
	buf = append(buf, `{"meta": {"version": `...)
	buf = strconv.AppendInt(buf, m.Meta.Version, 10)
	buf = append(buf, "}, \"map\": ["...)
	for i, e := range m.Entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, "\n  {\"networks\": ["...)
		for j, p := range e.Networks {
			if j > 0 {
				buf = append(buf, ", "...)
			}
			buf = append(buf, '"')
			buf = p.AppendTo(buf)
			buf = append(buf, '"')
		}
		buf = append(buf, "], \"labels\": ["...)
		for j, l := range e.Labels {
			if j > 0 {
				buf = append(buf, ", "...)
			}
			buf = strconv.AppendQuote(buf, string(l))
		}
		buf = append(buf, "]}"...)
		if len(buf) > 60<<10 {
			if _, err := w.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	buf = append(buf, "\n]}\n"...)
	_, err := w.Write(buf)
	return err
}

// parser is a small strict JSON reader specialised to the route-map schema.
// It exists because the generic decoders need about a second for a
// million-entry map, which is most of the reload budget, and because it can
// name the offending entry in every error.
type parser struct {
	data []byte
	pos  int
	// arena holds every entry's networks back to back; entries get
	// capacity-limited subslices, so a million networks cost one allocation.
	arena []netip.Prefix
	// scratch holds unescaped string bytes.
	scratch []byte
}

func (p *parser) errorf(format string, args ...any) error {
	line := 1 + bytes.Count(p.data[:min(p.pos, len(p.data))], []byte{'\n'})
	return fmt.Errorf("line %d (offset %d): %s", line, p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) ws() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// peek returns the next non-space byte, or 0 at the end.
func (p *parser) peek() byte {
	p.ws()
	if p.pos >= len(p.data) {
		return 0
	}
	return p.data[p.pos]
}

func (p *parser) expect(c byte) error {
	got := p.peek()
	if got != c {
		if got == 0 {
			return p.errorf("unexpected end of input, want %q", c)
		}
		return p.errorf("unexpected %q, want %q", got, c)
	}
	p.pos++
	return nil
}

// str reads a JSON string. The returned slice is valid until the next call.
// It does not check UTF-8: networks are ASCII by their own syntax, and
// labels are checked by checkLabel.
func (p *parser) str() ([]byte, error) {
	if err := p.expect('"'); err != nil {
		return nil, err
	}
	start := p.pos
	// Fast path: no escapes.
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			p.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return nil, p.errorf("control character in string")
		}
		p.pos++
	}
	p.scratch = append(p.scratch[:0], p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			return p.scratch, nil
		case c < 0x20:
			return nil, p.errorf("control character in string")
		case c != '\\':
			p.scratch = append(p.scratch, c)
			p.pos++
			continue
		}
		// Escape.
		if p.pos+1 >= len(p.data) {
			break
		}
		e := p.data[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			p.scratch = append(p.scratch, e)
		case 'b':
			p.scratch = append(p.scratch, '\b')
		case 'f':
			p.scratch = append(p.scratch, '\f')
		case 'n':
			p.scratch = append(p.scratch, '\n')
		case 'r':
			p.scratch = append(p.scratch, '\r')
		case 't':
			p.scratch = append(p.scratch, '\t')
		case 'u':
			if p.pos+4 > len(p.data) {
				return nil, p.errorf("truncated \\u escape")
			}
			v, err := strconv.ParseUint(string(p.data[p.pos:p.pos+4]), 16, 16)
			if err != nil {
				return nil, p.errorf("bad \\u escape")
			}
			p.pos += 4
			r := rune(v)
			if utf8.ValidRune(r) {
				p.scratch = utf8.AppendRune(p.scratch, r)
			} else {
				// Surrogates: lone halves become U+FFFD like encoding/json.
				if v >= 0xD800 && v < 0xDC00 && p.pos+6 <= len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					if lo, err := strconv.ParseUint(string(p.data[p.pos+2:p.pos+6]), 16, 16); err == nil && lo >= 0xDC00 && lo < 0xE000 {
						p.pos += 6
						p.scratch = utf8.AppendRune(p.scratch, 0x10000+(r-0xD800)<<10+(rune(lo)-0xDC00))
						continue
					}
				}
				p.scratch = utf8.AppendRune(p.scratch, utf8.RuneError)
			}
		default:
			return nil, p.errorf("bad escape \\%c", e)
		}
	}
	return nil, p.errorf("unterminated string")
}

// object iterates the members of an object, calling member with each key;
// member must consume the value.
func (p *parser) object(member func(key string) error) error {
	if err := p.expect('{'); err != nil {
		return err
	}
	if p.peek() == '}' {
		p.pos++
		return nil
	}
	for {
		k, err := p.str()
		if err != nil {
			return err
		}
		key := string(k)
		if err := p.expect(':'); err != nil {
			return err
		}
		if err := member(key); err != nil {
			return err
		}
		switch p.peek() {
		case ',':
			p.pos++
		case '}':
			p.pos++
			return nil
		case 0:
			return p.errorf("unexpected end of input in object")
		default:
			return p.errorf("unexpected %q in object, want ',' or '}'", p.data[p.pos])
		}
	}
}

// array iterates the elements of an array; elem must consume the value.
func (p *parser) array(elem func(i int) error) error {
	if err := p.expect('['); err != nil {
		return err
	}
	if p.peek() == ']' {
		p.pos++
		return nil
	}
	for i := 0; ; i++ {
		if err := elem(i); err != nil {
			return err
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

func (p *parser) integer() (int64, error) {
	p.ws()
	start := p.pos
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		if (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E' {
			p.pos++
			continue
		}
		break
	}
	v, err := strconv.ParseInt(string(p.data[start:p.pos]), 10, 64)
	if err != nil {
		p.pos = start
		return 0, p.errorf("want an integer")
	}
	return v, nil
}

func (p *parser) parseMap() (*Map, error) {
	m := &Map{}
	err := p.mapObject(&m.Meta, func() error {
		return p.array(func(i int) error {
			e, err := p.parseEntry(i)
			if err != nil {
				return err
			}
			m.Entries = append(m.Entries, e)
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// mapObject reads a route map's top-level object, the checks Parse and
// LoadTable share: "meta" (its version into meta) and "map", whose value
// readMap reads, each at most once, no other key, nothing after it, and
// "map" present.
func (p *parser) mapObject(meta *Meta, readMap func() error) error {
	var seenMeta, seenMap bool
	err := p.object(func(key string) error {
		switch key {
		case "meta":
			if seenMeta {
				return p.errorf(`duplicate key "meta"`)
			}
			seenMeta = true
			return p.object(func(key string) error {
				if key != "version" {
					return p.errorf("meta: unknown key %q", key)
				}
				v, err := p.integer()
				if err != nil {
					return fmt.Errorf("meta.version: %w", err)
				}
				meta.Version = v
				return nil
			})
		case "map":
			if seenMap {
				return p.errorf(`duplicate key "map"`)
			}
			seenMap = true
			return readMap()
		default:
			return p.errorf("unknown key %q (want \"meta\" or \"map\")", key)
		}
	})
	if err != nil {
		return err
	}
	if p.peek() != 0 {
		return p.errorf("trailing data after the map object")
	}
	if !seenMap {
		return errors.New(`missing key "map"`)
	}
	return nil
}

func (p *parser) parseEntry(i int) (Entry, error) {
	var e Entry
	var seenNets, seenLabels bool
	err := p.object(func(key string) error {
		switch key {
		case "networks":
			if seenNets {
				return p.errorf("map[%d]: duplicate key \"networks\"", i)
			}
			seenNets = true
			return p.array(func(j int) error {
				// Fast path for the common "a.b.c.d/n": find the closing
				// quote with IndexByte and parse in place. Anything else
				// (escapes, IPv6, errors) takes the general path below.
				if p.peek() == '"' {
					rest := p.data[p.pos+1:]
					if q := bytes.IndexByte(rest, '"'); q >= 0 {
						if pfx, ok := parseIPv4Prefix(rest[:q]); ok {
							p.pos += q + 2
							e.Networks = p.appendNetwork(e.Networks, pfx)
							return nil
						}
					}
				}
				s, err := p.str()
				if err != nil {
					return fmt.Errorf("map[%d].networks[%d]: %w", i, j, err)
				}
				pfx, err := parseNetwork(s)
				if err != nil {
					return fmt.Errorf("map[%d].networks[%d]: %w", i, j, err)
				}
				e.Networks = p.appendNetwork(e.Networks, pfx)
				return nil
			})
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
				l := Label(s)
				for _, prev := range e.Labels {
					if prev == l {
						return fmt.Errorf("map[%d].labels[%d]: %q listed twice", i, j, l)
					}
				}
				e.Labels = append(e.Labels, l)
				return nil
			})
		default:
			return p.errorf("map[%d]: unknown key %q (want \"networks\" or \"labels\")", i, key)
		}
	})
	if err != nil {
		return e, err
	}
	if len(e.Networks) == 0 {
		return e, fmt.Errorf("map[%d]: no networks", i)
	}
	if len(e.Labels) == 0 {
		return e, fmt.Errorf("map[%d]: no labels", i)
	}
	return e, nil
}

// appendNetwork appends pfx to nets, which is the tail of the arena while
// the entry is being read.
func (p *parser) appendNetwork(nets []netip.Prefix, pfx netip.Prefix) []netip.Prefix {
	if len(p.arena) < cap(p.arena) && (len(nets) == 0 || &nets[len(nets)-1] == &p.arena[len(p.arena)-1]) {
		p.arena = append(p.arena, pfx)
		start := len(p.arena) - len(nets) - 1
		return p.arena[start:len(p.arena):len(p.arena)]
	}
	return append(nets, pfx)
}

func checkLabel(s []byte) error {
	if len(s) == 0 {
		return errors.New("empty label")
	}
	if !utf8.Valid(s) {
		return fmt.Errorf("label %q: invalid UTF-8", s)
	}
	if len(s) > MaxLabelLen {
		return fmt.Errorf("label %.20q… longer than %d bytes", s, MaxLabelLen)
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c == '"' || c == '\\' {
			return fmt.Errorf("label %q: contains space, control or quote characters", s)
		}
	}
	return nil
}

// ParseNetwork parses one map network: a CIDR prefix with no host bits set.
// v4-mapped IPv6 prefixes of length ≥ 96 become IPv4.
func ParseNetwork(s string) (netip.Prefix, error) { return parseNetwork([]byte(s)) }

func parseNetwork(s []byte) (netip.Prefix, error) {
	if pfx, ok := parseIPv4Prefix(s); ok {
		return pfx, nil
	}
	pfx, err := netip.ParsePrefix(string(s))
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q: bad CIDR: %s", s, unwrapParse(err))
	}
	if pfx.Addr().Zone() != "" {
		return netip.Prefix{}, fmt.Errorf("%q: zones are not allowed", s)
	}
	if m := pfx.Masked(); m != pfx {
		return netip.Prefix{}, fmt.Errorf("%q: host bits set (want %s)", s, m)
	}
	if a := pfx.Addr(); a.Is4In6() {
		if pfx.Bits() < 96 {
			return netip.Prefix{}, fmt.Errorf("%q: v4-mapped prefix shorter than /96", s)
		}
		pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
	}
	return pfx, nil
}

// unwrapParse drops netip's repetition of the input from its error message
// (`netip.ParsePrefix("x"): no '/'` becomes `no '/'`).
func unwrapParse(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "): "); i >= 0 {
		return msg[i+3:]
	}
	return msg
}

// parseIPv4Prefix is a fast path for the common "a.b.c.d/n" with no host
// bits set. Anything else — including every malformed input — returns false
// and is left to netip.ParsePrefix and the checks after it, which also make
// the error messages.
func parseIPv4Prefix(s []byte) (netip.Prefix, bool) {
	v, n, ok := parseIPv4(s)
	if !ok {
		return netip.Prefix{}, false
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], v)
	return netip.PrefixFrom(netip.AddrFrom4(a), n), true
}

// parseIPv4 is parseIPv4Prefix returning the address as a big-endian
// uint32 and the prefix length.
func parseIPv4(s []byte) (uint32, int, bool) {
	var v uint32
	i := 0
	for k := range 4 {
		// One to three digits, no leading zero, at most 255.
		if i >= len(s) || s[i]-'0' > 9 {
			return 0, 0, false
		}
		o := uint32(s[i] - '0')
		i++
		if o != 0 {
			for n := 1; n < 3 && i < len(s) && s[i]-'0' <= 9; n++ {
				o = o*10 + uint32(s[i]-'0')
				i++
			}
			if o > 255 {
				return 0, 0, false
			}
		}
		v = v<<8 | o
		sep := byte('.')
		if k == 3 {
			sep = '/'
		}
		if i >= len(s) || s[i] != sep {
			return 0, 0, false
		}
		i++
	}
	// The length: one or two digits, no leading zero, at most 32.
	if i >= len(s) || s[i]-'0' > 9 {
		return 0, 0, false
	}
	n := int(s[i] - '0')
	i++
	if n != 0 && i < len(s) && s[i]-'0' <= 9 {
		n = n*10 + int(s[i]-'0')
		i++
	}
	if i != len(s) || n > 32 {
		return 0, 0, false
	}
	if n < 32 && v<<n != 0 {
		return 0, 0, false // host bits set
	}
	return v, n, true
}

// parseIPv6 is a fast path for an IPv6 network in hexadecimal groups with
// at most one "::" and a prefix length, no host bits set: "2001:db8::/32".
// Anything else (embedded IPv4, zones, v4-mapped networks, every malformed
// input) returns false and is left to parseNetwork; FuzzParseIPv6 holds it
// to netip.ParsePrefix.
func parseIPv6(s []byte) (u128, int, bool) {
	var g [8]uint64
	ng, ellipsis := 0, -1
	i := 0
	if len(s) >= 2 && s[0] == ':' && s[1] == ':' {
		ellipsis, i = 0, 2
	}
	for i < len(s) && s[i] != '/' {
		if ng == 8 {
			return u128{}, 0, false
		}
		// A group: one to four hex digits.
		v, n := uint64(0), 0
		for ; i < len(s) && n < 5; i++ {
			d := hexDigit(s[i])
			if d > 15 {
				break
			}
			v = v<<4 | uint64(d)
			n++
		}
		if n == 0 || n > 4 || i >= len(s) {
			return u128{}, 0, false
		}
		g[ng] = v
		ng++
		if s[i] == '/' {
			break
		}
		if s[i] != ':' {
			return u128{}, 0, false // '.' (embedded IPv4), '%' (zone), …
		}
		i++
		switch {
		case i < len(s) && s[i] == ':':
			if ellipsis >= 0 {
				return u128{}, 0, false
			}
			ellipsis = ng
			i++
		case i >= len(s) || s[i] == '/':
			return u128{}, 0, false // a trailing single ':'
		}
	}
	if i >= len(s) || s[i] != '/' {
		return u128{}, 0, false
	}
	i++
	switch {
	case ellipsis >= 0 && ng < 8:
		n := 8 - ng
		copy(g[ellipsis+n:], g[ellipsis:ng])
		clear(g[ellipsis : ellipsis+n])
	case ellipsis >= 0 || ng < 8:
		return u128{}, 0, false // "::" must stand for a group at least
	}
	// The length: one to three digits, no leading zero, at most 128.
	bitsN, nd := 0, 0
	for ; i < len(s) && s[i]-'0' <= 9; i++ {
		if nd > 0 && bitsN == 0 || nd == 3 {
			return u128{}, 0, false
		}
		bitsN = bitsN*10 + int(s[i]-'0')
		nd++
	}
	if nd == 0 || i != len(s) || bitsN > 128 {
		return u128{}, 0, false
	}
	a := u128{g[0]<<48 | g[1]<<32 | g[2]<<16 | g[3], g[4]<<48 | g[5]<<32 | g[6]<<16 | g[7]}
	if a.and(hostMask(bitsN, 128)) != (u128{}) {
		return u128{}, 0, false // host bits set
	}
	if a.hi == 0 && a.lo>>32 == 0xffff {
		return u128{}, 0, false // v4-mapped: parseNetwork makes it IPv4
	}
	return a, bitsN, true
}

// hexDigit returns the value of hexadecimal digit c, or 255.
func hexDigit(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 255
}
