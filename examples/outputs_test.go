package examples

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/steer-gslb/steer/config"
)

// TestQueryLogBesideConfig: the example config's relative paths resolve
// against its own directory, so `steer dns --config examples/steer.yaml`
// writes its query log (and the rotated ones) into examples/, where git
// ignores them.
func TestQueryLogBesideConfig(t *testing.T) {
	cfg, err := config.Load("steer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(here, "queries.ndjson"); cfg.QueryLog != want {
		t.Errorf("query_log resolves to %s, want %s", cfg.QueryLog, want)
	}
	if want := filepath.Join(here, "world.mmdb"); cfg.GeoIP != want {
		t.Errorf("geoip resolves to %s, want %s", cfg.GeoIP, want)
	}
	git, err := exec.LookPath("git")
	if err != nil {
		t.Skipf("git not found (%v): not checking .gitignore", err)
	}
	if out, err := exec.Command(git, "rev-parse", "--show-toplevel").Output(); err != nil || len(out) == 0 {
		t.Skipf("not in a git checkout: not checking .gitignore")
	}
	for _, f := range []string{"queries.ndjson", "queries.ndjson.1", "queries.ndjson.4"} {
		// exit 0: ignored; 1: not ignored
		if err := exec.Command(git, "check-ignore", "-q", "--no-index", f).Run(); err != nil {
			t.Errorf("git does not ignore examples/%s (%v): steer dns --config examples/steer.yaml writes it", f, err)
		}
	}
	for _, f := range Files {
		if err := exec.Command(git, "check-ignore", "-q", "--no-index", f).Run(); err == nil {
			t.Errorf("git ignores examples/%s, which is part of the examples", f)
		}
	}
}
