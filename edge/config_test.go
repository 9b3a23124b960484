package edge

import (
	"strings"
	"testing"
	"time"
)

const minimalYAML = `pop: fra
listen: 127.0.0.1:8443
tls:
  certificates: [{cert: fra.crt, key: fra.key}]
upstreams:
  - {name: dc1, url: "https://origin.example:443"}
`

var configTests = []struct {
	name string
	yaml string
	err  string // substring of the error; "" = valid
}{
	{"minimal", minimalYAML, ""},
	{"full", `pop: fra
listen: "[::]:443"
listen_http: ":80"
admin: 127.0.0.1:9443
tls:
  certificates:
    - {cert: a.crt, key: a.key}
    - {cert: /etc/b.crt, key: /etc/b.key}
  poll: 2s
upstreams:
  - name: dc1
    url: https://dc1.example/app
    pin_spki_sha256: ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]
    ca_file: ca.pem
    max_conns: 512
    idle_conns: 128
    prewarm: 8
    retries: 2
  - {name: dc2, url: "http://10.0.0.2:8080", h2c: true}
routes:
  - {path_prefix: /api/, upstream: dc1, token: reject}
  - {path_prefix: /, upstream: dc2, token: ignore}
timeouts: {read_header: 5s, read: 1m, write: "off", idle: 90s, upstream_dial: 2s, upstream_tls_handshake: 3s, upstream_response_header: 30s, upstream_idle: 60s}
limits: {max_header_bytes: 32768, max_conns: 1000}
drain_grace: 15s
drain_timeout: 30s
token_keys: keys.json
forwarded_for: full
`, ""},
	{"empty", "", "empty config"},
	{"two documents", minimalYAML + "---\npop: ams\n", "more than one YAML document"},
	{"unknown key", minimalYAML + "bogus: 1\n", "field bogus not found"},
	{"no pop", strings.Replace(minimalYAML, "pop: fra\n", "", 1), "pop: missing"},
	{"bad pop", strings.Replace(minimalYAML, "pop: fra", "pop: FRA!", 1), `pop: "FRA!" is not a PoP label`},
	{"anycast pop", strings.Replace(minimalYAML, "pop: fra", "pop: anycast", 1), "is not a PoP label"},
	{"no listen", strings.Replace(minimalYAML, "listen: 127.0.0.1:8443\n", "", 1), "listen: missing"},
	{"bad listen", strings.Replace(minimalYAML, "127.0.0.1:8443", "8443", 1), "listen: \"8443\": want host:port"},
	{"bad port", strings.Replace(minimalYAML, "127.0.0.1:8443", "127.0.0.1:99999", 1), "bad port"},
	{"no certs", strings.Replace(minimalYAML, "[{cert: fra.crt, key: fra.key}]", "[]", 1), "tls.certificates: missing"},
	{"cert without key", strings.Replace(minimalYAML, ", key: fra.key", "", 1), "tls.certificates[0].key: missing"},
	{"no upstreams", strings.Replace(minimalYAML, `  - {name: dc1, url: "https://origin.example:443"}`, "", 1), "upstreams: missing"},
	{"ftp upstream", strings.Replace(minimalYAML, "https://origin.example:443", "ftp://x", 1), "upstreams[0].url: \"ftp://x\": want an http:// or https:// URL"},
	{"upstream query", strings.Replace(minimalYAML, "https://origin.example:443", "https://x/?a=1", 1), "no user, query or fragment"},
	{"duplicate upstream", minimalYAML + `  - {name: dc1, url: "https://b.example"}` + "\nroutes: [{upstream: dc1}]\n", "upstreams[1].name: duplicate upstream \"dc1\""},
	{"bad pin", strings.Replace(minimalYAML, `url: "https://origin.example:443"`, `url: "https://origin.example:443", pin_spki_sha256: [abc]`, 1), "upstreams[0].pin_spki_sha256[0]: \"abc\" is not a base64 SHA-256"},
	{"pin on http", strings.Replace(minimalYAML, `"https://origin.example:443"`, `"http://origin.example", pin_spki_sha256: ["47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="]`, 1), "need an https:// url"},
	{"h2c on https", strings.Replace(minimalYAML, `url: "https://origin.example:443"`, `url: "https://origin.example:443", h2c: true`, 1), "h2c: h2c is HTTP/2 without TLS"},
	{"idle over max", strings.Replace(minimalYAML, `url: "https://origin.example:443"`, `url: "https://origin.example:443", max_conns: 2, idle_conns: 3`, 1), "idle_conns: 3 is more than max_conns 2"},
	{"prewarm over idle", strings.Replace(minimalYAML, `url: "https://origin.example:443"`, `url: "https://origin.example:443", idle_conns: 2, prewarm: 3`, 1), "prewarm: 3: want 0..idle_conns"},
	{"max conns zero", strings.Replace(minimalYAML, `url: "https://origin.example:443"`, `url: "https://origin.example:443", max_conns: 0`, 1), "max_conns: 0: want 1.."},
	{"route to nowhere", minimalYAML + "routes: [{path_prefix: /, upstream: dc9}]\n", `routes[0].upstream: no upstream named "dc9"`},
	{"route prefix", minimalYAML + "routes: [{path_prefix: api, upstream: dc1}]\n", "routes[0].path_prefix: \"api\" must start with /"},
	{"token mode", minimalYAML + "routes: [{upstream: dc1, token: maybe}]\ntoken_keys: k.json\n", "routes[0].token: \"maybe\": want reject, ignore or off"},
	{"token without keys", minimalYAML + "routes: [{upstream: dc1, token: reject}]\n", "token_keys: missing"},
	{"two upstreams no routes", minimalYAML + `  - {name: dc2, url: "https://b.example"}` + "\n", "routes: missing"},
	{"bad duration", minimalYAML + "timeouts: {idle: forever}\n", `timeouts.idle: "forever" is not a duration`},
	{"negative duration", minimalYAML + "drain_grace: -1s\n", "drain_grace: -1s: must not be negative"},
	{"no header timeout", minimalYAML + "timeouts: {read_header: 0}\n", "timeouts.read_header: must be > 0"},
	{"header limit", minimalYAML + "limits: {max_header_bytes: 10}\n", "limits.max_header_bytes: 10: want 1024.."},
	{"forwarded_for", minimalYAML + "forwarded_for: yes\n", "forwarded_for: \"yes\": want network, full or off"},
	{"wrong type", minimalYAML + "limits: {max_conns: many}\n", "cannot unmarshal"},
	{"load report", minimalYAML + "load_report: {url: http://127.0.0.1:8480, token: t, capacity: 5000}\n", ""},
	{"load report url", minimalYAML + "load_report: {url: ctl:8480, token: t, capacity: 5000}\n", "load_report.url: want the control server's http(s) URL"},
	{"load report token", minimalYAML + "load_report: {url: http://127.0.0.1:8480, capacity: 5000}\n", "load_report.token: required"},
	{"load report capacity", minimalYAML + "load_report: {url: http://127.0.0.1:8480, token: t}\n", "load_report.capacity: must be > 0"},
	{"load report every", minimalYAML + "load_report: {url: http://127.0.0.1:8480, token: t, capacity: 1, every: 10ms}\n", "load_report.every: must be ≥ 1s"},
	{"body idle", minimalYAML + "timeouts: {body_idle: soon}\n", "timeouts.body_idle"},
	{"reload", minimalYAML + "reload: {watch: false, poll: 2s, debounce: 0}\n", ""},
	{"reload poll", minimalYAML + "reload: {poll: 1ms}\n", "reload.poll: 1ms: want at least 10ms"},
	{"reload debounce", minimalYAML + "reload: {debounce: 2m}\n", "reload.debounce: 2m0s: want at most 1m"},
	{"reload watch", minimalYAML + "reload: {watch: sometimes}\n", "cannot unmarshal"},
	{"reload key", minimalYAML + "reload: {every: 1s}\n", "field every not found"},
}

