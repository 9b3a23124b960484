// Package config loads and validates the YAML configuration of the steer
// authoritative DNS server: listeners, server options, PoPs (label, location,
// service addresses, capacity, state, health check) and zones with their
// steered, RUM and static records.
//
// Decoding is strict, in the manner of Prometheus and Caddy: unknown keys, a
// second YAML document, wrong scalar types and out-of-range values are all
// errors, and every error names the file and the key path, for example
//
//	config examples/steer.yaml: zones[0].records[1].ttl: must be ≤ 86400
//
// [Parse] decodes into an unexported raw form (strings, pointers so that an
// explicit zero differs from an absent key), applies the defaults of
// [Defaults] and the per-element defaults (DefaultRecordTTL, …), converts into
// the typed [Config] (netip.Addr, netip.AddrPort, time.Duration, popmap.Label,
// absolute lowercase domain names, absolute file paths) and finally runs
// [Config.Validate], which checks the typed form and can also be used on a
// Config built in Go (the simulator does).
//
// Relative file paths (ecs_map, resolver_map, geoip, query_log) resolve
// against the directory of the config file. The files themselves are not
// opened here: the map and GeoIP loaders own that, so that a config can be
// validated before the files it names are generated.
//
// The package exports no metrics; the server that reloads the config counts
// reloads and failures.
package config

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/popmap"
)

// Defaults of values that are per element (per PoP, zone or record) and so
// cannot live in the Config returned by [Defaults].
const (
	DefaultDNSListen      = "127.0.0.1:5353"
	DefaultMaxUDPSize     = 1232
	DefaultTCPIdleTimeout = 10 * time.Second
	DefaultDebounce       = 100 * time.Millisecond
	DefaultCapacity       = 1.0
	DefaultZoneTTL        = 3600
	DefaultRecordTTL      = 30
	DefaultSOASerial      = 1
	DefaultSOARefresh     = 3600
	DefaultSOARetry       = 600
	DefaultSOAExpire      = 604800
	DefaultSOAMinimum     = 60

	// Health check defaults (pops[].check), as in gdnsd's monitors.
	DefaultCheckStatus   = 200
	DefaultCheckInterval = 2 * time.Second
	DefaultCheckTimeout  = time.Second
	DefaultCheckRise     = 2
	DefaultCheckFall     = 3

	// MaxTTL bounds every TTL in the config (one day).
	MaxTTL = 86400
)

// State is the operator-set state of a PoP.
type State string

// PoP states. The DNS server skips drained and down PoPs in favour of the
// next ranked PoP (drain is the planned way out, down the broken one; both
// leave the answers alike). A PoP in state anycast is answered with the
// record's default (anycast) addresses for the networks whose first choice
// it is: hybrid unicast/anycast, so that its traffic leaves as fast as BGP
// converges instead of as fast as resolver caches expire.
const (
	StateUp      State = "up"
	StateDrain   State = "drain"
	StateDown    State = "down"
	StateAnycast State = "anycast"
)

// ParseState parses a PoP state name.
func ParseState(s string) (State, error) {
	switch st := State(s); st {
	case StateUp, StateDrain, StateDown, StateAnycast:
		return st, nil
	}
	return "", fmt.Errorf("unknown PoP state %q (want up, drain, down or anycast)", s)
}

// Step is one step of a record's steering chain. The values are the query
// log's "source" values.
type Step string

// Steering steps, in the default order.
const (
	StepECS      Step = "ecs"
	StepResolver Step = "resolver"
	StepGeo      Step = "geo"
	StepDefault  Step = "default"
)

// DefaultSteering is the steering chain of a record that names none.
func DefaultSteering() []Step { return []Step{StepECS, StepResolver, StepGeo, StepDefault} }

// Config is the validated configuration. It is immutable once returned by
// [Load] or [Parse]; a reload builds a new one.
type Config struct {
	// File is the name the config was loaded from (used in error messages
	// and, for Load, watched for reloads).
	File string

	Listen   Listen
	Server   Server
	GeoIP    string // absolute path of the MaxMind DB, "" = no geo step possible
	QueryLog string // absolute path of the RUM query log (NDJSON), "" = none
	// QueryLogRotate bounds the query log: the server rotates it itself by
	// size (on by default), and reopens it whenever logrotate moved it.
	QueryLogRotate QueryLogRotate
	// APITokens, when set, lets the steering API sign steering tokens
	// (package steertoken) for its answers.
	APITokens *APITokens
	Reload    Reload
	PoPs      []PoP
	Zones     []Zone
	// Control, when set, makes the server follow a control server
	// (`steer control`): PoP states, health, load moves and the active map.
	Control *Control
}

