package rum

import (
	"bytes"
	"fmt"
	"net/netip"
	"strconv"
	"time"
)

// Sources: how the DNS server chose its answer (LogEntry.Source), the
// strings of steering.Source.
const (
	SourceECS      = "ecs"
	SourceResolver = "resolver"
	SourceGeo      = "geo"
	SourceDefault  = "default"
	// SourceNone is logged when nothing decided: no PoP was usable and the
	// record has no default answer (docs/DESIGN.md, "DNS query log").
	SourceNone = "none"
)

// LogEntry is one line of the DNS server's RUM query log.
type LogEntry struct {
	TS       time.Time    // UTC; written with millisecond precision
	QName    string       // lower-case, presentation form, with the trailing dot
	QType    string       // "A" or "AAAA" (any type mnemonic parses)
	Resolver netip.Addr   // the address the query came from
	ECS      netip.Prefix // zero if absent; capped at /24 or /56 by the server
	PoP      string       // "" if absent (default answer, or nothing decided)
	Source   string       // SourceECS, SourceResolver, SourceGeo, SourceDefault or SourceNone
}

const (
	hasLogTS = 1 << iota
	hasQName
	hasQType
	hasResolver
	hasECS
	hasPoP
	hasSource
)

// ParseLogEntry parses and validates one query log line (without its
// newline) into e. It is as strict as ParseBeacon in Strict mode: unknown
// and duplicate fields are errors, and the required fields are ts, qname,
// qtype, resolver and source. Errors are *Error naming the field. e keeps
// no reference to data.
func ParseLogEntry(data []byte, e *LogEntry) error {
	*e = LogEntry{}
	if len(data) > MaxLogEntrySize {
		return &Error{Offset: -1, Msg: "log line longer than " + strconv.Itoa(MaxLogEntrySize) + " bytes"}
	}
	p := parser{data: data}
	return p.logEntry(e)
}

func (p *parser) logEntry(e *LogEntry) error {
	if p.peek() != '{' {
		return p.syntaxErr("", "want a JSON object, got %s", p.got())
	}
	p.pos++
	seen := 0
	for first := true; ; first = false {
		key, ok, err := p.nextMember(first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		var bit int
		var field string
		switch string(key) {
		case "ts":
			bit, field = hasLogTS, "ts"
		case "qname":
			bit, field = hasQName, "qname"
		case "qtype":
			bit, field = hasQType, "qtype"
		case "resolver":
			bit, field = hasResolver, "resolver"
		case "ecs":
			bit, field = hasECS, "ecs"
		case "pop":
			bit, field = hasPoP, "pop"
		case "source":
			bit, field = hasSource, "source"
		default:
			return p.fieldErr("", "unknown field %s", quote(key))
		}
		if seen&bit != 0 {
			return p.fieldErr("", "duplicate field %q", field)
		}
		seen |= bit
		v, err := p.strValue(field)
		if err != nil {
			return err
		}
		switch bit {
		case hasLogTS:
			t, why := parseTime(v, &p.days)
			if why != "" {
				return p.fieldErr(field, "%s: %s", quote(v), why)
			}
			e.TS = t
		case hasQName:
			n, why := qname(v)
			if why != "" {
				return p.fieldErr(field, "%s is not a DNS name: %s", quote(v), why)
			}
			e.QName = n
		case hasQType:
			if !qtype(v) {
				return p.fieldErr(field, "%s is not a DNS type (want A, AAAA, …)", quote(v))
			}
			e.QType = intern(v)
		case hasResolver:
			a, why := parseAddr(v)
			if why != "" {
				return p.fieldErr(field, "%s", why)
			}
			e.Resolver = a
		case hasECS:
			if len(v) == 0 {
				continue
			}
			pfx, why := clientPrefix(v)
			if why != "" {
				return p.fieldErr(field, "%s", why)
			}
			e.ECS = pfx
		case hasPoP:
			switch {
			case len(v) == 0:
			case validLabel(v) && string(v) != Anycast:
				e.PoP = intern(v)
			default:
				return p.fieldErr(field, "%s is not a PoP label (want 1..%d of [a-z0-9-])", quote(v), MaxLabelLen)
			}
		case hasSource:
			switch string(v) {
			case SourceECS:
				e.Source = SourceECS
			case SourceResolver:
				e.Source = SourceResolver
			case SourceGeo:
				e.Source = SourceGeo
			case SourceDefault:
				e.Source = SourceDefault
			case SourceNone:
				e.Source = SourceNone
			default:
				return p.fieldErr(field, "unknown source %s (want ecs, resolver, geo, default or none)", quote(v))
			}
		}
	}
	if err := p.end("log"); err != nil {
		return err
	}
	for _, r := range [...]struct {
		bit   int
		field string
	}{{hasLogTS, "ts"}, {hasQName, "qname"}, {hasQType, "qtype"}, {hasResolver, "resolver"}, {hasSource, "source"}} {
		if seen&r.bit == 0 {
			return p.fieldErr(r.field, "required")
		}
	}
	return nil
}

// qtype reports whether b looks like a DNS type mnemonic as miekg/dns
// writes it: 1..16 of [A-Z0-9-], starting with a letter ("A", "AAAA",
// "TYPE65534").
func qtype(b []byte) bool {
	if len(b) == 0 || len(b) > 16 || b[0] < 'A' || b[0] > 'Z' {
		return false
	}
	for _, c := range b {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// AppendLogEntry appends e as one query log line, without the newline. For
// the values the DNS server logs, the bytes are those dnsserver/querylog.go
// writes (TestAppendLogEntryMatchesQueryLog): the same field order, ts
// truncated to milliseconds, ecs and pop left out when absent, strings
// quoted as strconv.AppendQuote does for printable ASCII. The time is
// truncated, unlike AppendBeacon's, so that passing time.Now() gives the
// server's bytes; a round trip through AppendLogEntry and ParseLogEntry
// keeps whole milliseconds only.
func AppendLogEntry(dst []byte, e *LogEntry) []byte {
	dst = append(dst, `{"ts":"`...)
	dst = appendTime(dst, e.TS, true)
	dst = append(dst, `","qname":`...)
	dst = appendString(dst, e.QName)
	dst = append(dst, `,"qtype":`...)
	dst = appendString(dst, e.QType)
	dst = append(dst, `,"resolver":"`...)
	dst = e.Resolver.AppendTo(dst)
	dst = append(dst, '"')
	if e.ECS.IsValid() {
		dst = append(dst, `,"ecs":"`...)
		dst = e.ECS.AppendTo(dst)
		dst = append(dst, '"')
	}
	if e.PoP != "" {
		dst = append(dst, `,"pop":`...)
		dst = appendString(dst, e.PoP)
	}
	dst = append(dst, `,"source":`...)
	dst = appendString(dst, e.Source)
	return append(dst, '}')
}

// EachLogEntry calls fn with every entry of an NDJSON query log held in
// data (blank lines skipped; one LogEntry reused, so fn copies what it
// keeps). It stops at the first line that does not parse, with an error
// naming it ("line 3: ..."), or at the first error fn returns.
func EachLogEntry(data []byte, fn func(*LogEntry) error) error {
	var e LogEntry
	for line := 1; len(data) > 0; line++ {
		l, rest, _ := bytes.Cut(data, []byte{'\n'})
		data = rest
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if err := ParseLogEntry(l, &e); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := fn(&e); err != nil {
			return err
		}
	}
	return nil
}
