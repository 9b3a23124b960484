package rum

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"time"
)

// The reference decoder: encoding/json into a struct of plain fields, then
// the same rules written the obvious way with the standard library. The
// differential tests check that whatever ParseBeacon accepts, this accepts
// too and decodes to the same Beacon.

type refBeacon struct {
	V            int         `json:"v"`
	ClientSubnet string      `json:"client_subnet,omitempty"`
	Agent        refAgent    `json:"agent"`
	DNSTest      string      `json:"dns_test,omitempty"`
	Samples      []refSample `json:"samples"`
}

type refAgent struct {
	Kind     string `json:"kind"`
	Platform string `json:"platform,omitempty"`
	Timer    string `json:"timer,omitempty"`
}

type refSample struct {
	TS       string  `json:"ts"`
	Target   string  `json:"target"`
	Probe    string  `json:"probe"`
	RTTms    float64 `json:"rtt_ms"`
	ServedBy string  `json:"served_by,omitempty"`
}

// refParseBeacon decodes data with encoding/json (unknown fields rejected
// when strict) and converts it with the standard library.
func refParseBeacon(data []byte, strict bool) (Beacon, error) {
	var r refBeacon
	d := json.NewDecoder(bytes.NewReader(data))
	if strict {
		d.DisallowUnknownFields()
	}
	if err := d.Decode(&r); err != nil {
		return Beacon{}, err
	}
	if d.More() {
		return Beacon{}, fmt.Errorf("trailing data")
	}
	b := Beacon{V: r.V, Agent: Agent(r.Agent)}
	if r.ClientSubnet != "" {
		p, err := netip.ParsePrefix(r.ClientSubnet)
		if err != nil {
			return Beacon{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		b.ClientSubnet = p
	}
	b.DNSTest = strings.TrimSuffix(strings.ToLower(r.DNSTest), ".")
	for _, s := range r.Samples {
		ts, err := time.Parse(time.RFC3339Nano, s.TS)
		if err != nil {
			return Beacon{}, err
		}
		pr, ok := ParseProbe(s.Probe)
		if !ok {
			return Beacon{}, fmt.Errorf("probe %q", s.Probe)
		}
		b.Samples = append(b.Samples, Sample{TS: ts.UTC(), Target: s.Target, Probe: pr, RTTms: s.RTTms, ServedBy: s.ServedBy})
	}
	return b, nil
}

type refLogEntry struct {
	TS       string `json:"ts"`
	QName    string `json:"qname"`
	QType    string `json:"qtype"`
	Resolver string `json:"resolver"`
	ECS      string `json:"ecs"`
	PoP      string `json:"pop"`
	Source   string `json:"source"`
}

func refParseLogEntry(data []byte) (LogEntry, error) {
	var r refLogEntry
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return LogEntry{}, err
	}
	ts, err := time.Parse(time.RFC3339Nano, r.TS)
	if err != nil {
		return LogEntry{}, err
	}
	a, err := netip.ParseAddr(r.Resolver)
	if err != nil {
		return LogEntry{}, err
	}
	e := LogEntry{TS: ts.UTC(), QName: strings.ToLower(r.QName), QType: r.QType, Resolver: a, PoP: r.PoP, Source: r.Source}
	if r.ECS != "" {
		p, err := netip.ParsePrefix(r.ECS)
		if err != nil {
			return LogEntry{}, err
		}
		if p.Addr().Is4In6() {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		e.ECS = p
	}
	return e, nil
}

// diffBeacon describes the first difference between two beacons, or "".
// Times must be equal instants in UTC; RTTs equal bit for bit.
func diffBeacon(got, want *Beacon) string {
	switch {
	case got.V != want.V:
		return fmt.Sprintf("v = %d, want %d", got.V, want.V)
	case got.ClientSubnet != want.ClientSubnet:
		return fmt.Sprintf("client_subnet = %v, want %v", got.ClientSubnet, want.ClientSubnet)
	case got.Agent != want.Agent:
		return fmt.Sprintf("agent = %+v, want %+v", got.Agent, want.Agent)
	case got.DNSTest != want.DNSTest:
		return fmt.Sprintf("dns_test = %q, want %q", got.DNSTest, want.DNSTest)
	case len(got.Samples) != len(want.Samples):
		return fmt.Sprintf("%d samples, want %d", len(got.Samples), len(want.Samples))
	}
	for i := range got.Samples {
		g, w := got.Samples[i], want.Samples[i]
		switch {
		case !g.TS.Equal(w.TS) || g.TS.Location() != time.UTC:
			return fmt.Sprintf("samples[%d].ts = %v, want %v", i, g.TS, w.TS)
		case g.Target != w.Target:
			return fmt.Sprintf("samples[%d].target = %q, want %q", i, g.Target, w.Target)
		case g.Probe != w.Probe:
			return fmt.Sprintf("samples[%d].probe = %v, want %v", i, g.Probe, w.Probe)
		case math.Float64bits(g.RTTms) != math.Float64bits(w.RTTms):
			return fmt.Sprintf("samples[%d].rtt_ms = %v, want %v", i, g.RTTms, w.RTTms)
		case g.ServedBy != w.ServedBy:
			return fmt.Sprintf("samples[%d].served_by = %q, want %q", i, g.ServedBy, w.ServedBy)
		}
	}
	return ""
}

func diffLogEntry(got, want *LogEntry) string {
	if !got.TS.Equal(want.TS) || got.TS.Location() != time.UTC {
		return fmt.Sprintf("ts = %v, want %v", got.TS, want.TS)
	}
	g, w := *got, *want
	g.TS, w.TS = time.Time{}, time.Time{}
	if g != w {
		return fmt.Sprintf("got %+v, want %+v", g, w)
	}
	return ""
}

var testPoPs = []string{"fra", "ams", "lhr", "cdg", "mad", "waw", "iad", "ord", "dfw", "lax", "sea", "gru", "jnb", "sin", "hkg", "nrt", "syd", "fra-2", "x0"}

// randBeacon draws a valid beacon: random times with milli-, micro- and
// nanosecond precision, RTTs from plausible to absurd (the parser does not
// clean), every optional field sometimes absent.
func randBeacon(r *rand.Rand, bulk bool) Beacon {
	b := Beacon{V: 1, Agent: Agent{Kind: []string{KindDesktop, KindWeb, KindCLI}[r.IntN(3)]}}
	if r.IntN(2) == 0 {
		b.Agent.Platform = []string{"windows", "linux", "macos", "Linux x86_64", `we"ird\`}[r.IntN(5)]
	}
	if r.IntN(2) == 0 {
		b.Agent.Timer = []string{"qpc", "monotonic", "performance", "gettickcount"}[r.IntN(4)]
	}
	if r.IntN(3) > 0 {
		const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
		var sb strings.Builder
		for range 10 {
			sb.WriteByte(alnum[r.IntN(len(alnum))])
		}
		b.DNSTest = sb.String() + ".rum.example-1.net"
	}
	if bulk && r.IntN(2) == 0 {
		if r.IntN(2) == 0 {
			b.ClientSubnet = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), 0}), 24)
		} else {
			var a [16]byte
			for i := range 7 {
				a[i] = byte(r.IntN(256))
			}
			b.ClientSubnet = netip.PrefixFrom(netip.AddrFrom16(a), 56)
		}
	}
	n := 1 + r.IntN(30)
	base := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(int64(400 * 24 * time.Hour))))
	for i := range n {
		s := Sample{Target: testPoPs[r.IntN(len(testPoPs))], Probe: Probe(1 + r.IntN(3))}
		switch r.IntN(4) {
		case 0:
			s.TS = base.Add(time.Duration(i) * time.Second).Truncate(time.Millisecond)
		case 1:
			s.TS = base.Add(time.Duration(r.Int64N(1e12))).Truncate(time.Microsecond)
		case 2:
			s.TS = base.Add(time.Duration(r.Int64N(1e12)))
		default:
			s.TS = time.Unix(r.Int64N(253402300799), r.Int64N(1e9)).UTC() // any year 1970..9999
		}
		switch r.IntN(6) {
		case 0:
			s.RTTms = math.Round(r.Float64()*3000) / 10
		case 1:
			s.RTTms = r.NormFloat64() * 1e3 // negative too
		case 2:
			s.RTTms = math.Ldexp(r.Float64(), r.IntN(2000)-1000) // tiny to huge
		case 3:
			s.RTTms = float64(r.IntN(500))
		case 4:
			s.RTTms = 0
		default:
			s.RTTms = math.Round(r.Float64()*1e6) / 1e3
		}
		if r.IntN(4) == 0 {
			s.Target = Anycast
			s.ServedBy = testPoPs[r.IntN(len(testPoPs))]
		}
		b.Samples = append(b.Samples, s)
	}
	return b
}

// toRef converts a beacon to the reference struct, to encode it with
// encoding/json: a second, independent writer.
func toRef(b *Beacon) refBeacon {
	r := refBeacon{V: b.V, Agent: refAgent(b.Agent), DNSTest: b.DNSTest}
	if b.ClientSubnet.IsValid() {
		r.ClientSubnet = b.ClientSubnet.String()
	}
	for _, s := range b.Samples {
		r.Samples = append(r.Samples, refSample{TS: s.TS.Format(time.RFC3339Nano), Target: s.Target, Probe: s.Probe.String(), RTTms: s.RTTms, ServedBy: s.ServedBy})
	}
	return r
}
