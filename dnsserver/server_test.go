package dnsserver

import (
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/examples"
)

// exampleConfig writes the embedded examples into a temporary directory,
// applies edits (pairs of old, new text) to steer.yaml and returns its path.
func exampleConfig(t testing.TB, edits ...string) string {
	t.Helper()
	dir := t.TempDir()
	if err := examples.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "steer.yaml")
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(text, edits[i]) {
			t.Fatalf("edit %q not found in the example config", edits[i])
		}
		text = strings.Replace(text, edits[i], edits[i+1], 1)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func quietServer(t testing.TB, path string) *Server {
	t.Helper()
	s, err := New(path, Options{Logger: slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s
}

// testServer loads the example config (with edits) without binding
// sockets, and returns it with a responder.
func testServer(t testing.TB, edits ...string) (*Server, *responder, string) {
	t.Helper()
	p := exampleConfig(t, edits...)
	s := quietServer(t, p)
	st := &workerStats{}
	s.stats = append(s.stats, st)
	return s, &responder{srv: s, stats: st}, filepath.Dir(p)
}

var resolver = netip.MustParseAddrPort("127.0.0.1:40000")

// ask packs m, answers it and unpacks the response (nil if dropped).
func ask(t testing.TB, s *Server, r *responder, m *dns.Msg, tcp bool) *dns.Msg {
	t.Helper()
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return askWire(t, s, r, wire, resolver, tcp)
}

func askWire(t testing.TB, s *Server, r *responder, wire []byte, src netip.AddrPort, tcp bool) *dns.Msg {
	t.Helper()
	out := r.answer(s.snap.Load(), wire, src, tcp, make([]byte, 0, 4096))
	if out == nil {
		return nil
	}
	resp := new(dns.Msg)
	if err := resp.Unpack(out); err != nil {
		t.Fatalf("response does not unpack: %v\n%x", err, out)
	}
	if !tcp && len(out) > 512 && (resp.IsEdns0() == nil || len(out) > int(resp.IsEdns0().UDPSize())) {
		t.Fatalf("UDP response of %d bytes exceeds the limit", len(out))
	}
	return resp
}

func newQuery(name string, qtype uint16, subnet string) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if subnet != "-" {
		opt := &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}}
		if subnet != "" {
			p := netip.MustParsePrefix(subnet)
			fam := uint16(1)
			if p.Addr().Is6() {
				fam = 2
			}
			opt.Option = append(opt.Option, &dns.EDNS0_SUBNET{Code: dns.EDNS0SUBNET, Family: fam, SourceNetmask: uint8(p.Bits()), Address: p.Addr().AsSlice()})
		}
		m.Extra = append(m.Extra, opt)
	}
	return m
}

func ecsOf(m *dns.Msg) *dns.EDNS0_SUBNET {
	if o := m.IsEdns0(); o != nil {
		for _, e := range o.Option {
			if s, ok := e.(*dns.EDNS0_SUBNET); ok {
				return s
			}
		}
	}
	return nil
}

func answers(m *dns.Msg) string {
	var s []string
	for _, rr := range m.Answer {
		switch v := rr.(type) {
		case *dns.A:
			s = append(s, v.A.String())
		case *dns.AAAA:
			s = append(s, v.AAAA.String())
		default:
			s = append(s, dns.TypeToString[rr.Header().Rrtype])
		}
	}
	return strings.Join(s, ",")
}