// Control is the control: block: the control server to follow.
type Control struct {
	URL   string // http(s)://host:port of the control server
	Token string // a token with role read (token, or read from token_file)
	// MapFile is the local file the control server's active map version is
	// written to (atomically) before the server reloads; records name it
	// as ecs_map/resolver_map. It is also what a restart serves while the
	// control server is away.
	MapFile string
	// Server is this server's name in the fleet (default: the host name
	// and the first DNS listener).
	Server string
	// StaleAfter: with no answer from the control server for this long, the
	// server's own health checks decide health again (the last admin state,
	// map and moves are kept). Default 10s.
	StaleAfter time.Duration
	// ReportEvery is the report period (default 2s).
	ReportEvery time.Duration
}

// Health policies of a record whose PoPs are all unhealthy.
const (
	FailOpen   = "fail_open"
	FailClosed = "fail_closed"
)

// Listen holds the listening addresses.
type Listen struct {
	DNS        []netip.AddrPort // UDP and TCP on each
	Admin      netip.AddrPort   // /metrics and /healthz; invalid (zero) = off
	UDPSockets int              // SO_REUSEPORT sockets per address; 0 = one per CPU
	// API is the steering API's address (HTTP/1.1 and h2c: Connect, gRPC,
	// gRPC-Web); invalid (zero) = off. Read at start only.
	API netip.AddrPort
}

// Server holds protocol options.
type Server struct {
	NSID           string // RFC 5001 NSID payload; "" = no NSID
	CookieSecret   []byte // RFC 7873 server secret, 16 bytes; nil = random at start
	MaxUDPSize     uint16 // our EDNS UDP payload size
	TCPIdleTimeout time.Duration
	RRL            RRL // response rate limiting of UDP answers (limits.go)
	TCP            TCP // TCP connection limits (limits.go)
}

// Reload controls watching the config and map files.
type Reload struct {
	Watch    bool
	Debounce time.Duration
}

// PoP is a point of presence: where it is and which addresses it serves.
// Maps name PoPs by Label only (the map never knows addresses).
type PoP struct {
	Label    popmap.Label
	City     string
	Lat, Lon float64
	IPv4     []netip.Addr
	IPv6     []netip.Addr
	Capacity float64
	State    State
	Check    *Check // nil = no health check: the PoP is always healthy
}

// Check types.
const (
	CheckHTTP  = "http"
	CheckHTTPS = "https"
	CheckTCP   = "tcp"
)

// MaxCheckBody bounds how much of a response body a check reads, and so the
// length of Check.Body.
const MaxCheckBody = 64 << 10

// Check is a PoP's health check (gdnsd-style monitor). It is comparable: a
// reload that leaves a PoP's Check equal keeps the check's state.
type Check struct {
	Type     string         // CheckHTTP, CheckHTTPS or CheckTCP
	URL      string         // http/https: the URL to GET (required for http/https)
	Addr     netip.AddrPort // tcp: the address to connect to (required for tcp)
	Host     string         // http/https: optional Host header and TLS server name override
	Status   int            // http/https: expected status, default 200 (a redirect is not followed)
	Body     string         // http/https: optional substring the body must contain (first MaxCheckBody bytes read)
	Insecure bool           // https: skip TLS verification (default false: verification on)
	Interval time.Duration  // default 2s, 100ms..1h
	Timeout  time.Duration  // default 1s, must be < Interval
	Rise     int            // consecutive successes to go up, default 2, 1..100
	Fall     int            // consecutive failures to go down, default 3, 1..100
}

// Zone is an authoritative zone.
type Zone struct {
	Name    string // absolute, lowercase, with trailing dot
	TTL     uint32 // TTL of SOA and NS records
	SOA     SOA
	NS      []NameServer
	Records []Record
}

// SOA holds the zone's SOA fields. Names are absolute.
type SOA struct {
	MName, RName                            string
	Serial, Refresh, Retry, Expire, Minimum uint32
}

// NameServer is one NS of a zone with its glue (required for in-zone names).
type NameServer struct {
	Name string // absolute
	IPv4 []netip.Addr
	IPv6 []netip.Addr
}

// Addrs is a set of IPv4 and IPv6 answers.
type Addrs struct {
	IPv4 []netip.Addr
	IPv6 []netip.Addr
}

// Static holds plain records of a non-steered name: addresses and TXT, or
// a CNAME alone.
type Static struct {
	IPv4 []netip.Addr
	IPv6 []netip.Addr
	TXT  []string
	// CNAME is the absolute target of a CNAME record; when set, the name
	// holds nothing else (RFC 1034 §3.6.2).
	CNAME string
}

// Record is one owner name of a zone: either steered (Steering non-empty) or
// static (Static non-nil), never both.
type Record struct {
	Name     string // absolute, lowercase, with trailing dot
	TTL      uint32
	Steering []Step
	// ECSMap and ResolverMap are absolute paths of NS1-format maps; they may
	// be the same file.
	ECSMap      string
	ResolverMap string
	Default     Addrs // the default (anycast) answer, used by StepDefault
	// CNAMETemplate, when set, makes the record answer a CNAME to a
	// per-PoP name instead of the PoP's addresses: the template (absolute,
	// lowercase) with every "{pop}" replaced by the chosen PoP's label
	// ([Record.CNAMEFor]). DefaultCNAME is then the target of the default
	// step, in place of Default's addresses.
	CNAMETemplate string
	DefaultCNAME  string
	// RUM marks the RUM record: it answers its own name and every name below
	// it (the random test names), and each such query is logged to QueryLog.
	RUM    bool
	Static *Static
	// HealthPolicy is what to answer when health checks leave no PoP of
	// the record usable: FailOpen (default: answer as if all were healthy)
	// or FailClosed (answer Default, the anycast addresses).
	HealthPolicy string
}

