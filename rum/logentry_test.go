package rum

import (
	"errors"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/steering"
)

const designLog = `{"ts": "2026-11-21T10:00:00.101Z", "qname": "k3f9q2x7w1.rum.example.net.", "qtype": "A",
 "resolver": "198.51.100.7", "ecs": "203.0.113.0/24", "pop": "fra", "source": "ecs"}`

// logLine is a valid log line with some members replaced or dropped
// (value "-"), in the query log's order.
func logLine(kv ...string) string {
	m := [][2]string{{"ts", `"2026-11-21T10:00:00.101Z"`}, {"qname", `"k3f9q2x7w1.rum.example.net."`}, {"qtype", `"A"`},
		{"resolver", `"198.51.100.7"`}, {"ecs", `"203.0.113.0/24"`}, {"pop", `"fra"`}, {"source", `"ecs"`}}
	for i := 0; i < len(kv); i += 2 {
		found := false
		for j := range m {
			if m[j][0] == kv[i] {
				m[j][1], found = kv[i+1], true
			}
		}
		if !found {
			m = append(m, [2]string{kv[i], kv[i+1]})
		}
	}
	var parts []string
	for _, f := range m {
		if f[1] != "-" {
			parts = append(parts, `"`+f[0]+`":`+f[1])
		}
	}
	return "{" + strings.Join(parts, ",") + "}"
}

var designEntry = LogEntry{TS: time.Date(2026, 11, 21, 10, 0, 0, 101e6, time.UTC), QName: "k3f9q2x7w1.rum.example.net.", QType: "A",
	Resolver: netip.MustParseAddr("198.51.100.7"), ECS: netip.MustParsePrefix("203.0.113.0/24"), PoP: "fra", Source: SourceECS}

func entryWith(f func(*LogEntry)) *LogEntry {
	e := designEntry
	f(&e)
	return &e
}

