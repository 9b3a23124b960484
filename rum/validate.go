package rum

import (
	"net/netip"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/steer-gslb/steer/popmap"
)

// Limits of the formats.
const (
	// MaxSamples bounds the samples of one beacon. An agent probes each
	// PoP a few times per round; 256 leaves room for ~80 PoPs × 3.
	MaxSamples = 256
	// MaxBeaconSize bounds a beacon's JSON text: 256 samples of ~100
	// bytes each, with room for white space. The collector should cap
	// request bodies at the same size before reading them.
	MaxBeaconSize = 64 << 10
	// MaxLogEntrySize bounds one query log line: the longest qname in
	// presentation form (\DDD escapes, then JSON's own) stays under 2 KiB.
	MaxLogEntrySize = 8 << 10
	// MaxLabelLen is the longest PoP label (config.CheckLabel's rule).
	MaxLabelLen = 32
	// MaxAgentField bounds agent.platform and agent.timer.
	MaxAgentField = 64
)

// Anycast is the target of the probe to the anycast address; its sample
// names the PoP that answered in ServedBy. No PoP may be called this.
const Anycast = "anycast"

// Agent kinds: the only values agent.kind may take.
const (
	KindDesktop = "desktop" // the desktop agent (Go)
	KindWeb     = "web"     // the JavaScript beacon in a web page
	KindCLI     = "cli"     // `steer probe` and other command-line agents
)

// Probe is how a sample's RTT was measured. Only HTTPS samples count by
// default (docs/DESIGN.md, "Cleaning rules": plain HTTP and TCP are hijacked in the
// wild), but all three are valid in a beacon. The zero value is no probe
// and is never the result of a successful parse.
type Probe uint8

// Probes.
const (
	ProbeHTTPS Probe = iota + 1
	ProbeHTTP
	ProbeTCP
)

var probeNames = [...]string{"", "https", "http", "tcp"}

// String returns the probe's name in a beacon ("https").
func (p Probe) String() string {
	if int(p) < len(probeNames) && p != 0 {
		return probeNames[p]
	}
	return "Probe(" + strconv.Itoa(int(p)) + ")"
}

// ParseProbe returns the probe named s, or false.
func ParseProbe(s string) (Probe, bool) {
	switch s {
	case "https":
		return ProbeHTTPS, true
	case "http":
		return ProbeHTTP, true
	case "tcp":
		return ProbeTCP, true
	}
	return 0, false
}

