package rum

import (
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// okSample is a valid sample; the table puts the sample under test after
// it, so that errors name samples[1].
const okSample = `{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4}`

// top is a valid beacon with extra top-level members appended.
func top(extra string) string {
	return `{"v":1,"agent":{"kind":"desktop"},"samples":[` + okSample + `]` + extra + `}`
}

// agent is a valid beacon with the given agent object.
func agent(a string) string {
	return `{"v":1,"agent":` + a + `,"samples":[` + okSample + `]}`
}

// sample is a valid beacon whose second sample has the given members.
func sample(members string) string {
	return `{"v":1,"agent":{"kind":"desktop"},"samples":[` + okSample + `,{` + members + `}]}`
}

// fields builds sample members from the valid ones, replacing or dropping
// (value "-") some: fields("rtt_ms", `"23.4"`).
func fields(kv ...string) string {
	m := [][2]string{{"ts", `"2026-11-21T10:00:01.456Z"`}, {"target", `"ams"`}, {"probe", `"https"`}, {"rtt_ms", `31.5`}}
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
	return strings.Join(parts, ",")
}

func ts(s string) string { return sample(fields("ts", `"`+s+`"`)) }

var (
	t0 = time.Date(2026, 11, 21, 10, 0, 0, 123e6, time.UTC)
	t1 = time.Date(2026, 11, 21, 10, 0, 1, 456e6, time.UTC)
	s0 = Sample{TS: t0, Target: "fra", Probe: ProbeHTTPS, RTTms: 23.4}
	s1 = Sample{TS: t1, Target: "ams", Probe: ProbeHTTPS, RTTms: 31.5}
)

// with returns the beacon of sample() with its second sample changed.
func with(f func(*Sample)) *Beacon {
	s := s1
	f(&s)
	return &Beacon{V: 1, Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0, s}}
}

var designExample = `{"v": 1,
 "client_subnet": "203.0.113.0/24",
 "agent": {"kind": "desktop", "platform": "windows", "timer": "qpc"},
 "dns_test": "k3f9q2x7w1.rum.example.net",
 "samples": [
   {"ts": "2026-11-21T10:00:00.123Z", "target": "fra", "probe": "https", "rtt_ms": 23.4},
   {"ts": "2026-11-21T10:00:01.456Z", "target": "anycast", "probe": "https", "rtt_ms": 31.0, "served_by": "ams"}]}`

type beaconCase struct {
	name    string
	mode    Mode
	in      string
	err     string  // exact error text; "" for success
	want    *Beacon // checked when err == ""
	unknown int
}