// steerCases are A/AAAA queries for the steered name; shared with the fuzz
// seeds and the fast/slow comparison.
var steerCases = []struct {
	name   string
	qtype  uint16
	subnet string // "" = OPT without ECS, "-" = no OPT
	want   string
	scope  int // -1: no ECS option expected in the reply
}{
	{"ECS map hit fra", dns.TypeA, "203.0.113.0/24", "192.0.2.10", 24},
	{"ECS /20 entry", dns.TypeA, "198.18.16.0/24", "192.0.2.30", 20},
	{"ECS shorter source than merged /23 entry", dns.TypeA, "198.18.0.0/16", "192.0.2.20", 23},
	{"ECS longer source capped", dns.TypeA, "203.0.113.77/32", "192.0.2.10", 24},
	{"geo Singapore", dns.TypeA, "100.64.7.0/24", "198.51.100.20", 10},
	{"geo São Paulo", dns.TypeA, "198.18.200.0/24", "198.51.100.30", 17},
	{"default, scope of the empty block", dns.TypeA, "192.0.2.0/24", "192.0.2.1", 6},
	{"AAAA ECS v6", dns.TypeAAAA, "2001:db8:10::/56", "2001:db8::10", 56},
	{"AAAA with v4 ECS", dns.TypeAAAA, "203.0.113.0/24", "2001:db8::10", 24},
	{"ECS source 0: resolver decides, scope 0", dns.TypeA, "0.0.0.0/0", "192.0.2.1", 0},
	{"OPT without ECS: no ECS in reply", dns.TypeA, "", "192.0.2.1", -1},
	{"no EDNS at all", dns.TypeA, "-", "192.0.2.1", -1},
}

func TestSteeredAnswers(t *testing.T) {
	s, r, _ := testServer(t)
	for _, tc := range steerCases {
		t.Run(tc.name, func(t *testing.T) {
			resp := ask(t, s, r, newQuery("www.example.net.", tc.qtype, tc.subnet), false)
			if resp.Rcode != dns.RcodeSuccess || !resp.Authoritative || resp.RecursionAvailable {
				t.Fatalf("rcode %s aa %v ra %v", dns.RcodeToString[resp.Rcode], resp.Authoritative, resp.RecursionAvailable)
			}
			if got := answers(resp); got != tc.want {
				t.Errorf("answer = %s, want %s", got, tc.want)
			}
			e := ecsOf(resp)
			switch {
			case tc.scope < 0 && e != nil:
				t.Errorf("reply carries ECS %v, the query had none", e)
			case tc.scope >= 0 && e == nil:
				t.Errorf("reply has no ECS option")
			case e != nil && int(e.SourceScope) != tc.scope:
				t.Errorf("scope = %d, want %d", e.SourceScope, tc.scope)
			case e != nil:
				p := netip.MustParsePrefix(tc.subnet)
				if int(e.SourceNetmask) != p.Bits() {
					t.Errorf("source echoed as %d, want %d", e.SourceNetmask, p.Bits())
				}
			}
		})
	}
}

// TestFastSlowAgree: the hand-written path and the miekg/dns path give the
// same bytes' meaning for every steered case.
func TestFastSlowAgree(t *testing.T) {
	s, r, _ := testServer(t)
	snap := s.snap.Load()
	for _, tc := range steerCases {
		for _, name := range []string{"www.example.net.", "WwW.ExAmPlE.NeT."} {
			wire, _ := newQuery(name, tc.qtype, tc.subnet).Pack()
			if err := parseQuery(&r.q, wire); err != nil || r.q.err != nil {
				t.Fatalf("%s: parse: %v %v", tc.name, err, r.q.err)
			}
			fast := r.fastAnswer(snap, resolver, false, nil)
			if fast == nil {
				t.Fatalf("%s: fast path declined", tc.name)
			}
			fast = append([]byte(nil), fast...)
			_ = parseQuery(&r.q, wire)
			slow := r.slowAnswer(snap, resolver, false, nil)
			var fm, sm dns.Msg
			if err := fm.Unpack(fast); err != nil {
				t.Fatalf("%s: fast response: %v", tc.name, err)
			}
			if err := sm.Unpack(slow); err != nil {
				t.Fatalf("%s: slow response: %v", tc.name, err)
			}
			if fm.String() != sm.String() {
				t.Errorf("%s %s: fast and slow differ:\n%s\n---\n%s", tc.name, name, fm.String(), sm.String())
			}
		}
	}
}

