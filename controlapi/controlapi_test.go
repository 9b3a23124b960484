package controlapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/steerapi"
)

const (
	readTok    = "read-token-0123456789"
	publishTok = "publish-token-0123456789"
	operateTok = "operate-token-0123456789"
)

const dnsConfig = `listen: {dns: ["127.0.0.1:53"]}
query_log: rum.ndjson
pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"]}
  - {label: ams, lat: 52.4, lon: 4.9, ipv4: ["192.0.2.20"]}
  - {label: lhr, lat: 51.5, lon: -0.1, ipv4: ["192.0.2.30"]}
zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [ecs, resolver, default], ecs_map: map.json, resolver_map: map.json, default: {ipv4: ["192.0.2.1"]}}
`

// TestControlServesTheAPI runs a real control server and the embedded
// API server following it: Resolve answers from the published map, and a
// drain set on the control server moves the answer, as it moves the
// fleet's DNS answers.
func TestControlServesTheAPI(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("dns.yaml", dnsConfig)
	cfg, err := control.LoadConfigFile(write("control.yaml", `listen: 127.0.0.1:0
state_dir: state
map_dir: maps
dns_config: dns.yaml
api: {listen: "127.0.0.1:0"}
tokens:
  - {name: fleet, role: read, token: `+readTok+`}
  - {name: ci, role: publish, token: `+publishTok+`}
  - {name: ops, role: operate, token: `+operateTok+`}
`))
	if err != nil {
		t.Fatal(err)
	}
	if !cfg.SteeringAPI.IsValid() {
		t.Fatalf("api.listen not parsed: %+v", cfg.SteeringAPI)
	}
	srv, err := control.New(cfg, control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); _ = srv.Close() }()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	apiAddr := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- Run(runCtx, Options{Listen: cfg.SteeringAPI, ControlURL: hs.URL, Token: cfg.Tokens[0].Value,
			DNSConfig: cfg.DNSConfig, StateDir: cfg.StateDir, API: steerapi.New},
			func(s *dnsserver.Server) { apiAddr <- s.APIAddr() })
	}()
	var api string
	select {
	case api = <-apiAddr:
	case err := <-done:
		t.Fatalf("the API server did not start: %v", err)
	case <-ctx.Done():
		t.Fatal("the API server did not start")
	}
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
		if _, err := os.Stat(filepath.Join(cfg.StateDir, "api-dns.yaml")); !os.IsNotExist(err) {
			t.Errorf("the derived config is left behind: %v", err)
		}
	}()

	var lastRTT *float64
	resolve := func() (first string, version float64) {
		resp, err := http.Post("http://"+api+"/steer.v1.SteeringService/Resolve", "application/json", strings.NewReader(`{"ip":"203.0.113.9"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = resp.Body.Close() }()
		b, _ := io.ReadAll(resp.Body)
		var out struct {
			Pops []struct {
				Label         string
				ExpectedRttMs *float64 `json:"expectedRttMs"`
			}
			MapVersion json.Number `json:"mapVersion"`
		}
		if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("Resolve: %s %s", resp.Status, b)
		}
		v, _ := out.MapVersion.Float64()
		if len(out.Pops) == 0 {
			return "", v
		}
		lastRTT = out.Pops[0].ExpectedRttMs
		return out.Pops[0].Label, v
	}
	eventually := func(what string, ok func() bool) {
		t.Helper()
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for !ok() {
			select {
			case <-ctx.Done():
				t.Fatalf("%s: not within the deadline", what)
			case <-tick.C:
			}
		}
	}

	// Publish a map with its RTT file: the API answers from it, with the
	// build's expected RTTs (the follower writes the RTT file beside its
	// map file).
	m := write("new.json", `{"meta":{"version":1},"map":[{"networks":["203.0.113.0/24"],"labels":["fra","ams"]}]}`)
	rtt := write("new.rtt.tsv", "# steer build: network<TAB>weight<TAB>label=rtt_ms,...\n203.0.113.0/24\t12\tfra=23.1,ams=25.4\n")
	if _, err := (&control.Client{URL: hs.URL, Token: publishTok}).PublishFile(ctx, m, rtt, true, "test"); err != nil {
		t.Fatal(err)
	}
	eventually("the published map answers", func() bool { p, v := resolve(); return p == "fra" && v == 1 })
	if lastRTT == nil || *lastRTT != 23.1 {
		t.Errorf("expectedRttMs of fra: %v, want 23.1 from the published RTT file", lastRTT)
	}

	// Drain fra on the control server: the API moves to ams.
	if _, err := (&control.Client{URL: hs.URL, Token: operateTok}).SetState(ctx, "fra", "drain", ""); err != nil {
		t.Fatal(err)
	}
	eventually("the drain moves the answer", func() bool { p, _ := resolve(); return p == "ams" })

	// A next version published without an RTT file: the previous
	// version's is gone from beside the map file, no stale estimate.
	m2 := write("v2.json", `{"meta":{"version":2},"map":[{"networks":["203.0.113.0/24"],"labels":["lhr"]}]}`)
	if _, err := (&control.Client{URL: hs.URL, Token: publishTok}).PublishFile(ctx, m2, "", true, "test"); err != nil {
		t.Fatal(err)
	}
	eventually("version 2 answers", func() bool { p, _ := resolve(); return p == "lhr" })
	if lastRTT != nil {
		t.Errorf("expectedRttMs %v from the previous version's RTT file", *lastRTT)
	}

	// The embedded server is a member of the fleet.
	f, err := (&control.Client{URL: hs.URL, Token: readTok}).Fleet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(f); !bytes.Contains(b, []byte(ServerName)) {
		t.Errorf("fleet status lacks %s: %s", ServerName, b)
	}
}

func TestDerive(t *testing.T) {
	out, err := Derive([]byte(dnsConfig+"geoip: geo/city.mmdb\napi_tokens: {keys: keys.json}\n"), "/etc/steer",
		netip.MustParseAddrPort("127.0.0.1:8054"), "http://127.0.0.1:8480", readTok, "/var/lib/steer/api-map.json")
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"api: 127.0.0.1:8054", "dns: []", "map_file: /var/lib/steer/api-map.json",
		"ecs_map: /var/lib/steer/api-map.json", "resolver_map: /var/lib/steer/api-map.json", "geoip: /etc/steer/geo/city.mmdb",
		"keys: /etc/steer/keys.json", "server: " + ServerName, "token: " + readTok, "query_log: /var/lib/steer/api-queries.ndjson"} {
		if !strings.Contains(s, want) {
			t.Errorf("derived config lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "rum.ndjson") || strings.Contains(s, "127.0.0.1:53") {
		t.Errorf("derived config keeps the fleet's query log or a DNS listener:\n%s", s)
	}
	for _, bad := range []string{"", "[1, 2", "- a list\n"} {
		if _, err := Derive([]byte(bad), "/", netip.MustParseAddrPort("127.0.0.1:1"), "u", "t", "m"); err == nil {
			t.Errorf("Derive(%q): no error", bad)
		}
	}
}
