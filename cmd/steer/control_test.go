package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/examples"
	"github.com/steer-gslb/steer/internal/controltest"
	"github.com/steer-gslb/steer/internal/syncbuf"
)

const (
	cliOperate = controltest.OperateToken
	cliPublish = controltest.PublishToken
	cliRead    = controltest.ReadToken
)

// controlServer runs a control server over the examples' DNS config.
func controlServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := examples.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	_, url := controltest.Start(t, dir, "steer.yaml", "")
	return url
}

func TestPoPAndFleetCommands(t *testing.T) {
	url := controlServer(t)
	runOK := func(want string, args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 0 {
			t.Fatalf("steer %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		if !strings.Contains(out.String(), want) {
			t.Fatalf("steer %s printed %q, want %q", strings.Join(args, " "), out.String(), want)
		}
		return out.String()
	}
	runOK("fra: drain", "pop", "drain", "fra", "--control", url, "--token", cliOperate)
	runOK("ams for www.example.net: anycast", "pop", "anycast", "ams", "--record", "www.example.net", "--control", url, "--token", cliOperate)
	t.Setenv("STEER_TOKEN", cliRead)
	list := runOK("fra", "pop", "list", "--control", url)
	for _, want := range []string{"fra  ", "drain", "www.example.net.=anycast"} {
		if !strings.Contains(list, want) {
			t.Errorf("pop list lacks %q:\n%s", want, list)
		}
	}
	runOK("0 servers", "fleet", "status", "--control", url)

	// A read token may not drain: the CLI says why, exit 1.
	var out, errb bytes.Buffer
	if code := run([]string{"pop", "undrain", "fra", "--control", url}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "403") {
		t.Errorf("undrain with a read token: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"pop", "drain", "nope", "--control", url, "--token", cliOperate}, &out, &errb); code != 1 || !strings.Contains(errb.String(), `unknown PoP "nope"`) {
		t.Errorf("drain of an unknown PoP: exit %d, stderr %q", code, errb.String())
	}
	errb.Reset()
	if code := run([]string{"pop", "drain", "fra"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "--control") {
		t.Errorf("without --control: exit %d, stderr %q", code, errb.String())
	}

	// steer publish --control sends the map and its RTT file.
	dir := t.TempDir()
	m := publishMap(t, dir, "map.json", "fra")
	rtt := "# steer build: network<TAB>weight<TAB>label=rtt_ms,...\n203.0.113.0/24\t12\tfra=23.1,iad=90\n"
	if err := os.WriteFile(filepath.Join(dir, "map.rtt.tsv"), []byte(rtt), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("STEER_TOKEN", cliPublish)
	runOK("published version 1", "publish", "--control", url, m)
	runOK("identical to active version 1", "publish", "--control", url, m)
	m2 := publishMap(t, dir, "map2.json", "ams")
	errb.Reset()
	if code := run([]string{"publish", "--control", url, m2}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "409") {
		t.Errorf("unscored second version: exit %d, stderr %q", code, errb.String())
	}
	runOK("published version 2", "publish", "--control", url, "--force", m2)
	runOK("rolled back to version 1", "rollback", "--control", url)
}

func TestControlCommandErrors(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"control"}, &out, &errb); code != 2 {
		t.Errorf("steer control without --config: exit %d", code)
	}
	errb.Reset()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte("listen: 127.0.0.1:0\nbogus: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code := run([]string{"control", "--config", p}, &out, &errb); code != 1 || !strings.Contains(errb.String(), "bogus") {
		t.Errorf("bad config: exit %d, stderr %q", code, errb.String())
	}
}

// TestControlSteeringAPI runs steer control with api.listen: the steering
// API answers from the map published to the control server, through the
// embedded server that follows it.
func TestControlSteeringAPI(t *testing.T) {
	dir := t.TempDir()
	if err := examples.WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(dir, "control.yaml")
	cfg := fmt.Sprintf(`listen: 127.0.0.1:0
state_dir: state
map_dir: maps
dns_config: steer.yaml
api: {listen: "127.0.0.1:0"}
tokens:
  - {name: fleet, role: read, token: %s}
  - {name: ci, role: publish, token: %s}
`, cliRead, cliPublish)
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	out := &syncbuf.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- serveControl(runCtx, cfgPath, slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelWarn})), out)
	}()
	ctlRe := regexp.MustCompile(`listening on (http://\S+) `)
	apiRe := regexp.MustCompile(`steering API on (http://\S+) `)
	var ctl, api string
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for ctl == "" || api == "" {
		if m := ctlRe.FindStringSubmatch(out.String()); m != nil {
			ctl = m[1]
		}
		if m := apiRe.FindStringSubmatch(out.String()); m != nil {
			api = m[1]
		}
		select {
		case err := <-done:
			t.Fatalf("steer control stopped: %v\n%s", err, out.String())
		case <-ctx.Done():
			t.Fatalf("steer control did not start its API:\n%s", out.String())
		case <-tick.C:
		}
	}
	var o, e bytes.Buffer
	if code := run([]string{"publish", "--control", ctl, "--token", cliPublish, "--force", publishMap(t, dir, "new.json", "sin")}, &o, &e); code != 0 {
		t.Fatalf("publish: exit %d: %s", code, e.String())
	}
	for {
		resp, err := http.Post(api+"/steer.v1.SteeringService/Resolve", "application/json", strings.NewReader(`{"ip":"203.0.113.9"}`))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode == 200 && strings.Contains(string(b), `"pops":[{"label":"sin"`) {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the control server's API never answered from the published map: %s %s", resp.Status, b)
		case <-tick.C:
		}
	}
	stop()
	if err := <-done; err != nil {
		t.Errorf("steer control: %v", err)
	}
}
