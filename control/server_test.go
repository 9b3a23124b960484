package control

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

const (
	readTok    = "read-token-0123456789"
	operateTok = "operate-token-0123456789"
	publishTok = "publish-token-0123456789"
)

const testDNSConfig = `
pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"]}
  - {label: ams, lat: 52.4, lon: 4.9, ipv4: ["192.0.2.20"]}
  - {label: lhr, lat: 51.5, lon: -0.1, ipv4: ["192.0.2.30"], capacity: 2}
zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [ecs, resolver, default], ecs_map: map.json, resolver_map: map.json, default: {ipv4: ["192.0.2.1"]}}
`

// writeTestConfig writes a DNS config and a control config into dir and
// returns the control config's path.
func writeTestConfig(t testing.TB, dir string, extra string) string {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "dns.yaml"), []byte(testDNSConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := `listen: 127.0.0.1:0
state_dir: state
map_dir: maps
dns_config: dns.yaml
health_ttl: 5s
tokens:
  - {name: fleet, role: read, token: ` + readTok + `}
  - {name: alice, role: operate, token: ` + operateTok + `}
  - {name: ci, role: publish, token: ` + publishTok + `}
` + extra
	p := filepath.Join(dir, "control.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func newTestServer(t *testing.T, dir string) (*Server, *httptest.Server) {
	t.Helper()
	cfg, err := LoadConfigFile(writeTestConfig(t, dir, ""))
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return s, hs
}

type answer struct {
	code int
	body string
	err  APIError
}

func do(t *testing.T, method, url, token, auth, body string) answer {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		if auth == "" {
			auth = "Bearer"
		}
		req.Header.Set("Authorization", auth+" "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	b, _ := io.ReadAll(resp.Body)
	a := answer{code: resp.StatusCode, body: string(b)}
	_ = json.Unmarshal(b, &a.err)
	return a
}

// apiCases are calls and the status (and field named) they must get.
var apiCases = []struct {
	name, method, path, token, auth, body string
	code                                  int
	field                                 string
}{
	{"no token", "GET", "/v1/pops", "", "", "", 401, ""},
	{"unknown token", "GET", "/v1/pops", "nope-nope-nope-nope", "", "", 401, ""},
	{"basic scheme", "GET", "/v1/pops", readTok, "Basic", "", 401, ""},
	{"lower-case bearer is fine (RFC 7235)", "GET", "/v1/pops", readTok, "bearer", "", 200, ""},
	{"read may not drain", "POST", "/v1/pops/fra/state", readTok, "", `{"state":"drain"}`, 403, ""},
	{"operate may not publish", "POST", "/v1/maps", operateTok, "", `{"map":{"map":[]}}`, 403, ""},
	{"publish may not drain", "POST", "/v1/pops/fra/state", publishTok, "", `{"state":"drain"}`, 403, ""},
	{"unknown PoP", "POST", "/v1/pops/xyz/state", operateTok, "", `{"state":"drain"}`, 404, "label"},
	{"bad state", "POST", "/v1/pops/fra/state", operateTok, "", `{"state":"drained"}`, 400, "state"},
	{"unknown field", "POST", "/v1/pops/fra/state", operateTok, "", `{"state":"drain","when":"now"}`, 400, "when"},
	{"wrong type", "POST", "/v1/pops/fra/state", operateTok, "", `{"state":3}`, 400, "state"},
	{"malformed JSON", "POST", "/v1/pops/fra/state", operateTok, "", `{"state":`, 400, ""},
	{"empty body", "POST", "/v1/pops/fra/state", operateTok, "", ``, 400, ""},
	{"unknown record", "POST", "/v1/pops/fra/state", operateTok, "", `{"state":"down","record":"nope.example.net"}`, 404, "record"},
	{"load without pop", "POST", "/v1/load", operateTok, "", `{"load":3}`, 400, "pop"},
	{"load of unknown PoP", "POST", "/v1/load", operateTok, "", `{"pop":"xyz","load":3}`, 404, "pop"},
	{"load missing", "POST", "/v1/load", operateTok, "", `{"pop":"fra"}`, 400, "load"},
	{"negative load", "POST", "/v1/load", operateTok, "", `{"pop":"fra","load":-1}`, 400, "load"},
	{"report without server", "POST", "/v1/fleet/report", readTok, "", `{"map_version":1}`, 400, "server"},
	{"report with unknown PoP", "POST", "/v1/fleet/report", readTok, "", `{"server":"a","health":{"xyz":true}}`, 400, "health"},
	{"map missing", "POST", "/v1/maps", publishTok, "", `{}`, 400, "map"},
	{"bad map", "POST", "/v1/maps", publishTok, "", `{"map":{"map":[{"networks":["10.0.0.1/8"],"labels":["fra"]}]}}`, 400, "map"},
	{"map with unknown label", "POST", "/v1/maps", publishTok, "", `{"map":{"map":[{"networks":["10.0.0.0/8"],"labels":["xyz"]}]}}`, 400, "map"},
	{"bad RTT file", "POST", "/v1/maps", publishTok, "", `{"map":{"map":[]},"rtt":"10.0.0.0/8\tx\tfra=1\n"}`, 400, "rtt"},
	{"unknown version", "GET", "/v1/maps/7", readTok, "", "", 404, "version"},
	{"bad version", "GET", "/v1/maps/x", readTok, "", "", 400, "version"},
	{"unknown table", "GET", "/v1/maps/7/table", readTok, "", "", 404, "version"},
	{"no load moves", "GET", "/v1/patches/3", readTok, "", "", 404, "id"},
	{"bad patch id", "GET", "/v1/patches/x", readTok, "", "", 400, "id"},
	{"patch without a token", "GET", "/v1/patches/3", "", "", "", 401, ""},
	{"activate unknown", "POST", "/v1/maps/activate", publishTok, "", `{"version":9}`, 404, "version"},
	{"bad index", "GET", "/v1/state?index=x", readTok, "", "", 400, "index"},
	{"bad wait", "GET", "/v1/state?index=1&wait=soon", readTok, "", "", 400, "wait"},
	{"no such call", "GET", "/v1/nothing", readTok, "", "", 404, ""},
}

func TestAPIErrors(t *testing.T) {
	_, hs := newTestServer(t, t.TempDir())
	u := hs.URL

	for _, tc := range apiCases {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, u+tc.path, tc.token, tc.auth, tc.body)
			if a.code != tc.code {
				t.Fatalf("%s %s = %d %s, want %d", tc.method, tc.path, a.code, a.body, tc.code)
			}
			if a.code >= 400 && a.err.Error == "" {
				t.Errorf("error answer without a message: %s", a.body)
			}
			if a.err.Field != tc.field {
				t.Errorf("field = %q, want %q (%s)", a.err.Field, tc.field, a.body)
			}
		})
	}
}

