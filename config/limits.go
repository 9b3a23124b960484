package config

import (
	"fmt"
	"net/netip"
	"time"
)

// Flood protection of the DNS server: response rate limiting of UDP answers
// (server.rrl) and bounds on TCP connections (server.tcp).

// Defaults of server.rrl and server.tcp. RRL is off unless a rate is set.
const (
	DefaultRRLWindow       = time.Second
	DefaultRRLSlip         = 2
	DefaultRRLIPv4Prefix   = 24
	DefaultRRLIPv6Prefix   = 56
	DefaultRRLTableSize    = 1 << 16
	DefaultTCPMaxConns     = 512
	DefaultTCPMaxPerClient = 64
	DefaultTCPBusyIdle     = time.Second
	DefaultTCPIOTimeout    = 2 * time.Second
)

// Limits of server.rrl and server.tcp checked by Validate.
const (
	maxRRLRate      = 1_000_000
	maxRRLWindow    = time.Hour
	maxRRLSlip      = 10
	minRRLTable     = 1 << 10
	maxRRLTable     = 1 << 24
	maxRRLExempt    = 10_000
	maxTCPConns     = 1 << 16
	minTCPTimeout   = time.Millisecond
	maxTCPIOTimeout = time.Minute
)

// RRL is response rate limiting (server.rrl) as in BIND, Knot and NSD: each
// client prefix (/24, /56) gets a token bucket of UDP responses per second
// and per category (answers; errors, which are every response without an
// answer: NXDOMAIN, NODATA, REFUSED, FORMERR…). A response over the rate is
// dropped, except every Slip-th, which is sent truncated (TC, no records) so
// that a real resolver behind a spoofed source retries over TCP, which is
// never limited. RRL is off when both rates are 0, the default: an
// authoritative GSLB's clients are a few large resolvers, whose legitimate
// per-/24 rates no default fits (see README.md).
type RRL struct {
	ResponsesPerSecond int // answers per second per client prefix; 0 = answers not limited
	// ErrorsPerSecond limits responses without an answer; it defaults to
	// ResponsesPerSecond when absent from the YAML, and 0 = not limited.
	ErrorsPerSecond int
	// Window is the burst: a client idle for a while may get Window × rate
	// responses at once before the rate holds it.
	Window     time.Duration
	Slip       int            // every Slip-th limited response is sent with TC; 0 = drop all, 1 = TC all
	IPv4Prefix int            // client prefix length that shares a bucket, IPv4
	IPv6Prefix int            // and IPv6
	Exempt     []netip.Prefix // clients never limited (your own or known resolvers)
	// TableSize is the number of buckets (rounded up to a power of two):
	// memory stays bounded under a flood from many sources; the buckets of
	// idle clients are reused.
	TableSize int
}

// On reports whether any rate is limited.
func (r *RRL) On() bool { return r.ResponsesPerSecond > 0 || r.ErrorsPerSecond > 0 }

// TCP bounds the server's TCP connections (server.tcp). A client prefix
// (/24, /56) holding MaxPerClient connections gets no more; with
// MaxConnections open, a new connection replaces the one idle longest (or is
// closed when none is idle); with more than half of them open, idle
// connections are closed after BusyIdleTimeout instead of
// server.tcp_idle_timeout.
type TCP struct {
	MaxConnections  int
	MaxPerClient    int
	BusyIdleTimeout time.Duration
	// IOTimeout bounds reading the rest of a query once its length arrived,
	// and writing the answer.
	IOTimeout time.Duration
}

// DefaultTCP returns the default server.tcp.
func DefaultTCP() TCP {
	return TCP{MaxConnections: DefaultTCPMaxConns, MaxPerClient: DefaultTCPMaxPerClient, BusyIdleTimeout: DefaultTCPBusyIdle, IOTimeout: DefaultTCPIOTimeout}
}

// DefaultRRL returns the default server.rrl: off, with the other settings
// ready for a rate.
func DefaultRRL() RRL {
	return RRL{Window: DefaultRRLWindow, Slip: DefaultRRLSlip, IPv4Prefix: DefaultRRLIPv4Prefix, IPv6Prefix: DefaultRRLIPv6Prefix, TableSize: DefaultRRLTableSize}
}

type rawRRL struct {
	ResponsesPerSecond *int64   `yaml:"responses_per_second"`
	ErrorsPerSecond    *int64   `yaml:"errors_per_second"`
	Window             string   `yaml:"window"`
	Slip               *int64   `yaml:"slip"`
	IPv4Prefix         *int64   `yaml:"ipv4_prefix"`
	IPv6Prefix         *int64   `yaml:"ipv6_prefix"`
	Exempt             []string `yaml:"exempt"`
	TableSize          *int64   `yaml:"table_size"`
}

type rawTCP struct {
	MaxConnections  *int64 `yaml:"max_connections"`
	MaxPerClient    *int64 `yaml:"max_per_client"`
	BusyIdleTimeout string `yaml:"busy_idle_timeout"`
	IOTimeout       string `yaml:"io_timeout"`
}

