package web

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
)

// Limits of a debug report as the debug page posts it.
const (
	// MaxDebugReportSize is the largest report body accepted, in bytes.
	MaxDebugReportSize = 64 << 10
	// MaxDebugPoPs is the most PoPs one report may hold.
	MaxDebugPoPs = 64
	// MaxDebugRuns is the most round trips one target may report.
	MaxDebugRuns = 16
	// MaxDebugRTTms is the largest round trip a report may hold, in ms.
	MaxDebugRTTms = 60_000
)

// DebugReport is what the debug page measured (see the package
// documentation, "The debug page"), as the collector stores it and
// serves it at /debug/report/ID. The page sends V, PagePoP, UserAgent,
// DNSTest, PoPs and Anycast (ParseDebugReport); the collector adds the
// rest. It holds the client's network, never its address.
type DebugReport struct {
	V int `json:"v"`
	// ID is the report's ID (NewDebugReportID): 8 Crockford base32 characters.
	ID       string    `json:"id,omitempty"`
	Received time.Time `json:"received,omitzero"`
	// Network is the client's /24 (IPv4) or /56 (IPv6), as the collector
	// saw the report's connection (or trusted proxy header).
	Network netip.Prefix `json:"network,omitzero"`
	// PagePoP is the X-Edge-PoP of the edge that served the page ("" when
	// the collector served it).
	PagePoP   string `json:"page_pop,omitempty"`
	UserAgent string `json:"user_agent,omitempty"`
	// DNSTest is the random name the page resolved (the DNS server's query
	// log links it to the user's resolver).
	DNSTest string        `json:"dns_test,omitempty"`
	PoPs    []DebugTarget `json:"pops"`
	Anycast *DebugTarget  `json:"anycast,omitempty"`
	// Fastest is the PoP with the lowest median round trip ("" when none
	// answered); set by ParseDebugReport.
	Fastest string `json:"fastest,omitempty"`
	// Map is what the map answers for the network and the resolver, when
	// the collector (or steer debug show) has the DNS config and map.
	Map *DebugMap `json:"map,omitempty"`
	// Resolver is the user's resolver as the DNS test's query log shows
	// it: joined at lookup time, never stored in the report file.
	Resolver *DebugResolver `json:"resolver,omitempty"`
}

// DebugTarget is one PoP's (or the anycast address's) measurement.
type DebugTarget struct {
	Label string `json:"label"`
	// RTTms are the measured round trips (time to first byte on a warm
	// connection, as rum.js measures), in ms rounded to 0.1.
	RTTms []float64 `json:"rtt_ms,omitempty"`
	// MedianMs is the median of RTTms (set by ParseDebugReport, never read
	// from the page).
	MedianMs float64 `json:"median_ms,omitempty"`
	// EdgePoP and RequestID are the X-Edge-PoP and X-Request-ID headers of
	// the last answer ("" when absent or not exposed to the page).
	EdgePoP   string `json:"edge_pop,omitempty"`
	RequestID string `json:"request_id,omitempty"`
	// Error is "failed" or "timeout" when no round trip was measured.
	Error string `json:"error,omitempty"`
}

// DebugMap is what the map gives the report's network and resolver: the
// first PoP of the DNS server's decision ("" when it answers the default,
// anycast addresses) and the deciding step (ecs, resolver, geo, default).
type DebugMap struct {
	Record         string     `json:"record"`
	Version        int        `json:"version,omitempty"`
	NetworkPoP     string     `json:"network_pop"`
	NetworkSource  string     `json:"network_source"`
	Resolver       netip.Addr `json:"resolver,omitzero"`
	ResolverPoP    string     `json:"resolver_pop,omitempty"`
	ResolverSource string     `json:"resolver_source,omitempty"`
}

// DebugResolver is the DNS query log's line for the report's DNS test: the
// resolver that asked, and what the DNS server answered it.
type DebugResolver struct {
	Addr   netip.Addr   `json:"addr"`
	ECS    netip.Prefix `json:"ecs,omitzero"`
	PoP    string       `json:"pop,omitempty"`
	Source string       `json:"source,omitempty"`
	// From names where the line was found ("store", a query log file).
	From string `json:"from"`
}

// debugInput is what the page may send: anything else is an unknown field.
type debugInput struct {
	V         *int          `json:"v"`
	PagePoP   string        `json:"page_pop"`
	UserAgent string        `json:"user_agent"`
	DNSTest   string        `json:"dns_test"`
	PoPs      []targetInput `json:"pops"`
	Anycast   *targetInput  `json:"anycast"`
}

type targetInput struct {
	Label     string    `json:"label"`
	RTTms     []float64 `json:"rtt_ms"`
	EdgePoP   string    `json:"edge_pop"`
	RequestID string    `json:"request_id"`
	Error     string    `json:"error"`
}

var (
	labelRE     = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)
	requestIDRE = regexp.MustCompile(`^[A-Za-z0-9._:-]{1,80}$`)
	hostRE      = regexp.MustCompile(`^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$`)
)

