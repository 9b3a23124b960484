package probe

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"
)

const planList = `{"pops":[{"label":"fra","url":"https://fra.example.net/rum/probe"},{"label":"ams","url":"https://ams.example.net/rum/probe"}],"anycast":"https://www.example.net/rum/probe"`

var parsePlanCases = []struct {
	name string
	doc  string
	want *Plan  // nil: no plan
	err  string // substring of the error; "" for none
}{
	{"no plan", planList + `}`, nil, ""},
	{"null plan", planList + `,"plan":null}`, nil, ""},
	{"plan", planList + `,"plan":{"network":"203.0.113.0/24","pops":["ams","waw"],"next_s":300}}`,
		&Plan{Network: "203.0.113.0/24", PoPs: []string{"ams", "waw"}, Next: 300 * time.Second}, ""},
	{"future keys ignored", planList + `,"plan":{"pops":["fra"],"next_s":1.5,"why":{"fra":0.3}}}`,
		&Plan{PoPs: []string{"fra"}, Next: 1500 * time.Millisecond}, ""},
	{"plan not an object", planList + `,"plan":[1]}`, nil, "plan: want a JSON object, got a JSON array"},
	{"pops not strings", planList + `,"plan":{"pops":[1]}}`, nil, "plan.pops: wrong type"},
	{"bad label", planList + `,"plan":{"pops":["FRA"]}}`, nil, `plan.pops[0]: "FRA" is not a PoP label`},
	{"anycast label", planList + `,"plan":{"pops":["anycast"]}}`, nil, "plan.pops[0]: PoP label \"anycast\" is reserved"},
	{"duplicate", planList + `,"plan":{"pops":["fra","fra"]}}`, nil, `plan.pops[1]: "fra" already in plan.pops[0]`},
	{"negative next", planList + `,"plan":{"pops":["fra"],"next_s":-1}}`, nil, "plan.next_s: -1 out of range"},
	{"huge next", planList + `,"plan":{"pops":["fra"],"next_s":1e300}}`, nil, "plan.next_s: 1e+300 out of range"},
	{"next not a number", planList + `,"plan":{"next_s":"5"}}`, nil, "plan.next_s: wrong type"},
	{"bad list", `{"pops":[],"plan":{"pops":["fra"]}}`, nil, "no targets"},
}

func TestParsePoPList(t *testing.T) {
	for _, tc := range parsePlanCases {
		t.Run(tc.name, func(t *testing.T) {
			ts, p, err := ParsePoPList([]byte(tc.doc))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(ts) != 3 {
				t.Errorf("targets %v", ts)
			}
			if (p == nil) != (tc.want == nil) || p != nil && (p.Network != tc.want.Network || p.Next != tc.want.Next || !slices.Equal(p.PoPs, tc.want.PoPs)) {
				t.Errorf("plan %+v, want %+v", p, tc.want)
			}
			// old agents read the same document
			if old, err := ParseTargets([]byte(tc.doc)); err != nil || len(old) != 3 {
				t.Errorf("ParseTargets: %v, %v", old, err)
			}
		})
	}
}

// FuzzParsePoPList: no input makes ParsePoPList panic; a plan it accepts
// is within its limits, and following it never adds a target.
func FuzzParsePoPList(f *testing.F) {
	for _, tc := range parsePlanCases {
		f.Add([]byte(tc.doc))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, p, err := ParsePoPList(data)
		if err != nil {
			if ts != nil || p != nil {
				t.Fatalf("error %v with targets %v plan %v", err, ts, p)
			}
			return
		}
		if p == nil {
			return
		}
		if p.Next < 0 || p.Next > MaxPlanNext || len(p.PoPs) > 256 {
			t.Fatalf("plan out of limits: %+v", p)
		}
		for i, l := range p.PoPs {
			if checkLabel(l) != nil || slices.Contains(p.PoPs[:i], l) {
				t.Fatalf("plan.pops[%d] = %q accepted", i, l)
			}
		}
		got := FollowPlan(ts, p)
		if len(got) == 0 || len(got) > len(ts) || CheckTargets(got) != nil {
			t.Fatalf("FollowPlan(%v, %v) = %v", ts, p, got)
		}
	})
}

