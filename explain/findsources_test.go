package explain

import (
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/rttfile"
)

// TestFindSources: the sources file beside a map; beside the build output
// a map directory's current version was published from (its history's
// source); none.
func TestFindSources(t *testing.T) {
	dir := t.TempDir()
	write := func(p, s string) {
		t.Helper()
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const m = `{"meta": {"version": 1}, "map": [{"networks": ["203.0.113.0/24"], "labels": ["fra"]}]}`
	build := filepath.Join(dir, "latency.json")
	write(build, m)
	write(SourcesPath(build), "203.0.113.0/24\tmeasured\n")
	if got := FindSources(build); got != SourcesPath(build) {
		t.Errorf("beside the map: %q", got)
	}

	d, err := mapstore.Open(filepath.Join(dir, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Publish(build, mapstore.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := FindSources(d.CurrentPath()); got != SourcesPath(build) {
		t.Errorf("through the map directory's history: %q, want %q", got, SourcesPath(build))
	}
	src, err := LoadSources(FindSources(d.CurrentPath()))
	if err != nil || src.Len() != 1 {
		t.Fatalf("loading it: %v", err)
	}

	// The build output is gone: nothing (the entries then have no origin).
	if err := os.Remove(SourcesPath(build)); err != nil {
		t.Fatal(err)
	}
	if got := FindSources(d.CurrentPath()); got != "" {
		t.Errorf("with the build's sources removed: %q", got)
	}
	if got := FindSources(filepath.Join(dir, "nope.json")); got != "" {
		t.Errorf("no map: %q", got)
	}
}

// TestRTTs: a map's MAP.rtt.tsv is found beside it and through a map
// directory's history like its sources, and its expected RTTs are looked
// up by longest prefix, unknown (NaN) RTTs left out.
func TestRTTs(t *testing.T) {
	dir := t.TempDir()
	build := filepath.Join(dir, "latency.json")
	if err := os.WriteFile(build, []byte(`{"meta": {"version": 1}, "map": [{"networks": ["203.0.113.0/24"], "labels": ["fra", "ams"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	if err := rttfile.Write(&b, []rttfile.Entry{
		{Network: netip.MustParsePrefix("203.0.113.0/24"), Weight: 3, Ranked: []rttfile.Choice{{Label: "fra", RTT: 21.5}, {Label: "ams", RTT: math.NaN()}}},
		{Network: netip.MustParsePrefix("203.0.0.0/16"), Weight: 1, Ranked: []rttfile.Choice{{Label: "lhr", RTT: 40}}},
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(RTTPath(build), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := mapstore.Open(filepath.Join(dir, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Publish(build, mapstore.PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	path := FindRTTs(d.CurrentPath())
	if path != RTTPath(build) {
		t.Fatalf("FindRTTs through the map directory: %q", path)
	}
	r, err := LoadRTTs(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		addr string
		want []Expected
	}{
		{"203.0.113.9", []Expected{{"fra", 21.5}}},
		{"203.0.5.1", []Expected{{"lhr", 40}}},
		{"198.51.100.1", nil},
	} {
		got, _ := r.Lookup(netip.MustParseAddr(tc.addr))
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.addr, got, tc.want)
		}
	}
}
