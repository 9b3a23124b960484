package test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/popmap"
)

// rumQuery is one query sent to the RUM zone and what its log line must say.
type rumQuery struct {
	qname string
	qtype uint16
	ecs   netip.Prefix // as sent; invalid = no ECS option
}

// TestQueryLogNoFullClientAddress sends RUM queries carrying full client
// addresses as ECS (/32, /128), finer-than-allowed prefixes (/28, /64) and
// none at all, and checks that the query log has one well-formed line per
// query (docs/DESIGN.md, "DNS query log") whose "ecs" is capped at /24 or
// /56, and that no full client address or finer prefix appears anywhere in
// the query log or in the server's own debug log.
func TestQueryLogNoFullClientAddress(t *testing.T) {
	s := startSteer(t, nil) // the example map: 203.0.113.0/24 and 2001:db8:10::/56 → fra, ams
	if s.cfg.QueryLog == "" {
		t.Fatal("the example config has no query_log")
	}
	tab, err := popmap.Compile(mustReadMap(t, s.mapPath))
	if err != nil {
		t.Fatal(err)
	}

	// Full client addresses that must never be written anywhere, in every
	// spelling a logger might use.
	secrets := []string{
		"203.0.113.77", "2001:db8:10:0:1234::9", "2001:db8:10:0:1234:0:0:9", "2001:0db8:0010:0000:1234",
		"198.51.100.77", "198.51.100.64/28", "2001:db8:10::/64", "2001:db8:10:0:1234::/80",
		"::ffff:203.0.113.77", "cb00714d", // 203.0.113.77 in hex
	}
	ecsSent := []string{
		"203.0.113.77/32",
		"2001:db8:10:0:1234::9/128",
		"2001:db8:10:0:1234::/64", // host bits beyond /64 are not sent: the wire has 8 address bytes
		"2001:db8:10:0:1234::/80",
		"198.51.100.77/28",
		"::ffff:203.0.113.77/128", // v4-mapped, sent as family 2
		"203.0.113.0/24",
		"0.0.0.0/0",
		"", // no ECS: the resolver address (127.0.0.1) decides
	}
	var sent []rumQuery
	for i := range 3 {
		for _, e := range ecsSent {
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				q := rumQuery{qname: fmt.Sprintf("%s-%d.rum.example.net.", randLabel(), i), qtype: qt}
				if e != "" {
					q.ecs = netip.MustParsePrefix(e)
				}
				sent = append(sent, q)
			}
		}
	}
	for _, q := range sent {
		r, err := query(s.addr, netip.Addr{}, q.qname, q.qtype, q.ecs, 2*time.Second)
		if err != nil {
			t.Fatalf("%s %s ECS %v: %v", q.qname, dns.TypeToString[q.qtype], q.ecs, err)
		}
		if r.Rcode != dns.RcodeSuccess || len(r.Answer) == 0 {
			t.Errorf("%s %s ECS %v: rcode %s, %d answers; want an answer", q.qname, dns.TypeToString[q.qtype], q.ecs, dns.RcodeToString[r.Rcode], len(r.Answer))
		}
	}
	if v := s.metrics(t).sum("steer_dns_querylog_dropped_total", nil); v != 0 {
		t.Errorf("steer_dns_querylog_dropped_total = %v, want 0", v)
	}
	s.close() // flushes and closes the query log

	data, err := os.ReadFile(s.cfg.QueryLog)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]rumQuery{}
	for _, q := range sent {
		byName[q.qname] = q
	}
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := sc.Bytes()
		var rec struct {
			TS       *string `json:"ts"`
			QName    *string `json:"qname"`
			QType    *string `json:"qtype"`
			Resolver *string `json:"resolver"`
			ECS      *string `json:"ecs"`
			PoP      *string `json:"pop"`
			Source   *string `json:"source"`
		}
		dec := json.NewDecoder(bytes.NewReader(line))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			t.Errorf("line %d %s: %v", n, line, err)
			continue
		}
		if rec.TS == nil || rec.QName == nil || rec.QType == nil || rec.Resolver == nil || rec.Source == nil {
			t.Errorf("line %d %s: want ts, qname, qtype, resolver and source", n, line)
			continue
		}
		if _, err := time.Parse(time.RFC3339Nano, *rec.TS); err != nil {
			t.Errorf("line %d: ts: %v", n, err)
		}
		q, ok := byName[*rec.QName]
		if !ok || seen[*rec.QName] {
			t.Errorf("line %d: qname %q was not sent, or is logged twice", n, *rec.QName)
			continue
		}
		seen[*rec.QName] = true
		if *rec.QType != dns.TypeToString[q.qtype] {
			t.Errorf("line %d: qtype %q, want %q", n, *rec.QType, dns.TypeToString[q.qtype])
		}
		if *rec.Resolver != "127.0.0.1" {
			t.Errorf("line %d: resolver %q, want 127.0.0.1", n, *rec.Resolver)
		}
		lookup := netip.PrefixFrom(netip.MustParseAddr("127.0.0.1"), 32)
		wantSource := "resolver"
		switch {
		case !q.ecs.IsValid() && rec.ECS != nil:
			t.Errorf("line %d: ecs %q for a query without ECS", n, *rec.ECS)
		case q.ecs.IsValid() && rec.ECS == nil:
			t.Errorf("line %d: no ecs for a query with ECS %s", n, q.ecs)
		case rec.ECS != nil:
			p, err := netip.ParsePrefix(*rec.ECS)
			if err != nil {
				t.Errorf("line %d: ecs: %v", n, err)
				break
			}
			if limit := map[bool]int{true: 24, false: 56}[p.Addr().Is4()]; p.Bits() > limit || p != p.Masked() {
				t.Errorf("line %d: ecs %s is finer than /%d (or has host bits)", n, p, limit)
			}
			if !p.Contains(q.ecs.Addr()) && !p.Contains(q.ecs.Addr().Unmap()) {
				t.Errorf("line %d: ecs %s does not contain the sent %s", n, p, q.ecs)
			}
			if q.ecs.Bits() > 0 {
				lookup, wantSource = q.ecs, "ecs"
			}
		}
		labels, _ := tab.LookupPrefix(lookup)
		if wantSource == "ecs" && len(labels) == 0 {
			wantSource = "resolver" // the ECS map does not cover it: the chain goes on
			labels, _ = tab.LookupPrefix(netip.MustParsePrefix("127.0.0.1/32"))
		}
		if len(labels) > 0 {
			if *rec.Source != wantSource || rec.PoP == nil || *rec.PoP != string(labels[0]) {
				t.Errorf("line %d: source %q pop %v, want %q %q", n, *rec.Source, deref(rec.PoP), wantSource, labels[0])
			}
		} else if *rec.Source != "geo" && *rec.Source != "default" {
			t.Errorf("line %d: source %q for a client no map covers, want geo or default", n, *rec.Source)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(seen) != len(sent) {
		t.Errorf("query log has %d of the %d RUM queries", len(seen), len(sent))
	}

	logs := s.logs.String()
	for _, secret := range secrets {
		for where, text := range map[string]string{"query log": string(data), "server log": logs} {
			if strings.Contains(strings.ToLower(text), strings.ToLower(secret)) {
				t.Errorf("%s contains %q", where, secret)
			}
		}
	}
	if t.Failed() {
		t.Logf("query log:\n%s", data)
	}
}

func mustReadMap(t *testing.T, path string) *popmap.Map {
	t.Helper()
	m, err := popmap.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// randLabel is a random RUM test name label, like the real ones.
func randLabel() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 10)
	for i := range b {
		b[i] = alphabet[rand.IntN(len(alphabet))]
	}
	return string(b)
}

func deref(p *string) string {
	if p == nil {
		return "<none>"
	}
	return *p
}