// convertLimits fills s.RRL and s.TCP from the raw server block. Range
// checks are Validate's, so that a Config built in Go gets them too; values
// too large for an int are clamped so that Validate reports them.
func convertLimits(el *errList, raw *rawServer, s *Server) {
	if r := raw.RRL; r != nil {
		setInt(&s.RRL.ResponsesPerSecond, r.ResponsesPerSecond)
		s.RRL.ErrorsPerSecond = s.RRL.ResponsesPerSecond
		setInt(&s.RRL.ErrorsPerSecond, r.ErrorsPerSecond)
		if r.Window != "" {
			s.RRL.Window = parseDuration(el, "server.rrl.window", r.Window)
		}
		setInt(&s.RRL.Slip, r.Slip)
		setInt(&s.RRL.IPv4Prefix, r.IPv4Prefix)
		setInt(&s.RRL.IPv6Prefix, r.IPv6Prefix)
		setInt(&s.RRL.TableSize, r.TableSize)
		if r.Exempt != nil {
			s.RRL.Exempt = make([]netip.Prefix, 0, len(r.Exempt))
		}
		for i, e := range r.Exempt {
			p, err := netip.ParsePrefix(e)
			if err != nil {
				el.add(fmt.Sprintf("server.rrl.exempt[%d]", i), "invalid prefix %q (want e.g. 192.0.2.0/24 or 2001:db8::/32)", e)
				continue
			}
			s.RRL.Exempt = append(s.RRL.Exempt, p)
		}
	}
	if t := raw.TCP; t != nil {
		setInt(&s.TCP.MaxConnections, t.MaxConnections)
		if t.MaxPerClient != nil {
			setInt(&s.TCP.MaxPerClient, t.MaxPerClient)
		} else {
			s.TCP.MaxPerClient = min(s.TCP.MaxPerClient, max(s.TCP.MaxConnections, 1))
		}
		if t.BusyIdleTimeout != "" {
			s.TCP.BusyIdleTimeout = parseDuration(el, "server.tcp.busy_idle_timeout", t.BusyIdleTimeout)
		}
		if t.IOTimeout != "" {
			s.TCP.IOTimeout = parseDuration(el, "server.tcp.io_timeout", t.IOTimeout)
		}
	}
	if raw.TCP == nil || raw.TCP.BusyIdleTimeout == "" {
		// The default never exceeds a shorter tcp_idle_timeout.
		if s.TCPIdleTimeout > 0 {
			s.TCP.BusyIdleTimeout = min(s.TCP.BusyIdleTimeout, s.TCPIdleTimeout)
		}
	}
}

// setInt stores *p in dst when set, clamped to ±2^31 so that range checks
// see out-of-range values rather than wrapped ones.
func setInt(dst *int, p *int64) {
	if p != nil {
		*dst = int(max(min(*p, 1<<31), -1<<31))
	}
}

func (c *Config) validateLimits(el *errList) {
	r := &c.Server.RRL
	if r.ResponsesPerSecond < 0 || r.ResponsesPerSecond > maxRRLRate {
		el.add("server.rrl.responses_per_second", "must be in 0..%d (0 = answers not limited), got %d", maxRRLRate, r.ResponsesPerSecond)
	}
	if r.ErrorsPerSecond < 0 || r.ErrorsPerSecond > maxRRLRate {
		el.add("server.rrl.errors_per_second", "must be in 0..%d (0 = errors not limited), got %d", maxRRLRate, r.ErrorsPerSecond)
	}
	if r.Window < time.Second || r.Window > maxRRLWindow {
		el.add("server.rrl.window", "must be in 1s..%v, got %v", maxRRLWindow, r.Window)
	}
	if r.Slip < 0 || r.Slip > maxRRLSlip {
		el.add("server.rrl.slip", "must be in 0..%d (0 = drop every limited response, 1 = truncate every one), got %d", maxRRLSlip, r.Slip)
	}
	if r.IPv4Prefix < 8 || r.IPv4Prefix > 32 {
		el.add("server.rrl.ipv4_prefix", "must be in 8..32, got %d", r.IPv4Prefix)
	}
	if r.IPv6Prefix < 16 || r.IPv6Prefix > 128 {
		el.add("server.rrl.ipv6_prefix", "must be in 16..128, got %d", r.IPv6Prefix)
	}
	if r.TableSize < minRRLTable || r.TableSize > maxRRLTable {
		el.add("server.rrl.table_size", "must be in %d..%d, got %d", minRRLTable, maxRRLTable, r.TableSize)
	}
	if len(r.Exempt) > maxRRLExempt {
		el.add("server.rrl.exempt", "more than %d prefixes", maxRRLExempt)
	}
	for i, p := range r.Exempt {
		switch {
		case !p.IsValid():
			el.add(fmt.Sprintf("server.rrl.exempt[%d]", i), "invalid prefix")
		case p.Addr().Is4In6():
			el.add(fmt.Sprintf("server.rrl.exempt[%d]", i), "%v is IPv4-mapped; write it as IPv4", p)
		case p.Masked() != p:
			el.add(fmt.Sprintf("server.rrl.exempt[%d]", i), "%v has host bits set (want %v)", p, p.Masked())
		}
	}

	t := &c.Server.TCP
	if t.MaxConnections < 1 || t.MaxConnections > maxTCPConns {
		el.add("server.tcp.max_connections", "must be in 1..%d, got %d", maxTCPConns, t.MaxConnections)
	}
	if t.MaxPerClient < 1 || t.MaxPerClient > max(t.MaxConnections, 1) {
		el.add("server.tcp.max_per_client", "must be in 1..max_connections (%d), got %d", t.MaxConnections, t.MaxPerClient)
	}
	if t.BusyIdleTimeout < minTCPTimeout || (c.Server.TCPIdleTimeout > 0 && t.BusyIdleTimeout > c.Server.TCPIdleTimeout) {
		el.add("server.tcp.busy_idle_timeout", "must be in %v..server.tcp_idle_timeout (%v), got %v", minTCPTimeout, c.Server.TCPIdleTimeout, t.BusyIdleTimeout)
	}
	if t.IOTimeout < minTCPTimeout || t.IOTimeout > maxTCPIOTimeout {
		el.add("server.tcp.io_timeout", "must be in %v..%v, got %v", minTCPTimeout, maxTCPIOTimeout, t.IOTimeout)
	}
}
