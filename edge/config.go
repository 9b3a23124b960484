package edge

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Defaults of the edge config.
const (
	DefaultReadHeaderTimeout     = 10 * time.Second
	DefaultIdleTimeout           = 120 * time.Second
	DefaultUpstreamDialTimeout   = 5 * time.Second
	DefaultUpstreamTLSTimeout    = 5 * time.Second
	DefaultUpstreamHeaderTimeout = 60 * time.Second
	DefaultUpstreamIdleTimeout   = 90 * time.Second
	DefaultBodyIdleTimeout       = 30 * time.Second
	DefaultMaxHeaderBytes        = 64 << 10
	DefaultMaxConns              = 16384
	DefaultUpstreamMaxConns      = 1024
	DefaultUpstreamIdleConns     = 256
	DefaultDrainGrace            = 10 * time.Second
	DefaultDrainTimeout          = 60 * time.Second
	DefaultCertPoll              = time.Second
	DefaultRetries               = 1
	DefaultReloadPoll            = time.Second
	DefaultReloadDebounce        = 200 * time.Millisecond
)

// Token modes of a route: what to do with the steering token of a request.
const (
	// TokenOff does not look at tokens.
	TokenOff = "off"
	// TokenIgnore verifies the token and counts the outcome but passes
	// every request.
	TokenIgnore = "ignore"
	// TokenReject answers 403 with the reason to a request without a
	// valid token for this PoP.
	TokenReject = "reject"
)

// Forwarded-for modes: what the edge sends upstream in X-Forwarded-For.
const (
	// ForwardNetwork sends the client's /24 (IPv4) or /56 (IPv6) network
	// address, never the full address (the default).
	ForwardNetwork = "network"
	// ForwardFull sends the client's full address, as most proxies do.
	ForwardFull = "full"
	// ForwardOff sends no X-Forwarded-For.
	ForwardOff = "off"
)

// Config is a validated edge proxy configuration.
type Config struct {
	// File is the name the config was loaded from.
	File string
	// PoP is this PoP's label: in request IDs, X-Edge-PoP and the probe.
	PoP string
	// Listen is the HTTPS address (HTTP/1.1 and HTTP/2 over TLS).
	Listen string
	// ListenHTTP is an optional plain HTTP/1.1 address ("" = none).
	ListenHTTP string
	// Admin is the admin address: /healthz, /metrics, POST /drain ("" = none).
	Admin string
	// Certificates are the server certificates, chosen by SNI; the first
	// is the default. Their files are polled for changes every CertPoll.
	Certificates []CertFiles
	CertPoll     time.Duration
	// NoSessionTickets turns TLS session resumption off (tls.session_tickets:
	// false): every connection pays a full handshake. For benchmarks that
	// count full handshakes; resumption is on by default.
	NoSessionTickets bool
	Upstreams        []Upstream
	Routes           []Route
	Timeouts         Timeouts
	// MaxHeaderBytes bounds a request's header; MaxConns the client
	// connections open at once (more wait in the kernel's backlog).
	MaxHeaderBytes int
	MaxConns       int
	// DrainGrace is how long a draining edge still accepts connections
	// (closing keep-alives) before it stops listening; DrainTimeout bounds
	// the wait for in-flight requests after that.
	DrainGrace   time.Duration
	DrainTimeout time.Duration
	// TokenKeys is the absolute path of the steertoken key set ("" = no
	// token verification; then every route's token mode must be off).
	TokenKeys string
	// ForwardedFor is ForwardNetwork, ForwardFull or ForwardOff.
	ForwardedFor string
	// AccessLog is the NDJSON access log (package edge/accesslog) with
	// TCP_INFO per request; Path "" = none.
	AccessLog AccessLog
	// LoadReport, when set, reports the edge's request rate to the control
	// server as its PoP's load (POST /v1/load, package edge/loadreport).
	LoadReport *LoadReport
	// DebugCollector, when set, is the collector origin the debug page
	// (served at /debug, package web) reads /rum/pops.json from and posts
	// its report to; "" = the edge serves no debug page.
	DebugCollector string
	// Reload says whether and how the config file is watched for changes.
	Reload Reload
}