var logCases = []struct {
	name string
	in   string
	err  string
	want *LogEntry
}{
	{name: "design doc example", in: designLog, want: &designEntry},
	{name: "compact", in: logLine(), want: &designEntry},
	{name: "no ecs, no pop", in: logLine("ecs", "-", "pop", "-", "source", `"default"`), want: entryWith(func(e *LogEntry) { e.ECS, e.PoP, e.Source = netip.Prefix{}, "", SourceDefault })},
	{name: "empty ecs and pop are absent", in: logLine("ecs", `""`, "pop", `""`, "source", `"none"`), want: entryWith(func(e *LogEntry) { e.ECS, e.PoP, e.Source = netip.Prefix{}, "", SourceNone })},
	{name: "sources", in: logLine("source", `"resolver"`), want: entryWith(func(e *LogEntry) { e.Source = SourceResolver })},
	{name: "source geo", in: logLine("source", `"geo"`), want: entryWith(func(e *LogEntry) { e.Source = SourceGeo })},
	{name: "AAAA over IPv6", in: logLine("qtype", `"AAAA"`, "resolver", `"2001:db8::53"`, "ecs", `"2001:db8:10::/56"`),
		want: entryWith(func(e *LogEntry) {
			e.QType, e.Resolver, e.ECS = "AAAA", netip.MustParseAddr("2001:db8::53"), netip.MustParsePrefix("2001:db8:10::/56")
		})},
	{name: "qname lower-cased", in: logLine("qname", `"K3F9q2x7w1.RUM.example.net."`), want: &designEntry},
	{name: "qname with escapes as miekg/dns writes them", in: logLine("qname", `"a\\032b.\\(x\\).\\\".*.rum.example.net."`),
		want: entryWith(func(e *LogEntry) { e.QName = `a\032b.\(x\).\".*.rum.example.net.` })},
	{name: "qname escaped letter lower-cased like dns.CanonicalName (fuzz)", in: logLine("qname", `"0\\A.\\065."`), want: entryWith(func(e *LogEntry) { e.QName = `0\a.\065.` })},
	{name: "qname escaped dot inside a label", in: logLine("qname", `"a\\.b.example."`), want: entryWith(func(e *LogEntry) { e.QName = `a\.b.example.` })},
	{name: "qname root", in: logLine("qname", `"."`), want: entryWith(func(e *LogEntry) { e.QName = "." })},
	{name: "qname of 255 octets", in: logLine("qname", `"`+strings.Repeat(strings.Repeat("a", 62)+".", 4)+`a."`),
		want: entryWith(func(e *LogEntry) { e.QName = strings.Repeat(strings.Repeat("a", 62)+".", 4) + "a." })},
	{name: "qtype mnemonic", in: logLine("qtype", `"TYPE65534"`), want: entryWith(func(e *LogEntry) { e.QType = "TYPE65534" })},
	{name: "ts with offset and nanoseconds", in: logLine("ts", `"2026-11-21T11:00:00.101000001+01:00"`), want: entryWith(func(e *LogEntry) { e.TS = e.TS.Add(1) })},

	{name: "not an object", in: `"x"`, err: `offset 0: want a JSON object, got '"'`},
	{name: "trailing data", in: logLine() + `x`, err: `offset 159: trailing data after the log object`},
	{name: "too long", in: logLine("qname", `"`+strings.Repeat("a", MaxLogEntrySize)+`"`), err: `log line longer than 8192 bytes`},
	{name: "unknown field", in: logLine("rcode", `"NOERROR"`), err: `unknown field "rcode"`},
	{name: "duplicate field", in: logLine()[:len(logLine())-1] + `,"pop":"ams"}`, err: `duplicate field "pop"`},
	{name: "ts missing", in: logLine("ts", "-"), err: `ts: required`},
	{name: "ts bad", in: logLine("ts", `"2026-11-21T10:00:00.101"`), err: `ts: "2026-11-21T10:00:00.101": missing time zone (want Z or ±hh:mm)`},
	{name: "ts number", in: logLine("ts", `1764000000`), err: `ts: not a string`},
	{name: "qname missing", in: logLine("qname", "-"), err: `qname: required`},
	{name: "qname no trailing dot", in: logLine("qname", `"k3f9q2x7w1.rum.example.net"`), err: `qname: "k3f9q2x7w1.rum.example.net" is not a DNS name: no trailing dot`},
	{name: "qname escaped trailing dot", in: logLine("qname", `"example\\."`), err: `qname: "example\\." is not a DNS name: no trailing dot`},
	{name: "qname empty", in: logLine("qname", `""`), err: `qname: "" is not a DNS name: empty name`},
	{name: "qname empty label", in: logLine("qname", `"a..example."`), err: `qname: "a..example." is not a DNS name: empty label`},
	{name: "qname space", in: logLine("qname", `"a b.example."`), err: `qname: "a b.example." is not a DNS name: bad character 0x20`},
	{name: "qname non-ASCII", in: logLine("qname", `"é.example."`), err: `qname: "é.example." is not a DNS name: bad character 0xc3`},
	{name: "qname bad decimal escape", in: logLine("qname", `"a\\256.example."`), err: `qname: "a\\256.example." is not a DNS name: bad \DDD escape`},
	{name: "qname short decimal escape", in: logLine("qname", `"a\\25.example."`), err: `qname: "a\\25.example." is not a DNS name: bad \DDD escape`},
	{name: "qname label of 64", in: logLine("qname", `"`+strings.Repeat("a", 64)+`.example."`), err: `qname: "` + strings.Repeat("a", 64) + `.example." is not a DNS name: label longer than 63 octets`},
	{name: "qname escaped label of 64", in: logLine("qname", `"`+strings.Repeat(`\\255`, 64)+`."`), err: `qname: "` + strings.Repeat(`\\255`, 20) + `"… is not a DNS name: label longer than 63 octets`},
	{name: "qname of 256 octets", in: logLine("qname", `"`+strings.Repeat(strings.Repeat("a", 62)+".", 4)+`aa."`), err: `qname: "` + strings.Repeat("a", 62) + "." + strings.Repeat("a", 17) + `"… is not a DNS name: longer than 255 octets`},
	{name: "qtype missing", in: logLine("qtype", "-"), err: `qtype: required`},
	{name: "qtype lower case", in: logLine("qtype", `"a"`), err: `qtype: "a" is not a DNS type (want A, AAAA, …)`},
	{name: "qtype number", in: logLine("qtype", `1`), err: `qtype: not a string`},
	{name: "resolver missing", in: logLine("resolver", "-"), err: `resolver: required`},
	{name: "resolver bad", in: logLine("resolver", `"198.51.100"`), err: `resolver: "198.51.100" is not an IP address`},
	{name: "resolver prefix", in: logLine("resolver", `"198.51.100.0/24"`), err: `resolver: "198.51.100.0/24" is not an IP address`},
	{name: "resolver zone", in: logLine("resolver", `"fe80::1%eth0"`), err: `resolver: "fe80::1%eth0": zones are not allowed`},
	{name: "ecs bad", in: logLine("ecs", `"203.0.113.0/33"`), err: `ecs: "203.0.113.0/33" is not a CIDR prefix`},
	{name: "ecs host bits", in: logLine("ecs", `"203.0.113.1/24"`), err: `ecs: "203.0.113.1/24": host bits set (want 203.0.113.0/24)`},
	{name: "ecs finer than the cap", in: logLine("ecs", `"203.0.113.128/25"`), err: `ecs: "203.0.113.128/25": finer than /24 (client subnets are stored truncated to /24 or /56)`},
	{name: "pop bad", in: logLine("pop", `"FRA"`), err: `pop: "FRA" is not a PoP label (want 1..32 of [a-z0-9-])`},
	{name: "pop anycast", in: logLine("pop", `"anycast"`), err: `pop: "anycast" is not a PoP label (want 1..32 of [a-z0-9-])`},
	{name: "source missing", in: logLine("source", "-"), err: `source: required`},
	{name: "source unknown", in: logLine("source", `"map"`), err: `source: unknown source "map" (want ecs, resolver, geo, default or none)`},
	{name: "source null", in: logLine("source", `null`), err: `source: not a string`},
}

