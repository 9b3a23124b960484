package control

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/config"
)

// Role is what a token may do. Roles are not nested: read is implied by
// both others, but operate (PoP state, load reports) and publish (maps)
// are separate, so a CI job that publishes maps cannot drain PoPs.
type Role string

// Roles of tokens.
const (
	RoleRead    Role = "read"
	RoleOperate Role = "operate"
	RolePublish Role = "publish"
)

// allows reports whether a token of role r may make a call needing need.
func (r Role) allows(need Role) bool { return need == RoleRead || r == need }

// Token is one API token.
type Token struct {
	Name  string
	Role  Role
	Value string
}

// Config is the control server's configuration (steer control --config).
type Config struct {
	File string
	// Listen is the API address.
	Listen netip.AddrPort
	// SteeringAPI, when valid, is where the steering API (Resolve,
	// ResolveBatch, Explain) is served from the fleet's snapshot (package
	// controlapi): config key api.listen.
	SteeringAPI netip.AddrPort
	// StateDir holds state.json (the agreed state, rewritten atomically on
	// every change) and audit.ndjson (every change, appended and fsynced).
	StateDir string
	// MapDir is the versioned map directory (package mapstore).
	MapDir string
	// DNSConfig is the fleet's DNS server config: the PoPs (labels,
	// capacities) the control server knows.
	DNSConfig string
	// GateStore is the RUM store whose held-out samples score a candidate
	// map against the current one ("" = no gate: publishing a second
	// version needs force).
	GateStore string
	Tokens    []Token
	// HealthTTL is how long a server's health view counts after its report.
	HealthTTL time.Duration
	// LongPollMax caps a long poll's wait.
	LongPollMax time.Duration
	Load        LoadConfig
	// PoPs are the DNS config's PoPs (loaded with the config).
	PoPs []config.PoP
}

// LoadConfig tunes the load controller (package loadctl).
type LoadConfig struct {
	Period     time.Duration // a control period (default 5s)
	Target     float64       // utilization above which networks move (default 0.8)
	Gain       float64       // share of the excess shed per period (default 0.5)
	MaxMove    float64       // cap on the traffic moved per period, share of all (default 0.05)
	Hysteresis float64       // moves are undone under Target−Hysteresis (default 0.1)
	ReportTTL  time.Duration // a load report older than this is ignored (default 30s)
	// Delay is how many periods beyond the next one a move takes to show in
	// the reported load (resolver caches: about TTL / period). Default 1.
	Delay int
}

type rawConfig struct {
	Listen      string    `yaml:"listen"`
	API         rawAPI    `yaml:"api"`
	StateDir    string    `yaml:"state_dir"`
	MapDir      string    `yaml:"map_dir"`
	DNSConfig   string    `yaml:"dns_config"`
	GateStore   string    `yaml:"gate_store"`
	Tokens      []rawTok  `yaml:"tokens"`
	HealthTTL   string    `yaml:"health_ttl"`
	LongPollMax string    `yaml:"long_poll_max"`
	Load        rawLoadCf `yaml:"load"`
}

type rawAPI struct {
	Listen string `yaml:"listen"`
}

type rawTok struct {
	Name      string `yaml:"name"`
	Role      string `yaml:"role"`
	Token     string `yaml:"token"`
	TokenFile string `yaml:"token_file"`
}

type rawLoadCf struct {
	Period     string   `yaml:"period"`
	Target     *float64 `yaml:"target"`
	Gain       *float64 `yaml:"gain"`
	MaxMove    *float64 `yaml:"max_move"`
	Hysteresis *float64 `yaml:"hysteresis"`
	ReportTTL  string   `yaml:"report_ttl"`
	Delay      *int     `yaml:"delay"`
}

// LoadConfigFile reads and validates a control config and the DNS config it
// names.
func LoadConfigFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading control config: %w", err)
	}
	c, err := ParseConfig(data, path)
	if err != nil {
		return nil, err
	}
	dns, err := config.Load(c.DNSConfig)
	if err != nil {
		return nil, fmt.Errorf("control config %s: dns_config: %w", path, err)
	}
	c.PoPs = dns.PoPs
	return c, nil
}

