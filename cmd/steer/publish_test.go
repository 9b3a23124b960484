package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/examples"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
)

// publishMap writes a map sending 203.0.113.0/24 to first (then iad) and
// returns its path.
func publishMap(t *testing.T, dir, name, first string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	data := fmt.Sprintf(`{"meta": {"version": 42}, "map": [{"networks": ["203.0.113.0/24"], "labels": [%q, "iad"]}]}`, first)
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// fakeGates replaces gateFor for the test: the gate scores a map by the
// first label it gives 203.0.113.0/24 (regret, lower is better). It
// returns the counts of opened and released gates.
func fakeGates(t *testing.T, scores map[popmap.Label]float64, openErr error) (opened, released *int) {
	t.Helper()
	opened, released = new(int), new(int)
	saved := gateFor
	t.Cleanup(func() { gateFor = saved })
	gateFor = func(store string) (mapstore.Gate, func() error, error) {
		if openErr != nil {
			return nil, nil, openErr
		}
		*opened++
		first := func(tab *popmap.Table) popmap.Label {
			ls, _ := tab.LookupPrefix(netip.MustParsePrefix("203.0.113.0/24"))
			return ls[0]
		}
		g := func(cand, cur *popmap.Table) (mapstore.GateVerdict, error) {
			a, b := scores[first(cand)], scores[first(cur)]
			return mapstore.GateVerdict{Metric: "regret_ms", Candidate: a, Current: b, Worse: a > b}, nil
		}
		return g, func() error { *released++; return nil }, nil
	}
	return opened, released
}

func TestPublishCommand(t *testing.T) {
	root := t.TempDir()
	if err := examples.WriteTo(root); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(root, "steer.yaml")
	dir := filepath.Join(root, "maps")
	store := filepath.Join(root, "rum")
	opened, released := fakeGates(t, map[popmap.Label]float64{"fra": 3, "ams": 2, "lhr": 5}, nil)

	a := publishMap(t, root, "a.json", "fra")
	b := publishMap(t, root, "b.json", "ams")
	c := publishMap(t, root, "c.json", "lhr")
	unknown := publishMap(t, root, "x.json", "xyz")
	bad := filepath.Join(root, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"meta": {"version": 1}, "map": [{"networks": ["203.0.113.7/24"], "labels": ["fra"]}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	v := func(n int) string { return filepath.Join(dir, "versions", fmt.Sprintf("%06d.json", n)) }

	for _, tc := range []struct {
		name       string
		args       []string
		code       int
		out, err   string // substrings of stdout and stderr
		current    int
		openedGate int // gates opened so far
	}{
		{"usage: no dir", []string{"publish", a}, 2, "", "steer publish: one of --dir DIR and --control URL, and one MAP.json, are required\nRun 'steer publish --help' for usage.", 0, 0},
		{"usage: two maps", []string{"publish", "--dir", dir, a, b}, 2, "", "one MAP.json, are required", 0, 0},
		{"bad map", []string{"publish", "--dir", dir, bad}, 1, "", `map ` + bad + `: map[0].networks[0]: "203.0.113.7/24": host bits set`, 0, 0},
		{"label not in config", []string{"publish", "--dir", dir, "--config", cfg, unknown}, 1, "", `"xyz" is not a configured PoP`, 0, 0},
		{"first publish needs no gate", []string{"publish", "--dir", dir, "--store", store, "--config", cfg, a}, 0,
			"published version 1 (" + v(1) + ") from " + a + ": first version, no gate", "", 1, 0},
		{"identical map", []string{"publish", "--dir", dir, a}, 0, a + " is identical to current version 1 (" + v(1) + "): nothing published", "", 1, 0},
		{"unscored is refused", []string{"publish", "--dir", dir, b}, 1, "",
			"version 1 is current in " + dir + " and the candidate is unscored: give --store STORE (held-out samples to score it against version 1) or --force", 1, 0},
		{"better is published", []string{"publish", "--dir", dir, "--store", store, b}, 0,
			"published version 2 (" + v(2) + ") from " + b + ": replaces version 1, forced false, gate: regret_ms 2 (candidate) vs 3 (current)", "", 2, 1},
		{"worse is refused", []string{"publish", "--dir", dir, "--store", store, c}, 1, "",
			"map " + c + ": candidate scores worse than the current version 2: regret_ms 5 (candidate) vs 2 (current); not published", 2, 2},
		{"worse is published with --force after the map", []string{"publish", "--dir", dir, "--store", store, c, "--force"}, 0,
			"published version 3 (" + v(3) + ") from " + c + ": replaces version 2, forced true, gate: regret_ms 5 (candidate) vs 2 (current), worse", "", 3, 3},
		{"unscored with --force", []string{"publish", "--force", "--dir", dir, a}, 0,
			"published version 4 (" + v(4) + ") from " + a + ": replaces version 3, forced true, gate: not scored", "", 4, 3},
		{"rollback", []string{"rollback", "--dir", dir}, 0, "rolled back to version 3 (" + v(3) + "): replaces version 4", "", 3, 3},
		{"rollback again", []string{"rollback", "--dir", dir}, 0, "rolled back to version 2 (" + v(2) + "): replaces version 3", "", 2, 3},
		{"rollback again", []string{"rollback", "--dir", dir}, 0, "rolled back to version 1 (" + v(1) + "): replaces version 2", "", 1, 3},
		{"nothing to roll back to", []string{"rollback", "--dir", dir}, 1, "", "version 1 was the first published: nothing to roll back to", 1, 3},
		{"rollback usage", []string{"rollback", dir}, 2, "", "steer rollback: one of --dir DIR and --control URL is required, and nothing else\nRun 'steer rollback --help' for usage.", 1, 3},
		{"rollback of an empty directory", []string{"rollback", "--dir", filepath.Join(root, "empty")}, 1, "", "no version published", 1, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(tc.args, &out, &errb)
			if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.err) {
				t.Errorf("steer %s: exit %d (want %d)\nstdout %q (want %q)\nstderr %q (want %q)",
					strings.Join(tc.args, " "), code, tc.code, out.String(), tc.out, errb.String(), tc.err)
			}
			if tc.code == 0 && strings.Count(out.String(), "\n") != 1 {
				t.Errorf("stdout %q: want one line", out.String())
			}
			d, err := mapstore.Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			if cur, _, err := d.Current(); cur != tc.current || err != nil {
				t.Errorf("current version %d (%v), want %d", cur, err, tc.current)
			}
			if *opened != tc.openedGate || *released != *opened {
				t.Errorf("%d gates opened, %d released; want %d, all released", *opened, *released, tc.openedGate)
			}
		})
	}
	hist, err := os.ReadFile(filepath.Join(dir, "history.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(hist), "\n"); n != 7 {
		t.Errorf("history has %d lines, want 7 (4 publishes, 3 rollbacks):\n%s", n, hist)
	}

	// steer versions lists them, and --keep prunes what no rollback needs
	var out, errb bytes.Buffer
	if code := run([]string{"versions", "--dir", dir}, &out, &errb); code != 0 {
		t.Fatalf("versions: exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[1], "*       1 ") || !strings.Contains(lines[1], "first version") ||
		!strings.Contains(lines[3], "true    regret_ms 5 vs 2 (worse)") || !strings.Contains(lines[3], c+" (current again after 1 rollback(s))") ||
		!strings.Contains(lines[4], "not scored") {
		t.Errorf("versions:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"versions", "--dir", dir, "--keep", "1"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "removed 2 old versions [2 3]\n") {
		t.Errorf("versions --keep 1: exit %d\n%s%s", code, out.String(), errb.String())
	}
	for n, want := range map[int]bool{1: true, 2: false, 3: false, 4: true} {
		if _, err := os.Stat(v(n)); (err == nil) != want {
			t.Errorf("version %d: %v after --keep 1 (current 1, newest 4)", n, err)
		}
	}
	for _, tc := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"versions"}, 2, "steer versions: --dir DIR is required"},
		{[]string{"versions", "--dir", dir, "--keep", "-1"}, 2, "--keep N >= 0"},
		{[]string{"versions", "--dir", filepath.Join(root, "none")}, 1, "no such file or directory"},
	} {
		errb.Reset()
		if code := run(tc.args, io.Discard, &errb); code != tc.code || !strings.Contains(errb.String(), tc.err) {
			t.Errorf("steer %s: exit %d, stderr %q; want %d, %q", strings.Join(tc.args, " "), code, errb.String(), tc.code, tc.err)
		}
	}
}

func TestPublishGateFails(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "maps")
	fakeGates(t, nil, errors.New("no held-out samples"))
	var out, errb bytes.Buffer
	if code := run([]string{"publish", "--dir", dir, publishMap(t, root, "a.json", "fra")}, &out, &errb); code != 0 {
		t.Fatalf("first publish: exit %d: %s", code, errb.String())
	}
	b := publishMap(t, root, "b.json", "ams")
	for _, args := range [][]string{
		{"publish", "--dir", dir, "--store", "/no/such/store", b},
		{"publish", "--dir", dir, "--store", "/no/such/store", "--force", b}, // --force does not skip a failing gate
	} {
		errb.Reset()
		code := run(args, &out, &errb)
		want := "steer publish: scoring map " + b + " against current version 1: store /no/such/store: no held-out samples"
		if code != 1 || !strings.Contains(errb.String(), want) {
			t.Errorf("%v: exit %d, stderr %q; want 1, %q", args, code, errb.String(), want)
		}
	}
}