func TestParseConfig(t *testing.T) {
	for _, tt := range configTests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tt.yaml), "/etc/steer/edge.yaml")
			if tt.err == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("got %+v, want an error containing %q", c, tt.err)
			}
			if !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "edge config /etc/steer/edge.yaml") {
				t.Errorf("error %q, want it to name the file and contain %q", err, tt.err)
			}
		})
	}
}

func TestParseConfigValues(t *testing.T) {
	c, err := ParseConfig([]byte(configTests[1].yaml), "/etc/steer/edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Certificates[0].Cert != "/etc/steer/a.crt" || c.Certificates[1].Key != "/etc/b.key" {
		t.Errorf("certificate paths not resolved against the config dir: %+v", c.Certificates)
	}
	u := c.Upstreams[0]
	if u.URL.String() != "https://dc1.example/app" || len(u.Pins) != 1 || u.CAFile != "/etc/steer/ca.pem" ||
		u.MaxConns != 512 || u.IdleConns != 128 || u.Prewarm != 8 || u.Retries != 2 {
		t.Errorf("upstream 0 = %+v", u)
	}
	if !c.Upstreams[1].H2C || c.Upstreams[1].MaxConns != DefaultUpstreamMaxConns {
		t.Errorf("upstream 1 = %+v", c.Upstreams[1])
	}
	if c.Timeouts.ReadHeader != 5*time.Second || c.Timeouts.Write != 0 || c.Timeouts.UpstreamTLS != 3*time.Second {
		t.Errorf("timeouts = %+v", c.Timeouts)
	}
	if c.DrainGrace != 15*time.Second || c.MaxConns != 1000 || c.ForwardedFor != ForwardFull || c.TokenKeys != "/etc/steer/keys.json" {
		t.Errorf("config = %+v", c)
	}
	// Defaults.
	m, err := ParseConfig([]byte(minimalYAML), "")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Routes) != 1 || m.Routes[0].Upstream != "dc1" || m.Routes[0].Token != TokenOff ||
		m.Timeouts.ReadHeader != DefaultReadHeaderTimeout || m.DrainGrace != DefaultDrainGrace || m.ForwardedFor != ForwardNetwork {
		t.Errorf("defaults: %+v", m)
	}
	if want := (Reload{Watch: true, Poll: DefaultReloadPoll, Debounce: DefaultReloadDebounce}); m.Reload != want {
		t.Errorf("reload defaults %+v, want %+v", m.Reload, want)
	}
	r, err := ParseConfig([]byte(minimalYAML+"reload: {watch: false, poll: 2s, debounce: 0}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	if want := (Reload{Watch: false, Poll: 2 * time.Second}); r.Reload != want {
		t.Errorf("reload %+v, want %+v", r.Reload, want)
	}
}

