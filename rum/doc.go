// Package rum is the codec for steer's two real-user-measurement
// interchange formats (docs/DESIGN.md, "Interchange formats"): beacons, which
// agents send to the collector and bulk imports carry as NDJSON, and the
// DNS server's RUM query log. The simulator writes both with AppendBeacon
// and AppendLogEntry; the collector validates beacons with ParseBeacon;
// ingest and the map builder read files with Reader, ParseBeacon and
// ParseLogEntry. The package exports no metrics: callers count what it
// returns (unknown fields, *Error.Field of rejects).
//
// # Formats
//
// A beacon is one JSON object:
//
//	{"v":1,"client_subnet":"203.0.113.0/24","agent":{"kind":"desktop","platform":"windows","timer":"qpc"},
//	 "dns_test":"k3f9q2x7w1.rum.example.net","samples":[
//	  {"ts":"2026-11-21T10:00:00.123Z","target":"fra","probe":"https","rtt_ms":23.4},
//	  {"ts":"2026-11-21T10:00:01.456Z","target":"anycast","probe":"https","rtt_ms":31,"served_by":"ams"}]}
//
// and a query log line is
//
//	{"ts":"2026-11-21T10:00:00.101Z","qname":"k3f9q2x7w1.rum.example.net.","qtype":"A",
//	 "resolver":"198.51.100.7","ecs":"203.0.113.0/24","pop":"fra","source":"ecs"}
//
// The Append functions write one compact line (no spaces, no newline) with
// the fields in the order of docs/DESIGN.md, "Beacons", and absent optional
// fields left out.
// AppendLogEntry's bytes are those of dnsserver's query log for the same
// values (a test holds a copy of its formatting code), so the server can
// switch to it. AppendBeacon writes times with milliseconds, or with 6 or 9
// fraction digits when a time has finer precision, and RTTs in their
// shortest form, so that every valid beacon round-trips exactly;
// AppendLogEntry truncates to milliseconds as the server does. The join key
// between the two is Beacon.DNSTest + "." == LogEntry.QName: both are
// lower-cased, and a beacon's trailing dot is dropped.
//
// # What is validated here, and what is not
//
// The parsers reject what is malformed, each rule with its own message
// naming the field and sample index (`samples[3].rtt_ms: not a number`):
// JSON syntax (duplicate keys, trailing data, bad escapes, invalid numbers),
// v = 1, agent.kind one of desktop, web, cli; 1..MaxSamples samples; ts RFC
// 3339 with Z or an offset (converted to UTC, years 0000..9999); target a
// PoP label (1..32 of [a-z0-9-], config.CheckLabel's rule) or "anycast";
// probe https, http or tcp; rtt_ms a finite JSON number; served_by a PoP
// label; dns_test a DNS name of [a-z0-9-_] labels; agent.platform and
// agent.timer printable ASCII. Prefixes (client_subnet, ecs) must have no
// host bits set and be no finer than /24 or /56: steer stores client
// addresses truncated (docs/DESIGN.md, "Privacy"), and a bulk import must
// not smuggle in full ones.
// JSON null is not accepted for any field; an empty string is the same as
// an absent optional field.
//
// They do not apply the builder's cleaning rules. Negative, zero and
// absurd RTTs, timestamps in the future or the distant past, GetTickCount
// timers and plain HTTP or TCP probes all parse: they are well-formed
// measurements that cleaning counts and drops by name, and it cannot count
// what the parser has already thrown away.
//
// The query log is written by steer's own server, so ParseLogEntry is
// strict (unknown fields are errors) but accepts everything that server
// writes: qnames in miekg/dns presentation form with \DDD escapes (any name
// under the RUM record is logged), and the source "none", which the server
// logs when no PoP and no default answered (see docs/DESIGN.md,
// "DNS query log").
//
// # Strict and Bulk
//
// Strict mode is for beacons from the Internet: unknown fields are errors,
// and client_subnet is rejected ("client_subnet: not accepted over HTTP")
// because the collector takes the subnet from the connection. Bulk mode is
// for trusted files: client_subnet is accepted, and unknown fields are
// syntax-checked, skipped (nesting up to 32 deep) and counted, so newer
// agents' fields do not stop an import. Beacons are limited to
// MaxBeaconSize bytes, log lines to MaxLogEntrySize, NDJSON lines read by a
// Reader to MaxLineSize.
//
// # Why a hand-written parser
//
// The collector must validate at least 20,000 beacons of ~20 samples a
// second on one core, and bulk ingest 5M samples a second across cores.
// ParseBeacon is a single pass specialised to the schema: a switch on each
// key, strings kept as sub-slices of the input and scanned eight bytes at
// a time, timestamps and the usual RTT decimals converted by hand (checked
// against time.Parse and strconv.ParseFloat by fuzzing), repeated labels
// interned, the Beacon's samples array reused. A sample in exactly the
// compact form AppendBeacon writes is read as a run of fixed bytes with no
// key switch; anything else falls back to the general loop, which makes
// every error message (FuzzSampleFast holds the two paths equal).
// Measured on this project's 2-core machine (go test -bench . -benchmem, a
// 20-sample beacon of 1.7 KB; ranges over runs on a shared machine):
//
//	ParseBeacon                      1.06–1.19 µs/op 17–19M samples/s   32 B/op     1 alloc/op (the dns_test string)
//	  same, both cores in parallel   0.50 µs/op     39M samples/s
//	encoding/json decode             25–31 µs/op    0.65–0.79M samples/s 12.7 KB/op 86 allocs/op
//	encoding/json decode + validate  26–38 µs/op    0.53–0.76M samples/s 17.8 KB/op 92 allocs/op
//	AppendBeacon                     1.7–1.9 µs/op  ~11M samples/s      0 allocs/op
//	ParseLogEntry                    0.26–0.34 µs/op (encoding/json + validate: 2.1–2.9 µs, 14 allocs)
//
// so one core parses over 800,000 beacons a second, 40 times the
// collector's target, and 5M samples a second of bulk ingest (Reader
// included: 13–14M samples/s per core) takes under half a core.
// encoding/json would also accept what the formats forbid (duplicate keys,
// keys in any case, null) and cannot name the sample in its errors. The
// differential tests and FuzzParseBeacon check that whatever ParseBeacon
// accepts, encoding/json decodes to the same values.
package rum
