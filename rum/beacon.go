package rum

import (
	"math"
	"net/netip"
	"strconv"
	"time"
)

// Beacon is one agent's report: who measured (Agent), the random DNS name it
// resolved (DNSTest), and its RTT samples.
type Beacon struct {
	V            int          // format version; 1
	ClientSubnet netip.Prefix // zero if absent; only bulk imports carry it
	Agent        Agent
	DNSTest      string // "" if absent; lower-case, no trailing dot
	Samples      []Sample
}

// Agent describes the measuring program.
type Agent struct {
	Kind     string // KindDesktop, KindWeb or KindCLI
	Platform string // "" if absent ("windows", "linux", "macos", …)
	Timer    string // "" if absent: the clock ("qpc", "monotonic", "performance", "gettickcount", …)
}

// Sample is one RTT measurement.
type Sample struct {
	TS       time.Time // UTC
	Target   string    // a PoP label, or Anycast
	Probe    Probe
	RTTms    float64 // finite; not checked for plausibility (cleaning does that)
	ServedBy string  // "" if absent: the PoP that answered (X-Edge-PoP), for anycast samples
}

// Mode selects how strictly ParseBeacon treats what the collector's clients
// may not send.
type Mode int

const (
	// Strict is for beacons from the Internet (the collector's HTTP
	// endpoint): unknown fields are errors, and client_subnet is rejected
	// because the collector derives the subnet from the connection.
	Strict Mode = iota
	// Bulk is for trusted imports (steer ingest, the simulator's files):
	// client_subnet is accepted, and unknown fields are skipped (after a
	// syntax check) and counted.
	Bulk
)

// Field presence bits, for required and duplicate checks.
const (
	hasV = 1 << iota
	hasClientSubnet
	hasAgent
	hasDNSTest
	hasSamples
)

const (
	hasKind = 1 << iota
	hasPlatform
	hasTimer
)

const (
	hasTS = 1 << iota
	hasTarget
	hasProbe
	hasRTT
	hasServedBy
)

// ParseBeacon parses and validates one beacon, a JSON object, into b. It
// reuses the capacity of b.Samples, so a caller that parses beacon after
// beacon into the same Beacon allocates only the dns_test string in the
// steady state; b keeps no reference to data, so the caller may reuse it.
// unknown counts the unknown fields skipped in Bulk mode.
// Errors are *Error and name the field and, for samples, the index:
// `samples[3].rtt_ms: not a number`. On error, b holds what was parsed so
// far and should be discarded.
//
// ParseBeacon rejects what is malformed, nothing else: RTTs that are
// negative, zero or absurd and timestamps in the future or the distant past
// parse, so that the builder's cleaning rules can count them.
func ParseBeacon(data []byte, mode Mode, b *Beacon) (unknown int, err error) {
	*b = Beacon{Samples: b.Samples[:0]}
	if len(data) > MaxBeaconSize {
		return 0, &Error{Offset: -1, Msg: "beacon larger than " + strconv.Itoa(MaxBeaconSize) + " bytes"}
	}
	p := parser{data: data}
	err = p.beacon(mode, b)
	return p.unknown, err
}

func (p *parser) beacon(mode Mode, b *Beacon) error {
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
		case "v":
			bit, field = hasV, "v"
		case "client_subnet":
			bit, field = hasClientSubnet, "client_subnet"
		case "agent":
			bit, field = hasAgent, "agent"
		case "dns_test":
			bit, field = hasDNSTest, "dns_test"
		case "samples":
			bit, field = hasSamples, "samples"
		default:
			if err := p.unknownField(mode, key); err != nil {
				return err
			}
			continue
		}
		if seen&bit != 0 {
			return p.fieldErr("", "duplicate field %q", field)
		}
		seen |= bit
		switch bit {
		case hasV:
			tok, err := p.number(field)
			if err != nil {
				return err
			}
			if string(tok) != "1" {
				for _, c := range tok {
					if c == '.' || c == 'e' || c == 'E' {
						return p.fieldErr(field, "not an integer")
					}
				}
				return p.fieldErr(field, "unsupported version %.20s (want 1)", tok)
			}
			b.V = 1
		case hasClientSubnet:
			if mode == Strict {
				return p.fieldErr(field, "not accepted over HTTP")
			}
			s, err := p.strValue(field)
			if err != nil {
				return err
			}
			if len(s) == 0 {
				continue
			}
			pfx, why := clientPrefix(s)
			if why != "" {
				return p.fieldErr(field, "%s", why)
			}
			b.ClientSubnet = pfx
		case hasAgent:
			if err := p.agent(mode, &b.Agent); err != nil {
				return err
			}
		case hasDNSTest:
			s, err := p.strValue(field)
			if err != nil {
				return err
			}
			if len(s) == 0 {
				continue
			}
			name, why := dnsTestName(s)
			if why != "" {
				return p.fieldErr(field, "%s is not a valid DNS name: %s", quote(s), why)
			}
			b.DNSTest = name
		case hasSamples:
			if err := p.samples(mode, b); err != nil {
				return err
			}
		}
	}
	if err := p.end("beacon"); err != nil {
		return err
	}
	switch {
	case seen&hasV == 0:
		return p.fieldErr("v", "required")
	case seen&hasAgent == 0:
		return p.fieldErr("agent", "required")
	case seen&hasSamples == 0:
		return p.fieldErr("samples", "required")
	}
	return nil
}

