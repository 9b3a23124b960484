package examples

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"testing"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
)

var update = flag.Bool("update", false, "rewrite world.mmdb from World")

func TestWorld(t *testing.T) {
	if *update {
		var buf bytes.Buffer
		if err := geoip.Write(&buf, World); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("world.mmdb", buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	db, err := geoip.Open("world.mmdb")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	for _, e := range World {
		loc, pfx, ok := db.Locate(e.Prefix.Addr())
		if !ok || loc.Country != e.Country || pfx != e.Prefix {
			t.Errorf("Locate(%v) = %+v %v %v, want %s in %v (run go test ./examples -update)", e.Prefix.Addr(), loc, pfx, ok, e.Country, e.Prefix)
		}
	}
	if _, _, ok := db.Locate(netip.MustParseAddr("192.0.2.1")); ok {
		t.Errorf("192.0.2.1 should have no location")
	}
}

func TestExamplesLoad(t *testing.T) {
	dir := t.TempDir()
	if err := WriteTo(dir); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(dir + "/steer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := popmap.ReadFile(dir + "/map.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := m.CheckLabels(func(l popmap.Label) bool { _, ok := cfg.PoP(l); return ok }); err != nil {
		t.Error(err)
	}
}