// Reload is the reload: block. SIGHUP reloads the config whatever it says.
type Reload struct {
	// Watch reloads the config when its file changes: the file is polled
	// every Poll, and a change is applied once the file stayed unchanged
	// for Debounce (an editor's or a deploy tool's several writes make one
	// reload).
	Watch          bool
	Poll, Debounce time.Duration
}

// LoadReport is the load_report: block.
type LoadReport struct {
	URL   string // the control server
	Token string // a token of role operate (token, or the contents of token_file)
	// Capacity is the request rate the PoP takes at full load; the load
	// reported is the measured rate over it.
	Capacity float64
	Every    time.Duration
}

// AccessLog is the access_log: block.
type AccessLog struct {
	Path     string // absolute path
	MaxBytes int64  // rotate past this size; 0 = leave it to logrotate
	Keep     int    // rotated files kept
}

// CertFiles is one certificate and its key, PEM files.
type CertFiles struct{ Cert, Key string }

// Upstream is an origin the edge forwards to over a pool of kept-alive
// connections.
type Upstream struct {
	Name string
	URL  *url.URL // http or https; the path is a prefix for every request
	// Pins are SHA-256 digests of SubjectPublicKeyInfos; when set, the
	// verified chain must hold one of them (fail closed).
	Pins [][sha256.Size]byte
	// CAFile is the absolute path of extra roots (PEM) to verify the
	// origin with ("" = the system roots).
	CAFile string
	// ServerName overrides the TLS server name (default: the URL's host).
	ServerName string
	// H2C speaks HTTP/2 without TLS to an http:// origin.
	H2C bool
	// MaxConns bounds the connections to the origin; IdleConns the idle
	// ones kept; Prewarm is how many are opened at start.
	MaxConns, IdleConns, Prewarm int
	// Retries is how many times an idempotent request without a body is
	// retried on a connection error (no response received).
	Retries int
}

// Route sends the requests whose path starts with PathPrefix to Upstream.
type Route struct {
	PathPrefix string
	Upstream   string
	Token      string // TokenOff, TokenIgnore or TokenReject
}

// Timeouts bound every phase of a request. Zero means none.
type Timeouts struct {
	// ReadHeader bounds the TLS handshake and the request header (the
	// slowloris guard); Read the whole request including its body and
	// Write the whole response (both off by default: large uploads and
	// downloads stream); Idle a kept-alive connection between requests.
	ReadHeader, Read, Write, Idle time.Duration
	// BodyIdle bounds the wait for each read of a request body: an upload
	// streams for as long as it keeps sending, a client that stalls mid-body
	// is cut off (0: off).
	BodyIdle time.Duration
	// Upstream phases: dial, TLS handshake, waiting for the response
	// header once the request is written, and idle pooled connections.
	UpstreamDial, UpstreamTLS, UpstreamHeader, UpstreamIdle time.Duration
}

// ConfigError is a config error at a key path.
type ConfigError struct {
	File string // config file name
	Path string // key path such as upstreams[0].url; "" for the whole file
	Msg  string
}

func (e *ConfigError) Error() string {
	name := e.File
	if name == "" {
		name = "<input>"
	}
	if e.Path == "" {
		return fmt.Sprintf("edge config %s: %s", name, e.Msg)
	}
	return fmt.Sprintf("edge config %s: %s: %s", name, e.Path, e.Msg)
}

type errList struct {
	file string
	errs []error
}

func (l *errList) add(path, format string, args ...any) {
	l.errs = append(l.errs, &ConfigError{File: l.file, Path: path, Msg: fmt.Sprintf(format, args...)})
}

