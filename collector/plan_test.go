package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/measureplan"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/store"
)

var planPoPs = []PoPURL{
	{Label: "ams", URL: "https://ams.example.net/rum/probe"},
	{Label: "fra", URL: "https://fra.example.net/rum/probe"},
	{Label: "lhr", URL: "https://lhr.example.net/rum/probe"},
	{Label: "par", URL: "https://par.example.net/rum/probe"},
	{Label: "waw", URL: "https://waw.example.net/rum/probe"}, // newly opened: nobody measured it
}

type planDoc struct {
	PoPs []PoPURL `json:"pops"`
	Plan *struct {
		Network string   `json:"network"`
		PoPs    []string `json:"pops"`
		NextS   int64    `json:"next_s"`
	} `json:"plan"`
}

func newPlanFixture(t *testing.T, maxPoPs int) *fixture {
	return newFixture(t, func(c *Config) {
		c.PoPs = planPoPs
		c.Plan = DefaultPlan()
		c.Plan.Policy.MaxPoPs = maxPoPs
		c.Plan.Policy.Explore = 0
		c.Plan.Refresh = time.Hour // tests refresh by hand
	})
}

func (f *fixture) getPlan(t *testing.T, remote string) (planDoc, string) {
	t.Helper()
	w := f.do(t, req{method: http.MethodGet, path: PlanPath, remote: remote})
	if w.Code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", PlanPath, w.Code, w.Body)
	}
	if cc := w.Header().Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q: a per-client answer must not be cached", cc)
	}
	var d planDoc
	if err := json.Unmarshal(w.Body.Bytes(), &d); err != nil {
		t.Fatalf("%s: %v", w.Body, err)
	}
	return d, w.Body.String()
}

// postRound posts one desktop beacon from remote with a sample per label.
func (f *fixture) postRound(t *testing.T, remote string, rtts map[string]float64) {
	t.Helper()
	ts := f.now.Format(time.RFC3339Nano)
	var ss []string
	for _, l := range slices.Sorted(func(yield func(string) bool) {
		for l := range rtts {
			if !yield(l) {
				return
			}
		}
	}) {
		ss = append(ss, fmt.Sprintf(`{"ts":%q,"target":%q,"probe":"https","rtt_ms":%v}`, ts, l, rtts[l]))
	}
	body := `{"v":1,"agent":{"kind":"desktop","platform":"linux","timer":"monotonic"},"samples":[` + strings.Join(ss, ",") + `]}`
	w := f.do(t, req{body: body, remote: remote, header: map[string]string{"Authorization": "Bearer " + token}})
	if w.Code != http.StatusOK {
		t.Fatalf("beacon: %d %s", w.Code, w.Body)
	}
}

func TestPlanEndpointWithoutPlanSection(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.PoPs = planPoPs })
	d, body := f.getPlan(t, "203.0.113.9:1234")
	if d.Plan != nil || len(d.PoPs) != len(planPoPs) {
		t.Fatalf("no plan: section, got %s", body)
	}
}

func TestPlanEndpointUnknownNetwork(t *testing.T) {
	f := newPlanFixture(t, 3)
	for _, tc := range []struct{ remote, network string }{
		{"203.0.113.9:1234", "203.0.113.0/24"},
		{"[2001:db8:aa:bbcc:1:2:3:4]:443", "2001:db8:aa:bb00::/56"},
		{"[::ffff:198.51.100.200]:80", "198.51.100.0/24"},
	} {
		d, body := f.getPlan(t, tc.remote)
		if d.Plan == nil {
			t.Fatalf("%s: no plan in %s", tc.remote, body)
		}
		if d.Plan.Network != tc.network {
			t.Errorf("%s: network %q, want %q", tc.remote, d.Plan.Network, tc.network)
		}
		for _, full := range []string{"203.0.113.9", "bbcc", "198.51.100.200"} {
			if strings.Contains(body, full) {
				t.Errorf("the answer holds the full address %s: %s", full, body)
			}
		}
		// nothing known: the budget's worth of never-measured PoPs, soon back
		if len(d.Plan.PoPs) != 3 || d.Plan.NextS != 300 {
			t.Errorf("%s: plan %v next %d, want 3 PoPs and 300 s", tc.remote, d.Plan.PoPs, d.Plan.NextS)
		}
		if len(d.PoPs) != len(planPoPs) {
			t.Errorf("the PoP list is cut: %s", body)
		}
	}
}