// A change is audited and persisted before it is acknowledged: a new
// server on the same directories (kill -9 of the old one loses nothing:
// nothing is kept only in memory) has it.
func TestAuditAndPersistence(t *testing.T) {
	dir := t.TempDir()
	_, hs := newTestServer(t, dir)
	if a := do(t, "POST", hs.URL+"/v1/pops/fra/state", operateTok, "", `{"state":"drain"}`); a.code != 200 {
		t.Fatalf("drain: %d %s", a.code, a.body)
	}
	if a := do(t, "POST", hs.URL+"/v1/pops/ams/state", operateTok, "", `{"state":"anycast","record":"www.example.net"}`); a.code != 200 {
		t.Fatalf("anycast for one record: %d %s", a.code, a.body)
	}
	var st State
	_ = json.Unmarshal([]byte(do(t, "GET", hs.URL+"/v1/state", readTok, "", "").body), &st)

	f, err := os.Open(filepath.Join(dir, "state", "audit.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	var lines []AuditEntry
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit line %q: %v", sc.Text(), err)
		}
		lines = append(lines, e)
	}
	if len(lines) != 2 || lines[0].Token != "alice" || lines[0].Call != "POST /v1/pops/fra/state" || lines[0].Time.IsZero() {
		t.Fatalf("audit log: %+v", lines)
	}
	if b, _ := json.Marshal(lines[0].After); !strings.Contains(string(b), `"drain"`) {
		t.Errorf("audit after = %s, want the drain", b)
	}

	// "Restart": a second server on the same directories.
	s2, hs2 := newTestServer(t, dir)
	st2, _ := s2.Snapshot()
	if st2.PoPs["fra"].Admin != config.StateDrain || st2.PoPs["ams"].State("www.example.net.") != config.StateAnycast || st2.PoPs["ams"].Admin != config.StateUp {
		t.Errorf("after restart: fra %+v ams %+v", st2.PoPs["fra"], st2.PoPs["ams"])
	}
	if st2.Index <= st.Index {
		t.Errorf("index after restart %d, want > %d (a new epoch)", st2.Index, st.Index)
	}
	if a := do(t, "POST", hs2.URL+"/v1/pops/fra/state", operateTok, "", `{"state":"up"}`); a.code != 200 {
		t.Fatalf("undrain: %d %s", a.code, a.body)
	}
}