// ParseConfig decodes and validates a control config without reading the
// files it names (token files excepted). Errors name the file and the key.
func ParseConfig(data []byte, name string) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw rawConfig
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("control config %s: empty", name)
		}
		return nil, fmt.Errorf("control config %s: %w", name, err)
	}
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("control config %s: %s: %s", name, key, fmt.Sprintf(format, args...)))
	}
	dir := filepath.Dir(name)
	abs := func(p string) string {
		if p == "" || filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	c := &Config{
		File: name, StateDir: abs(raw.StateDir), MapDir: abs(raw.MapDir), DNSConfig: abs(raw.DNSConfig),
		GateStore: abs(raw.GateStore), HealthTTL: 10 * time.Second, LongPollMax: 60 * time.Second,
		Load: LoadConfig{Period: 5 * time.Second, Target: 0.8, Gain: 0.5, MaxMove: 0.05, Hysteresis: 0.1, ReportTTL: 30 * time.Second, Delay: 1},
	}
	if raw.Listen == "" {
		bad("listen", "required (e.g. 127.0.0.1:8480)")
	} else if ap, err := netip.ParseAddrPort(raw.Listen); err != nil {
		bad("listen", "%v", err)
	} else {
		c.Listen = ap
	}
	if raw.API.Listen != "" {
		if ap, err := netip.ParseAddrPort(raw.API.Listen); err != nil {
			bad("api.listen", "%v", err)
		} else {
			c.SteeringAPI = ap
		}
	}
	for _, k := range [][2]string{{"state_dir", raw.StateDir}, {"map_dir", raw.MapDir}, {"dns_config", raw.DNSConfig}} {
		if k[1] == "" {
			bad(k[0], "required")
		}
	}
	seen := map[string]bool{}
	for i, t := range raw.Tokens {
		key := fmt.Sprintf("tokens[%d]", i)
		tok := Token{Name: t.Name, Role: Role(t.Role), Value: t.Token}
		switch {
		case t.Name == "":
			bad(key+".name", "required")
		case seen[t.Name]:
			bad(key+".name", "duplicate %q", t.Name)
		}
		seen[t.Name] = true
		switch tok.Role {
		case RoleRead, RoleOperate, RolePublish:
		default:
			bad(key+".role", "must be read, operate or publish, got %q", t.Role)
		}
		if (t.Token == "") == (t.TokenFile == "") {
			bad(key, "exactly one of token, token_file required")
		}
		if t.TokenFile != "" {
			b, err := os.ReadFile(abs(t.TokenFile))
			if err != nil {
				bad(key+".token_file", "%v", err)
			}
			tok.Value = strings.TrimSpace(string(b))
		}
		if tok.Value != "" && len(tok.Value) < 16 {
			bad(key+".token", "must be at least 16 characters")
		}
		c.Tokens = append(c.Tokens, tok)
	}
	if len(raw.Tokens) == 0 {
		bad("tokens", "at least one token required (every call is authenticated)")
	}
	dur := func(key, s string, dst *time.Duration, lo, hi time.Duration) {
		if s == "" {
			return
		}
		d, err := time.ParseDuration(s)
		if err != nil || d < lo || d > hi {
			bad(key, "must be a duration in %v..%v, got %q", lo, hi, s)
			return
		}
		*dst = d
	}
	dur("health_ttl", raw.HealthTTL, &c.HealthTTL, 100*time.Millisecond, time.Hour)
	dur("long_poll_max", raw.LongPollMax, &c.LongPollMax, 100*time.Millisecond, 10*time.Minute)
	dur("load.period", raw.Load.Period, &c.Load.Period, 10*time.Millisecond, time.Hour)
	dur("load.report_ttl", raw.Load.ReportTTL, &c.Load.ReportTTL, 10*time.Millisecond, 24*time.Hour)
	frac := func(key string, p *float64, dst *float64, lo, hi float64) {
		if p == nil {
			return
		}
		if !(*p >= lo && *p <= hi) {
			bad(key, "must be in %v..%v, got %v", lo, hi, *p)
			return
		}
		*dst = *p
	}
	frac("load.target", raw.Load.Target, &c.Load.Target, 0.01, 10)
	frac("load.gain", raw.Load.Gain, &c.Load.Gain, 0.01, 1)
	frac("load.max_move", raw.Load.MaxMove, &c.Load.MaxMove, 0.0001, 1)
	frac("load.hysteresis", raw.Load.Hysteresis, &c.Load.Hysteresis, 0.001, 1)
	if d := raw.Load.Delay; d != nil {
		if *d < 0 || *d > 100 {
			bad("load.delay", "must be in 0..100 periods, got %d", *d)
		} else {
			c.Load.Delay = *d
		}
	}
	if c.Load.Hysteresis >= c.Load.Target {
		bad("load.hysteresis", "must be below load.target (%v), got %v", c.Load.Target, c.Load.Hysteresis)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return c, nil
}
