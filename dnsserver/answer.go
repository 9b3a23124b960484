package dnsserver

import (
	"encoding/binary"
	"net/netip"
	"slices"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
)

// responder answers queries. Each UDP socket goroutine and each TCP
// connection owns one; it is not safe for concurrent use.
type responder struct {
	srv   *Server
	q     query
	stats *workerStats
}

// answer serves one query and returns the response appended to out[:0], or
// nil when the message is to be dropped (no header, or a response).
//
// Most queries are A/AAAA for a steered name with at most an ECS option;
// they are answered by writing the response directly (fastAnswer), which
// allocates nothing. Everything else — SOA, NS, negative answers, cookies,
// NSID, RUM names (logged), errors, truncation — goes through miekg/dns
// (slowAnswer). Both give identical answers; a test compares them.
func (r *responder) answer(snap *snapshot, req []byte, src netip.AddrPort, tcp bool, out []byte) []byte {
	q := &r.q
	if err := parseQuery(q, req); err != nil {
		r.stats.dropped.Add(1)
		return nil
	}
	if q.hasECS {
		r.stats.ecs.Add(1)
	}
	if q.err == nil && q.opcode == 0 && q.qdcount == 1 && q.qclass == classIN &&
		(q.qtype == typeA || q.qtype == typeAAAA) && q.cookie == nil && !q.nsid && q.version == 0 {
		if resp := r.fastAnswer(snap, src, tcp, out); resp != nil {
			return resp
		}
	}
	return r.slowAnswer(snap, src, tcp, out)
}

// limit is the largest response the client accepts.
func (r *responder) limit(snap *snapshot, tcp bool) int {
	q := &r.q
	switch {
	case tcp:
		return dns.MaxMsgSize
	case !q.opt:
		return dns.MinMsgSize
	}
	return max(dns.MinMsgSize, min(int(q.udpSize), int(snap.cfg.Server.MaxUDPSize)))
}

func family(qtype uint16) steering.Family {
	if qtype == typeAAAA {
		return steering.FamilyV6
	}
	return steering.FamilyV4
}

func client(q *query, src netip.AddrPort) steering.Client {
	cl := steering.Client{Resolver: src.Addr().Unmap()}
	if q.hasECS {
		cl.ECS = q.ecs.Prefix
	}
	return cl
}

// ecsScope is the scope to put in the reply: none for source /0 (RFC 7871
// §7.1.2: no client information was used).
func ecsScope(q *query, scope int) int {
	if q.ecs.Source == 0 {
		return 0
	}
	return scope
}

func (r *responder) fastAnswer(snap *snapshot, src netip.AddrPort, tcp bool, out []byte) []byte {
	q := &r.q
	n := snap.names[string(q.lower())]
	if n == nil || n.rec == nil || n.rec.id < 0 || n.rec.cfg.RUM || n.rec.cname != nil {
		return nil
	}
	rec := n.rec
	fam := family(q.qtype)
	d, addrs := snap.decide(rec, fam, client(q, src))
	if addrs == nil {
		return nil // NODATA: slow path
	}
	alen := 4
	if fam == steering.FamilyV6 {
		alen = 16
	}
	size := q.qend + len(addrs)*(12+alen)
	if q.opt {
		size += 11
		if q.hasECS {
			size += 8 + (int(q.ecs.Source)+7)/8
		}
	}
	if size > r.limit(snap, tcp) {
		return nil
	}
	b := out[:0]
	// Header: QR, opcode 0, AA, RD and CD copied, RCODE 0.
	flags := uint16(0x8400) | q.flags&0x0110
	b = binary.BigEndian.AppendUint16(b, q.id)
	b = binary.BigEndian.AppendUint16(b, flags)
	b = append(b, 0, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(addrs)))
	b = append(b, 0, 0)
	if q.opt {
		b = append(b, 0, 1)
	} else {
		b = append(b, 0, 0)
	}
	b = append(b, q.qname...)
	b = binary.BigEndian.AppendUint16(b, q.qtype)
	b = binary.BigEndian.AppendUint16(b, q.qclass)
	for _, a := range addrs {
		b = append(b, 0xc0, 12) // pointer to the question name
		b = binary.BigEndian.AppendUint16(b, q.qtype)
		b = append(b, 0, classIN)
		b = binary.BigEndian.AppendUint32(b, rec.cfg.TTL)
		b = binary.BigEndian.AppendUint16(b, uint16(alen))
		b = append(b, a...)
	}
	if q.opt {
		b = r.appendOPT(snap, b, d.Scope)
	}
	r.stats.count(q.qtype, dns.RcodeSuccess, d.Source)
	return b
}

