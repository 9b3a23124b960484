package loadgen

import (
	"fmt"
	"net/netip"
	"slices"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// Checker knows the answer a correct server gives for a query: the IPv4
// addresses of the first ranked PoP that is up (drained and down PoPs are
// skipped, as the server does) for the ECS source's map entry, or the
// record's default addresses when the map has no entry, and the ECS scope
// popmap.Table.LookupPrefix computes.
type Checker struct {
	QName   string
	table   *popmap.Table
	pops    map[popmap.Label]config.PoP
	def     []netip.Addr
	MapPath string
}

// NewChecker loads the steer config at cfgPath and the map at mapPath ("" =
// the ecs_map of the config's record for qname) and compiles the map.
func NewChecker(cfgPath, mapPath, qname string) (*Checker, error) {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return nil, err
	}
	qname = dns.CanonicalName(qname)
	var rec *config.Record
	for zi := range cfg.Zones {
		for ri := range cfg.Zones[zi].Records {
			if r := &cfg.Zones[zi].Records[ri]; r.Name == qname {
				rec = r
			}
		}
	}
	if rec == nil || !rec.Steered() {
		return nil, fmt.Errorf("config %s: no steered record %s", cfgPath, qname)
	}
	if mapPath == "" {
		mapPath = rec.ECSMap
	}
	_, tb, err := popmap.Load(mapPath)
	if err != nil {
		return nil, err
	}
	c := &Checker{QName: qname, table: tb, pops: map[popmap.Label]config.PoP{}, def: rec.Default.IPv4, MapPath: mapPath}
	for _, p := range cfg.PoPs {
		c.pops[p.Label] = p
	}
	return c, nil
}

// WithMap returns a checker for the same config and another map.
func (c *Checker) WithMap(mapPath string) (*Checker, error) {
	_, tb, err := popmap.Load(mapPath)
	if err != nil {
		return nil, err
	}
	d := *c
	d.table, d.MapPath = tb, mapPath
	return &d, nil
}

// Table returns the compiled map.
func (c *Checker) Table() *popmap.Table { return c.table }

// Expect returns the A addresses and the ECS scope a correct server answers
// for ECS source p.
func (c *Checker) Expect(p netip.Prefix) ([]netip.Addr, int) {
	labels, scope := c.table.LookupPrefix(p)
	for _, l := range labels {
		if pop, ok := c.pops[l]; ok && (pop.State == "" || pop.State == config.StateUp) {
			return pop.IPv4, scope
		}
	}
	if len(labels) > 0 { // every ranked PoP drained or down: the first still answers
		if pop, ok := c.pops[labels[0]]; ok {
			return pop.IPv4, scope
		}
	}
	return c.def, scope
}

// Verdict is the outcome of checking one response.
type Verdict int

// Verdicts.
const (
	OK          Verdict = iota
	WrongAnswer         // A addresses differ from the expected PoP's
	WrongScope          // ECS option missing, not echoing the source, or wrong scope
	Malformed           // unparseable, wrong question or rcode
)

// Check parses a response to a query for ECS source p and compares it with
// Expect(p).
func (c *Checker) Check(resp []byte, p netip.Prefix) (Verdict, string) {
	m := new(dns.Msg)
	if err := m.Unpack(resp); err != nil {
		return Malformed, err.Error()
	}
	return c.CheckMsg(m, p)
}

// CheckMsg is Check on a parsed message.
func (c *Checker) CheckMsg(m *dns.Msg, p netip.Prefix) (Verdict, string) {
	if !m.Response || m.Rcode != dns.RcodeSuccess || len(m.Question) != 1 || dns.CanonicalName(m.Question[0].Name) != c.QName {
		return Malformed, fmt.Sprintf("rcode %s, question %v", dns.RcodeToString[m.Rcode], m.Question)
	}
	want, wantScope := c.Expect(p)
	got := AnswerAddrs(m)
	if !sameAddrs(got, want) {
		return WrongAnswer, fmt.Sprintf("ECS %v: A %v, want %v", p, got, want)
	}
	src, scope, ok := QueryECS(m)
	if !ok || src != p || int(scope) != wantScope {
		return WrongScope, fmt.Sprintf("ECS %v: got option %v (present %v) scope %d, want scope %d", p, src, ok, scope, wantScope)
	}
	return OK, ""
}

// AnswerAddrs returns the A records of the answer section.
func AnswerAddrs(m *dns.Msg) []netip.Addr {
	var out []netip.Addr
	for _, rr := range m.Answer {
		if a, ok := rr.(*dns.A); ok {
			if x, ok := netip.AddrFromSlice(a.A.To4()); ok {
				out = append(out, x)
			}
		}
	}
	return out
}

func sameAddrs(a, b []netip.Addr) bool {
	if len(a) != len(b) {
		return false
	}
	a, b = slices.Clone(a), slices.Clone(b)
	slices.SortFunc(a, netip.Addr.Compare)
	slices.SortFunc(b, netip.Addr.Compare)
	return slices.Equal(a, b)
}
