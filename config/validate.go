package config

import (
	"fmt"
	"math"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/steer-gslb/steer/popmap"
)

// Limits checked by Validate.
const (
	maxLabelLen   = 32
	maxUDPSockets = 1024
	maxNSIDLen    = 512
	maxDebounce   = time.Minute
	maxTXTLen     = 255 // one DNS character-string

	minCheckInterval = 100 * time.Millisecond
	maxCheckInterval = time.Hour
	maxCheckCount    = 100 // rise and fall
)

// ReservedLabel may not name a PoP: beacons use it as the target of the
// anycast probe.
const ReservedLabel popmap.Label = "anycast"

// Validate checks c and returns every problem found, each naming c.File and
// the key path. It does not touch the file system. Parse calls it; call it
// again after building or changing a Config in Go.
func (c *Config) Validate() error {
	el := &errList{file: c.File}
	c.validateListen(el)
	c.validateServer(el)
	c.validateLimits(el)
	labels := c.validatePoPs(el)
	c.validateZones(el, labels)
	return el.err()
}

func (c *Config) validateListen(el *errList) {
	// A server with only the steering API (the control server's, package
	// controlapi) has no DNS listener.
	if len(c.Listen.DNS) == 0 && !c.Listen.API.IsValid() {
		el.add("listen.dns", "at least one address required (or listen.api alone, for a steering-API-only server)")
	}
	seen := map[netip.AddrPort]int{}
	for i, ap := range c.Listen.DNS {
		p := fmt.Sprintf("listen.dns[%d]", i)
		if !ap.IsValid() {
			el.add(p, "invalid address %v", ap)
			continue
		}
		if j, dup := seen[ap]; dup && ap.Port() != 0 {
			el.add(p, "duplicate of listen.dns[%d] (%v)", j, ap)
		}
		seen[ap] = i
	}
	if a := c.Listen.Admin; a.IsValid() && a.Port() != 0 {
		if j, dup := seen[a]; dup {
			el.add("listen.admin", "same address as listen.dns[%d] (%v)", j, a)
		}
	}
	if a := c.Listen.API; a.IsValid() && a.Port() != 0 {
		if j, dup := seen[a]; dup {
			el.add("listen.api", "same address as listen.dns[%d] (%v)", j, a)
		}
		if a == c.Listen.Admin {
			el.add("listen.api", "same address as listen.admin (%v)", a)
		}
	}
	if n := c.Listen.UDPSockets; n < 0 || n > maxUDPSockets {
		el.add("listen.udp_sockets", "must be in 0..%d, got %d", maxUDPSockets, n)
	}
}

func (c *Config) validateServer(el *errList) {
	s := &c.Server
	if len(s.NSID) > maxNSIDLen {
		el.add("server.nsid", "longer than %d bytes", maxNSIDLen)
	}
	if s.CookieSecret != nil && len(s.CookieSecret) != 16 {
		el.add("server.cookie_secret", "must be 16 bytes, got %d", len(s.CookieSecret))
	}
	if s.MaxUDPSize < 512 || s.MaxUDPSize > 4096 {
		el.add("server.max_udp_size", "must be in 512..4096, got %d", s.MaxUDPSize)
	}
	if s.TCPIdleTimeout <= 0 {
		el.add("server.tcp_idle_timeout", "must be > 0, got %v", s.TCPIdleTimeout)
	}
	if d := c.Reload.Debounce; d < 0 || d > maxDebounce {
		el.add("reload.debounce", "must be in 0..%v, got %v", maxDebounce, d)
	}
}

// validatePoPs checks the PoPs and returns the set of labels.
func (c *Config) validatePoPs(el *errList) map[popmap.Label]bool {
	labels := map[popmap.Label]bool{}
	first := map[popmap.Label]int{}
	for i := range c.PoPs {
		p := &c.PoPs[i]
		path := fmt.Sprintf("pops[%d]", i)
		if err := CheckLabel(p.Label); err != nil {
			el.add(path+".label", "%v", err)
		} else if j, dup := first[p.Label]; dup {
			el.add(path+".label", "duplicate label %q (also pops[%d])", p.Label, j)
		} else {
			first[p.Label] = i
			labels[p.Label] = true
		}
		if math.IsNaN(p.Lat) || p.Lat < -90 || p.Lat > 90 {
			el.add(path+".lat", "must be in -90..90, got %v", p.Lat)
		}
		if math.IsNaN(p.Lon) || p.Lon < -180 || p.Lon > 180 {
			el.add(path+".lon", "must be in -180..180, got %v", p.Lon)
		}
		if len(p.IPv4)+len(p.IPv6) == 0 {
			el.add(path, "at least one of ipv4, ipv6 required")
		}
		checkAddrs(el, path+".ipv4", p.IPv4, 4)
		checkAddrs(el, path+".ipv6", p.IPv6, 6)
		if !(p.Capacity > 0) || math.IsInf(p.Capacity, 0) {
			el.add(path+".capacity", "must be > 0, got %v", p.Capacity)
		}
		switch p.State {
		case StateUp, StateDrain, StateDown, StateAnycast:
		default:
			el.add(path+".state", "must be up, drain, down or anycast, got %q", p.State)
		}
		if p.Check != nil {
			validateCheck(el, path+".check", p.Check)
		}
	}
	return labels
}

