package ui

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steer-gslb/steer/control"
)

// TestControl points the explorer at a real control server: it shows the
// active map version and the PoP states the fleet agreed on.
func TestControl(t *testing.T) {
	tw := getWorld(t)
	dir := t.TempDir()
	cfg := `listen: 127.0.0.1:0
state_dir: state
map_dir: maps
dns_config: ` + filepath.Join(tw.dir, "steer.yaml") + `
tokens:
  - {name: ui, role: read, token: read-token-0123456789}
  - {name: ci, role: publish, token: publish-token-0123456789}
  - {name: ops, role: operate, token: operate-token-0123456789}
`
	if err := os.WriteFile(filepath.Join(dir, "control.yaml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := control.LoadConfigFile(filepath.Join(dir, "control.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := control.New(c, control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	defer func() { hs.Close(); _ = s.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := (&control.Client{URL: hs.URL, Token: "publish-token-0123456789"}).PublishFile(ctx, tw.mapPath, "", true, "ui test"); err != nil {
		t.Fatal(err)
	}
	drained := "fra"
	if _, err := (&control.Client{URL: hs.URL, Token: "operate-token-0123456789"}).SetState(ctx, drained, "drain", ""); err != nil {
		t.Fatal(err)
	}

	o, closer, err := Open(Files{Control: hs.URL, ControlToken: "read-token-0123456789", World: tw.dir, TempDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = closer.Close() }()
	m, err := Load(o)
	if err != nil {
		t.Fatal(err)
	}
	sum := m.Summary()
	if sum.MapVersion != 1 || sum.Networks != len(loadWorld(t, false).points) {
		t.Errorf("map version %d with %d networks; want the published map as version 1", sum.MapVersion, sum.Networks)
	}
	for _, p := range sum.PoPs {
		want := "up"
		if p.Label == drained {
			want = "drain"
		}
		if p.State != want {
			t.Errorf("PoP %s: state %q, want %q", p.Label, p.State, want)
		}
	}
	if _, _, err := Open(Files{Control: hs.URL, ControlToken: "wrong"}); err == nil {
		t.Error("a wrong token was accepted")
	}
}
