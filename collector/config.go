package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/measureplan"
	"github.com/steer-gslb/steer/popmap"
)

// Config is the collector's configuration (YAML; unknown keys are errors).
//
//	listen: 127.0.0.1:8080
//	admin: 127.0.0.1:9101                   # /metrics, /querylog, /healthz; unset: see Admin
//	tls: {cert: cert.pem, key: key.pem}     # optional: HTTPS (on both listeners)
//	trusted_proxies: [10.0.0.0/8]           # peers whose proxy_header is believed
//	proxy_header: X-Forwarded-For
//	tokens: [s3cret]                        # desktop/CLI agents: Authorization: Bearer s3cret
//	querylog_tokens: [dns-fra-0123456789]   # DNS servers shipping query logs (steer ship) to POST /querylog
//	origins: [https://www.example.net]      # web pages whose anonymous beacons are accepted ("*": any)
//	max_body: 65536                         # bytes per request
//	rate: 10                                # beacons per second per client network (/24, /56); 0: unlimited
//	burst: 100                              # most beacons at once per network, and in one request
//	commit_batch: 4096                      # most beacons in one group commit
//	commit_timeout: 5s                      # longest wait for a durable commit; then 503 + Retry-After
//	max_load_lag: 1m                        # /healthz fails when the spool loader is behind this long
//	max_sample_age: 168h                    # samples older than this are refused (0: no limit)
//	max_sample_ahead: 5m                    # samples further ahead of the collector's clock are refused (0: no limit)
//	max_rtt_ms: 60000                       # samples with a larger rtt_ms are refused (0: no limit)
//	max_conns: 4096                         # open connections on the public listener
//	read_header_timeout: 5s                 # a request's headers must arrive within this
//	idle_timeout: 60s                       # keep-alive connections idle longer are closed
//	pop: fra                                # X-Edge-PoP of this collector's /rum/probe
//	pops:                                   # published at /rum/pops.json for agents
//	  - {label: fra, url: https://fra.example.net/rum/probe}
//	anycast: https://www.example.net/rum/probe
//	rum_zone: rum.example.net
//	debug: {dns_config: steer.yaml, map: map.json}  # the debug page's "which PoP the map gives you" (optional)
//	plan:                                   # per-network measurement plans at /rum/plan.json (optional; see package measureplan)
//	  max_pops: 4                           # most PoPs one beacon times
//	  min_interval: 5m                      # shortest wait the plan asks before the next beacon
//	  max_interval: 6h                      # longest, for a network with nothing worth measuring
//	  half_life: 72h                        # samples lose half their weight this long after the last one
//	  stale_after: 24h                      # a contender (within 20 ms or 50 % of the best) unmeasured this long is timed again
//	  explore: 0.05                         # share of plans that add one PoP at random
//	  refresh: 1m                           # how often the per-network knowledge is re-read from the store
//	  recent: 0                             # re-measure what shifted in this last window, e.g. 24h (0: off)
type Config struct {
	Listen string
	// Admin is the admin listener's address: /metrics, /querylog and
	// /healthz, and then the public listener answers 404 for /metrics and
	// /querylog. Empty: no admin listener; the public listener serves
	// /querylog, and /metrics only to loopback peers that are not
	// forwarding for someone (no proxy header), so that an Internet-facing
	// collector never shows its metrics to the Internet.
	Admin          string
	TLSCert        string
	TLSKey         string
	TrustedProxies []netip.Prefix
	ProxyHeader    string
	Tokens         []string
	QueryLogTokens []string // tokens of DNS servers shipping query logs (POST /querylog)
	Origins        []string
	MaxBody        int64
	Rate           float64 // beacons per second per client network; 0: no limit
	Burst          int     // the token bucket's size: most beacons at once, and in one request
	CommitBatch    int
	// CommitTimeout bounds a request's wait to get its records committed
	// (queueing included): past it the answer is 503 with Retry-After.
	CommitTimeout time.Duration
	// MaxLoadLag is how long the spool loader may go without having
	// loaded everything acknowledged before /healthz fails.
	MaxLoadLag time.Duration
	// The door's plausibility checks, against the collector's clock (0:
	// no limit): a sample older than MaxSampleAge, further ahead than
	// MaxSampleAhead or with an rtt_ms above MaxRTTms is refused with its
	// beacon (400, naming the sample).
	MaxSampleAge   time.Duration
	MaxSampleAhead time.Duration
	MaxRTTms       float64
	// The public listener's limits against connection floods.
	MaxConns          int
	ReadHeaderTimeout time.Duration
	IdleTimeout       time.Duration
	PoP               string
	PoPs              []PoPURL
	Anycast           string
	RUMZone           string
	// DebugDNSConfig and DebugMap are the DNS server's config and the map
	// (default: the config's record maps) the debug page's reports are
	// explained against (web/debugmap); "": reports carry no map answer
	// (steer debug show --config computes it at lookup).
	DebugDNSConfig string
	DebugMap       string
	// Plan, when set, serves each client network its measurement plan at
	// /rum/plan.json; nil: /rum/plan.json is the PoP list without a plan
	// (clients time every PoP).
	Plan *PlanConfig
}