func TestFastPathAllocs(t *testing.T) {
	s, r, _ := testServer(t)
	snap := s.snap.Load()
	wire, _ := newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24").Pack()
	out := make([]byte, 0, 4096)
	n := testing.AllocsPerRun(200, func() {
		if r.answer(snap, wire, resolver, false, out) == nil {
			t.Fatal("no answer")
		}
	})
	if n != 0 {
		t.Errorf("fast path allocates %v times per query, want 0", n)
	}
}

func TestProtocol(t *testing.T) {
	s, r, _ := testServer(t,
		`      - name: "@"`, "      - name: big\n        static:\n          txt: ["+strings.Repeat(`"`+strings.Repeat("x", 200)+`", `, 9)+`"end"]`+"\n      - name: a.b.deep\n        static:\n          ipv4: [\"192.0.2.99\"]\n      - name: \"@\"")
	type check func(t *testing.T, m *dns.Msg)
	rcode := func(rc int) check {
		return func(t *testing.T, m *dns.Msg) {
			t.Helper()
			if m.Rcode != rc {
				t.Errorf("rcode = %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[rc])
			}
		}
	}
	soaInAuthority := func(t *testing.T, m *dns.Msg) {
		t.Helper()
		if len(m.Answer) != 0 || len(m.Ns) != 1 || m.Ns[0].Header().Rrtype != dns.TypeSOA || m.Ns[0].Header().Ttl != 60 {
			t.Errorf("want an empty answer and the SOA (TTL 60) in authority, got\n%v", m)
		}
	}
	withOpcode := func(op int) *dns.Msg {
		m := newQuery("www.example.net.", dns.TypeA, "")
		m.Opcode = op
		return m
	}
	badvers := newQuery("www.example.net.", dns.TypeA, "")
	badvers.IsEdns0().SetVersion(1)
	do := newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24")
	do.IsEdns0().SetDo()
	tests := []struct {
		name   string
		q      *dns.Msg
		tcp    bool
		checks []check
	}{
		{"SOA at apex", newQuery("example.net.", dns.TypeSOA, ""), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if len(m.Answer) != 1 || m.Answer[0].(*dns.SOA).Minttl != 60 || !m.Authoritative {
				t.Errorf("SOA answer: %v", m)
			}
		}}},
		{"NS at apex with glue", newQuery("example.net.", dns.TypeNS, ""), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if len(m.Answer) != 1 || m.Answer[0].(*dns.NS).Ns != "ns1.example.net." || len(m.Extra) != 2 {
				t.Errorf("NS answer: %v", m)
			}
		}}},
		{"in-zone NS name", newQuery("ns1.example.net.", dns.TypeA, ""), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if answers(m) != "127.0.0.1" {
				t.Errorf("glue answer: %v", m)
			}
		}}},
		{"NXDOMAIN", newQuery("nope.example.net.", dns.TypeA, "203.0.113.0/24"), false, []check{rcode(dns.RcodeNameError), soaInAuthority, func(t *testing.T, m *dns.Msg) {
			if e := ecsOf(m); e == nil || e.SourceScope != 0 {
				t.Errorf("negative answer ECS = %v, want scope 0", e)
			}
		}}},
		{"NODATA for a type the name lacks", newQuery("www.example.net.", dns.TypeTXT, ""), false, []check{rcode(0), soaInAuthority}},
		{"NODATA for an empty non-terminal", newQuery("b.deep.example.net.", dns.TypeA, ""), false, []check{rcode(0), soaInAuthority}},
		{"NXDOMAIN below a leaf", newQuery("x.www.example.net.", dns.TypeA, ""), false, []check{rcode(dns.RcodeNameError), soaInAuthority}},
		{"static TXT at apex", newQuery("example.net.", dns.TypeTXT, ""), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if len(m.Answer) != 1 || m.Answer[0].(*dns.TXT).Txt[0] != "v=spf1 -all" {
				t.Errorf("TXT: %v", m)
			}
		}}},
		{"REFUSED outside our zones", newQuery("www.example.com.", dns.TypeA, ""), false, []check{rcode(dns.RcodeRefused), func(t *testing.T, m *dns.Msg) {
			if m.Authoritative || m.RecursionAvailable {
				t.Errorf("REFUSED must not be authoritative or offer recursion: %v", m)
			}
		}}},
		{"ANY is minimal (RFC 8482)", newQuery("www.example.net.", dns.TypeANY, ""), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if len(m.Answer) != 1 || m.Answer[0].(*dns.HINFO).Cpu != "RFC8482" {
				t.Errorf("ANY: %v", m)
			}
		}}},
		{"AXFR refused", newQuery("example.net.", dns.TypeAXFR, "-"), true, []check{rcode(dns.RcodeRefused)}},
		{"IXFR refused", newQuery("example.net.", dns.TypeIXFR, "-"), false, []check{rcode(dns.RcodeRefused)}},
		{"NOTIFY not implemented", withOpcode(dns.OpcodeNotify), false, []check{rcode(dns.RcodeNotImplemented)}},
		{"UPDATE not implemented", withOpcode(dns.OpcodeUpdate), false, []check{rcode(dns.RcodeNotImplemented)}},
		{"EDNS version 1: BADVERS", badvers, false, []check{func(t *testing.T, m *dns.Msg) {
			if m.Rcode != dns.RcodeBadVers || m.IsEdns0() == nil || m.IsEdns0().Version() != 0 || len(m.Answer) != 0 {
				t.Errorf("BADVERS: rcode %d %v", m.Rcode, m)
			}
		}}},
		{"DO bit copied", do, false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if !m.IsEdns0().Do() {
				t.Errorf("DO not copied")
			}
		}}},
		{"big answer over UDP is truncated", newQuery("big.example.net.", dns.TypeTXT, ""), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if !m.Truncated || len(m.Answer) != 0 || m.IsEdns0() == nil {
				t.Errorf("want TC, no answer, OPT kept: %v", m)
			}
		}}},
		{"big answer over TCP is whole", newQuery("big.example.net.", dns.TypeTXT, ""), true, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if m.Truncated || len(m.Answer) != 10 {
				t.Errorf("want 10 TXT records over TCP: TC %v, %d answers", m.Truncated, len(m.Answer))
			}
		}}},
		{"big answer without EDNS over UDP", newQuery("big.example.net.", dns.TypeTXT, "-"), false, []check{func(t *testing.T, m *dns.Msg) {
			if !m.Truncated {
				t.Errorf("want TC within 512 bytes")
			}
		}}},
		{"RUM name below the RUM record", newQuery("k3f9q2x7w1.rum.example.net.", dns.TypeA, "203.0.113.0/24"), false, []check{rcode(0), func(t *testing.T, m *dns.Msg) {
			if answers(m) != "192.0.2.10" || ecsOf(m).SourceScope != 24 {
				t.Errorf("RUM answer: %v", m)
			}
		}}},
		{"class CH refused", func() *dns.Msg {
			m := newQuery("version.bind.", dns.TypeTXT, "-")
			m.Question[0].Qclass = dns.ClassCHAOS
			return m
		}(), false, []check{rcode(dns.RcodeRefused)}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := ask(t, s, r, tc.q, tc.tcp)
			if resp == nil {
				t.Fatal("no response")
			}
			if resp.Id != tc.q.Id || !resp.Response {
				t.Errorf("id %d response %v", resp.Id, resp.Response)
			}
			for _, c := range tc.checks {
				c(t, resp)
			}
		})
	}
}