func validateCheck(el *errList, path string, ck *Check) {
	switch ck.Type {
	case CheckHTTP, CheckHTTPS:
		validateHTTPCheck(el, path, ck)
	case CheckTCP:
		validateTCPCheck(el, path, ck)
	case "":
		el.add(path+".type", "required (http, https or tcp)")
	default:
		el.add(path+".type", "must be http, https or tcp, got %q", ck.Type)
	}
	if ck.Interval < minCheckInterval || ck.Interval > maxCheckInterval {
		el.add(path+".interval", "must be in %v..%v, got %v", minCheckInterval, maxCheckInterval, ck.Interval)
	}
	if ck.Timeout <= 0 || ck.Timeout >= ck.Interval {
		el.add(path+".timeout", "must be > 0 and < interval (%v), got %v", ck.Interval, ck.Timeout)
	}
	if ck.Rise < 1 || ck.Rise > maxCheckCount {
		el.add(path+".rise", "must be in 1..%d, got %d", maxCheckCount, ck.Rise)
	}
	if ck.Fall < 1 || ck.Fall > maxCheckCount {
		el.add(path+".fall", "must be in 1..%d, got %d", maxCheckCount, ck.Fall)
	}
}

func validateHTTPCheck(el *errList, path string, ck *Check) {
	if ck.URL == "" {
		el.add(path+".url", "required for type %s", ck.Type)
	} else if u, err := url.Parse(ck.URL); err != nil {
		el.add(path+".url", "invalid URL %q", ck.URL)
	} else if u.Scheme != ck.Type {
		el.add(path+".url", "scheme must be %s for type %s, got %q", ck.Type, ck.Type, ck.URL)
	} else if u.Host == "" {
		el.add(path+".url", "no host in URL %q", ck.URL)
	}
	if ck.Addr != (netip.AddrPort{}) {
		el.add(path+".addr", "not used by type %s (the URL names the server)", ck.Type)
	}
	if ck.Status < 100 || ck.Status > 599 {
		el.add(path+".status", "must be in 100..599, got %d", ck.Status)
	}
	if len(ck.Body) > MaxCheckBody {
		el.add(path+".body", "longer than the %d bytes a check reads", MaxCheckBody)
	}
	if ck.Insecure && ck.Type != CheckHTTPS {
		el.add(path+".insecure", "only for type https")
	}
	if ck.Host != "" && strings.ContainsFunc(ck.Host, func(r rune) bool { return r <= ' ' || r == 0x7f || r == '/' }) {
		el.add(path+".host", "invalid host %q", ck.Host)
	}
}

func validateTCPCheck(el *errList, path string, ck *Check) {
	a := ck.Addr.Addr()
	switch {
	case !ck.Addr.IsValid():
		el.add(path+".addr", "required for type tcp")
	case ck.Addr.Port() == 0:
		el.add(path+".addr", "%v: port 0", ck.Addr)
	case a.IsUnspecified() || a.IsMulticast():
		el.add(path+".addr", "%v is not a unicast address", ck.Addr)
	}
	for _, k := range []struct {
		key string
		set bool
	}{
		{"url", ck.URL != ""},
		{"host", ck.Host != ""},
		{"status", ck.Status != 0},
		{"body", ck.Body != ""},
		{"insecure", ck.Insecure},
	} {
		if k.set {
			el.add(path+"."+k.key, "not used by type tcp")
		}
	}
}

