package loadgen

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/popmap"
)

// DefaultQName is the steered name the bench world serves.
const DefaultQName = "www.example.net."

// ednsUDPSize is the EDNS0 payload size the generated queries advertise
// (the DNS flag day 2020 value).
const ednsUDPSize = 1232

// BuildQuery returns the wire form of a query for qname/qtype with DNS ID id,
// no RD bit, and an EDNS0 OPT record carrying one ECS option (RFC 7871)
// whose source is ecs. Family and address length follow ecs: family 1 and
// ceil(bits/8) address bytes for IPv4, family 2 for IPv6. ecs must be a
// masked prefix (host bits clear).
func BuildQuery(id uint16, qname string, qtype uint16, ecs netip.Prefix) ([]byte, error) {
	if !ecs.IsValid() || ecs.Masked() != ecs {
		return nil, fmt.Errorf("building query: ECS source %v is not a masked prefix", ecs)
	}
	m := new(dns.Msg)
	m.Id = id
	m.RecursionDesired = false
	m.Question = []dns.Question{{Name: dns.Fqdn(qname), Qtype: qtype, Qclass: dns.ClassINET}}
	o := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT}}
	o.SetUDPSize(ednsUDPSize)
	e := &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, SourceNetmask: uint8(ecs.Bits())}
	if ecs.Addr().Is4() {
		e.Family = 1
		e.Address = ecs.Addr().AsSlice()
	} else {
		e.Family = 2
		e.Address = ecs.Addr().AsSlice()
	}
	o.Option = append(o.Option, e)
	m.Extra = append(m.Extra, o)
	b, err := m.Pack()
	if err != nil {
		return nil, fmt.Errorf("building query for %s %v: %w", qname, ecs, err)
	}
	return b, nil
}

// Pool is a precomputed set of wire queries, each with its own ECS source
// prefix. The generator patches the DNS ID (the first two bytes) in place
// before each send, so a Pool is owned by one generator at a time.
type Pool struct {
	data   []byte   // all queries back to back
	off    []uint32 // query i is data[off[i]:off[i+1]]
	prefix []netip.Prefix
	QName  string
	QType  uint16
}

// Len returns the number of queries.
func (p *Pool) Len() int { return len(p.prefix) }

// Query returns the wire form of query i (shared; the ID is whatever was
// last patched into it).
func (p *Pool) Query(i int) []byte { return p.data[p.off[i]:p.off[i+1]] }

// Prefix returns the ECS source prefix of query i.
func (p *Pool) Prefix(i int) netip.Prefix { return p.prefix[i] }

// NewPool builds one query per prefix (ID 0).
func NewPool(qname string, qtype uint16, prefixes []netip.Prefix) (*Pool, error) {
	p := &Pool{QName: dns.Fqdn(qname), QType: qtype, off: make([]uint32, 1, len(prefixes)+1)}
	p.prefix = make([]netip.Prefix, 0, len(prefixes))
	for _, pf := range prefixes {
		b, err := BuildQuery(0, qname, qtype, pf)
		if err != nil {
			return nil, err
		}
		p.data = append(p.data, b...)
		p.off = append(p.off, uint32(len(p.data)))
		p.prefix = append(p.prefix, pf)
	}
	if len(p.prefix) == 0 {
		return nil, errors.New("building query pool: no prefixes")
	}
	return p, nil
}

// ECSPrefixes draws n distinct IPv4 /24 ECS sources from the IPv4 networks
// of m, in a random order fixed by seed. A network shorter than /24 gives a
// random /24 inside it; a longer one gives its containing /24. When the map
// has fewer than n IPv4 networks, every one is used once (so fewer than n
// may be returned).
func ECSPrefixes(m *popmap.Map, n int, seed uint64) []netip.Prefix {
	r := rand.New(rand.NewPCG(seed, 0xd15))
	var nets []netip.Prefix
	for _, e := range m.Entries {
		for _, p := range e.Networks {
			if p.Addr().Is4() {
				nets = append(nets, p)
			}
		}
	}
	r.Shuffle(len(nets), func(i, j int) { nets[i], nets[j] = nets[j], nets[i] })
	seen := make(map[netip.Prefix]struct{}, min(n, len(nets)))
	out := make([]netip.Prefix, 0, min(n, len(nets)))
	for _, p := range nets {
		if len(out) == n {
			break
		}
		var q netip.Prefix
		if p.Bits() >= 24 {
			q, _ = p.Addr().Prefix(24)
		} else {
			b := p.Addr().As4()
			x := binary.BigEndian.Uint32(b[:])
			span := uint32(1) << (24 - p.Bits()) // /24s inside p
			x += (r.Uint32N(span)) << 8
			binary.BigEndian.PutUint32(b[:], x)
			q = netip.PrefixFrom(netip.AddrFrom4(b), 24)
		}
		if _, dup := seen[q]; dup {
			continue
		}
		seen[q] = struct{}{}
		out = append(out, q)
	}
	return out
}

// WriteDnsperf writes the pool in dnsperf's -B binary input format: each
// query as a 2-byte big-endian length followed by the wire message (the TCP
// stream framing of RFC 1035 §4.2.2). dnsperf 2.10 varies the ECS option per
// query only in this mode.
func (p *Pool) WriteDnsperf(w io.Writer) error {
	bw := bufio.NewWriter(w)
	var l [2]byte
	for i := range p.Len() {
		q := p.Query(i)
		q[0], q[1] = 0, 0
		binary.BigEndian.PutUint16(l[:], uint16(len(q)))
		if _, err := bw.Write(l[:]); err != nil {
			return err
		}
		if _, err := bw.Write(q); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// WriteDnsperfFile writes the pool to path in dnsperf -B format.
func (p *Pool) WriteDnsperfFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("writing dnsperf input: %w", err)
	}
	if err := p.WriteDnsperf(f); err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("writing dnsperf input %q: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing dnsperf input %q: %w", path, err)
	}
	return nil
}

// ReadDnsperf reads dnsperf -B input back into wire messages.
func ReadDnsperf(r io.Reader) ([][]byte, error) {
	br := bufio.NewReader(r)
	var out [][]byte
	var l [2]byte
	for {
		if _, err := io.ReadFull(br, l[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return out, fmt.Errorf("reading dnsperf input record %d length: %w", len(out), err)
		}
		b := make([]byte, binary.BigEndian.Uint16(l[:]))
		if _, err := io.ReadFull(br, b); err != nil {
			return out, fmt.Errorf("reading dnsperf input record %d: %w", len(out), err)
		}
		out = append(out, b)
	}
}

// QueryECS returns the ECS source prefix carried by a wire query or
// response, and false when it carries none.
func QueryECS(m *dns.Msg) (netip.Prefix, uint8, bool) {
	o := m.IsEdns0()
	if o == nil {
		return netip.Prefix{}, 0, false
	}
	for _, opt := range o.Option {
		e, ok := opt.(*dns.EDNS0_SUBNET)
		if !ok {
			continue
		}
		a, ok := netip.AddrFromSlice(e.Address)
		if !ok {
			return netip.Prefix{}, 0, false
		}
		if e.Family == 1 {
			a = a.Unmap()
		}
		return netip.PrefixFrom(a, int(e.SourceNetmask)), e.SourceScope, true
	}
	return netip.Prefix{}, 0, false
}