// appendOPT appends our OPT record, echoing ECS with scope when the query
// had it.
func (r *responder) appendOPT(snap *snapshot, b []byte, scope int) []byte {
	q := &r.q
	b = append(b, 0) // root
	b = binary.BigEndian.AppendUint16(b, typeOPT)
	b = binary.BigEndian.AppendUint16(b, snap.cfg.Server.MaxUDPSize)
	b = append(b, 0, 0) // extended rcode, version
	if q.do {
		b = append(b, 0x80, 0)
	} else {
		b = append(b, 0, 0)
	}
	if !q.hasECS {
		return append(b, 0, 0)
	}
	alen := (int(q.ecs.Source) + 7) / 8
	b = binary.BigEndian.AppendUint16(b, uint16(8+alen))
	b = append(b, 0, optECS)
	b = binary.BigEndian.AppendUint16(b, uint16(4+alen))
	b = binary.BigEndian.AppendUint16(b, q.ecs.Family)
	b = append(b, q.ecs.Source, byte(ecsScope(q, scope)))
	a := q.ecs.Prefix.Addr().AsSlice()
	return append(b, a[:alen]...)
}

// slowAnswer builds the response with miekg/dns.
func (r *responder) slowAnswer(snap *snapshot, src netip.AddrPort, tcp bool, out []byte) []byte {
	q := &r.q
	m := new(dns.Msg)
	m.Id = q.id
	m.Response = true
	m.Compress = true
	m.Opcode = q.opcode
	m.RecursionDesired = q.flags&0x0100 != 0
	m.CheckingDisabled = q.flags&0x0010 != 0
	if q.qdcount == 1 && q.qend > 0 {
		m.Question = []dns.Question{{Name: textName(q.qname), Qtype: q.qtype, Qclass: q.qclass}}
	}
	source := steering.SourceNone
	scope := 0
	switch {
	case q.err != nil:
		m.Rcode = dns.RcodeFormatError
		r.srv.debug("formerr", "reason", q.err)
	case q.opt && q.version > 0:
		m.Rcode = dns.RcodeBadVers
	case q.opcode != dns.OpcodeQuery:
		m.Rcode = dns.RcodeNotImplemented
	case q.qdcount == 0:
		// A cookie-only query (RFC 7873 §5.4) is answered with our cookie.
		if q.cookie == nil {
			m.Rcode = dns.RcodeFormatError
		}
	case q.qclass != classIN && q.qclass != classANY:
		m.Rcode = dns.RcodeRefused
	default:
		source, scope = r.resolve(snap, m, src)
	}
	if q.opt {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: snap.cfg.Server.MaxUDPSize}}
		if q.do {
			opt.SetDo()
		}
		if q.hasECS && q.err == nil {
			opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{
				Code: dns.EDNS0SUBNET, Family: q.ecs.Family, SourceNetmask: q.ecs.Source,
				SourceScope: uint8(ecsScope(q, scope)), Address: q.ecs.Prefix.Addr().AsSlice(),
			})
		}
		if q.nsid && snap.cfg.Server.NSID != "" {
			opt.Option = append(opt.Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID, Nsid: hexString(snap.cfg.Server.NSID)})
		}
		if q.cookie != nil && q.err == nil {
			c := make([]byte, 0, 24)
			if snap.cookie.valid(q.cookie, src.Addr()) {
				c = append(c, q.cookie...) // still fresh: echo it (RFC 9018 §4.3)
			} else {
				c = append(c, q.cookie[:8]...)
				c = snap.cookie.appendServerCookie(c, q.cookie[:8], src.Addr())
			}
			opt.Option = append(opt.Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: hexString(string(c))})
		}
		m.Extra = append(m.Extra, opt)
	}
	b, err := m.PackBuffer(out[:0])
	if err == nil && len(b) > r.limit(snap, tcp) {
		// Too big for UDP: TC with no records but the OPT, so the resolver
		// retries over TCP and never caches a partial RRset (RFC 2181 §9).
		m.Truncated = true
		m.Answer, m.Ns = nil, nil
		var keep []dns.RR
		for _, rr := range m.Extra {
			if rr.Header().Rrtype == dns.TypeOPT {
				keep = append(keep, rr)
			}
		}
		m.Extra = keep
		r.stats.truncated.Add(1)
		b, err = m.PackBuffer(out[:0])
	}
	if err != nil {
		r.srv.debug("pack failed", "err", err)
		m.Answer, m.Ns, m.Extra = nil, nil, nil
		m.Rcode = dns.RcodeServerFailure
		if b, err = m.PackBuffer(out[:0]); err != nil {
			return nil
		}
	}
	r.stats.count(q.qtype, m.Rcode, source)
	return b
}

