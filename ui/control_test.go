package ui

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/internal/controltest"
)

// TestControl points the explorer at a real control server: it shows the
// active map version and the PoP states the fleet agreed on.
func TestControl(t *testing.T) {
	tw := getWorld(t)
	dir := t.TempDir()
	_, ctlURL := controltest.Start(t, dir, filepath.Join(tw.dir, "steer.yaml"), "")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := (&control.Client{URL: ctlURL, Token: controltest.PublishToken}).PublishFile(ctx, tw.mapPath, "", true, "ui test"); err != nil {
		t.Fatal(err)
	}
	drained := "fra"
	if _, err := (&control.Client{URL: ctlURL, Token: controltest.OperateToken}).SetState(ctx, drained, "drain", ""); err != nil {
		t.Fatal(err)
	}

	o, closer, err := Open(Files{Control: ctlURL, ControlToken: controltest.ReadToken, World: tw.dir, TempDir: t.TempDir()})
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
	if _, _, err := Open(Files{Control: ctlURL, ControlToken: "wrong"}); err == nil {
		t.Error("a wrong token was accepted")
	}
}