func TestLongPoll(t *testing.T) {
	s, hs := newTestServer(t, t.TempDir())
	st, _ := s.Snapshot()
	// Same index: the poll waits for the change.
	got := make(chan State, 1)
	go func() {
		var out State
		a := do(t, "GET", hs.URL+"/v1/state?index="+itoa(st.Index)+"&wait=20s", readTok, "", "")
		_ = json.Unmarshal([]byte(a.body), &out)
		got <- out
	}()
	// The poll may not have arrived yet; either way it must see the drain.
	start := time.Now()
	if a := do(t, "POST", hs.URL+"/v1/pops/lhr/state", operateTok, "", `{"state":"down"}`); a.code != 200 {
		t.Fatal(a.body)
	}
	select {
	case out := <-got:
		if out.Index <= st.Index || out.PoPs["lhr"].Admin != config.StateDown {
			t.Errorf("long poll returned index %d lhr %+v", out.Index, out.PoPs["lhr"])
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("long poll took %v after the change", d)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long poll did not return after the change")
	}
	// A stale index is answered at once.
	a := do(t, "GET", hs.URL+"/v1/state?index=1&wait=20s", readTok, "", "")
	if a.code != 200 || !strings.Contains(a.body, `"down"`) {
		t.Errorf("stale index: %d %s", a.code, a.body)
	}
}

func itoa(n uint64) string { b, _ := json.Marshal(n); return string(b) }

func TestHealthMajority(t *testing.T) {
	s, hs := newTestServer(t, t.TempDir())
	report := func(server string, fra bool) {
		body, _ := json.Marshal(Report{Server: server, Health: map[popmap.Label]bool{"fra": fra, "ams": true}})
		if a := do(t, "POST", hs.URL+"/v1/fleet/report", readTok, "", string(body)); a.code != 204 {
			t.Fatalf("report: %d %s", a.code, a.body)
		}
	}
	health := func() string { st, _ := s.Snapshot(); return st.PoPs["fra"].Health }
	if h := health(); h != HealthUnknown {
		t.Errorf("no reports: %s, want unknown", h)
	}
	for _, step := range []struct {
		server string
		up     bool
		want   string
		what   string
	}{
		{"a", false, HealthDown, "one server, down"},
		{"b", true, HealthUp, "one down one up (no majority)"},
		{"c", false, HealthDown, "two of three down"},
		{"a", true, HealthUp, "one of three down"},
	} {
		report(step.server, step.up)
		if h := health(); h != step.want {
			t.Errorf("%s: %s, want %s", step.what, h, step.want)
		}
	}
	if st, _ := s.Snapshot(); st.PoPs["lhr"].Health != HealthUnknown {
		t.Errorf("lhr has no check anywhere: %s, want unknown", st.PoPs["lhr"].Health)
	}
	f := s.Fleet()
	if len(f.Servers) != 3 || !f.Servers[0].Fresh {
		t.Errorf("fleet: %+v", f)
	}
}

func TestPublishActivateRollback(t *testing.T) {
	s, hs := newTestServer(t, t.TempDir())
	pub := func(js string, force bool) answer {
		var m popmap.Map
		if err := json.Unmarshal([]byte(js), &m); err != nil {
			t.Fatal(err)
		}
		body, _ := json.Marshal(PublishRequest{Map: &m, Force: force})
		return do(t, "POST", hs.URL+"/v1/maps", publishTok, "", string(body))
	}
	if a := pub(`{"map":[{"networks":["10.0.0.0/8"],"labels":["fra","ams"]}]}`, false); a.code != 200 {
		t.Fatalf("first publish: %d %s", a.code, a.body)
	}
	// No gate configured: a second version needs force.
	if a := pub(`{"map":[{"networks":["10.0.0.0/8"],"labels":["ams"]}]}`, false); a.code != 409 {
		t.Fatalf("unscored second version: %d %s, want 409", a.code, a.body)
	}
	if a := pub(`{"map":[{"networks":["10.0.0.0/8"],"labels":["ams"]}]}`, true); a.code != 200 {
		t.Fatalf("forced: %d %s", a.code, a.body)
	}
	st, _ := s.Snapshot()
	if st.Map == nil || st.Map.Version != 2 {
		t.Fatalf("state map %+v, want version 2", st.Map)
	}
	// The served file matches the state's digest.
	req, _ := http.NewRequest("GET", hs.URL+"/v1/maps/2", nil)
	req.Header.Set("Authorization", "Bearer "+readTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if sum := sha256Hex(b); sum != st.Map.SHA256 || resp.Header.Get("X-Steer-SHA256") != st.Map.SHA256 {
		t.Errorf("version 2 digest %s, state says %s", sum, st.Map.SHA256)
	}
	if !bytes.Contains(b, []byte(`"version":2`)) && !bytes.Contains(b, []byte(`"version": 2`)) {
		t.Errorf("version file lacks meta.version 2: %s", b)
	}
	if a := do(t, "POST", hs.URL+"/v1/maps/rollback", publishTok, "", ""); a.code != 200 {
		t.Fatalf("rollback: %d %s", a.code, a.body)
	}
	if st, _ := s.Snapshot(); st.Map.Version != 1 {
		t.Errorf("after rollback: version %d", st.Map.Version)
	}
	if a := do(t, "POST", hs.URL+"/v1/maps/activate", publishTok, "", `{"version":2}`); a.code != 200 {
		t.Fatalf("activate: %d %s", a.code, a.body)
	}
	if st, _ := s.Snapshot(); st.Map.Version != 2 {
		t.Errorf("after activate: version %d", st.Map.Version)
	}
	c := &Client{URL: hs.URL, Token: readTok}
	if _, err := c.SetState(context.Background(), "fra", "drain", ""); err == nil || !strings.Contains(err.Error(), "403") {
		t.Errorf("client with a read token draining: %v, want a 403 error", err)
	}
}

// badConfigs are control configs and the key their error must name.
var badConfigs = []struct{ cfg, want string }{
	{``, "empty"},
	{`listen: x`, "listen"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\n", "tokens: at least one"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: admin, token: 0123456789abcdef}]\n", "tokens[0].role"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: short}]\n", "at least 16"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}]\nload: {target: 0}\n", "load.target"},
	{"listen: 127.0.0.1:1\nbogus: 1\n", "bogus"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}]\nload: {target: 0.5, hysteresis: 0.6}\n", "load.hysteresis"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}, {name: a, role: read, token: 0123456789abcdeg}]\n", "duplicate"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read}]\n", "exactly one of token, token_file"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}]\nhealth_ttl: 1ms\n", "health_ttl"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}]\napi: {listen: nowhere}\n", "api.listen"},
	{"listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}]\napi: {port: 1}\n", "port"},
}