// validLabel reports whether s is a PoP label: 1..32 of [a-z0-9-], the rule
// of config.CheckLabel (TestLabelRuleMatchesConfig keeps them equal). It
// does not reject "anycast"; callers that must, do. popmap accepts looser
// labels in maps, but a map label must also name a configured PoP, so this
// is the rule that decides whether a target can ever count.
func validLabel(s []byte) bool {
	if len(s) == 0 || len(s) > MaxLabelLen {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// dnsTestName checks and canonicalises a beacon's dns_test: lower-cased,
// without a trailing dot, labels of 1..63 of [a-z0-9-_], at most 253 bytes.
// It returns a reason on failure.
func dnsTestName(b []byte) (string, string) {
	if n := len(b); n > 0 && b[n-1] == '.' {
		b = b[:n-1]
	}
	if len(b) == 0 {
		return "", "empty name"
	}
	if len(b) > 253 {
		return "", "longer than 253 bytes"
	}
	upper := false
	label := 0
	for _, c := range b {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		case c >= 'A' && c <= 'Z':
			upper = true
		case c == '.':
			if label == 0 {
				return "", "empty label"
			}
			label = 0
			continue
		default:
			return "", "bad character " + quoteByte(c) + " (want [a-z0-9-_] and dots)"
		}
		if label++; label > 63 {
			return "", "label longer than 63 bytes"
		}
	}
	if label == 0 {
		return "", "empty label"
	}
	if !upper {
		return string(b), ""
	}
	return strings.ToLower(string(b)), ""
}

// qname checks and lower-cases a query log qname: a DNS name in
// presentation form, with its trailing dot, as miekg/dns writes it
// (printable ASCII; '\DDD' and '\X' escapes for anything else), labels of
// at most 63 octets and at most 255 octets on the wire. The server logs
// every name under the RUM record, so odd labels ("*", "a\032b") are
// valid; only what the server cannot have written is rejected.
func qname(b []byte) (string, string) {
	n := len(b)
	if n == 0 {
		return "", "empty name"
	}
	if b[n-1] != '.' || escapedDot(b) {
		return "", "no trailing dot"
	}
	if n == 1 {
		return ".", ""
	}
	wire, label, upper := 1, 0, false
	for i := 0; i < n; i++ {
		c := b[i]
		switch {
		case c == '.':
			if label == 0 {
				return "", "empty label"
			}
			wire += 1 + label
			label = 0
			continue
		case c == '\\':
			if i+1 >= n {
				return "", "bad escape"
			}
			if d := b[i+1]; d >= '0' && d <= '9' {
				v, ok := digits(b[i+1 : min(i+4, n)])
				if i+4 > n || !ok || v > 255 {
					return "", `bad \DDD escape`
				}
				i += 3
			} else {
				if d <= ' ' || d >= 0x7f {
					return "", "bad escape"
				}
				upper = upper || d >= 'A' && d <= 'Z'
				i++
			}
		case c <= ' ' || c >= 0x7f:
			return "", "bad character " + quoteByte(c)
		case c >= 'A' && c <= 'Z':
			upper = true
		}
		if label++; label > 63 {
			return "", "label longer than 63 octets"
		}
	}
	if wire > 255 {
		return "", "longer than 255 octets"
	}
	if !upper {
		return string(b), ""
	}
	// As dns.CanonicalName: every ASCII letter, "\A" too; "\065" stays.
	return strings.ToLower(string(b)), ""
}

// escapedDot reports whether b's final '.' is escaped ("a\."), that is,
// preceded by an odd number of backslashes.
func escapedDot(b []byte) bool {
	k := 0
	for i := len(b) - 2; i >= 0 && b[i] == '\\'; i-- {
		k++
	}
	return k%2 == 1
}

// clientPrefix checks a client subnet (client_subnet, ecs): a CIDR with no
// host bits set and no finer than /24 (IPv4) or /56 (IPv6), the truncation
// required before anything is stored (docs/DESIGN.md, "Privacy").
// IPv4-mapped IPv6 prefixes become the IPv4 prefix they denote, as in
// popmap.
func clientPrefix(b []byte) (netip.Prefix, string) {
	pfx, ok := parseIPv4Prefix(b)
	if !ok {
		var err error
		pfx, err = netip.ParsePrefix(string(b))
		if err != nil {
			return netip.Prefix{}, quote(b) + " is not a CIDR prefix"
		}
		if m := pfx.Masked(); m != pfx {
			return netip.Prefix{}, quote(b) + ": host bits set (want " + m.String() + ")"
		}
		// A v4-mapped prefix shorter than /96 has host bits set (the
		// ffff), so every one that gets here is ≥ /96.
		if a := pfx.Addr(); a.Is4In6() {
			pfx = netip.PrefixFrom(a.Unmap(), pfx.Bits()-96)
		}
	}
	if pfx.Addr().Is4() && pfx.Bits() > popmap.MaxSource4 {
		return netip.Prefix{}, quote(b) + ": finer than /24 (client subnets are stored truncated to /24 or /56)"
	}
	if pfx.Addr().Is6() && pfx.Bits() > popmap.MaxSource6 {
		return netip.Prefix{}, quote(b) + ": finer than /56 (client subnets are stored truncated to /24 or /56)"
	}
	return pfx, ""
}

// parseIPv4Prefix is a fast path for the common "a.b.c.d/n" with no host
// bits set; anything else returns false and takes netip's path, which also
// makes the error messages. FuzzParseIPv4Prefix checks it against netip.
func parseIPv4Prefix(s []byte) (netip.Prefix, bool) {
	a, i, ok := parseIPv4(s)
	if !ok || i >= len(s) || s[i] != '/' {
		return netip.Prefix{}, false
	}
	i++
	bits, n := 0, 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		if n > 0 && bits == 0 {
			return netip.Prefix{}, false // leading zero
		}
		bits = bits*10 + int(s[i]-'0')
		if n++; bits > 32 {
			return netip.Prefix{}, false
		}
	}
	if n == 0 || i != len(s) {
		return netip.Prefix{}, false
	}
	pfx := netip.PrefixFrom(a, bits)
	if pfx.Masked() != pfx {
		return netip.Prefix{}, false
	}
	return pfx, true
}

