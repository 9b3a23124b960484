package collector

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// Config is the collector's configuration (YAML; unknown keys are errors).
//
//	listen: 127.0.0.1:8080
//	tls: {cert: cert.pem, key: key.pem}     # optional: HTTPS
//	trusted_proxies: [10.0.0.0/8]           # peers whose proxy_header is believed
//	proxy_header: X-Forwarded-For
//	tokens: [s3cret]                        # desktop/CLI agents: Authorization: Bearer s3cret
//	querylog_tokens: [dns-fra-0123456789]   # DNS servers shipping query logs (steer ship) to POST /querylog
//	origins: [https://www.example.net]      # web pages whose anonymous beacons are accepted ("*": any)
//	max_body: 65536                         # bytes per request
//	rate: 5                                 # beacons per second per client network (/24, /56); 0: unlimited
//	burst: 20
//	commit_batch: 4096                      # most beacons in one group commit
//	pop: fra                                # X-Edge-PoP of this collector's /rum/probe
//	pops:                                   # published at /rum/pops.json for agents
//	  - {label: fra, url: https://fra.example.net/rum/probe}
//	anycast: https://www.example.net/rum/probe
//	rum_zone: rum.example.net
type Config struct {
	Listen         string
	TLSCert        string
	TLSKey         string
	TrustedProxies []netip.Prefix
	ProxyHeader    string
	Tokens         []string
	QueryLogTokens []string // tokens of DNS servers shipping query logs (POST /querylog)
	Origins        []string
	MaxBody        int64
	Rate           float64
	Burst          int
	CommitBatch    int
	PoP            string
	PoPs           []PoPURL
	Anycast        string
	RUMZone        string
}

// PoPURL is one entry of /rum/pops.json.
type PoPURL struct {
	Label string `json:"label" yaml:"label"`
	URL   string `json:"url" yaml:"url"`
}

// Defaults is the configuration used when no file is given: loopback
// only, no tokens, no web origins.
func Defaults() *Config {
	return &Config{
		Listen:      "127.0.0.1:8080",
		ProxyHeader: "X-Forwarded-For",
		MaxBody:     256 << 10,
		Burst:       20,
		CommitBatch: 4096,
		PoP:         "collector",
	}
}

type rawConfig struct {
	Listen string `yaml:"listen"`
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
	PoP            *string  `yaml:"pop"`
	PoPs           []PoPURL `yaml:"pops"`
	Anycast        string   `yaml:"anycast"`
	RUMZone        string   `yaml:"rum_zone"`
}

// LoadConfig reads and validates a config file.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("collector config: %w", err)
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
	return c, errors.Join(errs...)
}

// validLabel is the PoP label rule of the DNS server's config.
func validLabel(s string) bool { return config.CheckLabel(popmap.Label(s)) == nil }

func httpURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// commitDeadline bounds how long a request waits for its group commit.
const commitDeadline = 30 * time.Second