func TestFollowPlan(t *testing.T) {
	ts := []Target{{"fra", "https://f/"}, {"ams", "https://a/"}, {"lhr", "https://l/"}, {"anycast", "https://x/"}}
	labels := func(ts []Target) string {
		var s []string
		for _, t := range ts {
			s = append(s, t.Label)
		}
		return strings.Join(s, " ")
	}
	for _, tc := range []struct {
		plan *Plan
		want string
	}{
		{nil, "fra ams lhr anycast"},
		{&Plan{PoPs: []string{"lhr", "fra"}}, "fra lhr anycast"},
		{&Plan{PoPs: []string{"waw"}}, "fra ams lhr anycast"}, // names none: everything
		{&Plan{}, "fra ams lhr anycast"},
	} {
		if got := labels(FollowPlan(ts, tc.plan)); got != tc.want {
			t.Errorf("FollowPlan(%+v) = %s, want %s", tc.plan, got, tc.want)
		}
	}
}

// planListServer serves a PoP list with a plan at /rum/plan.json.
func planListServer(t *testing.T, doc string) string {
	mux := http.NewServeMux()
	mux.HandleFunc("/rum/plan.json", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(doc)) })
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + "/rum/plan.json"
}

// A round measures the plan's PoPs (and anycast), or every PoP with
// IgnorePlan.
func TestMeasureFollowsPlan(t *testing.T) {
	fra := probeServer(t, "fra", 0)
	ams := probeServer(t, "ams", 0)
	lhr := probeServer(t, "lhr", 0)
	doc := `{"pops":[{"label":"fra","url":"` + fra.URL + Path + `"},{"label":"ams","url":"` + ams.URL + Path + `"},{"label":"lhr","url":"` + lhr.URL + Path +
		`"}],"anycast":"` + ams.URL + Path + `","plan":{"network":"203.0.113.0/24","pops":["lhr","ams"],"next_s":60}}`
	cfg := Config{TargetsURL: planListServer(t, doc), HTTPClient: fra.Client()}
	r, err := MeasureRound(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range checkBeacon(t, r.Beacon).Samples {
		got = append(got, s.Target)
	}
	if strings.Join(got, " ") != "ams lhr anycast" || r.Plan == nil || r.Plan.Next != time.Minute {
		t.Errorf("samples %v, plan %+v; want ams lhr anycast, next 1m", got, r.Plan)
	}
	cfg.IgnorePlan = true
	r, err = MeasureRound(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Beacon.Samples) != 4 || r.Plan != nil {
		t.Errorf("IgnorePlan: %d samples, plan %+v; want 4 and none", len(r.Beacon.Samples), r.Plan)
	}
}

// Run waits the plan's next_s between rounds when it is longer than its
// interval.
func TestRunWaitsForPlan(t *testing.T) {
	fra := probeServer(t, "fra", 0)
	doc := `{"pops":[{"label":"fra","url":"` + fra.URL + Path + `"}],"plan":{"pops":["fra"],"next_s":0.3}}`
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var starts []time.Time
	cfg := Config{TargetsURL: planListServer(t, doc), HTTPClient: fra.Client(), OnRound: func(r *Round, err error) {
		if err != nil {
			t.Errorf("round: %v", err)
		}
		starts = append(starts, time.Now())
		if len(starts) == 3 {
			cancel()
		}
	}}
	if err := Run(ctx, cfg, 5*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if len(starts) != 3 {
		t.Fatalf("%d rounds", len(starts))
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < 300*time.Millisecond {
			t.Errorf("rounds %d and %d %v apart; the plan asked for 300ms", i-1, i, gap)
		}
	}
}