func TestParseConfigErrors(t *testing.T) {
	for _, tc := range badConfigs {
		_, err := ParseConfig([]byte(tc.cfg), "c.yaml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseConfig(%q) = %v, want an error naming %q", tc.cfg, err, tc.want)
		}
	}
}

const goodConfig = "listen: 127.0.0.1:1\nstate_dir: s\nmap_dir: m\ndns_config: d\ntokens: [{name: a, role: read, token: 0123456789abcdef}]\n"

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte(goodConfig))
	for _, tc := range badConfigs {
		f.Add([]byte(tc.cfg))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data, "fuzz.yaml")
		if err == nil && (c == nil || len(c.Tokens) == 0) {
			t.Fatalf("accepted a config without tokens: %q", data)
		}
	})
}

func TestExampleConfig(t *testing.T) {
	c, err := LoadConfigFile("../examples/control.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.PoPs) != 6 || len(c.Tokens) != 3 || c.Load.Target != 0.8 || c.Listen.Port() != 8480 {
		t.Errorf("example control config: %d PoPs, %d tokens, target %v, listen %v", len(c.PoPs), len(c.Tokens), c.Load.Target, c.Listen)
	}
}

// Load feedback through the API: a map published with its RTT file, fra
// reported over target, one period moves its cheapest networks to their
// next PoP; the moves are in the state as a patch, survive a restart, and
// are undone when the load falls.
func TestLoadMoves(t *testing.T) {
	dir := t.TempDir()
	s, hs := newTestServer(t, dir)
	// A hundred /24s of weight 1 rank fra first; the penalty of moving
	// each to ams grows with its index, so the cheapest move first (at
	// most max_move, 5 % of the traffic, per period).
	var entries, rtt strings.Builder
	rtt.WriteString("# steer build: network<TAB>weight<TAB>label=rtt_ms,...\n")
	for i := range 100 {
		if i > 0 {
			entries.WriteString(",")
		}
		fmt.Fprintf(&entries, `{"networks": ["10.0.%d.0/24"], "labels": ["fra", "ams"]}`, i)
		fmt.Fprintf(&rtt, "10.0.%d.0/24\t1\tfra=10,ams=%v\n", i, 11+float64(i)/10)
	}
	body, _ := json.Marshal(map[string]any{"map": json.RawMessage(`{"map": [` + entries.String() + `]}`), "rtt": rtt.String()})
	if a := do(t, "POST", hs.URL+"/v1/maps", publishTok, "", string(body)); a.code != 200 {
		t.Fatalf("publish: %d %s", a.code, a.body)
	}
	waitBalancer(t, s)
	// fra (capacity 1) at 120 %, target 80 %: 1/3 of its traffic must go;
	// ams (capacity 1) at 10 %.
	load := func(pop string, v float64) {
		if a := do(t, "POST", hs.URL+"/v1/load", operateTok, "", fmt.Sprintf(`{"pop":%q,"load":%v}`, pop, v)); a.code != 204 {
			t.Fatalf("load: %d %s", a.code, a.body)
		}
	}
	load("fra", 1.2)
	load("ams", 0.1)
	s.balance()
	st, _ := s.Snapshot()
	if st.PatchSHA256 == "" || st.PatchVersion != 1 || st.PoPs["fra"].MovedNetworks == 0 {
		t.Fatalf("no moves after an overloaded period: %+v", st.PoPs["fra"])
	}
	moved := st.PoPs["fra"].MovedNetworks
	// The state names the patch; a server fetches it by id, checks its
	// digest and decodes it. The cheapest networks (lowest index) moved
	// first.
	a := do(t, "GET", fmt.Sprintf("%s/v1/patches/%d", hs.URL, st.PatchID), readTok, "", "")
	if a.code != 200 || sha256Hex([]byte(a.body)) != st.PatchSHA256 {
		t.Fatalf("GET the patch: %d, digest %s, the state says %s", a.code, sha256Hex([]byte(a.body)), st.PatchSHA256)
	}
	if a := do(t, "GET", fmt.Sprintf("%s/v1/patches/%d", hs.URL, st.PatchID+1), readTok, "", ""); a.code != 404 || a.err.Field != "id" {
		t.Errorf("GET another patch: %d %s, want 404 naming id", a.code, a.body)
	}
	tab, err := popmap.DecodeTable([]byte(a.body))
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := tab.Lookup(netip.MustParseAddr("10.0.0.1")); len(l) == 0 || l[0] != "ams" {
		t.Errorf("cheapest network 10.0.0.0/24 not moved to ams: %v", l)
	}
	if l, _ := tab.Lookup(netip.MustParseAddr("10.0.99.1")); len(l) != 0 {
		t.Errorf("the dearest network moved first: %v", l)
	}
	// Audited as the controller.
	b, _ := os.ReadFile(filepath.Join(dir, "state", "audit.ndjson"))
	if !strings.Contains(string(b), `"token":"controller"`) {
		t.Errorf("load moves not in the audit log:\n%s", b)
	}
	// A restart keeps them.
	s2, hs2 := newTestServer(t, dir)
	st2, _ := s2.Snapshot()
	if st2.PoPs["fra"].MovedNetworks != moved || st2.PatchSHA256 != st.PatchSHA256 {
		t.Errorf("after restart: %d moves, want %d", st2.PoPs["fra"].MovedNetworks, moved)
	}
	// Load falls well under target: the moves are undone (LIFO, bounded
	// per period), all of them within a few periods.
	for range 20 {
		if a := do(t, "POST", hs2.URL+"/v1/load", operateTok, "", `{"pop":"fra","load":0.2}`); a.code != 204 {
			t.Fatal(a.body)
		}
		s2.balance()
	}
	if st, _ := s2.Snapshot(); st.PoPs["fra"].MovedNetworks != 0 || st.PatchSHA256 != "" {
		t.Errorf("moves not undone: %d left", st.PoPs["fra"].MovedNetworks)
	}
}