// CheckLabel reports whether l is a valid PoP label: 1..32 of [a-z0-9-],
// and not the reserved "anycast".
func CheckLabel(l popmap.Label) error {
	if l == "" {
		return fmt.Errorf("required")
	}
	if len(l) > maxLabelLen {
		return fmt.Errorf("label %q longer than %d characters", l, maxLabelLen)
	}
	for i := 0; i < len(l); i++ {
		ch := l[i]
		switch {
		case ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '-':
		case ch >= 'A' && ch <= 'Z':
			return fmt.Errorf("label %q must be lowercase", l)
		default:
			return fmt.Errorf("label %q: want 1..%d of [a-z0-9-]", l, maxLabelLen)
		}
	}
	if l == ReservedLabel {
		return fmt.Errorf("label %q is reserved for the anycast probe target", l)
	}
	return nil
}

// checkAddrs checks that every address is a usable unicast address of the
// given family, and that none repeats.
func checkAddrs(el *errList, path string, as []netip.Addr, family int) {
	seen := map[netip.Addr]bool{}
	for i, a := range as {
		p := fmt.Sprintf("%s[%d]", path, i)
		switch {
		case !a.IsValid():
			el.add(p, "invalid address")
			continue
		case family == 4 && !a.Is4():
			el.add(p, "%v is not an IPv4 address", a)
		case family == 6 && a.Is4In6():
			el.add(p, "%v is IPv4-mapped; list it as IPv4", a)
		case family == 6 && !a.Is6():
			el.add(p, "%v is not an IPv6 address", a)
		case a.Zone() != "":
			el.add(p, "%v: zoned address not allowed", a)
		case a.IsUnspecified() || a.IsMulticast():
			el.add(p, "%v is not a unicast address", a)
		}
		if seen[a] {
			el.add(p, "duplicate address %v", a)
		}
		seen[a] = true
	}
}

func (c *Config) validateZones(el *errList, labels map[popmap.Label]bool) {
	if len(c.Zones) == 0 {
		el.add("zones", "at least one zone required")
	}
	zones := map[string]int{}
	for i := range c.Zones {
		z := &c.Zones[i]
		if z.Name == "" {
			continue // reported by convert or below
		}
		if j, dup := zones[z.Name]; dup {
			el.add(fmt.Sprintf("zones[%d].name", i), "duplicate zone %q (also zones[%d])", z.Name, j)
			continue
		}
		zones[z.Name] = i
	}
	for i := range c.Zones {
		c.validateZone(el, fmt.Sprintf("zones[%d]", i), &c.Zones[i], zones, labels)
	}
	c.validateCNAMEChains(el)
}

func checkName(el *errList, path, name string) bool {
	if name == "" {
		el.add(path, "required")
		return false
	}
	n, err := canonicalName(name)
	if err != nil {
		el.add(path, "%v", err)
		return false
	}
	if n != name {
		el.add(path, "name %q is not canonical (want %q)", name, n)
		return false
	}
	return true
}

// deeperZone returns the most specific configured zone other than origin
// that contains name, or "".
func deeperZone(name, origin string, zones map[string]int) string {
	best := ""
	for z := range zones {
		if z != origin && len(z) > len(origin) && inZone(z, origin) && inZone(name, z) && len(z) > len(best) {
			best = z
		}
	}
	return best
}