// TestParseConfigReportsEveryProblem: one run shows all errors.
func TestParseConfigReportsEveryProblem(t *testing.T) {
	_, err := ParseConfig([]byte("pop: X\nlisten: nope\ntls: {}\nupstreams: [{name: a}]\n"), "e.yaml")
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{"pop:", "listen:", "tls.certificates:", "upstreams[0].url: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestRedactAddrs(t *testing.T) {
	for in, want := range map[string]string{
		"http: TLS handshake error from 203.0.113.77:51234: EOF": "http: TLS handshake error from 203.0.113.0/24: EOF",
		"from [2001:db8:1:2:3:4:5:6]:443: reset":                 "from 2001:db8:1::/56: reset",
		"dial tcp 10.1.2.3:443: connect: connection refused":     "dial tcp 10.1.2.0/24: connect: connection refused",
		"no address here": "no address here",
	} {
		if got := redactAddrs(in); got != want {
			t.Errorf("redactAddrs(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseConfig(f *testing.F) {
	for _, tt := range configTests {
		f.Add([]byte(tt.yaml))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.yaml")
		if err == nil && (c.PoP == "" || c.Listen == "" || len(c.Upstreams) == 0 || len(c.Routes) == 0 || len(c.Certificates) == 0) {
			t.Fatalf("accepted an incomplete config: %+v", c)
		}
		if err != nil && !strings.Contains(err.Error(), "fuzz.yaml") {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

// TestExampleConfig: examples/edge.yaml parses.
func TestExampleConfig(t *testing.T) {
	c, err := LoadConfig("../examples/edge.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.PoP != "fra" || len(c.Upstreams) != 1 || c.Timeouts.Read != 0 || c.ForwardedFor != ForwardNetwork {
		t.Errorf("examples/edge.yaml = %+v", c)
	}
}