// maxChain bounds the names one answer covers: the query name and the
// CNAME targets followed in our zones after it. A longer chain ends with
// its last CNAME, which the resolver follows itself.
const maxChain = 8

// resolve fills in an authoritative answer for a well-formed IN query.
//
// A CNAME is answered for every type (but ANY, which gets the CNAME alone,
// RFC 8482) and followed while its target is in one of our zones: the
// target's records of the asked type are appended, and its CNAME if it has
// one, up to maxChain names, ending at a loop, at the RUM record (whose
// queries are logged by their own name, so the resolver asks it itself)
// and at a target outside our zones. A target that does not exist ends it
// with NXDOMAIN, one without the type with NODATA, and the SOA of the
// target's zone (RFC 2308, RFC 6604). The ECS scope covers every decision
// taken: the longest of their scopes.
func (r *responder) resolve(snap *snapshot, m *dns.Msg, src netip.AddrPort) (steering.Source, int) {
	q := &r.q
	n, z := snap.find(q.lower())
	if z == nil {
		m.Rcode = dns.RcodeRefused // not our zone; we do not recurse
		return steering.SourceNone, 0
	}
	m.Authoritative = true
	switch {
	case q.qtype == typeAXFR || q.qtype == typeIXFR:
		m.Authoritative = false
		m.Rcode = dns.RcodeRefused
		return steering.SourceNone, 0
	case n == nil:
		m.Rcode = dns.RcodeNameError
		negative(m, z)
		return steering.SourceNone, 0
	}
	cl := client(q, src)
	owner, lname := m.Question[0].Name, q.lower()
	source, scope := steering.SourceNone, 0
	var seen [maxChain]*node
	for hop := 0; ; hop++ {
		seen[hop] = n
		before := len(m.Answer)
		t, ds, sc := r.answerNode(snap, m, n, z, owner, lname, cl)
		if source == steering.SourceNone {
			source = ds
		}
		scope = max(scope, sc)
		if t == nil {
			if len(m.Answer) == before {
				negative(m, z) // NODATA
			}
			break
		}
		if hop+1 == maxChain {
			break
		}
		tn, tz := snap.find(t.wire)
		if tz == nil {
			break // not ours: the resolver follows it
		}
		if tn == nil {
			m.Rcode = dns.RcodeNameError
			negative(m, tz)
			break
		}
		if (tn.rec != nil && tn.rec.cfg.RUM) || slices.Contains(seen[:hop+1], tn) {
			break
		}
		n, z, owner, lname = tn, tz, t.name, t.wire
	}
	return source, scope
}

// negative puts the zone's SOA, with the negative TTL, in authority.
func negative(m *dns.Msg, z *zone) {
	soa := dns.Copy(z.soa).(*dns.SOA)
	soa.Hdr.Ttl = z.negTTL
	m.Ns = append(m.Ns, soa)
}