func (c *Config) validateZone(el *errList, path string, z *Zone, zones map[string]int, labels map[popmap.Label]bool) {
	if !checkName(el, path+".name", z.Name) {
		return
	}
	if z.TTL > MaxTTL {
		el.add(path+".ttl", "must be ≤ %d", MaxTTL)
	}
	if len(z.NS) == 0 {
		el.add(path+".ns", "at least one name server required")
	}
	nsSeen := map[string]int{}
	for i := range z.NS {
		ns := &z.NS[i]
		p := fmt.Sprintf("%s.ns[%d]", path, i)
		if !checkName(el, p+".name", ns.Name) {
			continue
		}
		if j, dup := nsSeen[ns.Name]; dup {
			el.add(p+".name", "duplicate name server %q (also ns[%d])", ns.Name, j)
		}
		nsSeen[ns.Name] = i
		glue := len(ns.IPv4) + len(ns.IPv6)
		if inZone(ns.Name, z.Name) && glue == 0 {
			el.add(p, "in-zone name server %q needs at least one glue address (ipv4/ipv6)", ns.Name)
		}
		if !inZone(ns.Name, z.Name) && glue > 0 {
			el.add(p, "glue given for out-of-zone name server %q", ns.Name)
		}
		checkAddrs(el, p+".ipv4", ns.IPv4, 4)
		checkAddrs(el, p+".ipv6", ns.IPv6, 6)
	}
	checkName(el, path+".soa.mname", z.SOA.MName)
	checkName(el, path+".soa.rname", z.SOA.RName)
	if z.SOA.Refresh == 0 {
		el.add(path+".soa.refresh", "must be > 0")
	}
	if z.SOA.Retry == 0 {
		el.add(path+".soa.retry", "must be > 0")
	}
	if z.SOA.Expire == 0 {
		el.add(path+".soa.expire", "must be > 0")
	}
	if z.SOA.Minimum > MaxTTL {
		el.add(path+".soa.minimum", "must be ≤ %d", MaxTTL)
	}

	names := map[string]int{}
	rum := -1
	for i := range z.Records {
		r := &z.Records[i]
		p := fmt.Sprintf("%s.records[%d]", path, i)
		if checkName(el, p+".name", r.Name) {
			switch {
			case !inZone(r.Name, z.Name):
				el.add(p+".name", "%q is outside zone %q", r.Name, z.Name)
			case deeperZone(r.Name, z.Name, zones) != "":
				el.add(p+".name", "%q belongs to the configured zone %q", r.Name, deeperZone(r.Name, z.Name, zones))
			}
			if j, dup := names[r.Name]; dup {
				if r.IsCNAME() || z.Records[j].IsCNAME() {
					el.add(p+".name", "duplicate record %q (also records[%d]): a CNAME cannot share its name with other data (RFC 1034 §3.6.2)", r.Name, j)
				} else {
					el.add(p+".name", "duplicate record %q (also records[%d])", r.Name, j)
				}
			}
			names[r.Name] = i
			if r.IsCNAME() {
				cp := cnamePath(p, r)
				if r.Name == z.Name {
					el.add(cp, "the zone apex cannot be a CNAME (it holds the zone's SOA and NS records)")
				}
				if j, ok := nsSeen[r.Name]; ok {
					el.add(cp, "%q is the name server ns[%d] of the zone, which cannot be a CNAME (RFC 2181 §10.3)", r.Name, j)
				}
			}
		}
		if r.RUM {
			switch {
			case rum >= 0:
				el.add(p+".rum", "more than one rum record in zone (also records[%d])", rum)
			case r.Name == z.Name:
				el.add(p+".rum", "the zone apex cannot be the rum record")
			default:
				rum = i
			}
			if c.QueryLog == "" {
				el.add(p+".rum", "rum record requires query_log")
			}
		}
		c.validateRecord(el, p, r, labels)
	}
	if rum >= 0 {
		rn := z.Records[rum].Name
		for i := range z.Records {
			if n := z.Records[i].Name; i != rum && n != rn && inZone(n, rn) {
				el.add(fmt.Sprintf("%s.records[%d].name", path, i), "%q is below the rum record %q, which answers every name below it", n, rn)
			}
		}
	}
}