// Steered reports whether the record answers by steering.
func (r *Record) Steered() bool { return r.Static == nil }

// PoPPlaceholder is what a record's cname_template writes for the chosen
// PoP's label.
const PoPPlaceholder = "{pop}"

// IsCNAME reports whether the record answers a CNAME: a static CNAME or a
// steered record with a CNAME template.
func (r *Record) IsCNAME() bool {
	return r.CNAMETemplate != "" || (r.Static != nil && r.Static.CNAME != "")
}

// CNAMEFor returns the CNAME target of a steered CNAME record for the PoP
// labelled l (its CNAMETemplate with l for every "{pop}"), or "" when the
// record has no template.
func (r *Record) CNAMEFor(l popmap.Label) string {
	if r.CNAMETemplate == "" {
		return ""
	}
	return strings.ReplaceAll(r.CNAMETemplate, PoPPlaceholder, string(l))
}

// Has reports whether the record's steering chain contains s.
func (r *Record) Has(s Step) bool {
	for _, x := range r.Steering {
		if x == s {
			return true
		}
	}
	return false
}

// Defaults returns a Config holding every global default and no PoPs or
// zones.
func Defaults() *Config {
	return &Config{
		Listen: Listen{DNS: []netip.AddrPort{netip.MustParseAddrPort(DefaultDNSListen)}},
		Server: Server{MaxUDPSize: DefaultMaxUDPSize, TCPIdleTimeout: DefaultTCPIdleTimeout, RRL: DefaultRRL(), TCP: DefaultTCP()},
		Reload: Reload{Watch: true, Debounce: DefaultDebounce},
	}
}

// PoP returns the PoP with the given label.
func (c *Config) PoP(label popmap.Label) (*PoP, bool) {
	for i := range c.PoPs {
		if c.PoPs[i].Label == label {
			return &c.PoPs[i], true
		}
	}
	return nil, false
}

// Labels returns the PoP labels in config order (for checking a map
// against the config).
func (c *Config) Labels() []popmap.Label {
	out := make([]popmap.Label, len(c.PoPs))
	for i := range c.PoPs {
		out[i] = c.PoPs[i].Label
	}
	return out
}

// MapFiles returns the unique resolved map paths named by any record, in
// config order.
func (c *Config) MapFiles() []string {
	var out []string
	seen := map[string]bool{}
	add := func(p string) {
		if p != "" && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	for _, z := range c.Zones {
		for _, r := range z.Records {
			add(r.ECSMap)
			add(r.ResolverMap)
		}
	}
	return out
}

// Load reads and parses the config file at path.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	return Parse(data, path)
}

// Parse decodes and validates a config. name is used in error messages and
// its directory resolves relative paths; "" means the current directory.
func Parse(data []byte, name string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &Error{File: name, Msg: "empty config"}
		}
		return nil, yamlError(data, name, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &Error{File: name, Msg: "more than one YAML document"}
	}
	c, err := convert(&raw, name)
	if err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Error is a config error at a key path.
type Error struct {
	File string // config file name
	Path string // key path such as zones[0].records[1].ttl; "" for the whole file
	Msg  string
}

func (e *Error) Error() string {
	name := e.File
	if name == "" {
		name = "<input>"
	}
	if e.Path == "" {
		return fmt.Sprintf("config %s: %s", name, e.Msg)
	}
	return fmt.Sprintf("config %s: %s: %s", name, e.Path, e.Msg)
}

// errList collects errors so that one run shows the operator every problem.
// APITokens are the steering API's signing keys: Resolve signs a token
// naming the answer's PoP and the client's network when asked to.
type APITokens struct {
	// Keys is the absolute path of the key set (steertoken's JSON key
	// file; steer token keygen writes its entries), which must name a
	// signing key. It is read with the config, and on each reload.
	Keys string
	// TTL is how long a token is valid (default DefaultTokenTTL).
	TTL time.Duration
}

// DefaultTokenTTL is api_tokens.ttl's default.
const DefaultTokenTTL = 10 * time.Minute

// QueryLogRotate is the query log's own size-based rotation: when the
// file passes MaxBytes it is renamed to FILE.1 (FILE.1 to FILE.2, …, the
// oldest beyond Keep removed) and a new FILE is started. MaxBytes 0 leaves
// rotation to logrotate (either mode: the server notices a moved file and
// reopens its path; with copytruncate it keeps appending at the new end).
type QueryLogRotate struct {
	MaxBytes int64 // default DefaultQueryLogMaxBytes; 0 = off
	Keep     int   // rotated files kept, default DefaultQueryLogKeep
}