// Two networks with different knowledge get different plans: the one with
// a clear winner a smaller plan and a longer back-off; both time the PoP
// nobody measured yet.
func TestPlanEndpointPerNetwork(t *testing.T) {
	f := newPlanFixture(t, 4)
	const settled, unsure = "203.0.113.7:1000", "198.51.100.7:1000"
	for i := range 30 {
		jit := float64(i%5) * 0.2
		f.postRound(t, settled, map[string]float64{"ams": 12 + jit, "fra": 40 + jit, "lhr": 55 + jit, "par": 70 + jit})
	}
	for i := range 3 {
		jit := float64(i) * 0.5
		f.postRound(t, unsure, map[string]float64{"ams": 30 + jit, "fra": 31 + jit, "lhr": 32 + jit, "par": 90 + jit})
	}
	if err := f.srv.refreshPlan(); err != nil {
		t.Fatal(err)
	}
	if n := f.srv.plan.know.Load().Networks(); n != 2 {
		t.Fatalf("knowledge of %d networks, want 2", n)
	}
	c, _ := f.getPlan(t, "203.0.113.200:1")
	u, _ := f.getPlan(t, "198.51.100.1:1")
	if !slices.Contains(c.Plan.PoPs, "waw") || !slices.Contains(u.Plan.PoPs, "waw") {
		t.Errorf("the new PoP waw is not planned: clear %v, uncertain %v", c.Plan.PoPs, u.Plan.PoPs)
	}
	if len(c.Plan.PoPs) >= len(u.Plan.PoPs) {
		t.Errorf("clear network plans %v, uncertain %v: want the clear one smaller", c.Plan.PoPs, u.Plan.PoPs)
	}
	if slices.Contains(u.Plan.PoPs, "par") || !slices.Contains(u.Plan.PoPs, "ams") || !slices.Contains(u.Plan.PoPs, "fra") {
		t.Errorf("uncertain network plans %v: want the close contenders, not par", u.Plan.PoPs)
	}

	// once waw is measured and loses clearly, the clear network backs off
	for range 30 {
		f.postRound(t, settled, map[string]float64{"waw": 80})
	}
	if err := f.srv.refreshPlan(); err != nil {
		t.Fatal(err)
	}
	c2, _ := f.getPlan(t, "203.0.113.200:1")
	if len(c2.Plan.PoPs) != 1 || c2.Plan.NextS <= c.Plan.NextS {
		t.Errorf("settled network: plan %v next %d s, want one PoP and a back-off longer than %d s", c2.Plan.PoPs, c2.Plan.NextS, c.Plan.NextS)
	}
}

// The plan is advice: a client that ignores it (times every PoP, or
// others than planned) is accepted.
func TestPlanIgnoredBeaconAccepted(t *testing.T) {
	f := newPlanFixture(t, 1)
	const remote = "203.0.113.7:1000"
	d, _ := f.getPlan(t, remote)
	if len(d.Plan.PoPs) != 1 {
		t.Fatalf("plan %v, want 1 PoP", d.Plan.PoPs)
	}
	all := map[string]float64{}
	for i, p := range planPoPs {
		all[p.Label] = 10 + float64(i)
	}
	f.postRound(t, remote, all)                          // every PoP, past the budget
	f.postRound(t, remote, map[string]float64{"zzz": 5}) // a PoP the collector does not publish
	if n := len(f.samples(t)); n != len(planPoPs)+1 {
		t.Fatalf("%d samples stored, want %d", n, len(planPoPs)+1)
	}
}

func TestPlanConfig(t *testing.T) {
	const pops = "pops: [{label: fra, url: https://fra.example.net/rum/probe}]\n"
	c, err := ParseConfig([]byte(pops + "plan: {max_pops: 2, min_interval: 1m, max_interval: 2h, half_life: 24h, stale_after: 12h, explore: 0.1, refresh: 30s, recent: 24h}\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := measureplan.DefaultPolicy()
	want.MaxPoPs, want.MinInterval, want.MaxInterval, want.HalfLife, want.Explore = 2, time.Minute, 2*time.Hour, 24*time.Hour, 0.1
	want.StaleAfter = 12 * time.Hour
	if c.Plan == nil || c.Plan.Policy != want || c.Plan.Refresh != 30*time.Second || c.Plan.Recent != 24*time.Hour {
		t.Fatalf("plan %+v", c.Plan)
	}
	if c, err := ParseConfig([]byte(pops + "plan: {stale_after: 0, recent: 0}\n")); err != nil || c.Plan.Policy.StaleAfter != 0 || c.Plan.Recent != 0 {
		t.Fatalf("plan: {stale_after: 0, recent: 0} = %+v, %v; want both off", c.Plan, err)
	}
	if c, err := ParseConfig([]byte(pops + "plan: {}\n")); err != nil || c.Plan.Policy != measureplan.DefaultPolicy() {
		t.Fatalf("plan: {} = %+v, %v; want the defaults", c.Plan, err)
	}
	if c, err := ParseConfig([]byte(pops)); err != nil || c.Plan != nil {
		t.Fatalf("no plan: section = %+v, %v", c.Plan, err)
	}
	for _, tc := range []struct{ yaml, want string }{
		{pops + "plan: {max_pops: 0}", "plan.max_pops: 0 out of range"},
		{pops + "plan: {explore: 1.5}", "plan.explore: 1.5 out of range"},
		{pops + "plan: {min_interval: soon}", `plan.min_interval: "soon" is not a duration`},
		{pops + "plan: {min_interval: 2h, max_interval: 1h}", "plan.max_interval: 1h0m0s is under min_interval"},
		{pops + "plan: {refresh: 0s}", "plan.refresh: 0s out of range"},
		{pops + "plan: {stale_after: 1s}", "plan.stale_after: 1s out of range"},
		{pops + "plan: {recent: later}", `plan.recent: "later" is not a duration`},
		{pops + "plan: {budget: 3}", "field budget not found"},
		{"plan: {}", "plan: needs pops"},
	} {
		_, err := ParseConfig([]byte(tc.yaml))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.yaml, err, tc.want)
		}
	}
}

