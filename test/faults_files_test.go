package test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
)

// The fault suite's writers: the test binary re-executed to write maps the
// way `steer build` (its output) and `steer publish` (the map directory) do,
// in a loop, until the test kills it with SIGKILL at a random moment.

func init() {
	childRoles["publish-loop"] = runPublishLoop
	childRoles["write-loop"] = runWriteLoop
}

// bigMap is a map of n /24s (a few hundred KB of JSON for n = 20000), so
// that a write takes long enough to be cut in the middle.
func bigMap(n int, label string) *popmap.Map {
	m := &popmap.Map{}
	nets := make([]netip.Prefix, 0, n)
	for i := range n {
		nets = append(nets, netip.PrefixFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), 32).Masked())
	}
	m.Entries = append(m.Entries, popmap.Entry{Networks: nets, Labels: []popmap.Label{popmap.Label(label), "ams"}})
	return m
}

// runPublishLoop publishes (forced) a map with a new label each round into
// the map directory dir until killed.
func runPublishLoop(ctx context.Context, dir string) int {
	d, err := mapstore.Open(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ADDR - -")
	for i := 0; ctx.Err() == nil; i++ {
		cand := filepath.Join(filepath.Dir(dir), fmt.Sprintf("cand-%d.json", i%2))
		var b bytes.Buffer
		if err := bigMap(20000, fmt.Sprintf("p%d", i)).Encode(&b); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if err := os.WriteFile(cand, b.Bytes(), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		if _, err := d.Publish(cand, mapstore.PublishOptions{Force: true}); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// runWriteLoop rewrites the map file path, as `steer build` writes its
// output, with a new label each round until killed.
func runWriteLoop(ctx context.Context, path string) int {
	fmt.Println("ADDR - -")
	for i := 0; ctx.Err() == nil; i++ {
		m := bigMap(20000, fmt.Sprintf("w%d", i))
		if err := atomicfile.WriteFunc(path, 0o644, func(w io.Writer) error { return m.Encode(w) }); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	return 0
}

// TestFaultKillDuringPublish kills `steer publish`'s writer with SIGKILL
// at random moments: every time, current.json names a whole version that
// parses, history reads, and the next publish succeeds and cleans up the
// killed writer's temporary files.
func TestFaultKillDuringPublish(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "maps")
	rounds := 12
	for round := range rounds {
		c := startRole(t, "publish-loop", dir)
		d, err := mapstore.Open(dir)
		if err != nil {
			t.Fatal(err)
		}
		start, _, _ := d.Current()
		eventually(t, 30*time.Second, "the publisher to publish", func() bool {
			v, _, _ := d.Current()
			return v > start
		})
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // the random moment of the kill, not a wait for a condition
		c.kill(t)
		cur, path, err := d.Current()
		if err != nil {
			t.Fatalf("round %d: after kill -9, current: %v", round, err)
		}
		m, err := popmap.ReadFile(path)
		if err != nil {
			t.Fatalf("round %d: after kill -9, current version %d does not parse: %v", round, cur, err)
		}
		if m.Meta.Version != int64(cur) {
			t.Errorf("round %d: current.json → version %d holds meta.version %d", round, cur, m.Meta.Version)
		}
		if _, err := d.History(); err != nil {
			t.Fatalf("round %d: history: %v", round, err)
		}
		if _, err := d.Versions(); err != nil {
			t.Fatalf("round %d: versions: %v", round, err)
		}
	}
	d, err := mapstore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	cand := filepath.Join(root, "last.json")
	var b bytes.Buffer
	if err := bigMap(10, "last").Encode(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cand, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := d.Publish(cand, mapstore.PublishOptions{Force: true})
	if err != nil {
		t.Fatalf("publish after %d kills: %v", rounds, err)
	}
	if _, err := d.Rollback(); err != nil {
		t.Errorf("rollback after the kills: %v", err)
	}
	stale, _ := filepath.Glob(filepath.Join(dir, "versions", ".tmp-*"))
	if len(stale) > 0 {
		t.Errorf("temporary files of killed writers left after a publish: %v", stale)
	}
	t.Logf("%d kills; last publish made version %d", rounds, res.Version)
}

// TestFaultKillDuringMapWrite kills a writer of map files (the way `steer
// build` writes its output) at random moments: the file is always a whole
// map, the old one or the new one.
func TestFaultKillDuringMapWrite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "map.json")
	for round := range 6 {
		c := startRole(t, "write-loop", path)
		var before time.Time
		if fi, err := os.Stat(path); err == nil {
			before = fi.ModTime()
		}
		eventually(t, 30*time.Second, "the writer to write", func() bool {
			fi, err := os.Stat(path)
			return err == nil && fi.ModTime().After(before)
		})
		time.Sleep(time.Duration(rand.IntN(40)) * time.Millisecond) // the random moment of the kill
		c.kill(t)
		m, err := popmap.ReadFile(path)
		if err != nil {
			t.Fatalf("round %d: after kill -9 the map does not parse: %v", round, err)
		}
		if n := len(m.Entries[0].Networks); n != 20000 {
			t.Fatalf("round %d: a map of %d networks, want 20000", round, n)
		}
	}
	// A killed writer may leave its temporary file (never read; one per kill).
	leftovers, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".map.json.*"))
	if len(leftovers) > 6 {
		t.Errorf("%d temporary files after 6 kills", len(leftovers))
	}
}
