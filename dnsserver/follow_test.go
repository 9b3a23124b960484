package dnsserver

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/internal/controltest"
	"github.com/steer-gslb/steer/popmap"
)

// TestFollowAdoptsMapFile: a server following a control server loads a
// new version's table from memory, writes it to map_file after, and
// records the file's identity, so that a later reload (SIGHUP, a config
// change) keeps the loaded table instead of loading it again.
func TestFollowAdoptsMapFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, data string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pops := `pops:
  - {label: fra, lat: 50.1, lon: 8.7, ipv4: ["192.0.2.10"]}
  - {label: ams, lat: 52.4, lon: 4.9, ipv4: ["192.0.2.20"]}
zones:
  - name: example.net
    ns: [{name: ns1.example.net, ipv4: ["127.0.0.1"]}]
    records:
      - {name: www, steering: [ecs, default], ecs_map: map.json, default: {ipv4: ["192.0.2.1"]}}
`
	write("ctl-dns.yaml", "listen: {dns: [\"127.0.0.1:53\"]}\n"+pops)
	_, ctlURL := controltest.Start(t, dir, "ctl-dns.yaml", "")

	cfgPath := write("steer.yaml", "listen: {dns: [\"127.0.0.1:0\"]}\nreload: {watch: false}\ncontrol: {url: \""+ctlURL+"\", token: "+controltest.ReadToken+", map_file: map.json}\n"+pops)
	s, err := New(cfgPath, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	m, err := popmap.Parse([]byte(`{"map": [{"networks": ["10.0.0.0/8"], "labels": ["ams", "fra"]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	pub := &control.Client{URL: ctlURL, Token: controltest.PublishToken}
	if _, err := pub.Publish(context.Background(), control.PublishRequest{Map: m}); err != nil {
		t.Fatal(err)
	}
	mapFile := filepath.Join(dir, "map.json")
	var loaded *loadedMap
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		s.reloadMu.Lock()
		lm := s.snap.Load().maps[mapFile]
		adopted := lm != nil && lm.version == 1 && lm.id != (fileID{})
		s.reloadMu.Unlock()
		if adopted {
			loaded = lm
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for version 1 to be served and its file adopted")
		}
		<-tick.C
	}
	b, err := os.ReadFile(mapFile)
	if err != nil || !popmap.IsTable(b) || sha256Hex(b) != loaded.sha256 {
		t.Fatalf("map file: %v, table %v, digest matches %v", err, popmap.IsTable(b), sha256Hex(b) == loaded.sha256)
	}
	if id, _ := statID(mapFile); id != loaded.id {
		t.Errorf("adopted identity %+v, the file's %+v", loaded.id, id)
	}
	if err := s.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if got := s.snap.Load().maps[mapFile]; got != loaded {
		t.Error("a reload loaded the adopted map file again")
	}
}
