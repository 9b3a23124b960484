package mapstore

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
)

// testMap is a one-entry map sending 203.0.113.0/24 to label first.
func testMap(version int, first string) string {
	return fmt.Sprintf(`{"meta": {"version": %d}, "map": [{"networks": ["203.0.113.0/24", "2001:db8:10::/56"], "labels": [%q, "iad"]}]}`, version, first)
}

const badMap = `{"meta": {"version": 9}, "map": [{"networks": ["203.0.113.7/24"], "labels": ["fra"]}]}`

// writeCandidate writes data to a fresh file in dir and returns its path.
func writeCandidate(t *testing.T, dir, data string) string {
	t.Helper()
	f, err := os.CreateTemp(dir, "candidate-*.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return f.Name()
}

// fixedGate returns a verdict with the given scores (lower is better).
func fixedGate(cand, cur float64) Gate {
	return func(_, _ *popmap.Table) (GateVerdict, error) {
		return GateVerdict{Metric: "regret_ms", Candidate: cand, Current: cur, Worse: cand > cur, Detail: map[string]float64{"p75_ms": 20}}, nil
	}
}

// firstLabel is the first-ranked label the table gives 203.0.113.0/24.
func firstLabel(t *testing.T, tab *popmap.Table) popmap.Label {
	t.Helper()
	ls, _ := tab.LookupPrefix(netip.MustParsePrefix("203.0.113.0/24"))
	if len(ls) == 0 {
		t.Fatal("no entry for 203.0.113.0/24")
	}
	return ls[0]
}

// labelGate compares by a fixed score per first label of 203.0.113.0/24,
// so that a test can tell the gate sees the candidate and the current map.
func labelGate(t *testing.T, scores map[popmap.Label]float64) Gate {
	return func(cand, cur *popmap.Table) (GateVerdict, error) {
		a, b := scores[firstLabel(t, cand)], scores[firstLabel(t, cur)]
		return GateVerdict{Metric: "regret_ms", Candidate: a, Current: b, Worse: a > b}, nil
	}
}

func failGate(t *testing.T) Gate {
	return func(_, _ *popmap.Table) (GateVerdict, error) {
		t.Error("gate called")
		return GateVerdict{}, errors.New("gate called")
	}
}

// dirState is every file under dir with its mode and content, to show
// that a refused operation changed nothing.
func dirState(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := e.Info()
		if err != nil {
			return err
		}
		switch {
		case info.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			out[rel] = "-> " + target
		case info.Mode().IsRegular():
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			out[rel] = info.Mode().String() + " " + string(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// step is one operation of a scenario and what it must give.
type step struct {
	rollback bool
	data     string // candidate map (publish)
	force    bool
	gate     Gate
	check    func(*popmap.Map) error

	wantErr   string // substring of the error; "" for success
	wantIs    error  // errors.Is target, when not nil
	version   int    // Result.Version (and Current afterwards)
	previous  int
	forced    bool
	unchanged bool
	label     string // first label current.json gives 203.0.113.0/24 afterwards; "" when nothing is current
}

func TestPublishRollback(t *testing.T) {
	gateScores := map[popmap.Label]float64{"fra": 3, "ams": 2, "lhr": 5}
	tests := []struct {
		name  string
		steps func(t *testing.T) []step
	}{
		{"first publish needs no gate", func(t *testing.T) []step {
			return []step{{data: testMap(7, "fra"), gate: failGate(t), version: 1, label: "fra"}}
		}},
		{"better candidate is published", func(t *testing.T) []step {
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(8, "ams"), gate: labelGate(t, gateScores), version: 2, previous: 1, label: "ams"},
			}
		}},
		{"worse candidate is refused", func(t *testing.T) []step {
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(8, "lhr"), gate: labelGate(t, gateScores), wantIs: ErrWorse,
					wantErr: "scores worse than the current version 1: regret_ms 5 (candidate) vs 3 (current); not published", version: 1, label: "fra"},
			}
		}},
		{"worse candidate is published when forced", func(t *testing.T) []step {
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(8, "lhr"), gate: labelGate(t, gateScores), force: true, version: 2, previous: 1, forced: true, label: "lhr"},
			}
		}},
		{"forced better candidate is not recorded as forced", func(t *testing.T) []step {
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(8, "ams"), gate: labelGate(t, gateScores), force: true, version: 2, previous: 1, label: "ams"},
			}
		}},
		{"no gate is refused unless forced", func(t *testing.T) []step {
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(8, "ams"), wantIs: ErrNoGate, wantErr: "version 1 is current", version: 1, label: "fra"},
				{data: testMap(8, "ams"), force: true, version: 2, previous: 1, forced: true, label: "ams"},
			}
		}},
		{"gate error changes nothing", func(t *testing.T) []step {
			bad := func(_, _ *popmap.Table) (GateVerdict, error) { return GateVerdict{}, errors.New("no held-out samples") }
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(8, "ams"), gate: bad, force: true, wantErr: "against current version 1: no held-out samples", version: 1, label: "fra"},
			}
		}},
		{"bad map is refused with the parser's error", func(t *testing.T) []step {
			return []step{
				{data: badMap, force: true, wantErr: `map[0].networks[0]: "203.0.113.7/24": host bits set`},
				{data: `{"meta": {}, "map": [], "extra": 1}`, force: true, wantErr: "extra"},
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: badMap, gate: failGate(t), force: true, wantErr: "host bits set", version: 1, label: "fra"},
				{data: `{"meta": {"version": 1}, "map": [{"networks": ["203.0.113.0/24"], "labels": []}]}`, force: true, wantErr: "map[0]", version: 1, label: "fra"},
			}
		}},
		{"check refuses", func(t *testing.T) []step {
			check := func(m *popmap.Map) error {
				return m.CheckLabels(func(l popmap.Label) bool { return l != "xyz" })
			}
			return []step{
				{data: testMap(7, "xyz"), check: check, wantErr: `map[0].labels[0]: "xyz" is not a configured PoP`},
				{data: testMap(7, "fra"), check: check, version: 1, label: "fra"},
			}
		}},
		{"identical map is a no-op", func(t *testing.T) []step {
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(7, "fra"), gate: failGate(t), version: 1, previous: 1, unchanged: true, label: "fra"},
				{data: testMap(1234, "fra"), gate: failGate(t), version: 1, previous: 1, unchanged: true, label: "fra"},
				{data: testMap(7, "ams"), force: true, version: 2, previous: 1, forced: true, label: "ams"},
				{data: testMap(7, "ams"), version: 2, previous: 2, unchanged: true, label: "ams"},
			}
		}},
		{"rollback chain", func(t *testing.T) []step {
			g := fixedGate(1, 2)
			return []step{
				{data: testMap(7, "fra"), version: 1, label: "fra"},
				{data: testMap(7, "ams"), gate: g, version: 2, previous: 1, label: "ams"},
				{data: testMap(7, "lhr"), gate: g, version: 3, previous: 2, label: "lhr"},
				{rollback: true, version: 2, previous: 3, label: "ams"},
				{rollback: true, version: 1, previous: 2, label: "fra"},
				{rollback: true, wantIs: ErrNothingToRollBack, wantErr: "version 1 was the first published", version: 1, label: "fra"},
				// A publish after a rollback follows the version it replaces.
				{data: testMap(7, "sin"), gate: g, version: 4, previous: 1, label: "sin"},
				{rollback: true, version: 1, previous: 4, label: "fra"},
				{data: testMap(7, "lhr"), gate: g, version: 5, previous: 1, label: "lhr"},
				{data: testMap(7, "gru"), gate: g, version: 6, previous: 5, label: "gru"},
				{rollback: true, version: 5, previous: 6, label: "lhr"},
				{rollback: true, version: 1, previous: 5, label: "fra"},
			}
		}},
		{"rollback with nothing published", func(t *testing.T) []step {
			return []step{{rollback: true, wantIs: ErrNothingToRollBack, wantErr: "no version published"}}
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			dir := filepath.Join(root, "maps")
			d, err := Open(dir)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range tc.steps(t) {
				before := dirState(t, dir)
				var res Result
				var err error
				what := fmt.Sprintf("step %d (publish)", i)
				if s.rollback {
					what = fmt.Sprintf("step %d (rollback)", i)
					res, err = d.Rollback()
				} else {
					res, err = d.Publish(writeCandidate(t, root, s.data), PublishOptions{Force: s.force, Gate: s.gate, Check: s.check, Score: map[string]any{"step": i}})
				}
				switch {
				case s.wantErr == "" && err != nil:
					t.Fatalf("%s: %v", what, err)
				case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
					t.Fatalf("%s: error %v, want one containing %q", what, err, s.wantErr)
				case s.wantIs != nil && !errors.Is(err, s.wantIs):
					t.Fatalf("%s: error %v is not %v", what, err, s.wantIs)
				}
				if err != nil || res.Unchanged {
					if after := dirState(t, dir); !equalState(before, after) {
						t.Fatalf("%s: refused or no-op operation changed the directory:\nbefore %v\nafter  %v", what, before, after)
					}
				}
				if err == nil {
					if res.Version != s.version || res.Previous != s.previous || res.Forced != s.forced || res.Unchanged != s.unchanged {
						t.Errorf("%s: result %+v, want version %d previous %d forced %v unchanged %v", what, res, s.version, s.previous, s.forced, s.unchanged)
					}
					if want := filepath.Join(d.Path(), versionFile(s.version)); res.Path != want {
						t.Errorf("%s: path %s, want %s", what, res.Path, want)
					}
				}
				cur, path, err := d.Current()
				if err != nil {
					t.Fatalf("%s: Current: %v", what, err)
				}
				if cur != s.version {
					t.Fatalf("%s: current version %d, want %d", what, cur, s.version)
				}
				if s.label == "" {
					if path != "" {
						t.Fatalf("%s: current path %q, want none", what, path)
					}
					continue
				}
				// What a DNS server configured with current.json loads.
				m, tab, err := popmap.Load(d.CurrentPath())
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if m.Meta.Version != int64(s.version) {
					t.Errorf("%s: current.json has meta.version %d, want %d", what, m.Meta.Version, s.version)
				}
				if got := firstLabel(t, tab); string(got) != s.label {
					t.Errorf("%s: current.json sends 203.0.113.0/24 to %s, want %s", what, got, s.label)
				}
			}
			checkHistory(t, d)
		})
	}
}