// unknownField rejects the field named key in Strict mode and skips and
// counts it in Bulk mode.
func (p *parser) unknownField(mode Mode, key []byte) error {
	if mode == Strict {
		return p.fieldErr("", "unknown field %s", quote(key))
	}
	p.unknown++
	return p.skip("", 0)
}

func (p *parser) agent(mode Mode, a *Agent) error {
	if p.peek() != '{' {
		return p.fieldErr("agent", "not an object")
	}
	p.pos++
	p.where = inAgent
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
		case "kind":
			bit, field = hasKind, "kind"
		case "platform":
			bit, field = hasPlatform, "platform"
		case "timer":
			bit, field = hasTimer, "timer"
		default:
			if err := p.unknownField(mode, key); err != nil {
				return err
			}
			continue
		}
		if seen&bit != 0 {
			return p.fieldErr("", "duplicate field %q", field)
		}
		seen |= bit
		s, err := p.strValue(field)
		if err != nil {
			return err
		}
		switch bit {
		case hasKind:
			switch string(s) {
			case KindDesktop:
				a.Kind = KindDesktop
			case KindWeb:
				a.Kind = KindWeb
			case KindCLI:
				a.Kind = KindCLI
			default:
				return p.fieldErr(field, "unknown kind %s (want desktop, web or cli)", quote(s))
			}
		case hasPlatform, hasTimer:
			if !printable(s) {
				return p.fieldErr(field, "%s: want at most %d printable ASCII characters", quote(s), MaxAgentField)
			}
			if bit == hasPlatform {
				a.Platform = intern(s)
			} else {
				a.Timer = intern(s)
			}
		}
	}
	if seen&hasKind == 0 {
		return p.fieldErr("kind", "required")
	}
	p.where = inTop
	return nil
}

func (p *parser) samples(mode Mode, b *Beacon) error {
	if p.peek() != '[' {
		return p.fieldErr("samples", "not an array")
	}
	p.pos++
	for first := true; ; first = false {
		more, err := p.nextElem("samples", first)
		if err != nil {
			return err
		}
		if !more {
			break
		}
		if len(b.Samples) == MaxSamples {
			return p.fieldErr("samples", "more than %d samples", MaxSamples)
		}
		b.Samples = append(b.Samples, Sample{})
		p.where, p.idx = inSample, len(b.Samples)-1
		if p.sampleFast(&b.Samples[p.idx]) {
			p.where = inTop
			continue
		}
		if err := p.sample(mode, &b.Samples[p.idx]); err != nil {
			return err
		}
		p.where = inTop
	}
	if len(b.Samples) == 0 {
		return p.fieldErr("samples", "empty")
	}
	return nil
}