type rawConfig struct {
	PoP          string        `yaml:"pop"`
	Listen       string        `yaml:"listen"`
	ListenHTTP   string        `yaml:"listen_http"`
	Admin        string        `yaml:"admin"`
	TLS          rawTLS        `yaml:"tls"`
	Upstreams    []rawUpstream `yaml:"upstreams"`
	Routes       []rawRoute    `yaml:"routes"`
	Timeouts     rawTimeouts   `yaml:"timeouts"`
	Limits       rawLimits     `yaml:"limits"`
	DrainGrace   string        `yaml:"drain_grace"`
	DrainTimeout string        `yaml:"drain_timeout"`
	TokenKeys    string        `yaml:"token_keys"`
	ForwardedFor string        `yaml:"forwarded_for"`
	AccessLog    rawAccessLog  `yaml:"access_log"`
	LoadReport   *rawLoad      `yaml:"load_report"`
	Debug        *struct {
		Collector string `yaml:"collector"`
	} `yaml:"debug"`
	Reload struct {
		Watch    *bool  `yaml:"watch"`
		Poll     string `yaml:"poll"`
		Debounce string `yaml:"debounce"`
	} `yaml:"reload"`
}

type rawLoad struct {
	URL       string  `yaml:"url"`
	Token     string  `yaml:"token"`
	TokenFile string  `yaml:"token_file"`
	Capacity  float64 `yaml:"capacity"`
	Every     string  `yaml:"every"`
}

type rawAccessLog struct {
	Path     string `yaml:"path"`
	MaxBytes *int64 `yaml:"max_bytes"`
	Keep     *int   `yaml:"keep"`
}

type rawTLS struct {
	Certificates []rawCert `yaml:"certificates"`
	Poll         string    `yaml:"poll"`
	// SessionTickets nil = on.
	SessionTickets *bool `yaml:"session_tickets"`
}

type rawCert struct {
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
}

type rawUpstream struct {
	Name       string   `yaml:"name"`
	URL        string   `yaml:"url"`
	Pins       []string `yaml:"pin_spki_sha256"`
	CAFile     string   `yaml:"ca_file"`
	ServerName string   `yaml:"server_name"`
	H2C        bool     `yaml:"h2c"`
	MaxConns   *int     `yaml:"max_conns"`
	IdleConns  *int     `yaml:"idle_conns"`
	Prewarm    int      `yaml:"prewarm"`
	Retries    *int     `yaml:"retries"`
}

type rawRoute struct {
	PathPrefix string `yaml:"path_prefix"`
	Upstream   string `yaml:"upstream"`
	Token      string `yaml:"token"`
}

type rawTimeouts struct {
	ReadHeader     string `yaml:"read_header"`
	Read           string `yaml:"read"`
	Write          string `yaml:"write"`
	Idle           string `yaml:"idle"`
	BodyIdle       string `yaml:"body_idle"`
	UpstreamDial   string `yaml:"upstream_dial"`
	UpstreamTLS    string `yaml:"upstream_tls_handshake"`
	UpstreamHeader string `yaml:"upstream_response_header"`
	UpstreamIdle   string `yaml:"upstream_idle"`
}

type rawLimits struct {
	MaxHeaderBytes *int `yaml:"max_header_bytes"`
	MaxConns       *int `yaml:"max_conns"`
}

// LoadConfig reads and parses the edge config file at path.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading edge config: %w", err)
	}
	return ParseConfig(data, path)
}

// ParseConfig decodes and validates an edge config. name is used in error
// messages and its directory resolves relative file paths. Unknown keys,
// a second document and bad values are errors naming the key path; one
// call reports every problem it finds.
func ParseConfig(data []byte, name string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: name, Msg: "empty config"}
		}
		return nil, &ConfigError{File: name, Msg: strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, &ConfigError{File: name, Msg: "more than one YAML document"}
	}
	return convert(&raw, name)
}

var popLabelRE = regexp.MustCompile(`^[a-z0-9-]{1,32}$`)