func equalState(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// checkHistory checks the invariants of a directory's history: every line
// names an existing version file with its hash, publishes create versions
// in increasing order, and each line's previous is the version the line
// before it left current.
func checkHistory(t *testing.T, d *Dir) {
	t.Helper()
	hist, err := d.History()
	if err != nil {
		t.Fatal(err)
	}
	cur := 0
	maxPub := 0
	for i, r := range hist {
		if r.Previous != cur {
			t.Errorf("history line %d: previous %d, want %d", i+1, r.Previous, cur)
		}
		data, err := os.ReadFile(filepath.Join(d.Path(), r.File))
		if err != nil {
			t.Fatalf("history line %d: %v", i+1, err)
		}
		if sha256Hex(data) != r.SHA256 {
			t.Errorf("history line %d: sha256 %s, file has %s", i+1, r.SHA256, sha256Hex(data))
		}
		if r.Action == ActionPublish {
			if r.Version <= maxPub {
				t.Errorf("history line %d: published version %d after %d", i+1, r.Version, maxPub)
			}
			maxPub = r.Version
		}
		cur = r.Version
	}
	if c, _, _ := d.Current(); c != cur {
		t.Errorf("history ends at version %d, current is %d", cur, c)
	}
}

func TestHistoryRecordsGateAndScore(t *testing.T) {
	root := t.TempDir()
	d, err := Open(filepath.Join(root, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	if _, err := d.Publish(writeCandidate(t, root, testMap(1, "fra")), PublishOptions{Now: clock}); err != nil {
		t.Fatal(err)
	}
	res, err := d.Publish(writeCandidate(t, root, testMap(1, "ams")), PublishOptions{Now: clock, Gate: fixedGate(4.5, 3), Force: true, Score: map[string]string{"store": "/var/rum"}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Gate == nil || res.Gate.String() != "regret_ms 4.5 (candidate) vs 3 (current)" {
		t.Errorf("verdict %v", res.Gate)
	}
	b, err := os.ReadFile(filepath.Join(d.Path(), historyName))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d history lines, want 2:\n%s", len(lines), b)
	}
	want := fmt.Sprintf(`{"version":2,"action":"publish","time":"2026-11-25T17:00:00Z","sha256":"%s","forced":true,"previous":1,"file":"versions/000002.json",`, res.SHA256)
	if !strings.HasPrefix(lines[1], want) ||
		!strings.HasSuffix(lines[1], `"gate":{"metric":"regret_ms","candidate":4.5,"current":3,"worse":true,"detail":{"p75_ms":20}},"score":{"store":"/var/rum"}}`) {
		t.Errorf("history line\n%s\nwant prefix\n%s", lines[1], want)
	}
	vs, err := d.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Current || !vs[1].Current || len(vs[1].History) != 1 || !vs[1].History[0].Forced {
		t.Errorf("versions %+v", vs)
	}
}

// TestVersionsImmutable: version files are read-only and keep their bytes
// (and recorded hashes) through later publishes and rollbacks.
func TestVersionsImmutable(t *testing.T) {
	root := t.TempDir()
	d, err := Open(filepath.Join(root, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	g := fixedGate(1, 2)
	first := map[string][]byte{}
	for i, l := range []string{"fra", "ams", "lhr", "sin"} {
		res, err := d.Publish(writeCandidate(t, root, testMap(99, l)), PublishOptions{Gate: g})
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != i+1 {
			t.Fatalf("version %d, want %d", res.Version, i+1)
		}
		b, err := os.ReadFile(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		first[res.Path] = b
		if i == 2 {
			for range 2 {
				if _, err := d.Rollback(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	vs, err := d.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 4 {
		t.Fatalf("%d versions, want 4", len(vs))
	}
	for _, v := range vs {
		fi, err := os.Lstat(v.Path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != 0o444 {
			t.Errorf("version %d: mode %v, want -r--r--r--", v.Version, fi.Mode())
		}
		b, err := os.ReadFile(v.Path)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(first[v.Path]) {
			t.Errorf("version %d changed", v.Version)
		}
		for _, r := range v.History {
			if r.SHA256 != sha256Hex(b) {
				t.Errorf("version %d: history sha256 %s, file %s", v.Version, r.SHA256, sha256Hex(b))
			}
		}
		m, err := popmap.Parse(b)
		if err != nil || m.Meta.Version != int64(v.Version) {
			t.Errorf("version %d: meta.version %v (%v)", v.Version, m, err)
		}
	}
	if err := d.writeVersion(2, []byte("{}")); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("rewriting version 2: %v, want an error", err)
	}
	// The rollback target's recorded hash is checked.
	checkHistory(t, d)
	p := filepath.Join(d.Path(), versionFile(1))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(testMap(1, "gru")), 0o644); err != nil {
		t.Fatal(err)
	}
	// Current is 4 (published after rollbacks to 1): its previous is 1.
	if _, err := d.Rollback(); err == nil || !strings.Contains(err.Error(), "not rolling back to a changed file") {
		t.Errorf("rollback to a changed version: %v, want an error", err)
	}
	if cur, _, _ := d.Current(); cur != 4 {
		t.Errorf("current %d after a refused rollback, want 4", cur)
	}
}

// TestConcurrentPublishers runs publishers on separate Dir handles at once:
// each must score against, and record as previous, the version it
// replaces, and no two may be inside the locked section together.
func TestConcurrentPublishers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "maps")
	d0, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d0.Publish(writeCandidate(t, root, testMap(1, "fra")), PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	const n = 8
	var inside, maxInside, calls atomic.Int32
	var started sync.WaitGroup
	started.Add(n)
	gate := func(_, cur *popmap.Table) (GateVerdict, error) {
		k := inside.Add(1)
		defer inside.Add(-1)
		if k > maxInside.Load() {
			maxInside.Store(k)
		}
		calls.Add(1)
		// Every publisher has been started before the first gate returns,
		// so the others are contending for the lock meanwhile.
		started.Wait()
		for range 100 {
			runtime.Gosched()
		}
		if c, _, _ := d0.Current(); int64(c) != cur.Meta().Version {
			t.Errorf("gate sees current map version %d, directory says %d", cur.Meta().Version, c)
		}
		return GateVerdict{Metric: "regret_ms", Candidate: 1, Current: 2}, nil
	}
	labels := []string{"ams", "lhr", "sea", "sin", "gru", "mad", "cdg", "nrt"}
	var wg sync.WaitGroup
	results := make([]Result, n)
	errs := make([]error, n)
	for i := range n {
		cand := writeCandidate(t, root, testMap(1, labels[i]))
		wg.Go(func() {
			d, err := Open(dir)
			if err != nil {
				started.Done()
				errs[i] = err
				return
			}
			started.Done()
			results[i], errs[i] = d.Publish(cand, PublishOptions{Gate: gate})
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("publisher %d: %v", i, err)
		}
	}
	if maxInside.Load() != 1 || calls.Load() != n {
		t.Errorf("%d gate calls, at most %d at once; want %d, 1", calls.Load(), maxInside.Load(), n)
	}
	var versions, previous []int
	for _, r := range results {
		versions = append(versions, r.Version)
		previous = append(previous, r.Previous)
	}
	slices.Sort(versions)
	slices.Sort(previous)
	for i := range n {
		if versions[i] != i+2 || previous[i] != i+1 {
			t.Fatalf("versions %v previous %v, want 2..%d and 1..%d", versions, previous, n+1, n)
		}
	}
	checkHistory(t, d0)
}

// TestCrashLeftovers: what a crash can leave behind — a version file not
// yet recorded, a temporary file, a temporary symlink, a torn history line —
// neither breaks the directory nor gets reused.
func TestCrashLeftovers(t *testing.T) {
	root := t.TempDir()
	d, err := Open(filepath.Join(root, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Publish(writeCandidate(t, root, testMap(1, "fra")), PublishOptions{}); err != nil {
		t.Fatal(err)
	}
	// Crash after writing version 2, before recording it.
	if err := d.writeVersion(2, []byte(testMap(2, "ams"))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path(), versionsDir, ".tmp-123.json"), []byte(`{"meta"`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("versions/000002.json", filepath.Join(d.Path(), ".current.json.tmp")); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(filepath.Join(d.Path(), historyName), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(`{"version":2,"action":"publ`); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if cur, _, err := d.Current(); cur != 1 || err != nil {
		t.Fatalf("current %d %v, want 1", cur, err)
	}
	if h, err := d.History(); err != nil || len(h) != 1 {
		t.Fatalf("history %v %v, want one line (the torn one ignored)", h, err)
	}
	res, err := d.Publish(writeCandidate(t, root, testMap(1, "lhr")), PublishOptions{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Version != 3 || res.Previous != 1 {
		t.Errorf("published %+v, want version 3 after 1 (2 is taken by the leftover)", res)
	}
	h, err := d.History()
	if err != nil || len(h) != 2 {
		t.Fatalf("history %v %v, want two lines", h, err)
	}
	vs, err := d.Versions()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 3 || len(vs[1].History) != 0 {
		t.Errorf("versions %+v, want 3 with version 2 unrecorded", vs)
	}
	if res, err := d.Rollback(); err != nil || res.Version != 1 {
		t.Errorf("rollback: %+v %v, want version 1", res, err)
	}
}

func TestOpenForeignCurrent(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(dir string) error
		want  string
	}{
		{"regular file", func(dir string) error {
			return os.WriteFile(filepath.Join(dir, currentName), []byte(testMap(1, "fra")), 0o644)
		}, "is not a symlink"},
		{"symlink elsewhere", func(dir string) error {
			return os.Symlink("../map.json", filepath.Join(dir, currentName))
		}, "not at versions/NNNNNN.json"},
		{"dangling", func(dir string) error {
			return os.Symlink("versions/000007.json", filepath.Join(dir, currentName))
		}, "points at version 7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := tc.setup(dir); err != nil {
				t.Fatal(err)
			}
			if _, err := Open(dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestParseVersionName(t *testing.T) {
	for name, want := range map[string]int{
		"000001.json": 1, "123456.json": 123456, "1234567.json": 1234567, "000000.json": 0,
		"00001.json": 0, "0000001.json": 0, "000001.json.tmp": 0, ".tmp-1.json": 0, "00000a.json": 0, "-00001.json": 0,
	} {
		if got := parseVersionName(name); got != want {
			t.Errorf("parseVersionName(%q) = %d, want %d", name, got, want)
		}
	}
}

// TestPrune: old versions go, but never the current one, the newest ones
// or those the next rollbacks return to; numbers are not reused.
func TestPrune(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(filepath.Join(dir, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	if removed, err := d.Prune(1); err != nil || len(removed) != 0 {
		t.Fatalf("prune of an empty directory: %v, %v", removed, err)
	}
	labels := []string{"fra", "ams", "lhr", "cdg", "mad", "waw"}
	for i, l := range labels {
		if _, err := d.Publish(writeCandidate(t, dir, testMap(0, l)), PublishOptions{Force: true}); err != nil {
			t.Fatalf("publish %d: %v", i+1, err)
		}
	}
	for range 2 {
		if _, err := d.Rollback(); err != nil {
			t.Fatal(err)
		}
	}
	// current 4; newest 5 and 6; two rollbacks from 4 reach 3 and 2
	if _, err := d.Prune(0); err == nil {
		t.Error("prune keeping 0 versions accepted")
	}
	removed, err := d.Prune(2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []int{1}) {
		t.Errorf("removed %v, want [1]", removed)
	}
	vs, err := d.Versions()
	if err != nil {
		t.Fatal(err)
	}
	var left []int
	for _, v := range vs {
		left = append(left, v.Version)
	}
	if !slices.Equal(left, []int{2, 3, 4, 5, 6}) {
		t.Errorf("versions left %v", left)
	}
	for _, want := range []string{"lhr", "ams"} {
		res, err := d.Rollback()
		if err != nil {
			t.Fatal(err)
		}
		_, tab, err := popmap.Load(res.Path)
		if err != nil {
			t.Fatal(err)
		}
		if got := firstLabel(t, tab); string(got) != want {
			t.Errorf("rolled back to version %d answering %s, want %s", res.Version, got, want)
		}
	}
	if _, err := d.Rollback(); err == nil || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("rollback to the pruned version 1: %v, want an error naming it", err)
	}
	res, err := d.Publish(writeCandidate(t, dir, testMap(0, "sin")), PublishOptions{Force: true})
	if err != nil || res.Version != 7 {
		t.Errorf("publish after pruning: version %d, %v; want 7", res.Version, err)
	}
}

func TestActivate(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(filepath.Join(dir, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Activate(1); err == nil {
		t.Error("activate with nothing published: no error")
	}
	for _, l := range []string{"fra", "ams", "lhr"} {
		if _, err := d.Publish(writeCandidate(t, dir, testMap(0, l)), PublishOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	res, err := d.Activate(1)
	if err != nil || res.Action != ActionActivate || res.Version != 1 || res.Previous != 3 {
		t.Fatalf("Activate(1) = %+v, %v", res, err)
	}
	if cur, _, _ := d.Current(); cur != 1 {
		t.Errorf("current %d after Activate(1)", cur)
	}
	if res, err := d.Activate(1); err != nil || !res.Unchanged {
		t.Errorf("activating the current version: %+v, %v, want unchanged", res, err)
	}
	if _, err := d.Activate(7); err == nil || !strings.Contains(err.Error(), "never published") {
		t.Errorf("Activate(7): %v", err)
	}
	// A rollback from an activated version follows its publish line
	// (version 1 was first: nothing before it).
	if _, err := d.Rollback(); !errors.Is(err, ErrNothingToRollBack) {
		t.Errorf("rollback from activated v1: %v", err)
	}
	checkHistory(t, d)
	p := filepath.Join(d.Path(), versionFile(2))
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(testMap(2, "gru")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Activate(2); err == nil || !strings.Contains(err.Error(), "not activating a changed file") {
		t.Errorf("activating a changed version: %v", err)
	}
}

// TestTables: each published version has its compiled table, the one its
// file compiles to with meta.version set; activating a version that lacks
// one (published before tables were written) writes it; prune removes it.
func TestTables(t *testing.T) {
	dir := t.TempDir()
	d, err := Open(filepath.Join(dir, "maps"))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range []string{"fra", "ams", "lhr"} {
		if _, err := d.Publish(writeCandidate(t, dir, testMap(0, l)), PublishOptions{Force: true}); err != nil {
			t.Fatal(err)
		}
	}
	sameAsVersion := func(n int) {
		t.Helper()
		_, want, err := popmap.Load(d.VersionPath(n))
		if err != nil {
			t.Fatal(err)
		}
		got, err := popmap.LoadTable(d.TablePath(n))
		if err != nil {
			t.Fatalf("version %d's table: %v", n, err)
		}
		if got.Meta().Version != int64(n) {
			t.Errorf("version %d's table says version %d", n, got.Meta().Version)
		}
		wb, _ := want.MarshalBinary()
		gb, _ := got.MarshalBinary()
		if !bytes.Equal(wb, gb) {
			t.Errorf("version %d's table is not its file compiled", n)
		}
	}
	for n := 1; n <= 3; n++ {
		sameAsVersion(n)
	}
	if err := os.Remove(d.TablePath(1)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Activate(1); err != nil {
		t.Fatal(err)
	}
	sameAsVersion(1)
	if _, err := d.Activate(3); err != nil {
		t.Fatal(err)
	}
	// Prune keeps the current version 3 and 2, where a rollback returns.
	if removed, err := d.Prune(1); err != nil || !slices.Equal(removed, []int{1}) {
		t.Fatalf("prune: %v, %v", removed, err)
	}
	if _, err := os.Stat(d.TablePath(1)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("pruned version 1's table: %v", err)
	}
	sameAsVersion(2)
}

// TestWithVersion: a version's file made from the map encoded once with
// version 0 is byte for byte what encoding it with its version gives, and
// sameBody recognises it (Publish relies on Encode writing meta first).
func TestWithVersion(t *testing.T) {
	m, err := popmap.Parse([]byte(testMap(7, "fra")))
	if err != nil {
		t.Fatal(err)
	}
	enc0 := encodeVersion(m, 0, 0)
	for _, n := range []int{1, 9, 10, 123456} {
		want := encodeVersion(m, n, 0)
		if got := withVersion(enc0, n); !bytes.Equal(got, want) {
			t.Errorf("withVersion(%d):\n%s\nwant\n%s", n, got, want)
		}
		if !sameBody(enc0, want, n) || sameBody(enc0, want, n+1) {
			t.Errorf("sameBody of version %d's file", n)
		}
	}
	other, _ := popmap.Parse([]byte(testMap(7, "ams")))
	if sameBody(enc0, encodeVersion(other, 3, 0), 3) {
		t.Error("sameBody of another map")
	}
}