// ParseDebugReport parses and validates a report as the debug page posts
// it: at most MaxDebugReportSize bytes of one JSON object with only the
// page's fields (v, page_pop, user_agent, dns_test, pops, anycast), v 1,
// 1..MaxDebugPoPs PoPs with distinct labels, each with 1..MaxDebugRuns
// round trips in [0, MaxDebugRTTms] ms or an error ("failed", "timeout").
// The error names the field. It computes each target's median and Fastest.
func ParseDebugReport(data []byte) (*DebugReport, error) {
	if len(data) > MaxDebugReportSize {
		return nil, fmt.Errorf("debug report: %d bytes, more than %d", len(data), MaxDebugReportSize)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var in debugInput
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("debug report: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("debug report: data after the JSON object")
	}
	switch {
	case in.V == nil:
		return nil, errors.New("debug report: v: missing")
	case *in.V != 1:
		return nil, fmt.Errorf("debug report: v: %d, want 1", *in.V)
	case in.PagePoP != "" && !labelRE.MatchString(in.PagePoP):
		return nil, fmt.Errorf("debug report: page_pop: %q is not a PoP label", in.PagePoP)
	case len(in.UserAgent) > 512 || !printable(in.UserAgent):
		return nil, errors.New("debug report: user_agent: longer than 512 bytes or not printable ASCII")
	case in.DNSTest != "" && !hostRE.MatchString(in.DNSTest):
		return nil, fmt.Errorf("debug report: dns_test: %q is not a host name", in.DNSTest)
	case len(in.PoPs) == 0:
		return nil, errors.New("debug report: pops: empty")
	case len(in.PoPs) > MaxDebugPoPs:
		return nil, fmt.Errorf("debug report: pops: %d, at most %d", len(in.PoPs), MaxDebugPoPs)
	}
	r := &DebugReport{V: 1, PagePoP: in.PagePoP, UserAgent: in.UserAgent, DNSTest: in.DNSTest}
	seen := map[string]bool{}
	best := math.Inf(1)
	for i := range in.PoPs {
		where := fmt.Sprintf("pops[%d]", i)
		t, err := in.PoPs[i].target(where)
		if err != nil {
			return nil, err
		}
		if t.Label == "anycast" {
			return nil, fmt.Errorf("debug report: %s.label: anycast is the anycast field's", where)
		}
		if seen[t.Label] {
			return nil, fmt.Errorf("debug report: %s.label: %q twice", where, t.Label)
		}
		seen[t.Label] = true
		if len(t.RTTms) > 0 && t.MedianMs < best {
			best, r.Fastest = t.MedianMs, t.Label
		}
		r.PoPs = append(r.PoPs, t)
	}
	if in.Anycast != nil {
		if in.Anycast.Label == "" {
			in.Anycast.Label = "anycast"
		}
		t, err := in.Anycast.target("anycast")
		if err != nil {
			return nil, err
		}
		if t.Label != "anycast" {
			return nil, fmt.Errorf("debug report: anycast.label: %q, want anycast (or none)", t.Label)
		}
		r.Anycast = &t
	}
	return r, nil
}

func (in *targetInput) target(where string) (DebugTarget, error) {
	t := DebugTarget{Label: in.Label, EdgePoP: in.EdgePoP, RequestID: in.RequestID, Error: in.Error}
	switch {
	case !labelRE.MatchString(in.Label):
		return t, fmt.Errorf("debug report: %s.label: %q is not a PoP label (1..32 of a-z 0-9 -)", where, in.Label)
	case len(in.RTTms) > MaxDebugRuns:
		return t, fmt.Errorf("debug report: %s.rtt_ms: %d round trips, at most %d", where, len(in.RTTms), MaxDebugRuns)
	case in.EdgePoP != "" && !labelRE.MatchString(in.EdgePoP):
		return t, fmt.Errorf("debug report: %s.edge_pop: %q is not a PoP label", where, in.EdgePoP)
	case in.RequestID != "" && !requestIDRE.MatchString(in.RequestID):
		return t, fmt.Errorf("debug report: %s.request_id: not 1..80 of A-Z a-z 0-9 . _ : -", where)
	case in.Error != "" && in.Error != "failed" && in.Error != "timeout":
		return t, fmt.Errorf("debug report: %s.error: %q, want failed or timeout", where, in.Error)
	case in.Error != "" && len(in.RTTms) > 0:
		return t, fmt.Errorf("debug report: %s: both an error and round trips", where)
	case in.Error == "" && len(in.RTTms) == 0:
		return t, fmt.Errorf("debug report: %s: neither round trips nor an error", where)
	}
	for j, v := range in.RTTms {
		if math.IsNaN(v) || v < 0 || v > MaxDebugRTTms {
			return t, fmt.Errorf("debug report: %s.rtt_ms[%d]: %v out of range [0, %d]", where, j, v, MaxDebugRTTms)
		}
	}
	if len(in.RTTms) > 0 {
		t.RTTms = slices.Clone(in.RTTms)
		t.MedianMs = median(t.RTTms)
	}
	return t, nil
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	n := len(s)
	m := s[n/2]
	if n%2 == 0 {
		m = (s[n/2-1] + s[n/2]) / 2
	}
	return math.Round(m*10) / 10
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// crockford is Crockford's base32 alphabet: no I, L, O or U.
const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// NewDebugReportID returns a random report ID: 8 characters of Crockford
// base32 (40 bits), short enough to read out to support.
func NewDebugReportID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read does not fail
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return string(b[:])
}

// NormalizeDebugReportID returns the canonical form of a report ID as a
// person may type it: case-insensitive, hyphens and spaces ignored, O read
// as 0 and I and L as 1. It fails for anything that is not 8 characters of
// Crockford base32.
func NormalizeDebugReportID(id string) (string, error) {
	var b []byte
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case c >= 'a' && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 || len(b) == 8 {
			return "", fmt.Errorf("report ID %q: want 8 characters of 0-9 A-Z (no U)", id)
		}
		b = append(b, c)
	}
	if len(b) != 8 {
		return "", fmt.Errorf("report ID %q: want 8 characters of 0-9 A-Z (no U)", id)
	}
	return string(b), nil
}