// Defaults of the query log's rotation: at most 5 × 256 MiB on disk.
const (
	DefaultQueryLogMaxBytes = 256 << 20
	DefaultQueryLogKeep     = 4
)

type errList struct {
	file string
	errs []error
}

func (l *errList) add(path, format string, args ...any) {
	l.errs = append(l.errs, &Error{File: l.file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

func (l *errList) err() error { return errors.Join(l.errs...) }

// Raw YAML form: strings for typed values so that conversion errors carry
// the key path, pointers where an explicit zero is not the default.

type rawConfig struct {
	Listen   rawListen   `yaml:"listen"`
	Server   rawServer   `yaml:"server"`
	GeoIP    string      `yaml:"geoip"`
	QueryLog string      `yaml:"query_log"`
	Rotate   *rawRotate  `yaml:"query_log_rotate"`
	Tokens   *rawTokens  `yaml:"api_tokens"`
	Reload   rawReload   `yaml:"reload"`
	PoPs     []rawPoP    `yaml:"pops"`
	Zones    []rawZone   `yaml:"zones"`
	Control  *rawControl `yaml:"control"`
}

type rawTokens struct {
	Keys string `yaml:"keys"`
	TTL  string `yaml:"ttl"`
}

type rawRotate struct {
	MaxBytes *int64 `yaml:"max_bytes"`
	Keep     *int64 `yaml:"keep"`
}

type rawControl struct {
	URL         string `yaml:"url"`
	Token       string `yaml:"token"`
	TokenFile   string `yaml:"token_file"`
	MapFile     string `yaml:"map_file"`
	Server      string `yaml:"server"`
	StaleAfter  string `yaml:"stale_after"`
	ReportEvery string `yaml:"report_every"`
}

type rawListen struct {
	DNS        []string `yaml:"dns"`
	Admin      string   `yaml:"admin"`
	UDPSockets int      `yaml:"udp_sockets"`
	API        string   `yaml:"api"`
}

type rawServer struct {
	NSID           string  `yaml:"nsid"`
	CookieSecret   string  `yaml:"cookie_secret"`
	MaxUDPSize     *int64  `yaml:"max_udp_size"`
	TCPIdleTimeout string  `yaml:"tcp_idle_timeout"`
	RRL            *rawRRL `yaml:"rrl"`
	TCP            *rawTCP `yaml:"tcp"`
}

type rawReload struct {
	Watch    *bool  `yaml:"watch"`
	Debounce string `yaml:"debounce"`
}

type rawPoP struct {
	Label    string    `yaml:"label"`
	City     string    `yaml:"city"`
	Lat      *float64  `yaml:"lat"`
	Lon      *float64  `yaml:"lon"`
	IPv4     []string  `yaml:"ipv4"`
	IPv6     []string  `yaml:"ipv6"`
	Capacity *float64  `yaml:"capacity"`
	State    string    `yaml:"state"`
	Check    *rawCheck `yaml:"check"`
}

type rawCheck struct {
	Type     string `yaml:"type"`
	URL      string `yaml:"url"`
	Addr     string `yaml:"addr"`
	Host     string `yaml:"host"`
	Status   *int64 `yaml:"status"`
	Body     string `yaml:"body"`
	Insecure bool   `yaml:"insecure"`
	Interval string `yaml:"interval"`
	Timeout  string `yaml:"timeout"`
	Rise     *int64 `yaml:"rise"`
	Fall     *int64 `yaml:"fall"`
}

type rawZone struct {
	Name    string      `yaml:"name"`
	TTL     *int64      `yaml:"ttl"`
	SOA     rawSOA      `yaml:"soa"`
	NS      []rawNS     `yaml:"ns"`
	Records []rawRecord `yaml:"records"`
}

type rawSOA struct {
	MName   string `yaml:"mname"`
	RName   string `yaml:"rname"`
	Serial  *int64 `yaml:"serial"`
	Refresh *int64 `yaml:"refresh"`
	Retry   *int64 `yaml:"retry"`
	Expire  *int64 `yaml:"expire"`
	Minimum *int64 `yaml:"minimum"`
}

type rawNS struct {
	Name string   `yaml:"name"`
	IPv4 []string `yaml:"ipv4"`
	IPv6 []string `yaml:"ipv6"`
}

type rawAddrs struct {
	IPv4  []string `yaml:"ipv4"`
	IPv6  []string `yaml:"ipv6"`
	CNAME string   `yaml:"cname"`
}

type rawStatic struct {
	IPv4  []string `yaml:"ipv4"`
	IPv6  []string `yaml:"ipv6"`
	TXT   []string `yaml:"txt"`
	CNAME string   `yaml:"cname"`
}

type rawRecord struct {
	Name        string     `yaml:"name"`
	TTL         *int64     `yaml:"ttl"`
	Steering    []string   `yaml:"steering"`
	ECSMap      string     `yaml:"ecs_map"`
	ResolverMap string     `yaml:"resolver_map"`
	Default     *rawAddrs  `yaml:"default"`
	CNAMETmpl   string     `yaml:"cname_template"`
	RUM         bool       `yaml:"rum"`
	Static      *rawStatic `yaml:"static"`
	HealthPol   string     `yaml:"health_policy"`
}

// convert turns the raw form into a typed Config, applying defaults,
// normalizing names and resolving paths. Checks that need the typed form
// are left to Validate.
func convert(raw *rawConfig, name string) (*Config, error) {
	el := &errList{file: name}
	c := Defaults()
	c.File = name
	dir := filepath.Dir(name)
	if name == "" {
		dir = "."
	}

	if raw.Listen.DNS != nil {
		c.Listen.DNS = make([]netip.AddrPort, 0, len(raw.Listen.DNS))
		for i, s := range raw.Listen.DNS {
			if ap, ok := parseAddrPort(el, fmt.Sprintf("listen.dns[%d]", i), s); ok {
				c.Listen.DNS = append(c.Listen.DNS, ap)
			}
		}
	}
	if raw.Listen.Admin != "" {
		c.Listen.Admin, _ = parseAddrPort(el, "listen.admin", raw.Listen.Admin)
	}
	if raw.Listen.API != "" {
		c.Listen.API, _ = parseAddrPort(el, "listen.api", raw.Listen.API)
	}
	c.Listen.UDPSockets = raw.Listen.UDPSockets

	c.Server.NSID = raw.Server.NSID
	if s := raw.Server.CookieSecret; s != "" {
		b, err := hex.DecodeString(s)
		if err != nil || len(b) != 16 {
			el.add("server.cookie_secret", "must be 32 hex digits (16 bytes)")
		} else {
			c.Server.CookieSecret = b
		}
	}
	if p := raw.Server.MaxUDPSize; p != nil {
		if *p < 512 || *p > 4096 {
			el.add("server.max_udp_size", "must be in 512..4096, got %d", *p)
		} else {
			c.Server.MaxUDPSize = uint16(*p)
		}
	}
	if s := raw.Server.TCPIdleTimeout; s != "" {
		c.Server.TCPIdleTimeout = parseDuration(el, "server.tcp_idle_timeout", s)
	}
	convertLimits(el, &raw.Server, &c.Server)
	if raw.Reload.Watch != nil {
		c.Reload.Watch = *raw.Reload.Watch
	}
	if s := raw.Reload.Debounce; s != "" {
		c.Reload.Debounce = parseDuration(el, "reload.debounce", s)
	}
	if raw.GeoIP != "" {
		c.GeoIP = resolvePath(dir, raw.GeoIP)
	}
	if raw.QueryLog != "" {
		c.QueryLog = resolvePath(dir, raw.QueryLog)
	}
	c.QueryLogRotate = QueryLogRotate{MaxBytes: DefaultQueryLogMaxBytes, Keep: DefaultQueryLogKeep}
	if r := raw.Rotate; r != nil {
		if r.MaxBytes != nil {
			if *r.MaxBytes != 0 && (*r.MaxBytes < 64<<10 || *r.MaxBytes > 1<<40) {
				el.add("query_log_rotate.max_bytes", "must be 0 (rotation off) or in %d..%d, got %d", 64<<10, int64(1<<40), *r.MaxBytes)
			} else {
				c.QueryLogRotate.MaxBytes = *r.MaxBytes
			}
		}
		if r.Keep != nil {
			if *r.Keep < 1 || *r.Keep > 1000 {
				el.add("query_log_rotate.keep", "must be in 1..1000, got %d", *r.Keep)
			} else {
				c.QueryLogRotate.Keep = int(*r.Keep)
			}
		}
	}
	if rc := raw.Control; rc != nil {
		c.Control = convertControl(el, rc, dir)
	}
	if rt := raw.Tokens; rt != nil {
		c.APITokens = &APITokens{TTL: DefaultTokenTTL}
		if rt.Keys == "" {
			el.add("api_tokens.keys", "required: the steering token key file (steer token keygen)")
		} else {
			c.APITokens.Keys = resolvePath(dir, rt.Keys)
		}
		if rt.TTL != "" {
			if d := parseDuration(el, "api_tokens.ttl", rt.TTL); d != 0 && (d < time.Second || d > 7*24*time.Hour) {
				el.add("api_tokens.ttl", "must be in 1s..168h, got %s", rt.TTL)
			} else if d != 0 {
				c.APITokens.TTL = d
			}
		}
		if !c.Listen.API.IsValid() {
			el.add("api_tokens", "needs listen.api: the steering API signs the tokens")
		}
	}

	for i, rp := range raw.PoPs {
		path := fmt.Sprintf("pops[%d]", i)
		p := PoP{
			Label:    popmap.Label(rp.Label),
			City:     rp.City,
			IPv4:     parseAddrs(el, path+".ipv4", rp.IPv4),
			IPv6:     parseAddrs(el, path+".ipv6", rp.IPv6),
			Capacity: DefaultCapacity,
			State:    StateUp,
		}
		if rp.Lat == nil {
			el.add(path+".lat", "required")
		} else {
			p.Lat = *rp.Lat
		}
		if rp.Lon == nil {
			el.add(path+".lon", "required")
		} else {
			p.Lon = *rp.Lon
		}
		if rp.Capacity != nil {
			p.Capacity = *rp.Capacity
		}
		if rp.State != "" {
			p.State = State(rp.State)
		}
		if rp.Check != nil {
			p.Check = convertCheck(el, path+".check", rp.Check)
		}
		c.PoPs = append(c.PoPs, p)
	}

	for i, rz := range raw.Zones {
		c.Zones = append(c.Zones, convertZone(el, fmt.Sprintf("zones[%d]", i), &rz, dir))
	}
	if err := el.err(); err != nil {
		return nil, err
	}
	return c, nil
}

func convertZone(el *errList, path string, rz *rawZone, dir string) Zone {
	z := Zone{TTL: DefaultZoneTTL}
	if rz.Name == "" {
		el.add(path+".name", "required")
		return z
	}
	origin, err := canonicalName(rz.Name)
	if err != nil {
		el.add(path+".name", "%v", err)
		return z
	}
	z.Name = origin
	uint32Field(el, path+".ttl", rz.TTL, &z.TTL, MaxTTL)

	for i, rn := range rz.NS {
		p := fmt.Sprintf("%s.ns[%d]", path, i)
		ns := NameServer{
			IPv4: parseAddrs(el, p+".ipv4", rn.IPv4),
			IPv6: parseAddrs(el, p+".ipv6", rn.IPv6),
		}
		if rn.Name == "" {
			el.add(p+".name", "required")
		} else if n, err := absName(rn.Name, origin); err != nil {
			el.add(p+".name", "%v", err)
		} else {
			ns.Name = n
		}
		z.NS = append(z.NS, ns)
	}

	s := SOA{
		Serial: DefaultSOASerial, Refresh: DefaultSOARefresh, Retry: DefaultSOARetry,
		Expire: DefaultSOAExpire, Minimum: DefaultSOAMinimum,
	}
	switch {
	case rz.SOA.MName != "":
		if n, err := absName(rz.SOA.MName, origin); err != nil {
			el.add(path+".soa.mname", "%v", err)
		} else {
			s.MName = n
		}
	case len(z.NS) > 0:
		s.MName = z.NS[0].Name
	}
	rname := rz.SOA.RName
	if rname == "" {
		rname = "hostmaster"
	}
	if n, err := absName(rname, origin); err != nil {
		el.add(path+".soa.rname", "%v", err)
	} else {
		s.RName = n
	}
	const maxU32 = math.MaxUint32
	uint32Field(el, path+".soa.serial", rz.SOA.Serial, &s.Serial, maxU32)
	uint32Field(el, path+".soa.refresh", rz.SOA.Refresh, &s.Refresh, maxU32)
	uint32Field(el, path+".soa.retry", rz.SOA.Retry, &s.Retry, maxU32)
	uint32Field(el, path+".soa.expire", rz.SOA.Expire, &s.Expire, maxU32)
	uint32Field(el, path+".soa.minimum", rz.SOA.Minimum, &s.Minimum, MaxTTL)
	z.SOA = s

	for i := range rz.Records {
		z.Records = append(z.Records, convertRecord(el, fmt.Sprintf("%s.records[%d]", path, i), &rz.Records[i], origin, dir))
	}
	return z
}

func convertControl(el *errList, rc *rawControl, dir string) *Control {
	c := &Control{URL: rc.URL, Token: rc.Token, Server: rc.Server, StaleAfter: 10 * time.Second, ReportEvery: 2 * time.Second}
	if u, err := url.Parse(rc.URL); rc.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		el.add("control.url", "must be an http:// or https:// URL of the control server, got %q", rc.URL)
	}
	switch {
	case (rc.Token == "") == (rc.TokenFile == ""):
		el.add("control", "exactly one of token, token_file required")
	case rc.TokenFile != "":
		b, err := os.ReadFile(resolvePath(dir, rc.TokenFile))
		if err != nil {
			el.add("control.token_file", "%v", err)
		}
		c.Token = strings.TrimSpace(string(b))
	}
	if rc.MapFile == "" {
		el.add("control.map_file", "required: the file the active map is written to (name it as ecs_map/resolver_map)")
	} else {
		c.MapFile = resolvePath(dir, rc.MapFile)
	}
	if rc.StaleAfter != "" {
		c.StaleAfter = parseDuration(el, "control.stale_after", rc.StaleAfter)
	}
	if rc.ReportEvery != "" {
		c.ReportEvery = parseDuration(el, "control.report_every", rc.ReportEvery)
	}
	if c.StaleAfter <= 0 {
		el.add("control.stale_after", "must be > 0")
	}
	if c.ReportEvery <= 0 {
		el.add("control.report_every", "must be > 0")
	}
	return c
}

func convertRecord(el *errList, path string, rr *rawRecord, origin, dir string) Record {
	r := Record{TTL: DefaultRecordTTL, RUM: rr.RUM}
	switch rr.Name {
	case "":
		el.add(path+".name", "required")
	case "@":
		r.Name = origin
	default:
		if n, err := absName(rr.Name, origin); err != nil {
			el.add(path+".name", "%v", err)
		} else {
			r.Name = n
		}
	}
	uint32Field(el, path+".ttl", rr.TTL, &r.TTL, MaxTTL)

	switch {
	case rr.Static != nil:
		r.Static = &Static{
			IPv4: parseAddrs(el, path+".static.ipv4", rr.Static.IPv4),
			IPv6: parseAddrs(el, path+".static.ipv6", rr.Static.IPv6),
			TXT:  rr.Static.TXT,
		}
		if t := rr.Static.CNAME; t != "" {
			r.Static.CNAME = cnameTarget(el, path+".static.cname", t, origin)
		}
		// A static record keeps Steering empty; Validate rejects any
		// steering keys next to static, so record what was given.
		if rr.Steering != nil {
			r.Steering = stepsOf(rr.Steering)
		}
	case rr.Steering != nil:
		r.Steering = stepsOf(rr.Steering)
	default:
		r.Steering = DefaultSteering()
	}
	if rr.ECSMap != "" {
		r.ECSMap = resolvePath(dir, rr.ECSMap)
	}
	if rr.ResolverMap != "" {
		r.ResolverMap = resolvePath(dir, rr.ResolverMap)
	}
	switch rr.HealthPol {
	case "", FailOpen:
		r.HealthPolicy = FailOpen
	case FailClosed:
		r.HealthPolicy = FailClosed
	default:
		el.add(path+".health_policy", "must be fail_open or fail_closed, got %q", rr.HealthPol)
	}
	if rr.Default != nil {
		r.Default = Addrs{
			IPv4: parseAddrs(el, path+".default.ipv4", rr.Default.IPv4),
			IPv6: parseAddrs(el, path+".default.ipv6", rr.Default.IPv6),
		}
		if t := rr.Default.CNAME; t != "" {
			r.DefaultCNAME = cnameTarget(el, path+".default.cname", t, origin)
		}
	}
	if t := rr.CNAMETmpl; t != "" {
		r.CNAMETemplate = absTemplate(t, origin)
	}
	return r
}

// cnameTarget makes a CNAME target absolute the way every other name of a
// zone is written (see absName; "@" is the apex).
func cnameTarget(el *errList, path, s, origin string) string {
	if s == "@" {
		return origin
	}
	n, err := absName(s, origin)
	if err != nil {
		el.add(path, "%v", err)
		return ""
	}
	return n
}

// absTemplate makes a cname_template absolute by absName's rule and
// lowercases it. Its syntax is checked by Validate, on the names it gives
// for the configured PoPs.
func absTemplate(s, origin string) string {
	lower := strings.ToLower(s)
	switch {
	case strings.HasSuffix(lower, "."):
		return lower
	case lower+"." == origin || strings.HasSuffix(lower+".", "."+origin):
		return lower + "."
	}
	return lower + "." + origin
}

// convertCheck applies the defaults of a health check. Defaults that only
// make sense for HTTP (status) are not applied to a TCP check, so that
// Validate can reject HTTP keys given to one.
func convertCheck(el *errList, path string, rc *rawCheck) *Check {
	ck := &Check{
		Type:     rc.Type,
		URL:      rc.URL,
		Host:     rc.Host,
		Body:     rc.Body,
		Insecure: rc.Insecure,
		Interval: DefaultCheckInterval,
		Timeout:  DefaultCheckTimeout,
		Rise:     DefaultCheckRise,
		Fall:     DefaultCheckFall,
	}
	if rc.Type != CheckTCP {
		ck.Status = DefaultCheckStatus
	}
	if rc.Addr != "" {
		ck.Addr, _ = parseAddrPort(el, path+".addr", rc.Addr)
	}
	if rc.Status != nil {
		ck.Status = intField(*rc.Status)
	}
	if rc.Rise != nil {
		ck.Rise = intField(*rc.Rise)
	}
	if rc.Fall != nil {
		ck.Fall = intField(*rc.Fall)
	}
	if rc.Interval != "" {
		ck.Interval = parseDuration(el, path+".interval", rc.Interval)
	}
	if rc.Timeout != "" {
		ck.Timeout = parseDuration(el, path+".timeout", rc.Timeout)
	}
	return ck
}

// intField narrows a YAML integer whose range Validate checks; values beyond
// int32 are clamped so that they fail that check on every platform.
func intField(v int64) int {
	return int(max(min(v, math.MaxInt32), math.MinInt32))
}

func stepsOf(ss []string) []Step {
	out := make([]Step, len(ss))
	for i, s := range ss {
		out[i] = Step(s)
	}
	return out
}

func uint32Field(el *errList, path string, p *int64, dst *uint32, limit int64) {
	if p == nil {
		return
	}
	if *p < 0 || *p > limit {
		if limit == MaxTTL {
			el.add(path, "must be ≥ 0 and ≤ %d, got %d", limit, *p)
		} else {
			el.add(path, "must be in 0..%d, got %d", limit, *p)
		}
		return
	}
	*dst = uint32(*p)
}

func parseDuration(el *errList, path, s string) time.Duration {
	d, err := time.ParseDuration(s)
	if err != nil {
		el.add(path, "invalid duration %q (want e.g. \"10s\", \"200ms\")", s)
		return 0
	}
	return d
}

func parseAddrPort(el *errList, path, s string) (netip.AddrPort, bool) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		el.add(path, "invalid address %q: want ip:port (IPv6 as [ip]:port)", s)
		return netip.AddrPort{}, false
	}
	return ap, true
}

