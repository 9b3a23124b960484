package rum

import (
	"errors"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzParseBeacon: ParseBeacon never panics and returns only *Error; when
// it accepts, the beacon round-trips through AppendBeacon → ParseBeacon to
// the same value and the same bytes, and encoding/json (the reference)
// decodes the input to the same value — in Strict mode, or in Bulk mode
// when nothing was skipped (encoding/json matches keys case-insensitively,
// so skipped keys like "V" could set fields there).
func FuzzParseBeacon(f *testing.F) {
	for _, tc := range beaconCases {
		f.Add([]byte(tc.in), tc.mode == Bulk)
	}
	f.Add(benchBeacon(20), false)
	f.Fuzz(func(t *testing.T, data []byte, bulk bool) {
		mode := Strict
		if bulk {
			mode = Bulk
		}
		var b Beacon
		unknown, err := ParseBeacon(data, mode, &b)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			return
		}
		if unknown < 0 || (mode == Strict && unknown != 0) {
			t.Fatalf("%d unknown fields in mode %d", unknown, mode)
		}
		line := AppendBeacon(nil, &b)
		var b2 Beacon
		if _, err := ParseBeacon(line, mode, &b2); err != nil {
			t.Fatalf("AppendBeacon output does not parse: %v\n%s", err, line)
		}
		if d := diffBeacon(&b2, &b); d != "" {
			t.Fatalf("round trip: %s\n%s", d, line)
		}
		if again := AppendBeacon(nil, &b2); string(again) != string(line) {
			t.Fatalf("append not stable:\n%s\n%s", line, again)
		}
		if mode == Strict || unknown == 0 {
			want, err := refParseBeacon(data, mode == Strict)
			if err != nil {
				t.Fatalf("ParseBeacon accepts what encoding/json rejects (%v):\n%q", err, data)
			}
			if d := diffBeacon(&b, &want); d != "" {
				t.Fatalf("ParseBeacon and encoding/json differ: %s\n%q", d, data)
			}
		}
	})
}

// FuzzParseLogEntry: as FuzzParseBeacon, for log lines; the round trip
// keeps whole milliseconds (AppendLogEntry writes the query log's format),
// and an accepted qname is a domain name to miekg/dns.
func FuzzParseLogEntry(f *testing.F) {
	for _, tc := range logCases {
		f.Add([]byte(tc.in))
	}
	f.Add(benchLog)
	f.Fuzz(func(t *testing.T, data []byte) {
		var e LogEntry
		if err := ParseLogEntry(data, &e); err != nil {
			var pe *Error
			if !errors.As(err, &pe) {
				t.Fatalf("error %T %v is not *Error", err, err)
			}
			return
		}
		if _, ok := dns.IsDomainName(e.QName); !ok {
			t.Fatalf("qname %q accepted, but miekg/dns says it is not a domain name", e.QName)
		}
		want, err := refParseLogEntry(data)
		if err != nil {
			t.Fatalf("ParseLogEntry accepts what encoding/json rejects (%v):\n%q", err, data)
		}
		// The reference lower-cases with strings.ToLower, which also maps
		// non-ASCII; qnames are ASCII, so the two agree.
		if d := diffLogEntry(&e, &want); d != "" {
			t.Fatalf("ParseLogEntry and encoding/json differ: %s\n%q", d, data)
		}
		line := AppendLogEntry(nil, &e)
		var e2 LogEntry
		if err := ParseLogEntry(line, &e2); err != nil {
			t.Fatalf("AppendLogEntry output does not parse: %v\n%s", err, line)
		}
		e.TS = e.TS.Truncate(time.Millisecond)
		if d := diffLogEntry(&e2, &e); d != "" {
			t.Fatalf("round trip: %s\n%s", d, line)
		}
	})
}

// FuzzParseTime: parseTime agrees with time.Parse whenever it accepts, with
// and without the day cache.
func FuzzParseTime(f *testing.F) {
	for _, s := range timeCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkTime(t, s) })
}

// FuzzFastFloat: the fast path agrees with strconv.ParseFloat on every
// token it takes (the fuzzer only feeds it valid JSON numbers' shapes via
// the parser's own grammar check).
func FuzzFastFloat(f *testing.F) {
	for _, s := range floatCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := parser{data: []byte(s)}
		tok, err := p.number("")
		if err != nil || p.pos != len(s) {
			return
		}
		checkFloat(t, string(tok))
	})
}

func FuzzParseIPv4Prefix(f *testing.F) {
	for _, s := range prefixCases {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkIPv4Prefix(t, s) })
}
