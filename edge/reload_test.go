package edge

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/steertoken"
)

// reloadYAML makes the config file watched quickly.
const reloadYAML = "reload: {poll: 20ms, debounce: 40ms}\n"

// namedOrigin is a plain HTTP origin answering "<name> <path>"; a request
// for /slow waits until release is closed (and signals started).
type namedOrigin struct {
	*origin
	started chan struct{}
	release chan struct{}
}

func newNamedOrigin(t *testing.T, name string) *namedOrigin {
	t.Helper()
	n := &namedOrigin{started: make(chan struct{}, 1), release: make(chan struct{})}
	n.origin = newOriginProto(t, false, false, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			n.started <- struct{}{}
			select {
			case <-n.release:
			case <-r.Context().Done():
				return
			}
		}
		_, _ = io.WriteString(w, name+" "+r.URL.Path)
	})
	return n
}

// rewrite replaces the edge's config file (rename: a reader never sees
// half a file).
func (e *testEdge) rewrite(t *testing.T, yml string) {
	t.Helper()
	writeAtomic(t, filepath.Join(e.dir, "edge.yaml"), []byte(yml))
}

// body GETs url and returns the status and body; an error fails the test.
func body(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, b := get(t, c, url)
	return resp.StatusCode, b
}

func twoUpstreams(a, b *namedOrigin, routes string) string {
	return "upstreams:\n  - {name: dc1, url: '" + a.URL + "'}\n  - {name: dc2, url: '" + b.URL + "'}\nroutes:\n" + routes
}