func TestParseLogEntry(t *testing.T) {
	for _, tc := range logCases {
		t.Run(tc.name, func(t *testing.T) {
			var e LogEntry
			err := ParseLogEntry([]byte(tc.in), &e)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("ParseLogEntry(%.200s) = %+v, want error %q", tc.in, e, tc.err)
				}
				if err.Error() != tc.err {
					t.Fatalf("ParseLogEntry(%.200s) error:\n got %s\nwant %s", tc.in, err, tc.err)
				}
				var pe *Error
				if !errors.As(err, &pe) {
					t.Fatalf("error %T is not *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLogEntry(%.200s): %v", tc.in, err)
			}
			if d := diffLogEntry(&e, tc.want); d != "" {
				t.Fatalf("ParseLogEntry(%.200s): %s", tc.in, d)
			}
		})
	}
}

// queryLogLine builds a line exactly as dnsserver/querylog.go's record does
// (copied from it, with the clock as an argument): the reference for
// TestAppendLogEntryMatchesQueryLog. If querylog.go changes, change this.
func queryLogLine(now time.Time, qname string, qtype uint16, resolver netip.Addr, ecs netip.Prefix, pop string, src steering.Source) []byte {
	b := make([]byte, 0, 192)
	b = append(b, `{"ts":"`...)
	b = now.UTC().AppendFormat(b, "2006-01-02T15:04:05.000Z")
	b = append(b, `","qname":`...)
	b = strconv.AppendQuote(b, dns.CanonicalName(qname))
	b = append(b, `,"qtype":"`...)
	b = append(b, dns.TypeToString[qtype]...)
	b = append(b, `","resolver":"`...)
	b = resolver.AppendTo(b)
	b = append(b, '"')
	if ecs.IsValid() {
		b = append(b, `,"ecs":"`...)
		b = steering.CapECS(ecs).AppendTo(b)
		b = append(b, '"')
	}
	if pop != "" {
		b = append(b, `,"pop":`...)
		b = strconv.AppendQuote(b, pop)
	}
	b = append(b, `,"source":"`...)
	b = append(b, src.String()...)
	b = append(b, "\"}\n"...)
	return b
}

// TestAppendLogEntryMatchesQueryLog: for the values the DNS server logs —
// times with nanoseconds, query names as clients send them (any case, odd
// bytes that miekg/dns escapes), ECS of any length, every source —
// AppendLogEntry writes the server's bytes, and ParseLogEntry reads them
// back to the logged values.
func TestAppendLogEntryMatchesQueryLog(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	names := []string{"k3f9q2x7w1.rum.example.net.", "K3F9Q2X7W1.Rum.Example.NET.", "rum.example.net.", "*.rum.example.net.",
		"a\\032b.rum.example.net.", `q\"uote.rum.example.net.`, `back\\slash.rum.example.net.`, "\\255\\000.rum.example.net."}
	var e LogEntry
	for i := range 5000 {
		now := time.Unix(1_700_000_000+r.Int64N(100_000_000), r.Int64N(1e9))
		qname := names[r.IntN(len(names))]
		if r.IntN(2) == 0 {
			qname = strconv.FormatUint(r.Uint64(), 36) + ".rum.example.net."
		}
		// The name as the server holds it: unpacked from the wire.
		if _, ok := dns.IsDomainName(qname); !ok {
			t.Fatalf("test name %q is not a domain name", qname)
		}
		qtype := []uint16{dns.TypeA, dns.TypeAAAA}[r.IntN(2)]
		var resolver netip.Addr
		var ecs netip.Prefix
		if r.IntN(2) == 0 {
			resolver = netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))})
			ecs = netip.PrefixFrom(netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}), r.IntN(33)).Masked()
		} else {
			var a [16]byte
			for j := range a {
				a[j] = byte(r.IntN(256))
			}
			resolver = netip.AddrFrom16(a)
			ecs = netip.PrefixFrom(netip.AddrFrom16(a), r.IntN(129)).Masked()
		}
		if r.IntN(4) == 0 {
			ecs = netip.Prefix{}
		}
		pop := []string{"", "fra", "ams", "fra-2"}[r.IntN(4)]
		src := steering.Source(r.IntN(int(steering.NumSources)))

		want := queryLogLine(now, qname, qtype, resolver, ecs, pop, src)
		in := LogEntry{TS: now, QName: dns.CanonicalName(qname), QType: dns.TypeToString[qtype], Resolver: resolver, PoP: pop, Source: src.String()}
		if ecs.IsValid() {
			in.ECS = steering.CapECS(ecs)
		}
		got := append(AppendLogEntry(nil, &in), '\n')
		if string(got) != string(want) {
			t.Fatalf("case %d: AppendLogEntry:\n got %s\nwant %s", i, got, want)
		}
		if err := ParseLogEntry(want[:len(want)-1], &e); err != nil {
			t.Fatalf("ParseLogEntry(%s): %v", want, err)
		}
		in.TS = in.TS.Truncate(time.Millisecond)
		if d := diffLogEntry(&e, &in); d != "" {
			t.Fatalf("ParseLogEntry(%s): %s", want, d)
		}
	}
}

