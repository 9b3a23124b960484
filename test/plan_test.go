package test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/probe"
)

// TestPlanEndToEnd runs a collector process with a plan: section and the
// probe agent against it, over five real HTTPS probe endpoints on
// loopback: every round follows the plan for the agent's network
// (127.0.0.0/24), never times more PoPs than max_pops, and as the
// collector learns, the plans move on until every PoP has been measured.
// An agent that ignores the plan is accepted all along.
func TestPlanEndToEnd(t *testing.T) {
	labels := []string{"ams", "fra", "lhr", "par", "waw"}
	var pops strings.Builder
	var client *http.Client
	for _, l := range labels {
		srv := httptest.NewTLSServer(probe.Handler(l))
		t.Cleanup(srv.Close)
		client = srv.Client() // every httptest TLS server has the same certificate
		pops.WriteString("  - {label: " + l + ", url: " + srv.URL + probe.Path + "}\n")
	}
	yaml := "listen: 127.0.0.1:0\ntokens: [" + collectorToken + "]\nrate: 0\npops:\n" + pops.String() +
		"plan: {max_pops: 2, min_interval: 1s, max_interval: 2s, explore: 0, refresh: 1s}\n"
	c := startCollectorYAML(t, t.TempDir(), yaml)
	base := "http://" + c.addr
	cfg := probe.Config{TargetsURL: base + collector.PlanPath, Collector: base + "/beacon", Token: collectorToken, HTTPClient: client}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	measured := map[string]bool{}
	rounds := 0
	round := func(cfg probe.Config) *probe.Round {
		t.Helper()
		r, err := probe.MeasureRound(ctx, cfg)
		if err != nil {
			t.Fatalf("round %d: %v", rounds, err)
		}
		if err := probe.Post(ctx, cfg, r.Beacon); err != nil {
			t.Fatalf("round %d: posting: %v", rounds, err)
		}
		rounds++
		return r
	}
	var last time.Time
	eventually(t, 20*time.Second, "every PoP measured by following the plans", func() bool {
		// a round every 250 ms: the collector's knowledge changes at most
		// once a second (loader and refresh), no use asking more often
		if time.Since(last) < 250*time.Millisecond {
			return false
		}
		last = time.Now()
		r := round(cfg)
		if r.Plan == nil || r.Plan.Network != "127.0.0.0/24" {
			t.Fatalf("round %d: plan %+v, want one for 127.0.0.0/24", rounds, r.Plan)
		}
		if n := len(r.Beacon.Samples); n > 2 || n != len(r.Plan.PoPs) {
			t.Fatalf("round %d: %d samples, plan %v (max_pops 2)", rounds, n, r.Plan.PoPs)
		}
		for _, s := range r.Beacon.Samples {
			if !slices.Contains(r.Plan.PoPs, s.Target) {
				t.Fatalf("round %d: sample for %s, not in the plan %v", rounds, s.Target, r.Plan.PoPs)
			}
			measured[s.Target] = true
		}
		if r.Plan.Next < time.Second || r.Plan.Next > 2*time.Second {
			t.Fatalf("round %d: next %v outside [1s, 2s]", rounds, r.Plan.Next)
		}
		return len(measured) == len(labels)
	})
	t.Logf("%d rounds to measure all %d PoPs, 2 at a time", rounds, len(labels))

	// an old agent: every PoP, whatever the plan
	old := cfg
	old.IgnorePlan = true
	if r := round(old); len(r.Beacon.Samples) != len(labels) {
		t.Fatalf("an agent ignoring the plan measured %d PoPs, want %d", len(r.Beacon.Samples), len(labels))
	}
	c.stop(t, syscall.SIGTERM)
}
