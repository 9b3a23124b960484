package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSimCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "world")
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--out", dir, "--networks", "1500", "--seed", "5", "--beacons", "3"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "latency-best (perfect map)") || !strings.Contains(errb.String(), "sim: wrote "+dir) {
		t.Errorf("output:\n%s\nstderr:\n%s", out.String(), errb.String())
	}
	for _, f := range []string{"world.json", "beacons.ndjson", "dnslog.ndjson", "bgp.txt", "bgp.mrt", "geoip.mmdb", "steer.yaml", "map.json", "truth.tsv.gz", "resolvers.tsv", "report.txt"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	var rep bytes.Buffer
	if code := run([]string{"sim", "report", dir}, &rep, &errb); code != 0 {
		t.Fatalf("sim report: exit %d: %s", code, errb.String())
	}
	if rep.String() != out.String() {
		t.Errorf("sim report differs from the run's report:\n%s\n---\n%s", rep.String(), out.String())
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim"}, 2, "--out DIR is required"},
		{[]string{"sim", "--out", dir, "--beacons", "x"}, 2, `--beacons: "x" is not N or MIN-MAX`},
		{[]string{"sim", "--out", dir, "--pops", "lhr"}, 2, `"lhr" is not label=City`},
		{[]string{"sim", "--out", dir, "--pops", "xx=Atlantis"}, 1, `no measured city "Atlantis"`},
		{[]string{"sim", "--out", dir, "--measured", "2"}, 1, "measured: 2 is not a share"},
		{[]string{"sim", "--out", dir, "--scatter", "1.5"}, 1, "scatter: 1.5 is not a share"},
		{[]string{"sim", "--out", dir, "--start", "yesterday"}, 2, "--start"},
		{[]string{"sim", "report"}, 2, "steer sim report: one world directory DIR is required\nRun 'steer sim report --help' for usage."},
		{[]string{"sim", "report", t.TempDir()}, 1, "truth.tsv.gz"},
	} {
		var o, e bytes.Buffer
		if code := run(tc.args, &o, &e); code != tc.code || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, e.String(), tc.want)
		}
	}
	out.Reset()
	if code := run([]string{"sim", "--list-cities"}, &out, &errb); code != 0 || !strings.Contains(out.String(), "Johannesburg") {
		t.Errorf("--list-cities: exit %d:\n%s", code, out.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"sim", "--help"}, &out, &errb); code != 0 || errb.Len() > 0 || !strings.Contains(out.String(), "truth.tsv.gz") || !strings.Contains(out.String(), "--noise") {
		t.Errorf("--help: exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

// TestSimDays: --days runs a timed world with --event and --events;
// bad schedules are refused with the problem named.
func TestSimDays(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "world")
	evf := filepath.Join(t.TempDir(), "events.txt")
	if err := os.WriteFile(evf, []byte("# degrade fra on day 2\nday=2,kind=pop-degraded,pop=fra,ms=15\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run([]string{"sim", "--out", dir, "--networks", "1200", "--seed", "5", "--days", "3", "--beacons-per-day", "400",
		"--event", "day=1,kind=pop-open,pop=waw", "--events", evf, "--quiet"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, f := range []string{"truth-d00.tsv.gz", "truth-d01.tsv.gz", "truth-d02.tsv.gz", "truth.tsv.gz", "beacons.ndjson"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	// the report is the truth's at the end, as steer sim report reads it
	var rep bytes.Buffer
	if code := run([]string{"sim", "report", dir}, &rep, &errb); code != 0 || rep.String() != out.String() {
		t.Errorf("sim report: exit %d, differs from the run's report:\n%s\n---\n%s", code, rep.String(), out.String())
	}
	wj, err := os.ReadFile(filepath.Join(dir, "world.json"))
	if err != nil || !strings.Contains(string(wj), `"day=1,kind=pop-open,pop=waw"`) || !strings.Contains(string(wj), `"days": 3`) {
		t.Errorf("world.json does not record the days and events: %v\n%s", err, wj)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"sim", "--out", dir, "--days", "3", "--event", "day=1,kind=explode"}, 2, `unknown kind "explode"`},
		{[]string{"sim", "--out", dir, "--days", "3", "--events", filepath.Join(dir, "none")}, 2, "--events: open"},
		{[]string{"sim", "--out", dir, "--event", "day=1,kind=pop-open,pop=waw"}, 1, "scheduled events need a timed world"},
		{[]string{"sim", "--out", dir, "--days", "3", "--event", "day=3,kind=pop-open,pop=waw"}, 1, "day 3 is not within the run (1 to 2)"},
		{[]string{"sim", "--out", dir, "--days", "2", "--beacons-per-day", "0"}, 1, "beacons-per-day: 0 out of range"},
	} {
		var o, e bytes.Buffer
		if code := run(tc.args, &o, &e); code != tc.code || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, e.String(), tc.want)
		}
	}
}