func (c *Config) validateRecord(el *errList, p string, r *Record, labels map[popmap.Label]bool) {
	if r.TTL > MaxTTL {
		el.add(p+".ttl", "must be ≤ %d", MaxTTL)
	}
	if r.Static != nil {
		if len(r.Steering) > 0 || r.ECSMap != "" || r.ResolverMap != "" || len(r.Default.IPv4)+len(r.Default.IPv6) > 0 ||
			r.DefaultCNAME != "" || r.CNAMETemplate != "" {
			el.add(p+".static", "a static record takes no steering, ecs_map, resolver_map, default or cname_template")
		}
		s := r.Static
		switch {
		case s.CNAME != "":
			if len(s.IPv4)+len(s.IPv6)+len(s.TXT) > 0 {
				el.add(p+".static.cname", "a CNAME cannot sit next to other data (ipv4, ipv6, txt) at the same name (RFC 1034 §3.6.2)")
			}
			checkTarget(el, p+".static.cname", s.CNAME, r.Name)
		case len(s.IPv4)+len(s.IPv6)+len(s.TXT) == 0:
			el.add(p+".static", "at least one of ipv4, ipv6, txt, cname required")
		}
		checkAddrs(el, p+".static.ipv4", s.IPv4, 4)
		checkAddrs(el, p+".static.ipv6", s.IPv6, 6)
		for i, t := range s.TXT {
			if len(t) > maxTXTLen {
				el.add(fmt.Sprintf("%s.static.txt[%d]", p, i), "longer than %d bytes", maxTXTLen)
			}
		}
		return
	}

	if len(r.Steering) == 0 {
		el.add(p+".steering", "must not be empty (or give static)")
	}
	seen := map[Step]int{}
	for i, s := range r.Steering {
		sp := fmt.Sprintf("%s.steering[%d]", p, i)
		switch s {
		case StepECS, StepResolver, StepGeo, StepDefault:
		default:
			el.add(sp, "unknown steering step %q (want ecs, resolver, geo or default)", s)
			continue
		}
		if j, dup := seen[s]; dup {
			el.add(sp, "duplicate steering step %q (also steering[%d])", s, j)
		}
		seen[s] = i
	}
	_, ecs := seen[StepECS]
	_, res := seen[StepResolver]
	_, geo := seen[StepGeo]
	_, def := seen[StepDefault]
	switch {
	case ecs && r.ECSMap == "":
		el.add(p+".ecs_map", "required when steering has ecs")
	case !ecs && r.ECSMap != "":
		el.add(p+".ecs_map", "set but steering has no ecs")
	}
	switch {
	case res && r.ResolverMap == "":
		el.add(p+".resolver_map", "required when steering has resolver")
	case !res && r.ResolverMap != "":
		el.add(p+".resolver_map", "set but steering has no resolver")
	}
	if geo && c.GeoIP == "" {
		el.add(p+".steering", "geo requires geoip")
	}
	nd := len(r.Default.IPv4) + len(r.Default.IPv6)
	switch {
	case r.CNAMETemplate != "":
		c.validateTemplate(el, p, r)
		switch {
		case nd > 0:
			el.add(p+".default", "a record with cname_template answers names: give default.cname, not addresses")
		case def && r.DefaultCNAME == "":
			el.add(p+".default.cname", "required when steering has default (the record answers CNAMEs)")
		case !def && r.DefaultCNAME != "":
			el.add(p+".default.cname", "set but steering has no default")
		case r.DefaultCNAME != "":
			checkTarget(el, p+".default.cname", r.DefaultCNAME, r.Name)
		}
	case r.DefaultCNAME != "":
		el.add(p+".default.cname", "only for a record with cname_template (the default of an address record is ipv4/ipv6)")
	case def && nd == 0:
		el.add(p+".default", "at least one address required when steering has default")
	case !def && nd > 0:
		el.add(p+".default", "set but steering has no default")
	}
	checkAddrs(el, p+".default.ipv4", r.Default.IPv4, 4)
	checkAddrs(el, p+".default.ipv6", r.Default.IPv6, 6)
	if (ecs || res || geo) && len(labels) == 0 {
		el.add(p+".steering", "steering to PoPs needs at least one entry in pops")
	}
}

// String returns the state's name.
func (s State) String() string { return string(s) }

// String returns the step's name.
func (s Step) String() string { return string(s) }

// cnamePath is the key path of what makes r a CNAME record.
func cnamePath(p string, r *Record) string {
	if r.Static != nil {
		return p + ".static.cname"
	}
	return p + ".cname_template"
}

// checkTarget checks a CNAME target: a canonical absolute name other than
// the owner's.
func checkTarget(el *errList, path, target, owner string) {
	if !checkName(el, path, target) {
		return
	}
	if target == owner {
		el.add(path, "a CNAME cannot point at its own name %q", owner)
	}
}

// validateTemplate checks a record's cname_template on the names it gives
// for the configured PoPs (for a placeholder label when there are none),
// reporting the first bad one.
func (c *Config) validateTemplate(el *errList, p string, r *Record) {
	path := p + ".cname_template"
	t := r.CNAMETemplate
	if !strings.Contains(t, PoPPlaceholder) {
		el.add(path, "%q has no %s: each PoP's label takes its place (a name for every PoP alike is a static cname)", t, PoPPlaceholder)
		return
	}
	if strings.ContainsAny(strings.ReplaceAll(t, PoPPlaceholder, ""), "{}") {
		el.add(path, "%q: the only placeholder is %s", t, PoPPlaceholder)
		return
	}
	labels := c.Labels()
	if len(labels) == 0 {
		labels = []popmap.Label{"pop"}
	}
	for _, l := range labels {
		if CheckLabel(l) != nil {
			continue // reported under pops
		}
		n := r.CNAMEFor(l)
		cn, err := canonicalName(n)
		switch {
		case err != nil:
			el.add(path, "%q for PoP %q: %v", t, l, err)
		case cn != n:
			el.add(path, "%q gives %q for PoP %q, which is not canonical (want %q)", t, n, l, cn)
		case n == r.Name:
			el.add(path, "%q gives the record's own name %q for PoP %q", t, n, l)
		default:
			continue
		}
		return
	}
}