// TestReloadSwitchesUpstream: Reload (what SIGHUP calls) with a route moved
// to another origin sends new requests there, while a request in flight on
// the old origin completes; a change of the file on disk is picked up by
// itself.
func TestReloadSwitchesUpstream(t *testing.T) {
	a, b := newNamedOrigin(t, "A"), newNamedOrigin(t, "B")
	// No watch at first: only the calls to Reload apply a change.
	e := startEdge(t, edgeYAML("reload: {watch: false}\n"+twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n")), Options{})
	c := e.client(true)
	if code, got := body(t, c, e.url("/x")); code != 200 || got != "A /x" {
		t.Fatalf("before reload: %d %q", code, got)
	}
	// A slow request in flight on A across the reload.
	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := c.Get(e.url("/slow"))
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer func() { _ = resp.Body.Close() }()
		bb, err := io.ReadAll(resp.Body)
		slow <- result{resp.StatusCode, string(bb), err}
	}()
	select {
	case <-a.started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached origin A")
	}

	e.rewrite(t, edgeYAML("reload: {watch: false}\n"+twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc2}\n")))
	if err := e.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if code, got := body(t, c, e.url("/x")); code != 200 || got != "B /x" {
		t.Errorf("after reload: %d %q, want B", code, got)
	}
	close(a.release)
	select {
	case r := <-slow:
		if r.err != nil || r.code != 200 || r.body != "A /slow" {
			t.Errorf("in-flight request across the reload: %d %q %v, want 200 from A", r.code, r.body, r.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight request did not finish")
	}
	if v := e.metric(t, `steer_edge_config_reloads_total{result="ok"}`); v != 1 {
		t.Errorf(`config_reloads_total{result="ok"} = %v, want 1`, v)
	}
	if v := e.metric(t, "steer_edge_config_last_reload_success_timestamp_seconds"); v < float64(time.Now().Add(-time.Minute).Unix()) {
		t.Errorf("last success timestamp %v", v)
	}

	// The file watch is off in the config now: a change applies on
	// SIGHUP (Reload), here one that turns the watch back on.
	e.rewrite(t, edgeYAML(reloadYAML+twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n")))
	if err := e.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if code, got := body(t, c, e.url("/y")); got != "A /y" {
		t.Fatalf("after the second reload: %d %q", code, got)
	}
	// Now the watch applies a rewrite by itself.
	e.rewrite(t, edgeYAML(reloadYAML+twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n  - {path_prefix: /b/, upstream: dc2}\n")))
	eventually(t, 10*time.Second, "the watched file's change to apply", func() bool {
		_, got := body(t, c, e.url("/b/z"))
		return got == "B /b/z"
	})
	if code, got := body(t, c, e.url("/z")); got != "A /z" {
		t.Errorf("/z after the watched reload: %d %q, want A", code, got)
	}
	if !strings.Contains(e.logs.String(), "reason=\"config file changed\"") {
		t.Errorf("no reload logged for the file change")
	}
}

// TestFaultEdgeBadConfigReload: configs that do not parse, validate or
// build are rejected one by one: the error is returned and logged naming
// the problem, counted, and the old config keeps serving; a good config
// applies afterwards. A bad file found by the watch is reported once.
func TestFaultEdgeBadConfigReload(t *testing.T) {
	a, b := newNamedOrigin(t, "A"), newNamedOrigin(t, "B")
	good := edgeYAML("reload: {watch: false}\n" + twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n"))
	e := startEdge(t, good, Options{})
	c := e.client(false)
	toB := twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc2}\n")
	cases := []struct {
		name, yaml, want string
	}{
		{"bad YAML", good + "routes: [\n", "did not find expected node content"},
		{"unknown key", good + "bogus: 1\n", "field bogus not found"},
		{"two documents", good + "---\npop: ams\n", "more than one YAML document"},
		{"bad pin", edgeYAML("reload: {watch: false}\nupstreams:\n  - {name: dc1, url: 'https://127.0.0.1:1', pin_spki_sha256: [not-a-pin]}\n"),
			`upstreams[0].pin_spki_sha256[0]: \"not-a-pin\" is not a base64 SHA-256 digest`},
		{"missing certificate file", strings.Replace(edgeYAML("reload: {watch: false}\n"+toB), "cert: edge.crt", "cert: missing.crt", 1), "missing.crt"},
		{"route to a missing upstream", edgeYAML("reload: {watch: false}\n" + twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc9}\n")), `no upstream named \"dc9\"`},
		{"missing CA file", edgeYAML("reload: {watch: false}\nupstreams:\n  - {name: dc1, url: 'https://127.0.0.1:1', ca_file: /nonexistent/ca.pem}\n"), "ca_file: open /nonexistent/ca.pem"},
		{"missing token keys", edgeYAML("reload: {watch: false}\n" + twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc2, token: reject}\n") + "token_keys: nokeys.json\n"), "token_keys"},
		{"bad duration", edgeYAML("reload: {watch: false}\n"+toB) + "timeouts: {upstream_dial: soon}\n", `timeouts.upstream_dial: \"soon\" is not a duration`},
		{"empty file", "", "empty config"},
	}
	for i, tc := range cases {
		e.rewrite(t, tc.yaml)
		err := e.Reload("test")
		if err == nil {
			t.Fatalf("%s: Reload accepted it", tc.name)
		}
		t.Logf("%s: %v", tc.name, err)
		if !strings.Contains(err.Error(), strings.ReplaceAll(tc.want, `\"`, `"`)) {
			t.Errorf("%s: error %q does not name %q", tc.name, err, tc.want)
		}
		if !strings.Contains(e.logs.String(), tc.want) {
			t.Errorf("%s: the log does not name %q", tc.name, tc.want)
		}
		if v := e.metric(t, `steer_edge_config_reloads_total{result="error"}`); v != float64(i+1) {
			t.Errorf("%s: errors counted %v, want %d", tc.name, v, i+1)
		}
		if v := e.metric(t, "steer_edge_config_last_reload_successful"); v != 0 {
			t.Errorf("%s: last_reload_successful %v, want 0", tc.name, v)
		}
		// The old config serves on, on kept-alive and new connections.
		for _, cl := range []*http.Client{c, e.client(true)} {
			if code, got := body(t, cl, e.url("/x")); code != 200 || got != "A /x" {
				t.Errorf("%s: after the failed reload %d %q, want 200 from A", tc.name, code, got)
			}
		}
	}
	if !strings.Contains(e.logs.String(), "config reload failed; still serving the previous config") {
		t.Error("no reload failure in the log")
	}
	// A good config applies.
	e.rewrite(t, edgeYAML(reloadYAML+toB))
	if err := e.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if code, got := body(t, c, e.url("/x")); got != "B /x" {
		t.Fatalf("good config after bad ones: %d %q, want B", code, got)
	}
	if v := e.metric(t, "steer_edge_config_last_reload_successful"); v != 1 {
		t.Errorf("last_reload_successful %v, want 1", v)
	}

	// The watch finds a bad file: one error, the old config serves on.
	errs := e.metric(t, `steer_edge_config_reloads_total{result="error"}`)
	e.rewrite(t, edgeYAML(reloadYAML+toB)+"limits: {max_conns: many}\n")
	eventually(t, 10*time.Second, "the watch to report the bad file", func() bool {
		return e.metric(t, `steer_edge_config_reloads_total{result="error"}`) == errs+1
	})
	if code, got := body(t, c, e.url("/x")); got != "B /x" {
		t.Errorf("after the bad watched file: %d %q, want B", code, got)
	}
	e.rewrite(t, edgeYAML(reloadYAML+twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n")))
	eventually(t, 10*time.Second, "the fixed file to apply", func() bool {
		_, got := body(t, c, e.url("/x"))
		return got == "A /x"
	})
	if v := e.metric(t, `steer_edge_config_reloads_total{result="error"}`); v != errs+1 {
		t.Errorf("the watched bad file was reported %v times, want once", v-errs)
	}
}

// TestReloadRestartOnly: a changed listener, limit or client timeout is
// logged as needing a restart and otherwise ignored; the rest of the
// config applies.
func TestReloadRestartOnly(t *testing.T) {
	a, b := newNamedOrigin(t, "A"), newNamedOrigin(t, "B")
	e := startEdge(t, edgeYAML(twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n")), Options{})
	yml := edgeYAML(twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc2}\n") + "limits: {max_conns: 7}\ntimeouts: {idle: 5s}\n")
	e.rewrite(t, strings.Replace(yml, "listen: 127.0.0.1:0", "listen: 127.0.0.1:1", 1))
	if err := e.Reload("test"); err != nil {
		t.Fatalf("a restart-only change must not fail the reload: %v", err)
	}
	if code, got := body(t, e.client(false), e.url("/x")); got != "B /x" {
		t.Errorf("route after reload: %d %q, want B", code, got)
	}
	logs := e.logs.String()
	if !strings.Contains(logs, "need a restart") || !strings.Contains(logs, "listen, limits.max_conns, timeouts.idle") {
		t.Errorf("restart-only settings not logged:\n%s", tail(logs, 2000))
	}
	if cfg := e.snap.Load().cfg; cfg.Listen != "127.0.0.1:0" || cfg.MaxConns != DefaultMaxConns || cfg.Timeouts.Idle != DefaultIdleTimeout {
		t.Errorf("running values not kept: listen %s max_conns %d idle %s", cfg.Listen, cfg.MaxConns, cfg.Timeouts.Idle)
	}
}

// TestReloadKeepsUnchangedPools: a reload that changes another route keeps
// the upstream's warm connections (no new origin connection); one that
// changes the upstream makes a new pool and closes the old one's.
func TestReloadKeepsUnchangedPools(t *testing.T) {
	a, b := newNamedOrigin(t, "A"), newNamedOrigin(t, "B")
	ups := func(maxConns int, routes string) string {
		return fmt.Sprintf("upstreams:\n  - {name: dc1, url: '%s', max_conns: %d, idle_conns: 2, prewarm: 2}\n  - {name: dc2, url: '%s'}\nroutes:\n%s",
			a.URL, maxConns, b.URL, routes)
	}
	e := startEdge(t, edgeYAML(ups(4, "  - {path_prefix: /, upstream: dc1}\n")), Options{})
	eventually(t, 5*time.Second, "2 prewarmed connections to A", func() bool { return a.conns.Load() == 2 })
	c := e.client(false)
	for range 10 {
		if code, got := body(t, c, e.url("/x")); got != "A /x" {
			t.Fatalf("%d %q", code, got)
		}
	}
	before := a.conns.Load()
	e.rewrite(t, edgeYAML(ups(4, "  - {path_prefix: /, upstream: dc1}\n  - {path_prefix: /b/, upstream: dc2}\n")))
	if err := e.Reload("test"); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if code, got := body(t, c, e.url("/x")); got != "A /x" {
			t.Fatalf("%d %q", code, got)
		}
	}
	if code, got := body(t, c, e.url("/b/x")); got != "B /b/x" {
		t.Fatalf("new route: %d %q", code, got)
	}
	if n := a.conns.Load(); n != before {
		t.Errorf("origin A saw %d connections after an unrelated reload, %d before: the pool was not reused", n, before)
	}
	if n := a.closed.Load(); n != 0 {
		t.Errorf("%d connections to A closed by an unrelated reload", n)
	}
	// Changing dc1 (max_conns) makes a new pool, prewarmed before the
	// swap; the old pool's connections close.
	e.rewrite(t, edgeYAML(ups(3, "  - {path_prefix: /, upstream: dc1}\n")))
	if err := e.Reload("test"); err != nil {
		t.Fatal(err)
	}
	// (Two concurrent prewarm requests open one or two connections: the
	// first may be back in the pool before the second asks.)
	if n := a.conns.Load(); n < before+1 || n > before+2 {
		t.Errorf("origin A saw %d connections after the reload, want %d+1 or +2 (prewarmed)", n, before)
	}
	eventually(t, 5*time.Second, "the old pool's connections to close", func() bool { return a.closed.Load() == before })
	if code, got := body(t, c, e.url("/x")); got != "A /x" {
		t.Fatalf("%d %q", code, got)
	}
	eventually(t, 5*time.Second, "the gauge to count the new pool only", func() bool {
		return e.metric(t, `steer_edge_upstream_connections{upstream="dc1"}`) == float64(a.conns.Load()-a.closed.Load())
	})
}

// TestReloadAppliesSettings: the PoP label, token checks, forwarded_for and
// the access log change on reload.
func TestReloadAppliesSettings(t *testing.T) {
	a := newNamedOrigin(t, "A")
	dir := t.TempDir()
	ca := newTestCA(t)
	ca.issue(t, dir, "edge", "edge.test", "127.0.0.1")
	key, err := steertoken.GenerateKey(steertoken.Ed25519, "k1")
	if err != nil {
		t.Fatal(err)
	}
	ks, err := steertoken.NewKeySet([]steertoken.Key{key}, "k1")
	if err != nil {
		t.Fatal(err)
	}
	writeAtomic(t, filepath.Join(dir, "keys.json"), ks.Marshal(false))
	up := "upstreams:\n  - {name: dc1, url: '" + a.URL + "'}\n"
	e := startEdgeIn(t, dir, ca, edgeYAML(up+"access_log: {path: one.log}\n"), Options{})
	c := e.client(false)
	if code, got := body(t, c, e.url("/one")); code != 200 || got != "A /one" {
		t.Fatalf("%d %q", code, got)
	}
	if got := a.last.Load().Get("X-Forwarded-For"); got != "127.0.0.0" {
		t.Errorf("X-Forwarded-For %q before the reload", got)
	}
	yml := strings.Replace(edgeYAML(up), "pop: fra", "pop: ams", 1) +
		"routes: [{path_prefix: /, upstream: dc1, token: reject}]\ntoken_keys: keys.json\nforwarded_for: 'off'\naccess_log: {path: two.log}\n"
	e.rewrite(t, yml)
	if err := e.Reload("test"); err != nil {
		t.Fatal(err)
	}
	resp, got := get(t, c, e.url("/two"))
	if resp.StatusCode != 403 || got != "steering token rejected: missing\n" || resp.Header.Get("X-Edge-PoP") != "ams" ||
		!strings.HasPrefix(resp.Header.Get("X-Request-ID"), "ams-") {
		t.Errorf("after reload: %d %q %v, want 403 from PoP ams", resp.StatusCode, got, resp.Header)
	}
	now := time.Now()
	tok, err := steertoken.Sign(ks, steertoken.Claims{PoP: "ams", Network: mustPrefix("127.0.0.0/24"), IssuedAt: now.Add(-time.Minute), Expires: now.Add(time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if code, got := body(t, c, e.url("/two?steer_token="+tok)); code != 200 || got != "A /two" {
		t.Errorf("with an ams token: %d %q", code, got)
	}
	if got := a.last.Load().Get("X-Forwarded-For"); got != "" {
		t.Errorf("X-Forwarded-For %q with forwarded_for: off", got)
	}
	// The first log was closed (flushed) when its last request ended; the
	// new one gets the new requests.
	eventually(t, 5*time.Second, "the requests in their logs", func() bool {
		one, _ := os.ReadFile(filepath.Join(dir, "one.log"))
		two, _ := os.ReadFile(filepath.Join(dir, "two.log"))
		return strings.Contains(string(one), `"path":"/one"`) && !strings.Contains(string(one), "/two") &&
			strings.Contains(string(two), `"path":"/two"`) && strings.Contains(string(two), `"pop":"ams"`)
	})
}

// TestFaultReloadUnderLoad: clients request without pause over HTTP/1.1
// and HTTP/2 while 20 reloads alternate the route between two origins
// (new pools and reused ones): no request fails.
func TestFaultReloadUnderLoad(t *testing.T) {
	a, b := newNamedOrigin(t, "A"), newNamedOrigin(t, "B")
	cfgs := []string{
		edgeYAML("reload: {watch: false}\n" + twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n")),
		edgeYAML("reload: {watch: false}\n" + twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc2}\n")),
		// dc1 changed (retries and timeouts): a new pool for dc1.
		edgeYAML("reload: {watch: false}\ntimeouts: {upstream_idle: 30s}\n" + twoUpstreams(a, b, "  - {path_prefix: /, upstream: dc1}\n")),
	}
	e := startEdge(t, cfgs[0], Options{})
	var ok, failed atomic.Int64
	var errMu sync.Mutex
	var errs []string
	fail := func(s string) {
		failed.Add(1)
		errMu.Lock()
		if len(errs) < 10 {
			errs = append(errs, s)
		}
		errMu.Unlock()
	}
	var fromA, fromB atomic.Int64
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for w := range 4 {
		c := e.client(w%2 == 0)
		wg.Go(func() {
			for i := 0; i < 50000 && ctx.Err() == nil; i++ {
				resp, err := c.Get(e.url("/x"))
				if err != nil {
					fail(err.Error())
					continue
				}
				bb, err := io.ReadAll(resp.Body)
				_ = resp.Body.Close()
				switch {
				case err != nil || resp.StatusCode != 200:
					fail(fmt.Sprintf("%d %q %v", resp.StatusCode, bb, err))
				case string(bb) == "A /x":
					fromA.Add(1)
					ok.Add(1)
				case string(bb) == "B /x":
					fromB.Add(1)
					ok.Add(1)
				default:
					fail(fmt.Sprintf("body %q", bb))
				}
			}
		})
	}
	eventually(t, 10*time.Second, "some load", func() bool { return ok.Load() >= 50 })
	const reloads = 20
	for i := 1; i <= reloads; i++ {
		e.rewrite(t, cfgs[i%len(cfgs)])
		if err := e.Reload(fmt.Sprintf("test %d", i)); err != nil {
			t.Fatal(err)
		}
		// Some requests on each config before the next reload.
		n := ok.Load()
		eventually(t, 10*time.Second, "requests after a reload", func() bool { return ok.Load() >= n+10 })
	}
	stop()
	wg.Wait()
	t.Logf("%d requests ok (A %d, B %d) across %d reloads, %d failed", ok.Load(), fromA.Load(), fromB.Load(), reloads, failed.Load())
	if failed.Load() > 0 {
		t.Errorf("%d requests failed across the reloads: %q", failed.Load(), errs)
	}
	if fromA.Load() == 0 || fromB.Load() == 0 {
		t.Errorf("the reloads did not move requests between the origins (A %d, B %d)", fromA.Load(), fromB.Load())
	}
	if v := e.metric(t, `steer_edge_config_reloads_total{result="ok"}`); v != reloads {
		t.Errorf("reloads counted %v, want %d", v, reloads)
	}
}

// TestReloadSIGHUP runs the edge with RunFile in a child process (this
// test binary again) and reloads it with a real SIGHUP.
func TestReloadSIGHUP(t *testing.T) {
	if path := os.Getenv("STEER_EDGE_CHILD_CONFIG"); path != "" {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
		err := RunFile(ctx, path, Options{Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	a, b := newNamedOrigin(t, "A"), newNamedOrigin(t, "B")
	dir := t.TempDir()
	newTestCA(t).issue(t, dir, "edge", "edge.test", "127.0.0.1")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	httpAddr := ln.Addr().String()
	_ = ln.Close()
	conf := func(dc string) string {
		// No watch: only the signal reloads.
		return strings.Replace(edgeYAML("reload: {watch: false}\n"+twoUpstreams(a, b, "  - {path_prefix: /, upstream: "+dc+"}\n")),
			"listen_http: 127.0.0.1:0", "listen_http: "+httpAddr, 1)
	}
	path := filepath.Join(dir, "edge.yaml")
	writeAtomic(t, path, []byte(conf("dc1")))
	var stderr syncbuf.Buffer
	cmd := exec.Command(os.Args[0], "-test.run=^TestReloadSIGHUP$")
	cmd.Env = append(os.Environ(), "STEER_EDGE_CHILD_CONFIG="+path)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			if err != nil {
				t.Errorf("child: %v\n%s", err, tail(stderr.String(), 3000))
			}
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the child did not drain and exit")
		}
	}()
	hc := &http.Client{Timeout: 5 * time.Second}
	fetch := func() string {
		resp, err := hc.Get("http://" + httpAddr + "/x")
		if err != nil {
			return err.Error()
		}
		defer func() { _ = resp.Body.Close() }()
		bb, _ := io.ReadAll(resp.Body)
		return string(bb)
	}
	eventually(t, 15*time.Second, "the child edge to serve from A", func() bool { return fetch() == "A /x" })
	writeAtomic(t, path, []byte(conf("dc2")))
	if got := fetch(); got != "A /x" {
		t.Fatalf("the config changed without a signal (watch off): %q", got)
	}
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the child edge to serve from B after SIGHUP", func() bool { return fetch() == "B /x" })
	if !strings.Contains(stderr.String(), `msg="config reloaded" reason=SIGHUP`) {
		t.Errorf("no reload in the child's log:\n%s", tail(stderr.String(), 3000))
	}
}