// answerNode appends to m.Answer what node n of zone z (owner in
// presentation form, lname its lowercase wire form) holds of the queried
// type. For a CNAME it returns the target to follow, if any, and for a
// steered record the decision's source and scope.
func (r *responder) answerNode(snap *snapshot, m *dns.Msg, n *node, z *zone, owner string, lname []byte, cl steering.Client) (*target, steering.Source, int) {
	q := &r.q
	rec := n.rec
	if rec != nil && rec.cname != nil {
		return r.answerCNAME(snap, m, rec, owner, cl)
	}
	if q.qtype == typeANY {
		// RFC 8482: a minimal answer instead of everything.
		m.Answer = append(m.Answer, &dns.HINFO{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: 3600}, Cpu: "RFC8482"})
		return nil, steering.SourceNone, 0
	}
	isApex := string(lname) == z.apex
	if isApex && q.qtype == typeSOA {
		m.Answer = append(m.Answer, z.soa)
		return nil, steering.SourceNone, 0
	}
	if isApex && q.qtype == typeNS {
		m.Answer = append(m.Answer, z.ns...)
		m.Extra = append(m.Extra, z.extra...)
		return nil, steering.SourceNone, 0
	}
	source, scope := steering.SourceNone, 0
	switch {
	case rec != nil && rec.id >= 0 && (q.qtype == typeA || q.qtype == typeAAAA):
		fam := family(q.qtype)
		d, addrs := snap.decide(rec, fam, cl)
		source, scope = d.Source, d.Scope
		label := popmap.Label("")
		if d.PoP >= 0 {
			label = snap.cfg.PoPs[d.PoP].Label
		}
		for _, a := range addrs {
			m.Answer = append(m.Answer, addrRR(owner, q.qtype, rec.cfg.TTL, a))
		}
		if rec.cfg.RUM {
			r.srv.qlog.record(q, owner, cl, label, d.Source)
		}
	case rec != nil && rec.cfg.Static != nil:
		st := rec.cfg.Static
		ttl := rec.cfg.TTL
		switch q.qtype {
		case typeA:
			for _, a := range st.IPv4 {
				m.Answer = append(m.Answer, addrRR(owner, q.qtype, ttl, a.AsSlice()))
			}
		case typeAAAA:
			for _, a := range st.IPv6 {
				m.Answer = append(m.Answer, addrRR(owner, q.qtype, ttl, a.AsSlice()))
			}
		case typeTXT:
			for _, t := range st.TXT {
				m.Answer = append(m.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: ttl}, Txt: []string{t}})
			}
		}
	case n.glue != nil && (q.qtype == typeA || q.qtype == typeAAAA):
		var as []netip.Addr
		if q.qtype == typeA {
			as = n.glue.IPv4
		} else {
			as = n.glue.IPv6
		}
		for _, a := range as {
			m.Answer = append(m.Answer, addrRR(owner, q.qtype, z.cfg.TTL, a.AsSlice()))
		}
	}
	return nil, source, scope
}

// answerCNAME appends the CNAME of rec: its static target, or the target
// of the PoP its chain decides (the default's when the default step
// decides or the PoP is in anycast state; none, NODATA, when nothing
// does). The decision is taken once for every query type (FamilyV4 over a
// view in which state and health alone make a PoP usable; see
// applyOverlay), so that the CNAME a resolver caches holds for all types.
// A and AAAA queries at the RUM record are logged with the chosen PoP, as
// for a record of addresses. It returns the target to follow: none for
// CNAME and ANY queries.
func (r *responder) answerCNAME(snap *snapshot, m *dns.Msg, rec *record, owner string, cl steering.Client) (*target, steering.Source, int) {
	q := &r.q
	t, source, scope := rec.cname.static, steering.SourceNone, 0
	if rec.id >= 0 {
		d := snap.chains[rec.id].Decide(steering.FamilyV4, cl)
		source, scope = d.Source, d.Scope
		label := popmap.Label("")
		switch {
		case d.PoP >= 0:
			t = rec.cname.pop[d.PoP]
			label = snap.cfg.PoPs[d.PoP].Label
		case d.Source == steering.SourceDefault || d.Anycast:
			t = rec.cname.def
		}
		if rec.cfg.RUM && (q.qtype == typeA || q.qtype == typeAAAA) {
			r.srv.qlog.record(q, owner, cl, label, d.Source)
		}
	}
	if t == nil {
		return nil, source, scope
	}
	m.Answer = append(m.Answer, &dns.CNAME{Hdr: dns.RR_Header{Name: owner, Rrtype: dns.TypeCNAME, Class: dns.ClassINET, Ttl: rec.cfg.TTL}, Target: t.name})
	if q.qtype == typeCNAME || q.qtype == typeANY {
		return nil, source, scope
	}
	return t, source, scope
}

func addrRR(name string, qtype uint16, ttl uint32, a []byte) dns.RR {
	h := dns.RR_Header{Name: name, Rrtype: qtype, Class: dns.ClassINET, Ttl: ttl}
	if qtype == typeAAAA {
		return &dns.AAAA{Hdr: h, AAAA: a}
	}
	return &dns.A{Hdr: h, A: a}
}

func hexString(s string) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 2*len(s))
	for i := range len(s) {
		b[2*i], b[2*i+1] = digits[s[i]>>4], digits[s[i]&15]
	}
	return string(b)
}
