package dnsserver

import (
	"encoding/hex"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParseECS: no panic; a parsed option re-encodes to the same bytes.
func FuzzParseECS(f *testing.F) {
	for _, tc := range ecsCases {
		b, _ := hex.DecodeString(tc.payload)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := ParseECS(b)
		if err != nil {
			return
		}
		alen := (int(e.Source) + 7) / 8
		a := e.Prefix.Addr().AsSlice()[:alen]
		if string(a) != string(b[4:]) || e.Prefix.Bits() != int(e.Source) {
			t.Fatalf("ParseECS(%x) = %+v does not round-trip", b, e)
		}
	})
}

// FuzzAnswer sends arbitrary messages through the whole handler (the
// example config with the CNAME records of cnameEdits): it must never
// panic, and every response must unpack, carry the query's ID and fit the
// UDP limit.
func FuzzAnswer(f *testing.F) {
	for _, tc := range steerCases {
		b, _ := newQuery("www.example.net.", tc.qtype, tc.subnet).Pack()
		f.Add(b, false)
	}
	for _, tc := range ecsCases {
		p, _ := hex.DecodeString(tc.payload)
		f.Add(ecsWire(f, p), false)
	}
	for _, q := range []*dns.Msg{newQuery("example.net.", dns.TypeSOA, ""), newQuery("example.net.", dns.TypeNS, "-"),
		newQuery("x.rum.example.net.", dns.TypeAAAA, "2001:db8::/56"), newQuery("nope.example.net.", dns.TypeA, ""),
		newQuery("example.org.", dns.TypeA, ""), newQuery("example.net.", dns.TypeAXFR, "-")} {
		b, _ := q.Pack()
		f.Add(b, true)
	}
	for _, tc := range cnameCases {
		b, _ := newQuery(tc.qname, tc.qtype, tc.subnet).Pack()
		f.Add(b, false)
	}
	s, r, _ := testServer(f, cnameEdits...)
	f.Fuzz(func(t *testing.T, wire []byte, tcp bool) {
		out := r.answer(s.snap.Load(), wire, resolver, tcp, nil)
		if out == nil {
			return
		}
		var m dns.Msg
		if err := m.Unpack(out); err != nil {
			t.Fatalf("response does not unpack: %v\nquery %x\nresponse %x", err, wire, out)
		}
		if len(wire) >= 2 && m.Id != uint16(wire[0])<<8|uint16(wire[1]) {
			t.Fatalf("response ID %d differs from the query's", m.Id)
		}
		if !tcp && len(out) > 4096 {
			t.Fatalf("UDP response of %d bytes", len(out))
		}
	})
}