// PlanConfig is the measurement planner's configuration (plan:).
type PlanConfig struct {
	Policy measureplan.Policy
	// Refresh is how often the per-network knowledge is re-read from the
	// store (an Aggregate of every kept sample).
	Refresh time.Duration
	// Recent is the window of the refresh's change test
	// (measureplan.Knowledge.Refresh): cells whose samples of the last
	// Recent shifted are re-measured. 0: off.
	Recent time.Duration
}

// DefaultPlan is the plan: section's defaults (measureplan.DefaultPolicy,
// refreshed every minute, no change test).
func DefaultPlan() *PlanConfig {
	return &PlanConfig{Policy: measureplan.DefaultPolicy(), Refresh: time.Minute}
}

// PoPURL is one entry of /rum/pops.json.
type PoPURL struct {
	Label string `json:"label" yaml:"label"`
	URL   string `json:"url" yaml:"url"`
}

// Defaults is the configuration used when no file is given: loopback
// only, no tokens, no web origins.
//
// The rate limit is on by default: 10 beacons/s per client network (/24 or
// /56), bursts of 100. An agent sends one beacon per measurement round
// (steer probe every 10 minutes, rum.js once per page view), so even a
// /24 of 256 busy users stays far below 10/s, while one host cannot flood
// the store; 100 at once lets an agent send a backlog as one NDJSON batch.
func Defaults() *Config {
	return &Config{
		Listen:            "127.0.0.1:8080",
		ProxyHeader:       "X-Forwarded-For",
		MaxBody:           256 << 10,
		Rate:              10,
		Burst:             100,
		CommitBatch:       4096,
		CommitTimeout:     5 * time.Second,
		MaxLoadLag:        time.Minute,
		MaxSampleAge:      7 * 24 * time.Hour,
		MaxSampleAhead:    5 * time.Minute,
		MaxRTTms:          60_000,
		MaxConns:          4096,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       60 * time.Second,
		PoP:               "collector",
	}
}

type rawConfig struct {
	Listen string `yaml:"listen"`
	Admin  string `yaml:"admin"`
	TLS    *struct {
		Cert string `yaml:"cert"`
		Key  string `yaml:"key"`
	} `yaml:"tls"`
	TrustedProxies []string `yaml:"trusted_proxies"`
	ProxyHeader    *string  `yaml:"proxy_header"`
	Tokens         []string `yaml:"tokens"`
	QueryLogTokens []string `yaml:"querylog_tokens"`
	Origins        []string `yaml:"origins"`
	MaxBody        *int64   `yaml:"max_body"`
	Rate           *float64 `yaml:"rate"`
	Burst          *int     `yaml:"burst"`
	CommitBatch    *int     `yaml:"commit_batch"`
	CommitTimeout  *string  `yaml:"commit_timeout"`
	MaxLoadLag     *string  `yaml:"max_load_lag"`
	MaxSampleAge   *string  `yaml:"max_sample_age"`
	MaxSampleAhead *string  `yaml:"max_sample_ahead"`
	MaxRTTms       *float64 `yaml:"max_rtt_ms"`
	MaxConns       *int     `yaml:"max_conns"`
	ReadHeader     *string  `yaml:"read_header_timeout"`
	IdleTimeout    *string  `yaml:"idle_timeout"`
	PoP            *string  `yaml:"pop"`
	PoPs           []PoPURL `yaml:"pops"`
	Anycast        string   `yaml:"anycast"`
	RUMZone        string   `yaml:"rum_zone"`
	Debug          *struct {
		DNSConfig string `yaml:"dns_config"`
		Map       string `yaml:"map"`
	} `yaml:"debug"`
	Plan *struct {
		MaxPoPs     *int     `yaml:"max_pops"`
		MinInterval *string  `yaml:"min_interval"`
		MaxInterval *string  `yaml:"max_interval"`
		HalfLife    *string  `yaml:"half_life"`
		StaleAfter  *string  `yaml:"stale_after"`
		Explore     *float64 `yaml:"explore"`
		Refresh     *string  `yaml:"refresh"`
		Recent      *string  `yaml:"recent"`
	} `yaml:"plan"`
}