// TestLogEntryDifferential: lines written by AppendLogEntry decode the
// same with ParseLogEntry and with encoding/json.
func TestLogEntryDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var got LogEntry
	for range 1000 {
		e := randLogEntry(r)
		line := AppendLogEntry(nil, &e)
		if err := ParseLogEntry(line, &got); err != nil {
			t.Fatalf("ParseLogEntry: %v\n%s", err, line)
		}
		want, err := refParseLogEntry(line)
		if err != nil {
			t.Fatalf("reference: %v\n%s", err, line)
		}
		if d := diffLogEntry(&got, &want); d != "" {
			t.Fatalf("ParseLogEntry and encoding/json differ: %s\n%s", d, line)
		}
		if again := AppendLogEntry(nil, &got); string(again) != string(line) {
			t.Fatalf("append not stable:\n%s\n%s", line, again)
		}
	}
}

func randLogEntry(r *rand.Rand) LogEntry {
	e := LogEntry{
		TS:       time.Unix(r.Int64N(253402300799), r.Int64N(1e9)).UTC().Truncate(time.Millisecond),
		QName:    strconv.FormatUint(r.Uint64(), 36) + ".rum.example.net.",
		QType:    []string{"A", "AAAA"}[r.IntN(2)],
		Resolver: netip.AddrFrom4([4]byte{byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256)), byte(r.IntN(256))}),
		PoP:      []string{"", "fra", "ams"}[r.IntN(3)],
		Source:   []string{SourceECS, SourceResolver, SourceGeo, SourceDefault, SourceNone}[r.IntN(5)],
	}
	if r.IntN(2) == 0 {
		e.ECS = netip.PrefixFrom(e.Resolver, r.IntN(25)).Masked()
	}
	return e
}

// TestSourcesMatchSteering: every source the server can log parses.
func TestSourcesMatchSteering(t *testing.T) {
	for s := steering.Source(0); s < steering.NumSources; s++ {
		var e LogEntry
		if err := ParseLogEntry([]byte(logLine("source", strconv.Quote(s.String()))), &e); err != nil || e.Source != s.String() {
			t.Errorf("source %q: %v, %q", s, err, e.Source)
		}
	}
}

func TestParseLogEntryAllocs(t *testing.T) {
	var e LogEntry
	n := testing.AllocsPerRun(100, func() {
		if err := ParseLogEntry(benchLog, &e); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("ParseLogEntry allocates %v times, want ≤ 1 (the qname)", n)
	}
}

// TestEachLogEntry: blank lines are skipped, entries come in order (an
// absent ECS does not keep the previous line's), a bad line stops the walk
// naming its line number, and fn's error is returned as it is.
func TestEachLogEntry(t *testing.T) {
	noECS := logLine("ecs", "-", "source", `"resolver"`)
	data := []byte(logLine() + "\n\n  \n" + noECS + "\n" + logLine("qtype", `"AAAA"`))
	var got []LogEntry
	if err := EachLogEntry(data, func(e *LogEntry) error { got = append(got, *e); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != designEntry || got[1].ECS.IsValid() || got[1].Source != SourceResolver || got[2].QType != "AAAA" {
		t.Errorf("entries %+v", got)
	}
	n := 0
	err := EachLogEntry([]byte(logLine()+"\n\n"+logLine("qtype", "7")+"\n"+logLine()), func(*LogEntry) error { n++; return nil })
	if err == nil || !strings.HasPrefix(err.Error(), "line 3: ") || n != 1 {
		t.Errorf("bad third line: %v after %d entries", err, n)
	}
	stop := errors.New("stop")
	if err := EachLogEntry(data, func(*LogEntry) error { return stop }); err != stop { //nolint:errorlint // returned as it is, not wrapped
		t.Errorf("fn's error: got %v", err)
	}
	if err := EachLogEntry(nil, func(*LogEntry) error { t.Error("called on no data"); return nil }); err != nil {
		t.Error(err)
	}
}
