package main

import (
	"bytes"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanCommand runs steer plan on the shipped world (metropolitan
// candidates, to stay quick under -race) and checks the report and files.
func TestPlanCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "out")
	var out, errb bytes.Buffer
	args := []string{"plan", "--add", "2", "--min-weight", "2e6", "--exclude", "cn", "--min-distance", "300", "--out", dir}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, s := range []string{
		"demand: 8,791 s2 level-7 cells holding 3.65B people (31,031 points: GeoNames cities of 15,000 or more)",
		"candidates: ", "every cell of 2e+06 people or more", "none in CN", "at least 300 km from any other PoP",
		"existing: 20 PoPs (the simulator's default footprint) lhr ams",
		"fibre line: RTT = 13.72 ms + 0.01680 ms/km",
		"with the 20 existing PoPs: mean fetch time 166 ms per person",
		"becomes the nearest PoP for", "the largest gains:",
		"loss curve", "+", "per region", "Africa",
		"wrote " + filepath.Join(dir, "plan.geojson"),
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}
	var fc struct {
		Features []struct{ Properties map[string]any }
	}
	b, err := os.ReadFile(filepath.Join(dir, "plan.geojson"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fc); err != nil || len(fc.Features) != 8791+20+2 {
		t.Errorf("plan.geojson: %d features, %v", len(fc.Features), err)
	}
	for _, f := range []string{"plan.png", "loss.png"} {
		r, err := os.Open(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(r); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		_ = r.Close()
	}
}

// TestPlanInputs: weights, candidates and PoPs from files and flags.
func TestPlanInputs(t *testing.T) {
	tmp := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	weights := write("w.csv", "lat,lon,weight\n19.07,72.88,1000\n6.45,3.39,800\n-23.55,-46.63,500\n")
	cands := write("c.csv", "# colo\nMumbai\nLagos,NG\n-1.29,36.82,NBO\n")
	var out, errb bytes.Buffer
	code := run([]string{"plan", "--add", "3", "--loss", "l1", "--weights", weights, "--candidates", cands,
		"--config", "../../examples/steer.yaml"}, &out, &errb)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	for _, s := range []string{
		"holding 2.3k users (3 points: " + weights + ")",
		"candidates: 3 sites (from " + cands + ")",
		"existing: 6 PoPs (from ../../examples/steer.yaml) fra ams lhr iad sin gru",
		"  1  Lagos ", "  2  Mumbai ", "stopped after 2 of the sites asked for: no candidate reduces the loss further",
	} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output lacks %q:\n%s", s, out.String())
		}
	}

	out.Reset()
	code = run([]string{"plan", "--add", "1", "--loss", "l2", "--weights", weights, "--pops", "none"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "no existing PoPs: the first step is the best single site") {
		t.Errorf("--pops none: exit %d:\n%s%s", code, out.String(), errb.String())
	}
	out.Reset()
	code = run([]string{"plan", "--add", "1", "--weights", weights, "--pops", "bom=Mumbai,lag=Lagos"}, &out, &errb)
	if code != 0 || !strings.Contains(out.String(), "existing: 2 PoPs (--pops) bom lag") {
		t.Errorf("--pops: exit %d:\n%s%s", code, out.String(), errb.String())
	}
}

func TestPlanErrors(t *testing.T) {
	tmp := t.TempDir()
	bad := filepath.Join(tmp, "bad.csv")
	if err := os.WriteFile(bad, []byte("1,2,3\n1,2,x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badCands := filepath.Join(tmp, "cands.csv")
	if err := os.WriteFile(badCands, []byte("Mumbai\n1,2,3,4\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"plan", "extra"}, 2, `unexpected argument "extra"`},
		{[]string{"plan", "--add", "-1"}, 2, "--add -1: want ≥ 0"},
		{[]string{"plan", "--loss", "l3"}, 2, `--loss: loss "l3": want tcp, l1 or l2`},
		{[]string{"plan", "--exclude", "CN,XYZ"}, 2, `steer plan: --exclude: item 2 "XYZ" is not an ISO 3166-1 alpha-2 country code`},
		{[]string{"plan", "--config", "x.yaml", "--pops", "a=London"}, 2, "--config and --pops both name the existing PoPs"},
		{[]string{"plan", "--pops", "lhr"}, 1, `pops: item 1 "lhr" is not label=City`},
		{[]string{"plan", "--weights", bad}, 1, bad + `: line 2: field 3 (weight): "x" is not a finite number`},
		{[]string{"plan", "--candidates", badCands}, 1, badCands + ": line 2: 4 fields, want lat,lon[,name]"},
		{[]string{"plan", "--weights", filepath.Join(tmp, "missing.csv")}, 1, "missing.csv: no such file"},
		{[]string{"plan", "--config", filepath.Join(tmp, "missing.yaml")}, 1, "loading config"},
		{[]string{"plan", "--min-distance", "-5"}, 1, "min distance -5 km must be ≥ 0"},
		{[]string{"plan", "--packet-loss", "2"}, 1, "packet loss 2 must be in (0, 1)"},
	} {
		var o, e bytes.Buffer
		if code := run(tc.args, &o, &e); code != tc.code || !strings.Contains(e.String(), tc.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", tc.args, code, tc.code, e.String(), tc.want)
		}
	}
	var o, e bytes.Buffer
	if code := run([]string{"plan", "--help"}, &o, &e); code != 0 || e.Len() > 0 || !strings.Contains(o.String(), "loss.png") || !strings.Contains(o.String(), "--min-weight") {
		t.Errorf("--help: exit %d:\n%s%s", code, o.String(), e.String())
	}
}