func convert(raw *rawConfig, name string) (*Config, error) {
	el := &errList{file: name}
	dir := "."
	if name != "" {
		dir = filepath.Dir(name)
	}
	c := &Config{File: name, PoP: raw.PoP, ForwardedFor: ForwardNetwork}
	switch {
	case raw.PoP == "":
		el.add("pop", "missing: the PoP label is required")
	case !popLabelRE.MatchString(raw.PoP) || raw.PoP == "anycast":
		el.add("pop", "%q is not a PoP label (1..32 of a-z 0-9 -, not anycast)", raw.PoP)
	}
	c.Listen = hostPort(el, "listen", raw.Listen, true)
	c.ListenHTTP = hostPort(el, "listen_http", raw.ListenHTTP, false)
	c.Admin = hostPort(el, "admin", raw.Admin, false)

	if len(raw.TLS.Certificates) == 0 {
		el.add("tls.certificates", "missing: at least one {cert, key} is required")
	}
	for i, rc := range raw.TLS.Certificates {
		p := fmt.Sprintf("tls.certificates[%d]", i)
		if rc.Cert == "" {
			el.add(p+".cert", "missing")
		}
		if rc.Key == "" {
			el.add(p+".key", "missing")
		}
		c.Certificates = append(c.Certificates, CertFiles{Cert: resolvePath(dir, rc.Cert), Key: resolvePath(dir, rc.Key)})
	}
	c.CertPoll = duration(el, "tls.poll", raw.TLS.Poll, DefaultCertPoll)
	c.NoSessionTickets = raw.TLS.SessionTickets != nil && !*raw.TLS.SessionTickets

	names := map[string]bool{}
	if len(raw.Upstreams) == 0 {
		el.add("upstreams", "missing: at least one upstream is required")
	}
	for i, ru := range raw.Upstreams {
		c.Upstreams = append(c.Upstreams, convertUpstream(el, fmt.Sprintf("upstreams[%d]", i), &ru, dir, names))
	}
	if len(raw.Routes) == 0 && len(c.Upstreams) > 0 {
		// One upstream and no routes: everything goes there.
		if len(c.Upstreams) == 1 {
			c.Routes = []Route{{PathPrefix: "/", Upstream: c.Upstreams[0].Name, Token: TokenOff}}
		} else {
			el.add("routes", "missing: with several upstreams, routes must say which path goes where")
		}
	}
	anyToken := false
	for i, rr := range raw.Routes {
		p := fmt.Sprintf("routes[%d]", i)
		r := Route(rr)
		if r.PathPrefix == "" {
			r.PathPrefix = "/"
		}
		if !strings.HasPrefix(r.PathPrefix, "/") {
			el.add(p+".path_prefix", "%q must start with /", rr.PathPrefix)
		}
		if r.Upstream == "" {
			el.add(p+".upstream", "missing")
		} else if !names[r.Upstream] {
			el.add(p+".upstream", "no upstream named %q", r.Upstream)
		}
		switch r.Token {
		case "":
			r.Token = TokenOff
		case TokenOff:
		case TokenIgnore, TokenReject:
			anyToken = true
		default:
			el.add(p+".token", "%q: want reject, ignore or off", rr.Token)
		}
		c.Routes = append(c.Routes, r)
	}

	t := &c.Timeouts
	t.ReadHeader = duration(el, "timeouts.read_header", raw.Timeouts.ReadHeader, DefaultReadHeaderTimeout)
	t.Read = duration(el, "timeouts.read", raw.Timeouts.Read, 0)
	t.Write = duration(el, "timeouts.write", raw.Timeouts.Write, 0)
	t.Idle = duration(el, "timeouts.idle", raw.Timeouts.Idle, DefaultIdleTimeout)
	t.BodyIdle = duration(el, "timeouts.body_idle", raw.Timeouts.BodyIdle, DefaultBodyIdleTimeout)
	t.UpstreamDial = duration(el, "timeouts.upstream_dial", raw.Timeouts.UpstreamDial, DefaultUpstreamDialTimeout)
	t.UpstreamTLS = duration(el, "timeouts.upstream_tls_handshake", raw.Timeouts.UpstreamTLS, DefaultUpstreamTLSTimeout)
	t.UpstreamHeader = duration(el, "timeouts.upstream_response_header", raw.Timeouts.UpstreamHeader, DefaultUpstreamHeaderTimeout)
	t.UpstreamIdle = duration(el, "timeouts.upstream_idle", raw.Timeouts.UpstreamIdle, DefaultUpstreamIdleTimeout)
	if t.ReadHeader == 0 {
		el.add("timeouts.read_header", "must be > 0: it is the slowloris guard")
	}

	c.MaxHeaderBytes = intRange(el, "limits.max_header_bytes", raw.Limits.MaxHeaderBytes, DefaultMaxHeaderBytes, 1024, 16<<20)
	c.MaxConns = intRange(el, "limits.max_conns", raw.Limits.MaxConns, DefaultMaxConns, 1, 1<<24)
	c.DrainGrace = duration(el, "drain_grace", raw.DrainGrace, DefaultDrainGrace)
	c.DrainTimeout = duration(el, "drain_timeout", raw.DrainTimeout, DefaultDrainTimeout)
	if raw.TokenKeys != "" {
		c.TokenKeys = resolvePath(dir, raw.TokenKeys)
	} else if anyToken {
		el.add("token_keys", "missing: a route verifies steering tokens")
	}
	switch raw.ForwardedFor {
	case "":
	case ForwardNetwork, ForwardFull, ForwardOff:
		c.ForwardedFor = raw.ForwardedFor
	default:
		el.add("forwarded_for", "%q: want network, full or off", raw.ForwardedFor)
	}
	if raw.AccessLog.Path != "" {
		c.AccessLog.Path = resolvePath(dir, raw.AccessLog.Path)
		c.AccessLog.MaxBytes = 256 << 20
		if mb := raw.AccessLog.MaxBytes; mb != nil {
			if *mb < 0 {
				el.add("access_log.max_bytes", "%d: must not be negative", *mb)
			}
			c.AccessLog.MaxBytes = *mb
		}
		c.AccessLog.Keep = intRange(el, "access_log.keep", raw.AccessLog.Keep, 4, 0, 1000)
	} else if raw.AccessLog.MaxBytes != nil || raw.AccessLog.Keep != nil {
		el.add("access_log.path", "missing")
	}
	if rl := raw.LoadReport; rl != nil {
		lr := &LoadReport{URL: rl.URL, Token: rl.Token, Capacity: rl.Capacity,
			Every: duration(el, "load_report.every", rl.Every, 5*time.Second)}
		if u, err := url.Parse(rl.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			el.add("load_report.url", "want the control server's http(s) URL, got %q", rl.URL)
		}
		switch {
		case rl.Token != "" && rl.TokenFile != "":
			el.add("load_report.token_file", "give token or token_file, not both")
		case rl.TokenFile != "":
			b, err := os.ReadFile(resolvePath(dir, rl.TokenFile))
			if err != nil {
				el.add("load_report.token_file", "%v", err)
			}
			lr.Token = strings.TrimSpace(string(b))
		}
		if lr.Token == "" {
			el.add("load_report.token", "required: a control server token of role operate")
		}
		if !(rl.Capacity > 0) || math.IsInf(rl.Capacity, 0) {
			el.add("load_report.capacity", "must be > 0 requests/s (the rate at full load), got %v", rl.Capacity)
		}
		if lr.Every < time.Second {
			el.add("load_report.every", "must be ≥ 1s")
		}
		c.LoadReport = lr
	}
	if raw.Debug != nil {
		u, err := url.Parse(raw.Debug.Collector)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			el.add("debug.collector", "%q is not an origin (http[s]://host[:port]): the collector the debug page reports to", raw.Debug.Collector)
		}
		c.DebugCollector = strings.TrimSuffix(raw.Debug.Collector, "/")
	}
	c.Reload = Reload{
		Watch:    raw.Reload.Watch == nil || *raw.Reload.Watch,
		Poll:     duration(el, "reload.poll", raw.Reload.Poll, DefaultReloadPoll),
		Debounce: duration(el, "reload.debounce", raw.Reload.Debounce, DefaultReloadDebounce),
	}
	if c.Reload.Poll < 10*time.Millisecond {
		el.add("reload.poll", "%s: want at least 10ms", c.Reload.Poll)
	}
	if c.Reload.Debounce > time.Minute {
		el.add("reload.debounce", "%s: want at most 1m", c.Reload.Debounce)
	}
	if len(el.errs) > 0 {
		return nil, errors.Join(el.errs...)
	}
	return c, nil
}

