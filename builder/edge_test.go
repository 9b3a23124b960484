package builder

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/edge/tcpinfo"
	"github.com/steer-gslb/steer/store/duckstore"
)

// edgeStore holds beacons of network A (HTTPS to fra 20 ms, syd 200 ms)
// and an edge access log, ingested: network A served by fra (TCP RTT
// 25 ms, 3 requests) and network B, which sends no beacons, served by syd
// (30 ms, 5 requests).
func edgeStore(t *testing.T) *duckstore.DB {
	t.Helper()
	st := openStore(t)
	var s beaconSet
	for range 3 {
		s.add("10.0.0.0/24", "qpc", "", smp{pop: near, rtt: 20}, smp{pop: far, rtt: 200})
	}
	s.store(t, st)
	var log bytes.Buffer
	line := func(client string, pop string, rtt time.Duration, i int) {
		e := accesslog.Entry{Time: testRecv.Add(-time.Duration(i) * time.Second), PoP: pop, Method: "GET", Path: "/", Status: 200,
			Client: netip.MustParseAddr(client), HasTCP: true, TCP: tcpinfo.Info{RTT: rtt, MinRTT: rtt}}
		log.Write(accesslog.AppendLine(nil, &e))
	}
	for i := range 3 {
		line("10.0.0.9", near, 25*time.Millisecond, i)
	}
	for i := range 5 {
		line("10.0.1.77", far, 30*time.Millisecond, i)
	}
	is, err := duckstore.Import(context.Background(), st, &log, duckstore.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if is.Format != duckstore.FormatEdgeLog || is.Beacons != 8 {
		t.Fatalf("edge import %+v", is)
	}
	return st
}

// cellOf is a network's samples to one PoP: how many, and their quantile
// at the Data's q.
type cellOf struct {
	n int
	v float64
}

// samplesOf returns a network's cells per PoP label.
func samplesOf(d *Data, pfx string) map[string]cellOf {
	for i := range d.Networks {
		n := &d.Networks[i]
		if n.Prefix != netip.MustParsePrefix(pfx) {
			continue
		}
		out := map[string]cellOf{}
		n.PoPCells(d.Quantile, func(p, k int, v float64) { out[string(d.PoPs[p])] = cellOf{k, v} })
		return out
	}
	return nil
}

func TestEdgeRTT(t *testing.T) {
	st := edgeStore(t)
	ctx := context.Background()

	// Off: edge RTTs are not read at all.
	d, err := Load(ctx, st, Options{HoldOut: holdNone}, TrainBeacons, 0.75)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Networks) != 1 || d.Samples != 6 || d.Counts[RuleHTTPSOnly] != 0 {
		t.Fatalf("without EdgeRTT: %d networks, %d samples, counts %v; want network A's 6 beacon samples only", len(d.Networks), d.Samples, d.Counts)
	}

	// On: extra samples for the serving PoP only, of networks that send
	// beacons; network B's edge RTTs alone are dropped (edge-only).
	d, err = Load(ctx, st, Options{HoldOut: holdNone, EdgeRTT: true}, TrainBeacons, 1) // q 1: the largest
	if err != nil {
		t.Fatal(err)
	}
	a := samplesOf(d, "10.0.0.0/24")
	if a[near].n != 6 || a[near].v != 25 || a[far].n != 3 {
		t.Errorf("network A: %v; want fra 3×20 + 3×25 ms, syd 3×200 ms", a)
	}
	if b := samplesOf(d, "10.0.1.0/24"); b != nil {
		t.Errorf("network B (no beacons) kept with its edge RTTs alone: %v", b)
	}
	if len(d.Networks) != 1 || d.Counts[RuleEdgeOnly] != 5 {
		t.Errorf("%d networks, edge-only %d; want network A only, 5 edge RTTs dropped", len(d.Networks), d.Counts[RuleEdgeOnly])
	}
	if d.Counts[RuleHTTPSOnly] != 0 {
		t.Errorf("edge TCP samples dropped by https-only: %v", d.Counts)
	}

	// --skip edge-only: network B is kept with its one PoP.
	d, err = Load(ctx, st, Options{HoldOut: holdNone, EdgeRTT: true, Skip: map[Rule]bool{RuleEdgeOnly: true}}, TrainBeacons, 0.75)
	if err != nil {
		t.Fatal(err)
	}
	if b := samplesOf(d, "10.0.1.0/24"); len(b) != 1 || b[far].n != 5 || b[far].v != 30 {
		t.Errorf("network B with edge-only off: %v; want syd 5×30 ms only", b)
	}

	// Never held out: the evaluator scores beacons only.
	h, err := Load(ctx, st, Options{HoldOut: 0.999, EdgeRTT: true, Skip: map[Rule]bool{RuleEdgeOnly: true}}, HoldoutBeacons, 0.75)
	if err != nil {
		t.Fatal(err)
	}
	if samplesOf(h, "10.0.1.0/24") != nil {
		t.Error("edge RTTs in the held-out split")
	}

	// A build with the flag uses network A's edge RTTs and leaves network
	// B to the fallbacks; with edge-only off it maps B by its one PoP.
	res := build(t, st, nil, Options{EdgeRTT: true})
	if got := firstFor(res.Table, "10.0.1.0/24"); got != "" {
		t.Errorf("network B mapped to %s from edge RTTs alone", got)
	}
	if res.Report.Inputs.Samples != 9 {
		t.Errorf("build used %d samples, want 9", res.Report.Inputs.Samples)
	}
	res = build(t, st, nil, Options{EdgeRTT: true, Skip: map[Rule]bool{RuleEdgeOnly: true}})
	if got := firstFor(res.Table, "10.0.1.0/24"); got != far {
		t.Errorf("network B with edge-only off: mapped to %q, want %s", got, far)
	}
	if res.Report.Inputs.Samples != 14 {
		t.Errorf("build used %d samples, want 14", res.Report.Inputs.Samples)
	}
}