// parseIPv4 parses a dotted quad at the start of s, returning the index
// after it.
func parseIPv4(s []byte) (netip.Addr, int, bool) {
	var a [4]byte
	i := 0
	for k := range 4 {
		if k > 0 {
			if i >= len(s) || s[i] != '.' {
				return netip.Addr{}, 0, false
			}
			i++
		}
		v, n := 0, 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			if n > 0 && v == 0 {
				return netip.Addr{}, 0, false // leading zero
			}
			v = v*10 + int(s[i]-'0')
			if n++; v > 255 {
				return netip.Addr{}, 0, false
			}
		}
		if n == 0 {
			return netip.Addr{}, 0, false
		}
		a[k] = byte(v)
	}
	return netip.AddrFrom4(a), i, true
}

// parseAddr parses a resolver address: IPv4 or IPv6, no zone.
func parseAddr(b []byte) (netip.Addr, string) {
	if a, i, ok := parseIPv4(b); ok && i == len(b) {
		return a, ""
	}
	a, err := netip.ParseAddr(string(b))
	if err != nil {
		return netip.Addr{}, quote(b) + " is not an IP address"
	}
	if a.Zone() != "" {
		return netip.Addr{}, quote(b) + ": zones are not allowed"
	}
	return a, ""
}

// printable reports whether s is at most MaxAgentField bytes of printable
// ASCII (agent.platform, agent.timer; empty means absent).
func printable(s []byte) bool {
	if len(s) > MaxAgentField {
		return false
	}
	for _, c := range s {
		if c < ' ' || c > '~' {
			return false
		}
	}
	return true
}

// quote quotes an offending value for an error message, cut at 80 bytes.
func quote(b []byte) string {
	if len(b) > 80 {
		return strconv.Quote(string(b[:80])) + "…"
	}
	return strconv.Quote(string(b))
}

// quoteByte shows one offending byte: 'x' if printable ASCII, else 0xNN.
func quoteByte(c byte) string {
	if c > ' ' && c < 0x7f {
		return strconv.QuoteRune(rune(c))
	}
	const hex = "0123456789abcdef"
	return "0x" + string([]byte{hex[c>>4], hex[c&0xf]})
}

// internTable holds recently seen short strings — PoP labels, platforms,
// timers — so that parsing a beacon does not allocate a string per sample
// for values every beacon repeats. It is a fixed-size, lossy, lock-free
// cache: a collision replaces the slot, a miss costs one allocation more
// than no cache, and random junk cannot grow it.
var internTable [1024]atomic.Pointer[string]

// maxIntern bounds the length of interned strings.
const maxIntern = 32

func intern(b []byte) string {
	if len(b) > maxIntern {
		return string(b)
	}
	h := uint32(2166136261) // FNV-1a
	for _, c := range b {
		h = (h ^ uint32(c)) * 16777619
	}
	slot := &internTable[h%uint32(len(internTable))]
	if s := slot.Load(); s != nil && *s == string(b) {
		return *s
	}
	s := string(b)
	slot.Store(&s)
	return s
}