// ecsWire builds a query whose ECS option payload is given raw.
func ecsWire(t testing.TB, payload []byte) []byte {
	t.Helper()
	m := newQuery("www.example.net.", dns.TypeA, "")
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0SUBNET, Data: payload})
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var ecsCases = []struct {
	name    string
	payload string // hex
	err     string // "" = valid
	prefix  string
}{
	{"v4 /24", "00011800cb0071", "", "203.0.113.0/24"},
	{"v4 /0", "00010000", "", "0.0.0.0/0"},
	{"v4 /20 partial octet", "00011400c61210", "", "198.18.16.0/20"},
	{"v6 /56", "00023800" + "20010db8001000", "", "2001:db8:10::/56"},
	{"unknown family", "00031800cb0071", "unknown address family", ""},
	{"source too long", "00012100cb00710000", "source prefix longer", ""},
	{"non-zero scope", "00011818cb0071", "non-zero scope", ""},
	{"too many octets", "00011800cb00710000", "does not match", ""},
	{"too few octets", "00011800cb00", "does not match", ""},
	{"bits past the source", "00011400c6121f", "bits set beyond", ""},
	{"short option", "0001", "does not match", ""},
}

func TestParseECS(t *testing.T) {
	for _, tc := range ecsCases {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tc.payload)
			e, err := ParseECS(b)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("ParseECS(%s) error = %v, want %q", tc.payload, err, tc.err)
				}
				return
			}
			if err != nil || e.Prefix != netip.MustParsePrefix(tc.prefix) {
				t.Errorf("ParseECS(%s) = %v, %v; want %s", tc.payload, e.Prefix, err, tc.prefix)
			}
		})
	}
}