// DebugReportPath is where a report with the (normalized) id is stored
// under the collector's debug directory: DIR/ID.json.
func DebugReportPath(dir, id string) string { return filepath.Join(dir, id+".json") }

// ErrNoDebugReport is the error for an ID that names no stored report.
var ErrNoDebugReport = errors.New("no such debug report")

// ReadDebugReport reads the report id from the collector's debug
// directory (steer collect --store DIR keeps them in DIR/debug). A report
// that does not exist is ErrNoDebugReport.
func ReadDebugReport(dir, id string) (*DebugReport, error) {
	nid, err := NormalizeDebugReportID(id)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(DebugReportPath(dir, nid))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s (in %s)", ErrNoDebugReport, nid, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("reading debug report: %w", err)
	}
	var r DebugReport
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("debug report %s: %w", DebugReportPath(dir, nid), err)
	}
	return &r, nil
}

// Text is the report as steer debug show prints it.
func (r *DebugReport) Text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "debug report %s", r.ID)
	if !r.Received.IsZero() {
		fmt.Fprintf(&b, ", received %s", r.Received.UTC().Format("2006-01-02 15:04:05 MST"))
	}
	b.WriteString("\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "  %-10s %s\n", k, v)
		}
	}
	if r.Network.IsValid() {
		row("network", r.Network.String())
	}
	if r.PagePoP != "" {
		row("page", "served by the edge of "+r.PagePoP)
	}
	row("dns test", r.DNSTest)
	if res := r.Resolver; res != nil {
		v := res.Addr.String()
		if res.PoP != "" || res.Source != "" {
			v += fmt.Sprintf(" (the DNS server answered %s, by %s", orDash(res.PoP), orDash(res.Source))
			if res.ECS.IsValid() {
				v += ", ECS " + res.ECS.String()
			}
			v += ")"
		}
		row("resolver", v+"; from "+res.From)
	} else if r.DNSTest != "" {
		row("resolver", "unknown (no query log line for the DNS test yet)")
	}
	row("browser", r.UserAgent)
	b.WriteString("\n")
	fmt.Fprintf(&b, "  %-10s %9s  %-24s %-10s %s\n", "PoP", "median", "round trips (ms)", "X-Edge-PoP", "request ID")
	targets := slices.Clone(r.PoPs)
	if r.Anycast != nil {
		targets = append(targets, *r.Anycast)
	}
	for _, t := range targets {
		if len(t.RTTms) == 0 {
			fmt.Fprintf(&b, "  %-10s %9s\n", t.Label, t.Error)
			continue
		}
		runs := make([]string, len(t.RTTms))
		for i, v := range t.RTTms {
			runs[i] = fmt.Sprintf("%.1f", v)
		}
		mark := " "
		if t.Label == r.Fastest {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s %-10s %6.1f ms  %-24s %-10s %s\n", mark, t.Label, t.MedianMs, strings.Join(runs, " "), orDash(t.EdgePoP), orDash(t.RequestID))
	}
	b.WriteString("\n")
	if r.Fastest != "" {
		row("fastest", r.Fastest)
	} else {
		row("fastest", "none: no PoP answered")
	}
	if m := r.Map; m != nil {
		v := fmt.Sprintf("%s → %s (%s)", r.Network, orAnycast(m.NetworkPoP), m.NetworkSource)
		if m.Version > 0 {
			v += fmt.Sprintf(", map version %d", m.Version)
		}
		row("map", v)
		if m.Resolver.IsValid() {
			row("", fmt.Sprintf("resolver %s → %s (%s)", m.Resolver, orAnycast(m.ResolverPoP), m.ResolverSource))
		}
		switch {
		case r.Fastest == "":
		case m.NetworkPoP == r.Fastest:
			row("verdict", "the map's PoP for this network is the fastest measured")
		default:
			row("verdict", fmt.Sprintf("the map gives %s, but %s measured fastest", orAnycast(m.NetworkPoP), r.Fastest))
		}
	} else {
		row("map", "not known here (steer debug show --config FILE [--map MAP] computes it)")
	}
	return b.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orAnycast(s string) string {
	if s == "" {
		return "the default (anycast) addresses"
	}
	return s
}