func BenchmarkServePlan(b *testing.B) {
	cfg := Defaults()
	cfg.PoPs = planPoPs
	cfg.Plan = DefaultPlan()
	s := &Server{cfg: cfg, now: time.Now}
	s.pops, _ = json.Marshal(map[string]any{"pops": planPoPs})
	s.plan = &planner{pol: cfg.Plan.Policy}
	s.plan.know.Store(measureplan.NewKnowledge([]string{"ams", "fra", "lhr", "par", "waw"}))
	network := clientNetwork(netip.MustParseAddr("203.0.113.9"))
	buf := planPool.Get().(*planBuf)
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		buf.body = s.appendPlan(buf, network, now)
	}
}

// The contract with the agents: what /rum/plan.json serves, the probe
// agent parses (probe.ParsePoPList) and follows within the budget, and an
// old agent (probe.ParseTargets) reads as the full PoP list.
func TestPlanContractWithProbe(t *testing.T) {
	f := newPlanFixture(t, 2)
	w := f.do(t, req{method: http.MethodGet, path: PlanPath, remote: "203.0.113.9:1"})
	ts, p, err := probe.ParsePoPList(w.Body.Bytes())
	if err != nil || p == nil {
		t.Fatalf("ParsePoPList(%s): %v, %v", w.Body, p, err)
	}
	if len(ts) != len(planPoPs) || p.Network != "203.0.113.0/24" || p.Next != 5*time.Minute {
		t.Errorf("targets %v, plan %+v", ts, p)
	}
	if got := probe.FollowPlan(ts, p); len(got) != 2 {
		t.Errorf("following the plan measures %v, want 2 PoPs", got)
	}
	if old, err := probe.ParseTargets(w.Body.Bytes()); err != nil || len(old) != len(planPoPs) {
		t.Errorf("an old agent reads %v, %v", old, err)
	}
}

// failingReader is a store whose reads fail (a store that went away).
type failingReader struct{ store.Reader }

func (failingReader) Aggregate(context.Context, store.Clean, float64) (*store.Aggregate, error) {
	return nil, errors.New("store: disk I/O error")
}

// TestFaultPlanRefreshFails: when the store cannot be read, the refresh
// fails loudly (an error, logged by the loop) and /rum/plan.json keeps
// serving the plans of the knowledge it had.
func TestFaultPlanRefreshFails(t *testing.T) {
	f := newPlanFixture(t, 4)
	const remote = "203.0.113.7:1000"
	for range 30 {
		f.postRound(t, remote, map[string]float64{"ams": 12, "fra": 40, "lhr": 55, "par": 70, "waw": 90})
	}
	if err := f.srv.refreshPlan(); err != nil {
		t.Fatal(err)
	}
	before, _ := f.getPlan(t, remote)
	f.srv.plan.refreshMu.Lock() // the refresh loop reads st under it
	f.srv.plan.st = failingReader{}
	f.srv.plan.refreshMu.Unlock()
	if err := f.srv.refreshPlan(); err == nil || !strings.Contains(err.Error(), "disk I/O error") {
		t.Fatalf("refresh over a failing store: %v", err)
	}
	after, _ := f.getPlan(t, remote)
	if n := f.srv.plan.know.Load().Networks(); n != 1 || !slices.Equal(before.Plan.PoPs, after.Plan.PoPs) || after.Plan.NextS != before.Plan.NextS {
		t.Fatalf("after a failed refresh: %d networks known, plan %+v; before %+v", n, after.Plan, before.Plan)
	}
	if len(after.Plan.PoPs) != 1 || after.Plan.NextS != 6*3600 {
		t.Errorf("settled network: plan %+v, want one PoP after 6h", after.Plan)
	}
}