func TestMalformedQueries(t *testing.T) {
	s, r, _ := testServer(t)
	for _, tc := range ecsCases {
		if tc.err == "" {
			continue
		}
		t.Run("ECS "+tc.name, func(t *testing.T) {
			b, _ := hex.DecodeString(tc.payload)
			resp := askWire(t, s, r, ecsWire(t, b), resolver, false)
			if resp == nil || resp.Rcode != dns.RcodeFormatError {
				t.Errorf("want FORMERR, got %v", resp)
			}
		})
	}
	good, _ := newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24").Pack()
	twoOPT := newQuery("www.example.net.", dns.TypeA, "")
	twoOPT.Extra = append(twoOPT.Extra, &dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 512}})
	twoOPTWire, _ := twoOPT.Pack()
	resp := append([]byte(nil), good...)
	resp[2] |= 0x80
	for _, tc := range []struct {
		name  string
		wire  []byte
		drop  bool
		rcode int
	}{
		{"short header", good[:11], true, 0},
		{"a response", resp, true, 0},
		{"truncated question", good[:20], false, dns.RcodeFormatError},
		{"truncated OPT", good[:len(good)-3], false, dns.RcodeFormatError},
		{"trailing garbage", append(append([]byte(nil), good...), 1, 2, 3), false, dns.RcodeFormatError},
		{"two OPT records", twoOPTWire, false, dns.RcodeFormatError},
		{"two questions", func() []byte { b := append([]byte(nil), good...); b[5] = 2; return b }(), false, dns.RcodeFormatError},
		{"compressed question name", func() []byte {
			b := append([]byte(nil), good[:12]...)
			return append(b, 0xc0, 12, 0, 1, 0, 1)
		}(), false, dns.RcodeFormatError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := r.answer(s.snap.Load(), tc.wire, resolver, false, nil)
			if tc.drop {
				if out != nil {
					t.Errorf("want the message dropped, got %x", out)
				}
				return
			}
			if len(out) < 12 || int(out[3]&0xf) != tc.rcode || binary.BigEndian.Uint16(out) != binary.BigEndian.Uint16(tc.wire) {
				t.Errorf("want rcode %d with the query ID, got %x", tc.rcode, out)
			}
		})
	}
}

