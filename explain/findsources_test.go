package explain

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-gslb/steer/mapstore"
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