// FuzzAPI sends arbitrary bodies to every call that reads one, with a token
// of every role: the server answers (never 5xx, never a panic) and an error
// answer is JSON with a message.
func FuzzAPI(f *testing.F) {
	for _, tc := range apiCases {
		if tc.body != "" {
			f.Add(tc.method+" "+tc.path, tc.body)
		}
	}
	dir := f.TempDir()
	cfg, err := LoadConfigFile(writeTestConfig(f, dir, ""))
	if err != nil {
		f.Fatal(err)
	}
	s, err := New(cfg, Options{})
	if err != nil {
		f.Fatal(err)
	}
	h := s.Handler()
	f.Fuzz(func(t *testing.T, call, body string) {
		method, path, ok := strings.Cut(call, " ")
		if !ok || !strings.HasPrefix(path, "/v1/") || strings.ContainsAny(path, " ?#%") {
			return
		}
		if _, err := url.ParseRequestURI(path); err != nil {
			return // not a request a client can send
		}
		switch method {
		case "GET", "POST", "PUT", "DELETE":
		default:
			return // httptest.NewRequest panics on a bad method; the server never sees one
		}
		for _, tok := range []string{readTok, operateTok, publishTok} {
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+tok)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s %s %q: %d %s", method, path, body, rec.Code, rec.Body.String())
			}
			if rec.Code >= 400 {
				var e APIError
				if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Error == "" {
					t.Fatalf("%s %s: %d with a body that is not an error: %q", method, path, rec.Code, rec.Body.String())
				}
			}
		}
	})
}