func TestCookiesAndNSID(t *testing.T) {
	s, r, _ := testServer(t)
	m := newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24")
	m.IsEdns0().Option = append(m.IsEdns0().Option,
		&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"},
		&dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	resp := ask(t, s, r, m, false)
	var cookie, nsid string
	for _, o := range resp.IsEdns0().Option {
		switch v := o.(type) {
		case *dns.EDNS0_COOKIE:
			cookie = v.Cookie
		case *dns.EDNS0_NSID:
			nsid = v.Nsid
		}
	}
	if len(cookie) != 48 || !strings.HasPrefix(cookie, "0102030405060708") {
		t.Fatalf("cookie = %q, want client cookie + 16-byte server cookie", cookie)
	}
	if got, _ := hex.DecodeString(nsid); string(got) != "steer-demo-1" {
		t.Errorf("NSID = %q", nsid)
	}
	if answers(resp) != "192.0.2.10" {
		t.Errorf("answer with cookie = %s", answers(resp))
	}
	// The server cookie is echoed when presented again from the same address.
	m2 := newQuery("www.example.net.", dns.TypeA, "")
	m2.IsEdns0().Option = append(m2.IsEdns0().Option, &dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: cookie})
	resp2 := ask(t, s, r, m2, false)
	for _, o := range resp2.IsEdns0().Option {
		if v, ok := o.(*dns.EDNS0_COOKIE); ok && v.Cookie != cookie {
			t.Errorf("valid cookie not echoed: %s vs %s", v.Cookie, cookie)
		}
	}
	// Another address gets a new server cookie.
	raw, _ := m2.Pack()
	resp3 := askWire(t, s, r, raw, netip.MustParseAddrPort("127.0.0.2:1"), false)
	for _, o := range resp3.IsEdns0().Option {
		if v, ok := o.(*dns.EDNS0_COOKIE); ok && v.Cookie == cookie {
			t.Errorf("cookie for another address was accepted")
		}
	}
	// Bad cookie length is FORMERR.
	m3 := newQuery("www.example.net.", dns.TypeA, "")
	m3.IsEdns0().Option = append(m3.IsEdns0().Option, &dns.EDNS0_LOCAL{Code: dns.EDNS0COOKIE, Data: []byte{1, 2, 3}})
	if resp := ask(t, s, r, m3, false); resp.Rcode != dns.RcodeFormatError {
		t.Errorf("short cookie: rcode %d", resp.Rcode)
	}
	// A cookie-only query (no question) gets the cookie back.
	m4 := new(dns.Msg)
	m4.Id = 77
	m4.Extra = []dns.RR{&dns.OPT{Hdr: dns.RR_Header{Name: ".", Rrtype: dns.TypeOPT, Class: 1232}, Option: []dns.EDNS0{&dns.EDNS0_COOKIE{Code: dns.EDNS0COOKIE, Cookie: "0102030405060708"}}}}
	if resp := ask(t, s, r, m4, false); resp.Rcode != dns.RcodeSuccess || len(resp.IsEdns0().Option) != 1 {
		t.Errorf("cookie-only query: %v", resp)
	}
}

func TestDrainedPoPSkipped(t *testing.T) {
	s, r, _ := testServer(t, "  - label: fra\n", "  - label: fra\n    state: drain\n", "  - label: sin\n", "  - label: sin\n    state: down\n")
	// 203.0.113.0/24 ranks fra, ams: fra is drained, so ams.
	if got := answers(ask(t, s, r, newQuery("www.example.net.", dns.TypeA, "203.0.113.0/24"), false)); got != "192.0.2.20" {
		t.Errorf("drained fra: answer %s, want ams 192.0.2.20", got)
	}
	// 198.19.64.0/18 ranks only sin, which is down: GeoIP has nothing, so default.
	if got := answers(ask(t, s, r, newQuery("www.example.net.", dns.TypeA, "198.19.64.0/24"), false)); got != "192.0.2.1" {
		t.Errorf("down sin: answer %s, want the default", got)
	}
	// Geo (Singapore) skips sin too: the nearest usable PoP from Singapore.
	if got := answers(ask(t, s, r, newQuery("www.example.net.", dns.TypeA, "100.64.7.0/24"), false)); got == "198.51.100.20" {
		t.Errorf("geo picked the down PoP")
	}
}

func TestSipHashVector(t *testing.T) {
	// Reference vector of the SipHash paper: key 00..0f, message 00..0e.
	var k [16]byte
	var msg [15]byte
	for i := range k {
		k[i] = byte(i)
	}
	for i := range msg {
		msg[i] = byte(i)
	}
	got := siphash24(binary.LittleEndian.Uint64(k[:]), binary.LittleEndian.Uint64(k[8:]), msg[:])
	if got != 0xa129ca6149be45e5 {
		t.Errorf("siphash24 = %#x, want 0xa129ca6149be45e5", got)
	}
}
