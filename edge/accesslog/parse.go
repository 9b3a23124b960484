package accesslog

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Record is a parsed access-log line: what `steer ingest` keeps of it.
type Record struct {
	Time      time.Time
	PoP       string
	RequestID string
	Status    int
	Duration  time.Duration
	Upstream  string
	Proto     string
	TLS       string
	// ClientNet is the client network as the line has it; a reader that
	// stores it must still truncate it (a line may come from elsewhere).
	ClientNet netip.Prefix
	HasTCP    bool
	RTT       time.Duration
	RTTVar    time.Duration
	MinRTT    time.Duration
	Retrans   uint32
	Cwnd      uint32
}

// line is the JSON shape of a line (the keys ParseLine reads).
type line struct {
	TS        string  `json:"ts"`
	PoP       string  `json:"pop"`
	Req       string  `json:"req"`
	Status    int     `json:"status"`
	DurUS     int64   `json:"dur_us"`
	Upstream  string  `json:"upstream"`
	Proto     string  `json:"proto"`
	TLS       string  `json:"tls"`
	ClientNet *string `json:"client_net"`
	RTT       *int64  `json:"tcp_rtt_us"`
	RTTVar    int64   `json:"tcp_rttvar_us"`
	MinRTT    int64   `json:"tcp_min_rtt_us"`
	TotalRetr uint32  `json:"tcp_total_retrans"`
	Cwnd      uint32  `json:"tcp_cwnd"`
}

// ErrClientNet is wrapped by ParseLine's error for an unusable client_net;
// the message never quotes the value, which may be a client address.
var ErrClientNet = errors.New("client_net: not an IP prefix or address (value not shown: it may be a client address)")

// ParseLine parses one access-log line. ts and pop are required; tcp_* are
// optional (HasTCP tells). client_net may be a prefix or a bare address
// (taken as /32 or /128): the caller truncates it. Errors name the field
// and never quote a client_net value.
func ParseLine(b []byte) (Record, error) {
	var l line
	if err := json.Unmarshal(b, &l); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return Record{}, fmt.Errorf("%s: wrong JSON type (%s)", te.Field, te.Value)
		}
		return Record{}, fmt.Errorf("JSON syntax: %w", err)
	}
	var r Record
	if l.TS == "" {
		return r, errors.New("ts: missing")
	}
	t, err := time.Parse(time.RFC3339Nano, l.TS)
	if err != nil {
		return r, fmt.Errorf("ts: not an RFC 3339 time: %q", clip(l.TS))
	}
	r.Time = t.UTC()
	if l.PoP == "" {
		return r, errors.New("pop: missing")
	}
	r.PoP, r.RequestID, r.Status, r.Upstream, r.Proto, r.TLS = l.PoP, l.Req, l.Status, l.Upstream, l.Proto, l.TLS
	if l.DurUS < 0 {
		return r, fmt.Errorf("dur_us: negative (%d)", l.DurUS)
	}
	r.Duration = time.Duration(l.DurUS) * time.Microsecond
	if l.ClientNet != nil {
		p, ok := loosePrefix(*l.ClientNet)
		if !ok {
			return r, ErrClientNet
		}
		r.ClientNet = p
	}
	if l.RTT != nil {
		if *l.RTT < 0 || l.RTTVar < 0 || l.MinRTT < 0 {
			return r, errors.New("tcp_rtt_us, tcp_rttvar_us, tcp_min_rtt_us: negative")
		}
		const maxUS = int64(time.Hour / time.Microsecond)
		if *l.RTT > maxUS || l.RTTVar > maxUS || l.MinRTT > maxUS {
			return r, errors.New("tcp_rtt_us, tcp_rttvar_us, tcp_min_rtt_us: over an hour")
		}
		r.HasTCP = true
		r.RTT = time.Duration(*l.RTT) * time.Microsecond
		r.RTTVar = time.Duration(l.RTTVar) * time.Microsecond
		r.MinRTT = time.Duration(l.MinRTT) * time.Microsecond
		r.Retrans, r.Cwnd = l.TotalRetr, l.Cwnd
	}
	return r, nil
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// loosePrefix parses a CIDR prefix (host bits allowed) or a bare address.
func loosePrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		return p, err == nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, a.BitLen()), true
}