// parseAddrs parses addresses; the family is checked in Validate so that a
// Config built in Go gets the same check.
func parseAddrs(el *errList, path string, ss []string) []netip.Addr {
	if ss == nil {
		return nil
	}
	out := make([]netip.Addr, 0, len(ss))
	for i, s := range ss {
		a, err := netip.ParseAddr(s)
		if err != nil {
			el.add(fmt.Sprintf("%s[%d]", path, i), "invalid IP address %q", s)
			continue
		}
		out = append(out, a)
	}
	return out
}

func resolvePath(dir, p string) string {
	if !filepath.IsAbs(p) {
		p = filepath.Join(dir, p)
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return filepath.Clean(p)
}

// canonicalName lowercases a domain name, adds the trailing dot and checks
// its syntax: labels of 1..63 letters, digits, '-' or '_', not starting or
// ending with '-', at most 253 characters without the final dot.
func canonicalName(s string) (string, error) {
	n := strings.ToLower(strings.TrimSuffix(s, "."))
	if n == "" {
		return "", fmt.Errorf("invalid domain name %q", s)
	}
	if len(n) > 253 {
		return "", fmt.Errorf("domain name %q longer than 253 characters", s)
	}
	for _, l := range strings.Split(n, ".") {
		if !validLabel(l) {
			return "", fmt.Errorf("invalid domain name %q: bad label %q", s, l)
		}
	}
	return n + ".", nil
}

func validLabel(l string) bool {
	if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' && c != '_' {
			return false
		}
	}
	return true
}