func (p *parser) sample(mode Mode, s *Sample) error {
	if p.peek() != '{' {
		return p.fieldErr("", "not an object")
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
			bit, field = hasTS, "ts"
		case "target":
			bit, field = hasTarget, "target"
		case "probe":
			bit, field = hasProbe, "probe"
		case "rtt_ms":
			bit, field = hasRTT, "rtt_ms"
		case "served_by":
			bit, field = hasServedBy, "served_by"
		default:
			if err := p.unknownField(mode, key); err != nil {
				return err
			}
			continue
		}
		if seen&bit != 0 {
			return p.fieldErr("", "duplicate field %q", field)
		}
		seen |= bit
		if bit == hasRTT {
			v, err := p.float(field)
			if err != nil {
				return err
			}
			s.RTTms = v
			continue
		}
		v, err := p.strValue(field)
		if err != nil {
			return err
		}
		switch bit {
		case hasTS:
			t, why := parseTime(v, &p.days)
			if why != "" {
				return p.fieldErr(field, "%s: %s", quote(v), why)
			}
			s.TS = t
		case hasTarget:
			switch {
			case string(v) == Anycast:
				s.Target = Anycast
			case validLabel(v):
				s.Target = intern(v)
			default:
				return p.fieldErr(field, "%s is not a PoP label (want 1..%d of [a-z0-9-], or %q)", quote(v), MaxLabelLen, Anycast)
			}
		case hasProbe:
			pr, ok := parseProbe(v)
			if !ok {
				return p.fieldErr(field, "unknown probe %s (want https, http or tcp)", quote(v))
			}
			s.Probe = pr
		case hasServedBy:
			switch {
			case len(v) == 0:
			case string(v) == Anycast:
				return p.fieldErr(field, "%q names no PoP (want the label of the PoP that answered)", Anycast)
			case validLabel(v):
				s.ServedBy = intern(v)
			default:
				return p.fieldErr(field, "%s is not a PoP label (want 1..%d of [a-z0-9-])", quote(v), MaxLabelLen)
			}
		}
	}
	switch {
	case seen&hasTS == 0:
		return p.fieldErr("ts", "required")
	case seen&hasTarget == 0:
		return p.fieldErr("target", "required")
	case seen&hasProbe == 0:
		return p.fieldErr("probe", "required")
	case seen&hasRTT == 0:
		return p.fieldErr("rtt_ms", "required")
	}
	return nil
}

// parseProbe is ParseProbe on bytes, without a string conversion.
func parseProbe(b []byte) (Probe, bool) {
	switch string(b) {
	case "https":
		return ProbeHTTPS, true
	case "http":
		return ProbeHTTP, true
	case "tcp":
		return ProbeTCP, true
	}
	return 0, false
}

// AppendBeacon appends b as one compact JSON line, without a newline, with
// the fields in the order of docs/DESIGN.md, "Beacons": v, client_subnet,
// agent (kind, platform, timer), dns_test, samples (ts, target, probe,
// rtt_ms, served_by). Absent
// optional fields (zero ClientSubnet, empty strings) are left out. RTTs are
// written in their shortest decimal form ('f', -1), and timestamps in UTC as
// 2006-01-02T15:04:05.000Z, with 6 or 9 fraction digits when the time has
// sub-millisecond precision, so that ParseBeacon gives every valid beacon
// back exactly. AppendBeacon does not validate: a non-finite RTT is written
// as null, and an invalid beacon makes a line that ParseBeacon rejects.
func AppendBeacon(dst []byte, b *Beacon) []byte {
	dst = append(dst, `{"v":`...)
	dst = strconv.AppendInt(dst, int64(b.V), 10)
	if b.ClientSubnet.IsValid() {
		dst = append(dst, `,"client_subnet":"`...)
		dst = b.ClientSubnet.AppendTo(dst)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"agent":{"kind":`...)
	dst = appendString(dst, b.Agent.Kind)
	if b.Agent.Platform != "" {
		dst = append(dst, `,"platform":`...)
		dst = appendString(dst, b.Agent.Platform)
	}
	if b.Agent.Timer != "" {
		dst = append(dst, `,"timer":`...)
		dst = appendString(dst, b.Agent.Timer)
	}
	dst = append(dst, '}')
	if b.DNSTest != "" {
		dst = append(dst, `,"dns_test":`...)
		dst = appendString(dst, b.DNSTest)
	}
	dst = append(dst, `,"samples":[`...)
	for i := range b.Samples {
		s := &b.Samples[i]
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"ts":"`...)
		dst = appendTime(dst, s.TS, false)
		dst = append(dst, `","target":`...)
		dst = appendString(dst, s.Target)
		dst = append(dst, `,"probe":"`...)
		dst = append(dst, s.Probe.String()...)
		dst = append(dst, `","rtt_ms":`...)
		if math.IsInf(s.RTTms, 0) || math.IsNaN(s.RTTms) {
			dst = append(dst, "null"...)
		} else {
			dst = strconv.AppendFloat(dst, s.RTTms, 'f', -1, 64)
		}
		if s.ServedBy != "" {
			dst = append(dst, `,"served_by":`...)
			dst = appendString(dst, s.ServedBy)
		}
		dst = append(dst, '}')
	}
	return append(dst, "]}"...)
}