// cnameTargets returns every name record r may answer as its CNAME target,
// with the PoP it is for ("" for a static or default target).
func (c *Config) cnameTargets(r *Record) (targets []string, pops []popmap.Label) {
	switch {
	case r.Static != nil && r.Static.CNAME != "":
		return []string{r.Static.CNAME}, []popmap.Label{""}
	case r.CNAMETemplate != "":
		for _, l := range c.Labels() {
			targets, pops = append(targets, r.CNAMEFor(l)), append(pops, l)
		}
		if r.DefaultCNAME != "" {
			targets, pops = append(targets, r.DefaultCNAME), append(pops, "")
		}
	}
	return targets, pops
}

// validateCNAMEChains checks what CNAME targets inside the configured
// zones lead to: each must name something of the zone (a record, a name
// server's name, the apex, a name with records below it, or a name below
// the RUM record), not NXDOMAIN, and no chain of CNAMEs may loop.
func (c *Config) validateCNAMEChains(el *errList) {
	type at struct{ zone, rec int }
	cnames := map[string]at{} // owner → CNAME record
	exists := map[string]bool{}
	var rum []string
	add := func(name, apex string) {
		for n := name; n != "" && !exists[n]; {
			exists[n] = true
			if n == apex {
				break
			}
			_, parent, ok := strings.Cut(n, ".")
			if !ok || !inZone(parent, apex) {
				break
			}
			n = parent
		}
	}
	found := false
	for zi := range c.Zones {
		z := &c.Zones[zi]
		if z.Name == "" {
			continue
		}
		exists[z.Name] = true
		for _, ns := range z.NS {
			if inZone(ns.Name, z.Name) {
				add(ns.Name, z.Name)
			}
		}
		for ri := range z.Records {
			r := &z.Records[ri]
			if r.Name == "" || !inZone(r.Name, z.Name) {
				continue
			}
			add(r.Name, z.Name)
			if r.RUM {
				rum = append(rum, r.Name)
			}
			if r.IsCNAME() {
				found = true
				if _, dup := cnames[r.Name]; !dup {
					cnames[r.Name] = at{zi, ri}
				}
			}
		}
	}
	if !found {
		return
	}
	ourZone := func(name string) string {
		best := ""
		for i := range c.Zones {
			if zn := c.Zones[i].Name; zn != "" && inZone(name, zn) && len(zn) > len(best) {
				best = zn
			}
		}
		return best
	}
	known := func(name string) bool {
		if exists[name] {
			return true
		}
		for _, r := range rum {
			if inZone(name, r) {
				return true
			}
		}
		return false
	}
	path := func(a at) string {
		return cnamePath(fmt.Sprintf("zones[%d].records[%d]", a.zone, a.rec), &c.Zones[a.zone].Records[a.rec])
	}
	for zi := range c.Zones {
		for ri := range c.Zones[zi].Records {
			r := &c.Zones[zi].Records[ri]
			targets, pops := c.cnameTargets(r)
			for i, t := range targets {
				zn := ourZone(t)
				if t == "" || zn == "" || known(t) {
					continue
				}
				what := ""
				if pops[i] != "" {
					what = fmt.Sprintf(" (PoP %q)", pops[i])
				}
				el.add(path(at{zi, ri}), "target %q%s does not exist in zone %q (the answer would be NXDOMAIN)", t, what, zn)
				break
			}
		}
	}

	// Loops: a depth-first walk over owner → targets, in config order.
	const (
		unseen = iota
		onPath
		done
	)
	state := map[string]int{}
	var stack []string
	var walk func(name string)
	walk = func(name string) {
		a, ok := cnames[name]
		if !ok || state[name] == done {
			return
		}
		state[name] = onPath
		stack = append(stack, name)
		targets, _ := c.cnameTargets(&c.Zones[a.zone].Records[a.rec])
		reported := false
		for _, t := range targets {
			switch state[t] {
			case onPath:
				if !reported && t != name { // a CNAME to itself is reported by checkTarget
					i := slices.Index(stack, t)
					loop := append(slices.Clone(stack[i:]), t)
					el.add(path(cnames[t]), "CNAME loop: %s", strings.Join(loop, " → "))
					reported = true
				}
			case unseen:
				walk(t)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
	}
	for zi := range c.Zones {
		for ri := range c.Zones[zi].Records {
			if r := &c.Zones[zi].Records[ri]; r.IsCNAME() {
				walk(r.Name)
			}
		}
	}
}