var beaconCases = []beaconCase{
	// Valid beacons.
	{name: "design doc example", mode: Bulk, in: designExample, want: &Beacon{
		V: 1, ClientSubnet: netip.MustParsePrefix("203.0.113.0/24"),
		Agent: Agent{Kind: KindDesktop, Platform: "windows", Timer: "qpc"}, DNSTest: "k3f9q2x7w1.rum.example.net",
		Samples: []Sample{s0, {TS: t1, Target: Anycast, Probe: ProbeHTTPS, RTTms: 31, ServedBy: "ams"}}}},
	{name: "minimal", in: sample(fields()), want: with(func(*Sample) {})},
	{name: "trailing newline and white space", in: " \t\r\n" + sample(fields()) + "\n \n", want: with(func(*Sample) {})},
	{name: "members in any order", in: `{"samples":[` + okSample + `],"agent":{"timer":"qpc","kind":"web"},"v":1}`,
		want: &Beacon{V: 1, Agent: Agent{Kind: KindWeb, Timer: "qpc"}, Samples: []Sample{s0}}},
	{name: "kind cli", in: agent(`{"kind":"cli","platform":"Linux x86_64"}`),
		want: &Beacon{V: 1, Agent: Agent{Kind: KindCLI, Platform: "Linux x86_64"}, Samples: []Sample{s0}}},
	{name: "empty optional strings are absent", mode: Bulk, in: top(`,"dns_test":"","client_subnet":""`) + "",
		want: &Beacon{V: 1, Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0}}},
	{name: "empty platform, timer, served_by", in: `{"v":1,"agent":{"kind":"web","platform":"","timer":""},"samples":[` + okSample + `,{` + fields("served_by", `""`) + `}]}`,
		want: &Beacon{V: 1, Agent: Agent{Kind: KindWeb}, Samples: []Sample{s0, s1}}},
	{name: "dns_test lower-cased, trailing dot dropped", in: top(`,"dns_test":"K3F9q2x7w1.RUM.Example.NET."`),
		want: &Beacon{V: 1, Agent: Agent{Kind: KindDesktop}, DNSTest: "k3f9q2x7w1.rum.example.net", Samples: []Sample{s0}}},
	{name: "dns_test with underscore and hyphen", in: top(`,"dns_test":"_a-b.x"`),
		want: &Beacon{V: 1, Agent: Agent{Kind: KindDesktop}, DNSTest: "_a-b.x", Samples: []Sample{s0}}},
	{name: "escapes in strings", in: sample(fields("target", `"\u0061\u006Ds"`, "probe", `"http\u0073"`, "ts", `"2026-11-21T10:00:01.456\u005a"`)),
		want: with(func(*Sample) {})},
	{name: "escaped field names", in: sample(`"\u0074s":"2026-11-21T10:00:01.456Z","target":"ams","probe":"https","rtt_\u006ds":31.5`),
		want: with(func(*Sample) {})},
	{name: "escaped slash in platform", in: agent(`{"kind":"web","platform":"a\/b \"q\" \\"}`),
		want: &Beacon{V: 1, Agent: Agent{Kind: KindWeb, Platform: `a/b "q" \`}, Samples: []Sample{s0}}},
	{name: "offset converted to UTC", in: ts("2026-11-21T12:30:01.456+02:30"), want: with(func(*Sample) {})},
	{name: "negative offset", in: ts("2026-11-21T00:00:01.456-10:00"), want: with(func(*Sample) {})},
	{name: "no fraction", in: ts("2026-11-21T10:00:01Z"), want: with(func(s *Sample) { s.TS = t1.Truncate(time.Second) })},
	{name: "nanoseconds", in: ts("2026-11-21T10:00:01.456000789Z"), want: with(func(s *Sample) { s.TS = s.TS.Add(789) })},
	{name: "fraction past nanoseconds truncated", in: ts("2026-11-21T10:00:01.4560007899999Z"), want: with(func(s *Sample) { s.TS = s.TS.Add(789) })},
	{name: "leap day", in: ts("2028-02-29T00:00:00Z"), want: with(func(s *Sample) { s.TS = time.Date(2028, 2, 29, 0, 0, 0, 0, time.UTC) })},
	{name: "far past parses (cleaning drops it)", in: ts("0001-01-01T00:00:00Z"), want: with(func(s *Sample) { s.TS = time.Time{} })},
	{name: "far future parses", in: ts("9999-12-31T23:59:59.999Z"), want: with(func(s *Sample) { s.TS = time.Date(9999, 12, 31, 23, 59, 59, 999e6, time.UTC) })},
	{name: "negative rtt parses", in: sample(fields("rtt_ms", "-5")), want: with(func(s *Sample) { s.RTTms = -5 })},
	{name: "zero rtt parses", in: sample(fields("rtt_ms", "0")), want: with(func(s *Sample) { s.RTTms = 0 })},
	{name: "minus zero", in: sample(fields("rtt_ms", "-0.0")), want: with(func(s *Sample) { s.RTTms = math.Copysign(0, -1) })},
	{name: "absurd rtt parses", in: sample(fields("rtt_ms", "1e300")), want: with(func(s *Sample) { s.RTTms = 1e300 })},
	{name: "exponent", in: sample(fields("rtt_ms", "2.5E-3")), want: with(func(s *Sample) { s.RTTms = 0.0025 })},
	{name: "underflow is zero", in: sample(fields("rtt_ms", "1e-400")), want: with(func(s *Sample) { s.RTTms = 0 })},
	{name: "many digits", in: sample(fields("rtt_ms", "23.400000000000000000001")), want: with(func(s *Sample) { s.RTTms = 23.4 })},
	{name: "probes", in: `{"v":1,"agent":{"kind":"desktop"},"samples":[` + okSample + `,{` + fields("probe", `"http"`) + `},{` + fields("probe", `"tcp"`) + `}]}`,
		want: &Beacon{V: 1, Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0, {TS: t1, Target: "ams", Probe: ProbeHTTP, RTTms: 31.5}, {TS: t1, Target: "ams", Probe: ProbeTCP, RTTms: 31.5}}}},
	{name: "served_by on a unicast target", in: sample(fields("served_by", `"fra"`)), want: with(func(s *Sample) { s.ServedBy = "fra" })},
	{name: "label of 32", in: sample(fields("target", `"`+strings.Repeat("a", 32)+`"`)), want: with(func(s *Sample) { s.Target = strings.Repeat("a", 32) })},
	{name: "client_subnet IPv6", mode: Bulk, in: top(`,"client_subnet":"2001:db8:10::/56"`),
		want: &Beacon{V: 1, ClientSubnet: netip.MustParsePrefix("2001:db8:10::/56"), Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0}}},
	{name: "client_subnet v4-mapped becomes IPv4", mode: Bulk, in: top(`,"client_subnet":"::ffff:203.0.113.0/120"`),
		want: &Beacon{V: 1, ClientSubnet: netip.MustParsePrefix("203.0.113.0/24"), Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0}}},
	{name: "client_subnet /0", mode: Bulk, in: top(`,"client_subnet":"0.0.0.0/0"`),
		want: &Beacon{V: 1, ClientSubnet: netip.MustParsePrefix("0.0.0.0/0"), Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0}}},
	{name: "bulk: unknown fields skipped and counted", mode: Bulk,
		in:   `{"v":1,"x":{"a":[1,2.5e3,-0,true,false,null,"s\"\u00e9",{}],"b":[]},"agent":{"kind":"web","browser":"firefox"},"samples":[{` + fields("ttl", "64") + `}],"y":null}`,
		want: &Beacon{V: 1, Agent: Agent{Kind: KindWeb}, Samples: []Sample{s1}}, unknown: 4},
	{name: "bulk: surrogate pair in unknown key", mode: Bulk, in: top(`,"\ud83d\ude00":1`),
		want: &Beacon{V: 1, Agent: Agent{Kind: KindDesktop}, Samples: []Sample{s0}}, unknown: 1},
	{name: "256 samples", in: `{"v":1,"agent":{"kind":"cli"},"samples":[` + strings.Repeat(okSample+",", 255) + okSample + `]}`,
		want: &Beacon{V: 1, Agent: Agent{Kind: KindCLI}, Samples: repeatSample(s0, 256)}},

	// Top level and syntax.
	{name: "empty input", in: ``, err: `offset 0: want a JSON object, got end of input`},
	{name: "array", in: `[]`, err: `offset 0: want a JSON object, got '['`},
	{name: "null", in: `null`, err: `offset 0: want a JSON object, got 'n'`},
	{name: "trailing garbage", in: top("") + ` {}`, err: `offset 126: trailing data after the beacon object`},
	{name: "trailing NUL (fuzz)", in: top("") + "\x00", err: `offset 125: trailing data after the beacon object`},
	{name: "two objects", in: top("") + "\n" + top(""), err: `offset 126: trailing data after the beacon object`},
	{name: "unterminated object", in: `{"v":1`, err: `offset 6: want ',' or '}', got end of input`},
	{name: "trailing comma in object", in: `{"v":1,}`, err: `offset 7: want a field name, got '}'`},
	{name: "missing colon", in: `{"v" 1}`, err: `offset 5: want ':' after field name, got '1'`},
	{name: "unquoted key", in: `{v:1}`, err: `offset 1: want a field name, got 'v'`},
	{name: "unterminated string", in: `{"v`, err: `offset 3: unterminated string`},
	{name: "bad escape", in: `{"\x":1}`, err: `offset 2: bad escape \x`},
	{name: "bad unicode escape", in: `{"\u00zz":1}`, err: `offset 2: bad \u escape`},
	{name: "raw control character", in: "{\"a\tb\":1}", err: `offset 3: control character 0x09 in string`},
	{name: "trailing comma in samples", in: `{"v":1,"agent":{"kind":"desktop"},"samples":[` + okSample + `,]}`, err: `samples: offset 124: trailing ',' in array`},
	{name: "samples not closed", in: `{"v":1,"agent":{"kind":"desktop"},"samples":[` + okSample, err: `samples: offset 123: want ',' or ']', got end of input`},
	{name: "too large", in: `{"v":1,"x":"` + strings.Repeat("a", MaxBeaconSize) + `"}`, err: `beacon larger than 65536 bytes`},
	{name: "duplicate top-level field", in: `{"v":1,"v":1}`, err: `duplicate field "v"`},
	{name: "duplicate via escape", in: `{"v":1,"\u0076":1}`, err: `duplicate field "v"`},
	{name: "unknown field", in: top(`,"extra":1`), err: `unknown field "extra"`},
	{name: "unknown field differs in case", in: top(`,"V":1`), err: `unknown field "V"`},
	{name: "unknown field with surrogate pair", in: top(`,"\ud83d\ude00":1`), err: `unknown field "😀"`},
	{name: "unknown field with lone surrogate", in: top(`,"\ud83d":1`), err: `unknown field "�"`},
	{name: "bulk: unknown value malformed", mode: Bulk, in: top(`,"x":[1,]`), err: `offset 132: trailing ',' in array`},
	{name: "bulk: unknown value bad literal", mode: Bulk, in: top(`,"x":nul`), err: `offset 129: want a value, got 'n'`},
	{name: "bulk: unknown value too deep", mode: Bulk, in: top(`,"x":` + strings.Repeat("[", 40) + strings.Repeat("]", 40)), err: `offset 162: nesting deeper than 32`},

	// v.
	{name: "v missing", in: `{"agent":{"kind":"desktop"},"samples":[` + okSample + `]}`, err: `v: required`},
	{name: "v 2", in: `{"v":2}`, err: `v: unsupported version 2 (want 1)`},
	{name: "v 0", in: `{"v":0}`, err: `v: unsupported version 0 (want 1)`},
	{name: "v string", in: `{"v":"1"}`, err: `v: not a number`},
	{name: "v 1.0", in: `{"v":1.0}`, err: `v: not an integer`},
	{name: "v 1e0", in: `{"v":1e0}`, err: `v: not an integer`},
	{name: "v leading zero", in: `{"v":01}`, err: `v: offset 6: invalid number`},
	{name: "v minus", in: `{"v":-}`, err: `v: offset 6: invalid number`},

	// agent.
	{name: "agent missing", in: `{"v":1,"samples":[` + okSample + `]}`, err: `agent: required`},
	{name: "agent not an object", in: agent(`"desktop"`), err: `agent: not an object`},
	{name: "agent.kind missing", in: agent(`{"platform":"windows"}`), err: `agent.kind: required`},
	{name: "agent.kind unknown", in: agent(`{"kind":"phone"}`), err: `agent.kind: unknown kind "phone" (want desktop, web or cli)`},
	{name: "agent.kind case", in: agent(`{"kind":"Desktop"}`), err: `agent.kind: unknown kind "Desktop" (want desktop, web or cli)`},
	{name: "agent.kind not a string", in: agent(`{"kind":1}`), err: `agent.kind: not a string`},
	{name: "agent.kind null", in: agent(`{"kind":null}`), err: `agent.kind: not a string`},
	{name: "agent.platform control character", in: agent(`{"kind":"web","platform":"a\nb"}`), err: `agent.platform: "a\nb": want at most 64 printable ASCII characters`},
	{name: "agent.platform non-ASCII", in: agent(`{"kind":"web","platform":"é"}`), err: `agent.platform: "é": want at most 64 printable ASCII characters`},
	{name: "agent.timer too long", in: agent(`{"kind":"web","timer":"` + strings.Repeat("t", 65) + `"}`), err: `agent.timer: "` + strings.Repeat("t", 65) + `": want at most 64 printable ASCII characters`},
	{name: "agent.timer not a string", in: agent(`{"kind":"web","timer":16}`), err: `agent.timer: not a string`},
	{name: "agent duplicate field", in: agent(`{"kind":"web","kind":"web"}`), err: `agent: duplicate field "kind"`},
	{name: "agent unknown field", in: agent(`{"kind":"web","os":"x"}`), err: `agent: unknown field "os"`},
	{name: "agent syntax", in: agent(`{"kind":"web" "os":"x"}`), err: `agent: offset 29: want ',' or '}', got '"'`},

	// dns_test.
	{name: "dns_test not a string", in: top(`,"dns_test":5`), err: `dns_test: not a string`},
	{name: "dns_test bad character", in: top(`,"dns_test":"a b.example"`), err: `dns_test: "a b.example" is not a valid DNS name: bad character 0x20 (want [a-z0-9-_] and dots)`},
	{name: "dns_test escaped bad character", in: top(`,"dns_test":"a\u0000b"`), err: `dns_test: "a\x00b" is not a valid DNS name: bad character 0x00 (want [a-z0-9-_] and dots)`},
	{name: "dns_test empty label", in: top(`,"dns_test":"a..example"`), err: `dns_test: "a..example" is not a valid DNS name: empty label`},
	{name: "dns_test leading dot", in: top(`,"dns_test":".example"`), err: `dns_test: ".example" is not a valid DNS name: empty label`},
	{name: "dns_test only a dot", in: top(`,"dns_test":"."`), err: `dns_test: "." is not a valid DNS name: empty name`},
	{name: "dns_test two trailing dots", in: top(`,"dns_test":"a.."`), err: `dns_test: "a.." is not a valid DNS name: empty label`},
	{name: "dns_test label of 64", in: top(`,"dns_test":"` + strings.Repeat("a", 64) + `.x"`), err: `dns_test: "` + strings.Repeat("a", 64) + `.x" is not a valid DNS name: label longer than 63 bytes`},
	{name: "dns_test longer than 253", in: top(`,"dns_test":"` + strings.Repeat("abcdefgh.", 28) + `xy"`), err: `dns_test: "` + strings.Repeat("abcdefgh.", 8) + `abcdefgh"… is not a valid DNS name: longer than 253 bytes`},

	// client_subnet.
	{name: "client_subnet over HTTP", in: top(`,"client_subnet":"203.0.113.0/24"`), err: `client_subnet: not accepted over HTTP`},
	{name: "client_subnet not a string", mode: Bulk, in: top(`,"client_subnet":24`), err: `client_subnet: not a string`},
	{name: "client_subnet not a CIDR", mode: Bulk, in: top(`,"client_subnet":"203.0.113.0"`), err: `client_subnet: "203.0.113.0" is not a CIDR prefix`},
	{name: "client_subnet host bits", mode: Bulk, in: top(`,"client_subnet":"203.0.113.7/24"`), err: `client_subnet: "203.0.113.7/24": host bits set (want 203.0.113.0/24)`},
	{name: "client_subnet IPv6 host bits", mode: Bulk, in: top(`,"client_subnet":"2001:db8::1/56"`), err: `client_subnet: "2001:db8::1/56": host bits set (want 2001:db8::/56)`},
	{name: "client_subnet finer than /24", mode: Bulk, in: top(`,"client_subnet":"203.0.113.7/32"`), err: `client_subnet: "203.0.113.7/32": finer than /24 (client subnets are stored truncated to /24 or /56)`},
	{name: "client_subnet finer than /56", mode: Bulk, in: top(`,"client_subnet":"2001:db8::/64"`), err: `client_subnet: "2001:db8::/64": finer than /56 (client subnets are stored truncated to /24 or /56)`},
	{name: "client_subnet v4-mapped finer than /24", mode: Bulk, in: top(`,"client_subnet":"::ffff:203.0.113.7/128"`), err: `client_subnet: "::ffff:203.0.113.7/128": finer than /24 (client subnets are stored truncated to /24 or /56)`},
	{name: "client_subnet v4-mapped shorter than /96", mode: Bulk, in: top(`,"client_subnet":"::ffff:0.0.0.0/95"`), err: `client_subnet: "::ffff:0.0.0.0/95": host bits set (want ::fffe:0:0/95)`},
	{name: "client_subnet leading zero", mode: Bulk, in: top(`,"client_subnet":"203.0.113.0/024"`), err: `client_subnet: "203.0.113.0/024" is not a CIDR prefix`},

	// samples.
	{name: "samples missing", in: `{"v":1,"agent":{"kind":"desktop"}}`, err: `samples: required`},
	{name: "samples empty", in: `{"v":1,"agent":{"kind":"desktop"},"samples":[]}`, err: `samples: empty`},
	{name: "samples not an array", in: `{"v":1,"agent":{"kind":"desktop"},"samples":{}}`, err: `samples: not an array`},
	{name: "samples null", in: `{"v":1,"agent":{"kind":"desktop"},"samples":null}`, err: `samples: not an array`},
	{name: "257 samples", in: `{"v":1,"agent":{"kind":"cli"},"samples":[` + strings.Repeat(okSample+",", 256) + okSample + `]}`, err: `samples: more than 256 samples`},
	{name: "sample not an object", in: `{"v":1,"agent":{"kind":"desktop"},"samples":[` + okSample + `,1]}`, err: `samples[1]: not an object`},
	{name: "sample duplicate field", in: sample(fields() + `,"ts":"2026-11-21T10:00:01.456Z"`), err: `samples[1]: duplicate field "ts"`},
	{name: "sample unknown field", in: sample(fields("ttl", "64")), err: `samples[1]: unknown field "ttl"`},
	{name: "sample syntax", in: sample(fields() + `,`), err: `samples[1]: offset 202: want a field name, got '}'`},

	// ts.
	{name: "ts missing", in: sample(fields("ts", "-")), err: `samples[1].ts: required`},
	{name: "ts not a string", in: sample(fields("ts", "1764000000")), err: `samples[1].ts: not a string`},
	{name: "ts date only", in: ts("2026-11-21"), err: `samples[1].ts: "2026-11-21": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts space separator", in: ts("2026-11-21 10:00:01Z"), err: `samples[1].ts: "2026-11-21 10:00:01Z": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts lower-case z", in: ts("2026-11-21T10:00:01z"), err: `samples[1].ts: "2026-11-21T10:00:01z": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts no zone", in: ts("2026-11-21T10:00:01.456"), err: `samples[1].ts: "2026-11-21T10:00:01.456": missing time zone (want Z or ±hh:mm)`},
	{name: "ts empty fraction", in: ts("2026-11-21T10:00:01.Z"), err: `samples[1].ts: "2026-11-21T10:00:01.Z": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts comma fraction", in: ts("2026-11-21T10:00:01,456Z"), err: `samples[1].ts: "2026-11-21T10:00:01,456Z": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts short year", in: ts("226-11-21T10:00:01Z"), err: `samples[1].ts: "226-11-21T10:00:01Z": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts month 13", in: ts("2026-13-21T10:00:01Z"), err: `samples[1].ts: "2026-13-21T10:00:01Z": month out of range`},
	{name: "ts month 0", in: ts("2026-00-21T10:00:01Z"), err: `samples[1].ts: "2026-00-21T10:00:01Z": month out of range`},
	{name: "ts day 31 in November", in: ts("2026-11-31T10:00:01Z"), err: `samples[1].ts: "2026-11-31T10:00:01Z": day out of range`},
	{name: "ts February 29 in a common year", in: ts("2026-02-29T10:00:01Z"), err: `samples[1].ts: "2026-02-29T10:00:01Z": day out of range`},
	{name: "ts February 29 in 2100", in: ts("2100-02-29T10:00:01Z"), err: `samples[1].ts: "2100-02-29T10:00:01Z": day out of range`},
	{name: "ts hour 24", in: ts("2026-11-21T24:00:00Z"), err: `samples[1].ts: "2026-11-21T24:00:00Z": hour out of range`},
	{name: "ts minute 60", in: ts("2026-11-21T10:60:00Z"), err: `samples[1].ts: "2026-11-21T10:60:00Z": minute out of range`},
	{name: "ts leap second", in: ts("2026-12-31T23:59:60Z"), err: `samples[1].ts: "2026-12-31T23:59:60Z": second out of range`},
	{name: "ts offset hour 24", in: ts("2026-11-21T10:00:01+24:00"), err: `samples[1].ts: "2026-11-21T10:00:01+24:00": bad time zone offset`},
	{name: "ts offset without colon", in: ts("2026-11-21T10:00:01+0200"), err: `samples[1].ts: "2026-11-21T10:00:01+0200": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},
	{name: "ts before year 0000 in UTC (fuzz)", in: ts("0000-01-01T00:00:00+10:00"), err: `samples[1].ts: "0000-01-01T00:00:00+10:00": outside years 0000..9999 in UTC`},
	{name: "ts after year 9999 in UTC", in: ts("9999-12-31T23:00:00-10:00"), err: `samples[1].ts: "9999-12-31T23:00:00-10:00": outside years 0000..9999 in UTC`},
	{name: "ts trailing data", in: ts("2026-11-21T10:00:01Z "), err: `samples[1].ts: "2026-11-21T10:00:01Z ": not an RFC 3339 time (want 2006-01-02T15:04:05.000Z)`},

	// target.
	{name: "target missing", in: sample(fields("target", "-")), err: `samples[1].target: required`},
	{name: "target not a string", in: sample(fields("target", "1")), err: `samples[1].target: not a string`},
	{name: "target empty", in: sample(fields("target", `""`)), err: `samples[1].target: "" is not a PoP label (want 1..32 of [a-z0-9-], or "anycast")`},
	{name: "target upper case", in: sample(fields("target", `"FRA"`)), err: `samples[1].target: "FRA" is not a PoP label (want 1..32 of [a-z0-9-], or "anycast")`},
	{name: "target with dot", in: sample(fields("target", `"fra.1"`)), err: `samples[1].target: "fra.1" is not a PoP label (want 1..32 of [a-z0-9-], or "anycast")`},
	{name: "target of 33", in: sample(fields("target", `"`+strings.Repeat("a", 33)+`"`)), err: `samples[1].target: "` + strings.Repeat("a", 33) + `" is not a PoP label (want 1..32 of [a-z0-9-], or "anycast")`},

	// probe.
	{name: "probe missing", in: sample(fields("probe", "-")), err: `samples[1].probe: required`},
	{name: "probe unknown", in: sample(fields("probe", `"quic"`)), err: `samples[1].probe: unknown probe "quic" (want https, http or tcp)`},
	{name: "probe case", in: sample(fields("probe", `"HTTPS"`)), err: `samples[1].probe: unknown probe "HTTPS" (want https, http or tcp)`},
	{name: "probe not a string", in: sample(fields("probe", `true`)), err: `samples[1].probe: not a string`},

	// rtt_ms.
	{name: "rtt_ms missing", in: sample(fields("rtt_ms", "-")), err: `samples[1].rtt_ms: required`},
	{name: "rtt_ms string", in: sample(fields("rtt_ms", `"23.4"`)), err: `samples[1].rtt_ms: not a number`},
	{name: "rtt_ms null", in: sample(fields("rtt_ms", `null`)), err: `samples[1].rtt_ms: not a number`},
	{name: "rtt_ms NaN", in: sample(fields("rtt_ms", `NaN`)), err: `samples[1].rtt_ms: not a number`},
	{name: "rtt_ms Infinity", in: sample(fields("rtt_ms", `Infinity`)), err: `samples[1].rtt_ms: not a number`},
	{name: "rtt_ms plus sign", in: sample(fields("rtt_ms", `+1`)), err: `samples[1].rtt_ms: not a number`},
	{name: "rtt_ms overflow", in: sample(fields("rtt_ms", `1e999`)), err: `samples[1].rtt_ms: 1e999 overflows a float64`},
	{name: "rtt_ms negative overflow", in: sample(fields("rtt_ms", `-2e308`)), err: `samples[1].rtt_ms: -2e308 overflows a float64`},
	{name: "rtt_ms leading zero", in: sample(fields("rtt_ms", `023`)), err: `samples[1].rtt_ms: offset 198: invalid number`},
	{name: "rtt_ms dot without digits", in: sample(fields("rtt_ms", `23.`)), err: `samples[1].rtt_ms: offset 200: invalid number: no digits after '.'`},
	{name: "rtt_ms leading dot", in: sample(fields("rtt_ms", `.5`)), err: `samples[1].rtt_ms: not a number`},
	{name: "rtt_ms exponent without digits", in: sample(fields("rtt_ms", `2e`)), err: `samples[1].rtt_ms: offset 199: invalid number: no digits in exponent`},
	{name: "rtt_ms hex", in: sample(fields("rtt_ms", `0x10`)), err: `samples[1].rtt_ms: offset 198: invalid number`},

	// served_by.
	{name: "served_by anycast", in: sample(fields("target", `"anycast"`, "served_by", `"anycast"`)), err: `samples[1].served_by: "anycast" names no PoP (want the label of the PoP that answered)`},
	{name: "served_by bad label", in: sample(fields("served_by", `"AMS "`)), err: `samples[1].served_by: "AMS " is not a PoP label (want 1..32 of [a-z0-9-])`},
	{name: "served_by not a string", in: sample(fields("served_by", `1`)), err: `samples[1].served_by: not a string`},
}

func repeatSample(s Sample, n int) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestParseBeacon(t *testing.T) {
	for _, tc := range beaconCases {
		t.Run(tc.name, func(t *testing.T) {
			var b Beacon
			unknown, err := ParseBeacon([]byte(tc.in), tc.mode, &b)
			if tc.err != "" {
				if err == nil {
					t.Fatalf("ParseBeacon(%.200s) = %+v, want error %q", tc.in, b, tc.err)
				}
				if err.Error() != tc.err {
					t.Fatalf("ParseBeacon(%.200s) error:\n got %s\nwant %s", tc.in, err, tc.err)
				}
				var e *Error
				if !errors.As(err, &e) {
					t.Fatalf("error %T is not *Error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseBeacon(%.200s): %v", tc.in, err)
			}
			if d := diffBeacon(&b, tc.want); d != "" {
				t.Fatalf("ParseBeacon(%.200s): %s", tc.in, d)
			}
			if unknown != tc.unknown {
				t.Errorf("ParseBeacon(%.200s): %d unknown fields, want %d", tc.in, unknown, tc.unknown)
			}
			// A valid strict beacon is valid in bulk mode too, with
			// nothing unknown.
			if tc.mode == Strict {
				if n, err := ParseBeacon([]byte(tc.in), Bulk, &b); err != nil || n != 0 {
					t.Errorf("Bulk mode: %d unknown, %v", n, err)
				}
			}
		})
	}
}

// TestParseBeaconReuse: parsing into a used Beacon resets every field and
// reuses the samples' array.
func TestParseBeaconReuse(t *testing.T) {
	var b Beacon
	if _, err := ParseBeacon([]byte(designExample), Bulk, &b); err != nil {
		t.Fatal(err)
	}
	first := &b.Samples[0]
	in := `{"v":1,"agent":{"kind":"web"},"samples":[` + okSample + `]}`
	if _, err := ParseBeacon([]byte(in), Strict, &b); err != nil {
		t.Fatal(err)
	}
	want := Beacon{V: 1, Agent: Agent{Kind: KindWeb}, Samples: []Sample{s0}}
	if d := diffBeacon(&b, &want); d != "" {
		t.Fatal(d)
	}
	if &b.Samples[0] != first {
		t.Error("samples array not reused")
	}
	// A failed parse leaves a Beacon that the next parse fully resets.
	if _, err := ParseBeacon([]byte(designExample), Strict, &b); err == nil {
		t.Fatal("want error")
	}
	if _, err := ParseBeacon([]byte(in), Strict, &b); err != nil {
		t.Fatal(err)
	}
	if d := diffBeacon(&b, &want); d != "" {
		t.Fatal(d)
	}
}

// TestParseBeaconAllocs is the collector's allocation budget: parsing a
// 20-sample beacon into a reused Beacon allocates only the dns_test string.
func TestParseBeaconAllocs(t *testing.T) {
	data := benchBeacon(20)
	var b Beacon
	if _, err := ParseBeacon(data, Strict, &b); err != nil {
		t.Fatal(err)
	}
	n := testing.AllocsPerRun(100, func() {
		if _, err := ParseBeacon(data, Strict, &b); err != nil {
			t.Fatal(err)
		}
	})
	if n > 1 {
		t.Errorf("ParseBeacon allocates %v times per 20-sample beacon, want ≤ 1", n)
	}
	out := make([]byte, 0, 4096)
	n = testing.AllocsPerRun(100, func() { out = AppendBeacon(out[:0], &b) })
	if n != 0 {
		t.Errorf("AppendBeacon allocates %v times, want 0", n)
	}
}

func TestAppendBeaconDesignExample(t *testing.T) {
	var b Beacon
	if _, err := ParseBeacon([]byte(designExample), Bulk, &b); err != nil {
		t.Fatal(err)
	}
	want := `{"v":1,"client_subnet":"203.0.113.0/24","agent":{"kind":"desktop","platform":"windows","timer":"qpc"},"dns_test":"k3f9q2x7w1.rum.example.net","samples":[` +
		`{"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4},` +
		`{"ts":"2026-11-21T10:00:01.456Z","target":"anycast","probe":"https","rtt_ms":31,"served_by":"ams"}]}`
	if got := string(AppendBeacon(nil, &b)); got != want {
		t.Errorf("AppendBeacon:\n got %s\nwant %s", got, want)
	}
	// Compact, but the same document as docs/DESIGN.md's ("Beacons").
	var x, y any
	_ = json.Unmarshal([]byte(designExample), &x)
	_ = json.Unmarshal([]byte(want), &y)
	if xs, ys := mustJSON(t, x), mustJSON(t, y); xs != ys {
		t.Errorf("not the docs/DESIGN.md document:\n%s\n%s", xs, ys)
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestAppendBeaconEdges(t *testing.T) {
	b := Beacon{V: 1, Agent: Agent{Kind: KindWeb, Platform: "a\"\\\x01é\xff"}, Samples: []Sample{
		{TS: time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC), Target: "fra", Probe: ProbeTCP, RTTms: math.Inf(1)},
		{TS: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.FixedZone("x", 3600)), Target: "fra", Probe: ProbeHTTP, RTTms: 1e21},
		{TS: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Target: "fra", Probe: 0, RTTms: math.NaN()},
	}}
	want := `{"v":1,"agent":{"kind":"web","platform":"a\"\\\u0001é\ufffd"},"samples":[` +
		`{"ts":"2026-01-02T03:04:05.000000006Z","target":"fra","probe":"tcp","rtt_ms":null},` +
		`{"ts":"2026-01-02T02:04:05.000006Z","target":"fra","probe":"http","rtt_ms":1000000000000000000000},` +
		`{"ts":"2026-01-02T03:04:05.000Z","target":"fra","probe":"Probe(0)","rtt_ms":null}]}`
	got := AppendBeacon(nil, &b)
	if string(got) != want {
		t.Errorf("AppendBeacon:\n got %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
}

// TestBeaconRoundTrip: random valid beacons survive AppendBeacon →
// ParseBeacon exactly, and appending the result gives the same bytes.
func TestBeaconRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var got Beacon
	for i := range 2000 {
		bulk := i%2 == 0
		mode := Strict
		if bulk {
			mode = Bulk
		}
		b := randBeacon(r, bulk)
		line := AppendBeacon(nil, &b)
		if _, err := ParseBeacon(line, mode, &got); err != nil {
			t.Fatalf("ParseBeacon(AppendBeacon(%+v)): %v\n%s", b, err, line)
		}
		if d := diffBeacon(&got, &b); d != "" {
			t.Fatalf("round trip: %s\n%s", d, line)
		}
		if again := AppendBeacon(nil, &got); string(again) != string(line) {
			t.Fatalf("append not stable:\n%s\n%s", line, again)
		}
	}
}

// TestBeaconDifferential: random valid beacons written by encoding/json
// (exponent floats, RFC3339Nano times, \u escapes for < > &) parse to the
// same values with ParseBeacon as with the encoding/json reference, and
// ParseBeacon's own output decodes the same with the reference.
func TestBeaconDifferential(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var got Beacon
	for range 2000 {
		b := randBeacon(r, false)
		b.Agent.Platform += "<&>"
		ref, err := json.Marshal(toRef(&b))
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range [][]byte{ref, AppendBeacon(nil, &b)} {
			if _, err := ParseBeacon(in, Strict, &got); err != nil {
				t.Fatalf("ParseBeacon: %v\n%s", err, in)
			}
			want, err := refParseBeacon(in, true)
			if err != nil {
				t.Fatalf("reference: %v\n%s", err, in)
			}
			if d := diffBeacon(&got, &want); d != "" {
				t.Fatalf("ParseBeacon and encoding/json differ: %s\n%s", d, in)
			}
			if d := diffBeacon(&got, &b); d != "" {
				t.Fatalf("ParseBeacon: %s\n%s", d, in)
			}
		}
	}
}

func TestProbeString(t *testing.T) {
	for _, p := range []Probe{ProbeHTTPS, ProbeHTTP, ProbeTCP} {
		q, ok := ParseProbe(p.String())
		if !ok || q != p {
			t.Errorf("ParseProbe(%q) = %v, %v", p.String(), q, ok)
		}
	}
	if s := Probe(7).String(); s != "Probe(7)" {
		t.Errorf("Probe(7).String() = %q", s)
	}
}

// TestParseCopies: parsed values do not alias the input, which the
// collector reuses for the next request.
func TestParseCopies(t *testing.T) {
	data := []byte(`{"v":1,"agent":{"kind":"web","platform":"Lin\u0075x-7q","timer":"zz-timer-9"},"dns_test":"Qq9.rum.example.net","samples":[{` +
		fields("target", `"zz-pop-1"`, "served_by", `"zz-pop-\u0032"`) + `}]}`)
	var b Beacon
	if _, err := ParseBeacon(data, Strict, &b); err != nil {
		t.Fatal(err)
	}
	want := Beacon{V: 1, Agent: Agent{Kind: KindWeb, Platform: "Linux-7q", Timer: "zz-timer-9"}, DNSTest: "qq9.rum.example.net",
		Samples: []Sample{{TS: t1, Target: "zz-pop-1", Probe: ProbeHTTPS, RTTms: 31.5, ServedBy: "zz-pop-2"}}}
	for i := range data {
		data[i] = 'X'
	}
	if d := diffBeacon(&b, &want); d != "" {
		t.Error(d)
	}
	line := []byte(logLine("qname", `"Abc.rum.example.net."`, "pop", `"zz-pop-3"`))
	var e LogEntry
	if err := ParseLogEntry(line, &e); err != nil {
		t.Fatal(err)
	}
	for i := range line {
		line[i] = 'X'
	}
	if e.QName != "abc.rum.example.net." || e.PoP != "zz-pop-3" || e.QType != "A" {
		t.Errorf("log entry changed with its input: %+v", e)
	}
}
