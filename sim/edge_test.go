package sim

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/rum"
)

// TestEdgeLog reads the test world's edge access log back with the edge's
// own parser and checks it against the truth: every line carries TCP_INFO
// for a network of the world at the PoP DNS steers it to (the geo answer
// for its resolver, or for itself with ECS, else anycast), with RTTs no
// faster than the true minimum, dated in the window; networks without
// beacons have lines; the volume follows traffic and stays bounded.
func TestEdgeLog(t *testing.T) {
	dir, w, rep := testWorld(t)
	_, truth := readTruthMap(t, dir)
	geo, err := geoip.Open(filepath.Join(dir, FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = geo.Close() }()
	e := newEmitter(w, geo, &Counts{})
	res := map[netip.Addr]*Resolver{}
	for i := range w.Resolvers {
		res[w.Resolvers[i].Addr] = &w.Resolvers[i]
	}
	idx := map[string]int{}
	for i, p := range w.PoPs {
		idx[string(p.Label)] = i
	}
	f, err := os.Open(filepath.Join(dir, FileEdge))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	start, end := w.Opt.Start, w.Opt.Start.Add(w.Opt.Duration)
	perNet := map[netip.Prefix]int{}
	lines := 0
	rd := rum.NewReader(f)
	for line, ok := rd.Next(); ok; line, ok = rd.Next() {
		lines++
		r, err := accesslog.ParseLine(line)
		if err != nil {
			t.Fatalf("line %d: %v", lines, err)
		}
		tr, ok := truth[r.ClientNet]
		if !ok || !r.HasTCP {
			t.Fatalf("line %d: client_net %v in the truth %v, TCP_INFO %v", lines, r.ClientNet, ok, r.HasTCP)
		}
		perNet[r.ClientNet]++
		src := tr.Resolver
		if tr.ResolverECS {
			src = tr.Network.Addr()
		}
		want := e.geoPoP(src)
		if want < 0 {
			want = tr.Anycast
		}
		p, ok := idx[r.PoP]
		if !ok || p != want {
			t.Fatalf("line %d: %v served by %q, DNS steers it to %s", lines, r.ClientNet, r.PoP, w.PoPs[want].Label)
		}
		if r.Time.Before(start) || !r.Time.Before(end) {
			t.Errorf("line %d: ts %v outside [%v, %v)", lines, r.Time, start, end)
		}
		// the truth file rounds base to 0.1 ms
		if base := time.Duration((float64(tr.Base[p]) - 0.06) * float64(time.Millisecond)); r.MinRTT < base || r.RTT < r.MinRTT {
			t.Fatalf("line %d: rtt %v, min %v; true minimum %v", lines, r.RTT, r.MinRTT, base)
		}
		if r.RTT%time.Microsecond != 0 || r.RTTVar <= 0 {
			t.Errorf("line %d: rtt %v rttvar %v: not whole positive µs", lines, r.RTT, r.RTTVar)
		}
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	c := rep.Counts
	if lines == 0 || lines != c.EdgeLines || len(perNet) != c.EdgeNetworks {
		t.Fatalf("%d lines from %d networks; counts say %d from %d", lines, len(perNet), c.EdgeLines, c.EdgeNetworks)
	}
	// mean about EdgeRequests a network, at most the cap, and networks
	// without beacons among them
	mean := float64(lines) / float64(c.Networks)
	if mean < 0.6*w.Opt.EdgeRequests || mean > 1.4*w.Opt.EdgeRequests {
		t.Errorf("%.2f lines a network, want about %v", mean, w.Opt.EdgeRequests)
	}
	unmeasured := 0
	var wIn, wAll float64
	for n, tr := range truth {
		k := perNet[n]
		if k > edgeCap*int(w.Opt.EdgeRequests+0.999) {
			t.Errorf("%v: %d lines, above the cap", n, k)
		}
		if k > 0 && !tr.Measured {
			unmeasured++
		}
		wAll += tr.Weight
		if k > 0 {
			wIn += tr.Weight
		}
	}
	if unmeasured == 0 || unmeasured != c.EdgeUnmeasured {
		t.Errorf("%d networks without beacons have edge lines; counts say %d", unmeasured, c.EdgeUnmeasured)
	}
	// volume follows traffic: the networks with lines carry more of it
	// than their number
	if share, nshare := wIn/wAll, float64(len(perNet))/float64(len(truth)); share < nshare+0.1 {
		t.Errorf("networks with edge lines: %.2f of traffic, %.2f of networks", share, nshare)
	}
}

// TestEdgeLogOff: --edge-requests 0 writes an empty log and leaves every
// other file as it was (the edge log draws from streams of its own).
func TestEdgeLogOff(t *testing.T) {
	dir, _, _ := testWorld(t)
	o := smallOptions()
	o.EdgeRequests = 0
	w, err := Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	dir2 := t.TempDir()
	rep, err := Generate(w, dir2, nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(dir2, FileEdge)); err != nil || len(b) != 0 || rep.Counts.EdgeLines != 0 {
		t.Fatalf("edge log with --edge-requests 0: %d bytes, %d lines, %v", len(b), rep.Counts.EdgeLines, err)
	}
	for _, name := range []string{FileBeacons, FileDNSLog, FileTruth} {
		a, _ := os.ReadFile(filepath.Join(dir, name))
		b, err := os.ReadFile(filepath.Join(dir2, name))
		if err != nil || string(a) != string(b) {
			t.Errorf("%s changed with the edge log off (%v)", name, err)
		}
	}
}
