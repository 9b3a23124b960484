package dnsserver

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/popmap"
)

// writeLargeMap writes a synthetic map over the example's PoPs, large
// enough (over 65,536 IPv4 runs) for the direct /24 table.
func writeLargeMap(t *testing.T, path string, seed uint64) {
	t.Helper()
	m := popmap.Synthetic(60_000, 1_000, []popmap.Label{"fra", "ams", "lhr", "iad", "sin", "gru"}, seed)
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// The direct /24 table of a large map is built after the map is served,
// at start and on reload (popmap.CompileOptions.DeferDirect), and every
// answer is the same with it as without it.
func TestDirectTableDeferred(t *testing.T) {
	p := exampleConfig(t)
	mapPath := filepath.Join(filepath.Dir(p), "map.json")
	writeLargeMap(t, mapPath, 1)
	s := quietServer(t, p)
	st := &workerStats{}
	s.stats = append(s.stats, st)
	r := &responder{srv: s, stats: st}

	// pending is a snapshot of the same files as served, whose direct
	// table nothing builds.
	pending := func() *snapshot {
		t.Helper()
		cfg, err := config.Load(p)
		if err != nil {
			t.Fatal(err)
		}
		snap, err := build(cfg, fileID{}, nil, 1, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if !snap.maps[mapPath].table.DirectPending() {
			t.Fatal("build did not defer the direct /24 table")
		}
		return snap
	}
	served := func() *popmap.Table { return s.snap.Load().maps[mapPath].table }
	same := func(pending *snapshot) {
		t.Helper()
		for i := range 500 {
			x := uint32(i) * 2654435761
			a := netip.AddrFrom4([4]byte{byte(x >> 24), byte(x >> 16), byte(x >> 8), 0})
			for _, qt := range []uint16{dns.TypeA, dns.TypeAAAA} {
				wire, err := newQuery("www.example.net.", qt, netip.PrefixFrom(a, 24).String()).Pack()
				if err != nil {
					t.Fatal(err)
				}
				got := r.answer(s.snap.Load(), wire, resolver, false, nil)
				want := r.answer(pending, wire, resolver, false, nil)
				if string(got) != string(want) {
					t.Fatalf("%s/24 type %d: %x with the direct table, %x without", a, qt, got, want)
				}
			}
		}
	}

	// New returns before the table is built; it is built in the background.
	before := pending()
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for served().DirectPending() {
		if time.Now().After(deadline) {
			t.Fatal("the direct /24 table was not built within 10 s of New")
		}
		<-tick.C
	}
	same(before)

	// A reload swaps the new map in, then builds the table before it returns.
	writeLargeMap(t, mapPath, 2)
	if err := s.Reload("test"); err != nil {
		t.Fatal(err)
	}
	if served().DirectPending() {
		t.Fatal("the reloaded map's direct /24 table is not built")
	}
	same(pending())
}

// gcOff nests: overlapping uses (several servers in one process, each
// reloading) restore the GC percent set before the first only after the
// last, whatever the order, and a restore called twice counts once.
func TestGCOffNests(t *testing.T) {
	before := debug.SetGCPercent(123)
	defer debug.SetGCPercent(before)
	percent := func() int {
		p := debug.SetGCPercent(-1)
		debug.SetGCPercent(p)
		return p
	}
	a := gcOff()
	b := gcOff()
	if p := percent(); p != -1 {
		t.Fatalf("GC percent %d with two gcOff, want -1", p)
	}
	a()
	a()
	if p := percent(); p != -1 {
		t.Fatalf("GC percent %d after one restore (called twice) of two, want -1", p)
	}
	b()
	if p := percent(); p != 123 {
		t.Fatalf("GC percent %d after both restores, want 123", p)
	}
}

// A server faults in its next reload's memory once, after the first
// snapshot with maps of warmMin or more (the example's map is far below
// it): here the reload that brings a large map, not the start, and not
// the reload after it.
func TestWarmReload(t *testing.T) {
	p := exampleConfig(t)
	mapPath := filepath.Join(filepath.Dir(p), "map.json")
	logs := &syncbuf.Buffer{}
	s, err := New(p, Options{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	warmed := func() bool {
		s.reloadMu.Lock() // also waits for New's or a reload's warm-up
		defer s.reloadMu.Unlock()
		return s.warmed
	}
	if warmed() {
		t.Fatal("warmed the next reload for the example's small map")
	}

	writeLargeMap(t, mapPath, 1)
	if err := s.Reload("test"); err != nil {
		t.Fatal(err)
	}
	n := s.snap.Load().maps[mapPath].table.Bytes()
	if n < warmMin {
		t.Fatalf("the large map holds %d bytes, under warmMin (%d): the test proves nothing", n, warmMin)
	}
	deadline := time.Now().Add(10 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !warmed() {
		if time.Now().After(deadline) {
			t.Fatal("no warm-up within 10 s of the reload that brought the large map")
		}
		<-tick.C
	}
	want := fmt.Sprintf("bytes=%d", 2*n)
	if got := logs.String(); strings.Count(got, "next reload's memory faulted in") != 1 || !strings.Contains(got, want) {
		t.Fatalf("want one warm-up of %s logged, got:\n%s", want, got)
	}

	writeLargeMap(t, mapPath, 2)
	if err := s.Reload("test"); err != nil {
		t.Fatal(err)
	}
	warmed() // waits for anything the reload started
	if c := strings.Count(logs.String(), "next reload's memory faulted in"); c != 1 {
		t.Fatalf("%d warm-ups logged after a second reload, want 1", c)
	}
}

// lowPriority runs f with GC cycles off (an allocation of f's must not
// start one on the low-priority thread) and turns them back on after.
func TestLowPriorityGCOff(t *testing.T) {
	before := debug.SetGCPercent(123)
	defer debug.SetGCPercent(before)
	var inside int
	// Setting -1 where it is -1 already only reads it.
	lowPriority(func() { inside = debug.SetGCPercent(-1) })
	if inside != -1 {
		t.Errorf("GC percent %d inside lowPriority, want -1 (off)", inside)
	}
	if p := debug.SetGCPercent(123); p != 123 {
		t.Errorf("GC percent %d after lowPriority, want 123 as before", p)
	}
}