func convertUpstream(el *errList, p string, ru *rawUpstream, dir string, names map[string]bool) Upstream {
	u := Upstream{Name: ru.Name, CAFile: ru.CAFile, ServerName: ru.ServerName, H2C: ru.H2C, Prewarm: ru.Prewarm}
	switch {
	case u.Name == "":
		el.add(p+".name", "missing")
	case names[u.Name]:
		el.add(p+".name", "duplicate upstream %q", u.Name)
	}
	names[u.Name] = true
	pu, err := url.Parse(ru.URL)
	switch {
	case ru.URL == "":
		el.add(p+".url", "missing")
	case err != nil:
		el.add(p+".url", "%v", err)
	case pu.Scheme != "http" && pu.Scheme != "https":
		el.add(p+".url", "%q: want an http:// or https:// URL", ru.URL)
	case pu.Host == "" || pu.User != nil || pu.RawQuery != "" || pu.Fragment != "":
		el.add(p+".url", "%q: want scheme://host[:port][/path], no user, query or fragment", ru.URL)
	default:
		u.URL = pu
	}
	for j, s := range ru.Pins {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != sha256.Size {
			el.add(fmt.Sprintf("%s.pin_spki_sha256[%d]", p, j), "%q is not a base64 SHA-256 digest (44 characters)", s)
			continue
		}
		u.Pins = append(u.Pins, [sha256.Size]byte(b))
	}
	if u.URL != nil && u.URL.Scheme == "http" {
		if len(u.Pins) > 0 || u.CAFile != "" || u.ServerName != "" {
			el.add(p, "pin_spki_sha256, ca_file and server_name need an https:// url")
		}
	} else if u.H2C {
		el.add(p+".h2c", "h2c is HTTP/2 without TLS: it needs an http:// url")
	}
	if u.CAFile != "" {
		u.CAFile = resolvePath(dir, u.CAFile)
	}
	u.MaxConns = intRange(el, p+".max_conns", ru.MaxConns, DefaultUpstreamMaxConns, 1, 1<<20)
	u.IdleConns = intRange(el, p+".idle_conns", ru.IdleConns, min(DefaultUpstreamIdleConns, u.MaxConns), 0, 1<<20)
	if u.IdleConns > u.MaxConns {
		el.add(p+".idle_conns", "%d is more than max_conns %d", u.IdleConns, u.MaxConns)
	}
	if u.Prewarm < 0 || u.Prewarm > u.IdleConns {
		el.add(p+".prewarm", "%d: want 0..idle_conns (%d)", u.Prewarm, u.IdleConns)
	}
	u.Retries = intRange(el, p+".retries", ru.Retries, DefaultRetries, 0, 5)
	return u
}

func hostPort(el *errList, path, s string, required bool) string {
	if s == "" {
		if required {
			el.add(path, "missing")
		}
		return ""
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		el.add(path, "%q: want host:port (%v)", s, err)
		return ""
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		el.add(path, "%q: bad port %q", s, port)
		return ""
	}
	return s
}

func duration(el *errList, path, s string, def time.Duration) time.Duration {
	if s == "" {
		return def
	}
	if s == "0" || s == "off" {
		return 0
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		el.add(path, "%q is not a duration (like 10s or 500ms)", s)
		return def
	}
	if d < 0 {
		el.add(path, "%s: must not be negative", s)
		return def
	}
	return d
}

func intRange(el *errList, path string, p *int, def, lo, hi int) int {
	if p == nil {
		return def
	}
	if *p < lo || *p > hi {
		el.add(path, "%d: want %d..%d", *p, lo, hi)
		return def
	}
	return *p
}

func resolvePath(dir, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	abs, err := filepath.Abs(filepath.Join(dir, p))
	if err != nil {
		return filepath.Join(dir, p)
	}
	return abs
}