// LoadConfig reads and validates a config file. An empty file is an
// error (a full disk or a failed copy leaves one): write {} for all the
// defaults.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, fmt.Errorf("collector config %s: the file is empty (write {} for all the defaults)", path)
	}
	c, err := ParseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("collector config %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig decodes and validates a config; errors name the key.
func ParseConfig(data []byte) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return Defaults(), nil
		}
		return nil, errors.New(strings.TrimPrefix(err.Error(), "yaml: "))
	}
	c := Defaults()
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if raw.Listen != "" {
		c.Listen = raw.Listen
	}
	if raw.Admin != "" {
		c.Admin = raw.Admin
		if _, port, err := net.SplitHostPort(c.Admin); err != nil {
			bad("admin", "%q is not host:port", c.Admin)
		} else if c.Admin == c.Listen && port != "0" {
			bad("admin", "%q is also the listen address: the admin listener needs its own", c.Admin)
		}
	}
	if raw.TLS != nil {
		c.TLSCert, c.TLSKey = raw.TLS.Cert, raw.TLS.Key
		if c.TLSCert == "" || c.TLSKey == "" {
			bad("tls", "needs both cert and key")
		}
	}
	for i, s := range raw.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			if a, aerr := netip.ParseAddr(s); aerr == nil {
				p, err = a.Unmap().Prefix(a.Unmap().BitLen())
			}
		}
		if err != nil {
			bad(fmt.Sprintf("trusted_proxies[%d]", i), "%q is not an address or CIDR", s)
			continue
		}
		c.TrustedProxies = append(c.TrustedProxies, p.Masked())
	}
	if raw.ProxyHeader != nil {
		c.ProxyHeader = *raw.ProxyHeader
		if c.ProxyHeader == "" || strings.ContainsAny(c.ProxyHeader, " :\t") {
			bad("proxy_header", "%q is not a header name", c.ProxyHeader)
		}
	}
	for i, t := range raw.Tokens {
		if len(t) < 8 || strings.ContainsAny(t, " \t\r\n") {
			bad(fmt.Sprintf("tokens[%d]", i), "a token needs at least 8 characters and no white space")
		}
	}
	c.Tokens = raw.Tokens
	for i, t := range raw.QueryLogTokens {
		if len(t) < 16 || strings.ContainsAny(t, " \t\r\n") {
			bad(fmt.Sprintf("querylog_tokens[%d]", i), "a query log token needs at least 16 characters and no white space")
		}
		if slices.Contains(raw.Tokens, t) {
			bad(fmt.Sprintf("querylog_tokens[%d]", i), "also an agent token: agents must not be able to write query logs")
		}
	}
	c.QueryLogTokens = raw.QueryLogTokens
	for i, o := range raw.Origins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
			bad(fmt.Sprintf("origins[%d]", i), "%q is not an origin (scheme://host[:port])", o)
		}
	}
	for _, o := range raw.Origins {
		c.Origins = append(c.Origins, strings.TrimSuffix(o, "/"))
	}
	if raw.MaxBody != nil {
		c.MaxBody = *raw.MaxBody
		if c.MaxBody < 1024 || c.MaxBody > 64<<20 {
			bad("max_body", "%d out of range [1024, 67108864]", c.MaxBody)
		}
	}
	if raw.Rate != nil {
		c.Rate = *raw.Rate
		if !(c.Rate >= 0 && c.Rate <= 1e6) {
			bad("rate", "%v out of range [0, 1000000]", c.Rate)
		}
	}
	if raw.Burst != nil {
		c.Burst = *raw.Burst
		if c.Burst < 1 || c.Burst > 1e6 {
			bad("burst", "%d out of range [1, 1000000]", c.Burst)
		}
	}
	if raw.CommitBatch != nil {
		c.CommitBatch = *raw.CommitBatch
		if c.CommitBatch < 1 || c.CommitBatch > 1<<20 {
			bad("commit_batch", "%d out of range [1, 1048576]", c.CommitBatch)
		}
	}
	duration := func(key string, v *string, dst *time.Duration, lo, hi time.Duration, zeroOK bool) {
		if v == nil {
			return
		}
		d, err := time.ParseDuration(*v)
		switch {
		case err != nil:
			bad(key, "%q is not a duration (like 5s or 168h)", *v)
		case d == 0 && zeroOK:
			*dst = 0
		case d < lo || d > hi:
			bad(key, "%v out of range [%v, %v]", d, lo, hi)
		default:
			*dst = d
		}
	}
	duration("commit_timeout", raw.CommitTimeout, &c.CommitTimeout, 10*time.Millisecond, 30*time.Second, false)
	duration("max_load_lag", raw.MaxLoadLag, &c.MaxLoadLag, 100*time.Millisecond, 24*time.Hour, false)
	duration("max_sample_age", raw.MaxSampleAge, &c.MaxSampleAge, time.Minute, 10*365*24*time.Hour, true)
	duration("max_sample_ahead", raw.MaxSampleAhead, &c.MaxSampleAhead, time.Second, 10*365*24*time.Hour, true)
	duration("read_header_timeout", raw.ReadHeader, &c.ReadHeaderTimeout, 100*time.Millisecond, 5*time.Minute, false)
	duration("idle_timeout", raw.IdleTimeout, &c.IdleTimeout, time.Second, time.Hour, false)
	if raw.MaxRTTms != nil {
		c.MaxRTTms = *raw.MaxRTTms
		if !(c.MaxRTTms == 0 || c.MaxRTTms >= 1 && c.MaxRTTms <= 3_600_000) {
			bad("max_rtt_ms", "%v out of range [1, 3600000] (0: no limit)", c.MaxRTTms)
		}
	}
	if raw.MaxConns != nil {
		c.MaxConns = *raw.MaxConns
		if c.MaxConns < 2 || c.MaxConns > 1_000_000 {
			bad("max_conns", "%d out of range [2, 1000000]", c.MaxConns)
		}
	}
	if raw.PoP != nil {
		c.PoP = *raw.PoP
	}
	if !validLabel(c.PoP) {
		bad("pop", "%q is not a PoP label ([a-z0-9-], 1-32)", c.PoP)
	}
	for i, p := range raw.PoPs {
		if !validLabel(p.Label) {
			bad(fmt.Sprintf("pops[%d].label", i), "%q is not a PoP label ([a-z0-9-], 1-32)", p.Label)
		}
		if !httpURL(p.URL) {
			bad(fmt.Sprintf("pops[%d].url", i), "%q is not an http(s) URL", p.URL)
		}
	}
	c.PoPs = raw.PoPs
	if raw.Anycast != "" && !httpURL(raw.Anycast) {
		bad("anycast", "%q is not an http(s) URL", raw.Anycast)
	}
	c.Anycast = raw.Anycast
	c.RUMZone = strings.TrimSuffix(strings.ToLower(raw.RUMZone), ".")
	if strings.ContainsAny(c.RUMZone, " /:\t") {
		bad("rum_zone", "%q is not a DNS name", raw.RUMZone)
	}
	if raw.Debug != nil {
		c.DebugDNSConfig, c.DebugMap = raw.Debug.DNSConfig, raw.Debug.Map
		if c.DebugDNSConfig == "" {
			bad("debug.dns_config", "missing: the DNS server's config the reports are explained against")
		}
	}
	if rp := raw.Plan; rp != nil {
		pc := DefaultPlan()
		pol := &pc.Policy
		if rp.MaxPoPs != nil {
			pol.MaxPoPs = *rp.MaxPoPs
		}
		if rp.Explore != nil {
			pol.Explore = *rp.Explore
		}
		duration("plan.min_interval", rp.MinInterval, &pol.MinInterval, time.Second, 30*24*time.Hour, false)
		duration("plan.max_interval", rp.MaxInterval, &pol.MaxInterval, time.Second, 30*24*time.Hour, false)
		duration("plan.half_life", rp.HalfLife, &pol.HalfLife, time.Minute, 365*24*time.Hour, true)
		duration("plan.stale_after", rp.StaleAfter, &pol.StaleAfter, time.Minute, 365*24*time.Hour, true)
		duration("plan.refresh", rp.Refresh, &pc.Refresh, time.Second, 24*time.Hour, false)
		duration("plan.recent", rp.Recent, &pc.Recent, time.Minute, 365*24*time.Hour, true)
		if err := pol.Check(); err != nil {
			errs = append(errs, fmt.Errorf("plan.%w", err))
		}
		if len(c.PoPs) == 0 {
			bad("plan", "needs pops: a plan chooses among the published PoPs")
		}
		c.Plan = pc
	}
	return c, errors.Join(errs...)
}

// validLabel is the PoP label rule of the DNS server's config.
func validLabel(s string) bool { return config.CheckLabel(popmap.Label(s)) == nil }

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// commitDeadline bounds one store transaction: a load from the spool, or a
// group commit when there is no spool.
const commitDeadline = 30 * time.Second