// absName makes a name absolute under origin. A name with a trailing dot is
// absolute; so is a name equal to or ending in the origin (written without
// its dot, the way operators write "ns1.example.net"); any other name is
// relative to origin.
func absName(s, origin string) (string, error) {
	if strings.HasSuffix(s, ".") {
		return canonicalName(s)
	}
	lower := strings.ToLower(s) + "."
	if lower == origin || strings.HasSuffix(lower, "."+origin) {
		return canonicalName(s)
	}
	return canonicalName(s + "." + origin)
}

// inZone reports whether name is origin or below it.
func inZone(name, origin string) bool {
	return name == origin || strings.HasSuffix(name, "."+origin)
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlError rewrites a YAML decoding error to name the file and, where the
// decoder gives a line, the key path at that line.
func yamlError(data []byte, name string, err error) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return &Error{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	paths := linePaths(data)
	el := &errList{file: name}
	for _, msg := range te.Errors {
		m := lineRE.FindStringSubmatch(msg)
		if m == nil {
			el.add("", "%s", msg)
			continue
		}
		line, _ := strconv.Atoi(m[1])
		text := m[2]
		// "field foo not found in type config.rawPoP" → "unknown key"
		if i := strings.Index(text, " not found in type "); i >= 0 && strings.HasPrefix(text, "field ") {
			text = "unknown key " + strconv.Quote(strings.TrimPrefix(text[:i], "field "))
		}
		el.add(paths[line], "%s (line %d)", text, line)
	}
	return el.err()
}

// linePaths maps each line of a YAML document to the key path of the last
// mapping key on it, for error messages.
func linePaths(data []byte) map[int]string {
	var doc yaml.Node
	out := map[int]string{}
	if yaml.Unmarshal(data, &doc) != nil {
		return out
	}
	var walk func(n *yaml.Node, path string, depth int)
	walk = func(n *yaml.Node, path string, depth int) {
		if n == nil || depth > 256 { // aliases are not followed; depth bounds the recursion
			return
		}
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				if c.Kind != yaml.ScalarNode {
					out[c.Line] = p
				}
				walk(c, p, depth+1)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k, v := n.Content[i], n.Content[i+1]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				out[k.Line] = p
				walk(v, p, depth+1)
			}
		}
	}
	walk(&doc, "", 0)
	return out
}