// waitBalancer polls until the load controller of the active version is
// made (in the background after a publish).
func waitBalancer(t *testing.T, s *Server) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		s.mu.Lock()
		ready := s.bal != nil
		s.mu.Unlock()
		if ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no load controller 10 s after the publish")
		}
		<-tick.C
	}
}

// The multipart form steer publish --control streams: parts map, rtt,
// force, source; errors name the part.
func TestPublishMultipart(t *testing.T) {
	s, hs := newTestServer(t, t.TempDir())
	dir := t.TempDir()
	mp := filepath.Join(dir, "m.json")
	if err := os.WriteFile(mp, []byte(`{"map": [{"networks": ["10.0.0.0/24"], "labels": ["fra", "ams"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	rtt := filepath.Join(dir, "m.rtt.tsv")
	if err := os.WriteFile(rtt, []byte("10.0.0.0/24\t3\tfra=10,ams=12\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &Client{URL: hs.URL, Token: publishTok}
	res, err := c.PublishFile(context.Background(), mp, rtt, false, "test")
	if err != nil || res.Version != 1 {
		t.Fatalf("PublishFile: %+v, %v", res, err)
	}
	waitBalancer(t, s)
	if b, err := os.ReadFile(s.rttPath(1)); err != nil || !strings.Contains(string(b), "fra=10") {
		t.Errorf("RTT file of version 1: %q, %v", b, err)
	}
	form := func(parts map[string]string) answer {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		for k, v := range parts {
			_ = mw.WriteField(k, v)
		}
		_ = mw.Close()
		req, _ := http.NewRequest("POST", hs.URL+"/v1/maps", &body)
		req.Header.Set("Authorization", "Bearer "+publishTok)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		a := answer{code: resp.StatusCode, body: string(b)}
		_ = json.Unmarshal(b, &a.err)
		return a
	}
	for _, tc := range []struct {
		parts map[string]string
		field string
	}{
		{map[string]string{"force": "true"}, "map"},
		{map[string]string{"map": `{"map": []}`, "weight": "1"}, "weight"},
		{map[string]string{"map": `{"map": []}`, "force": "maybe"}, "force"},
		{map[string]string{"map": `{"map": [`}, "map"},
		{map[string]string{"map": `{"map": []}`, "rtt": "10.0.0.0/24\tx\n"}, "rtt"},
	} {
		if a := form(tc.parts); a.code != 400 || a.err.Field != tc.field {
			t.Errorf("form %v: %d %s, want 400 naming %s", tc.parts, a.code, a.body, tc.field)
		}
	}
}
