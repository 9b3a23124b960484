package sim

import (
	"bytes"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steer-gslb/steer/edge/accesslog"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
)

// A timed world shared by the tests: 4 days, clean data (no noise, so
// every beacon's time is the true one), one event of each kind.
var (
	timedOnce sync.Once
	timedDir  string
	timedW    *World
	timedEv   timedEvents
	timedErr  error
)

// timedEvents is what the shared timed world's events touch.
type timedEvents struct {
	lostISP             int // ISP index that loses peering with lostPoP on day 2
	lostPoP             int
	openPoP             int // opens on day 1
	degPoP              int // +30 ms from day 3
	rerouteISP          int // rerouted via Sydney on day 3
	lostDay, degDay     int
	openDay, rerouteDay int
}

func timedOptions() Options {
	o := DefaultOptions()
	o.Networks = 3000
	o.Seed = 11
	o.Days = 4
	o.BeaconsPerDay = 6000
	o.Noise = Noise{}
	return o
}

// planTimed picks the events from a plan of the world without them: the
// ISP with most networks and a PoP it peers with; another ISP of another
// country to reroute; waw opens, lhr degrades.
func planTimed() (Options, timedEvents, error) {
	o := timedOptions()
	w, err := Plan(o)
	if err != nil {
		return o, timedEvents{}, err
	}
	te := timedEvents{lostISP: -1, rerouteISP: -1, lostDay: 2, openDay: 1, degDay: 3, rerouteDay: 3}
	for i, isp := range w.ISPs {
		if isp.peers != 0 && (te.lostISP < 0 || isp.Networks > w.ISPs[te.lostISP].Networks) {
			te.lostISP = i
		}
	}
	lost := &w.ISPs[te.lostISP]
	for p := range w.PoPs {
		if lost.peers&(1<<p) != 0 {
			te.lostPoP = p
			break
		}
	}
	for i, isp := range w.ISPs {
		if isp.Networks > 20 && isp.Country != lost.Country && isp.Country != "AU" && (te.rerouteISP < 0 || isp.Networks > w.ISPs[te.rerouteISP].Networks) {
			te.rerouteISP = i
		}
	}
	for p, pop := range w.PoPs {
		switch pop.Label {
		case "waw":
			te.openPoP = p
		case "lhr":
			te.degPoP = p
		}
	}
	o.Events = []Event{
		{Day: te.lostDay, Kind: PeeringLost, ASN: lost.ASN, PoP: w.PoPs[te.lostPoP].Label},
		{Day: te.openDay, Kind: PoPOpen, PoP: "waw"},
		{Day: te.degDay, Kind: PoPDegraded, PoP: "lhr", Ms: 30},
		{Day: te.rerouteDay, Kind: Reroute, ASN: w.ISPs[te.rerouteISP].ASN, Hub: "Sydney"},
	}
	return o, te, nil
}

func timedWorld(t *testing.T) (string, *World, timedEvents) {
	t.Helper()
	timedOnce.Do(func() {
		var o Options
		o, timedEv, timedErr = planTimed()
		if timedErr != nil {
			return
		}
		if timedDir, timedErr = os.MkdirTemp("", "steer-sim-timed-"); timedErr != nil {
			return
		}
		if timedW, timedErr = Plan(o); timedErr != nil {
			return
		}
		_, timedErr = Generate(timedW, timedDir, nil)
	})
	if timedErr != nil {
		t.Fatal(timedErr)
	}
	return timedDir, timedW, timedEv // TestMain removes timedDir
}

// readTruthFile loads one truth file by network.
func readTruthFile(t *testing.T, path string) (*TruthHeader, map[netip.Prefix]TruthRecord) {
	t.Helper()
	m := map[netip.Prefix]TruthRecord{}
	h, err := ReadTruth(path, func(_ *TruthHeader, r *TruthRecord) error {
		c := *r
		c.Base, c.Jitter = slices.Clone(r.Base), slices.Clone(r.Jitter)
		m[c.Network] = c
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return h, m
}

// ispNetworks is the set of networks planned for ISP ii.
func ispNetworks(w *World, ii int) map[netip.Prefix]bool {
	s := map[netip.Prefix]bool{}
	for _, b := range w.Blocks {
		if b.ISP != ii {
			continue
		}
		u := b.Start
		for _, pt := range b.Parts {
			for range pt.N {
				s[unitPrefix(b.Prefix, u)] = true
				u++
			}
		}
	}
	return s
}

type beaconRec struct {
	net     netip.Prefix
	at      time.Time // first sample
	targets []string
}

func readBeacons(t *testing.T, dir string) []beaconRec {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, FileBeacons))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = f.Close() }()
	rd := rum.NewReader(f)
	var b rum.Beacon
	var out []beaconRec
	for line, ok := rd.Next(); ok; line, ok = rd.Next() {
		if _, err := rum.ParseBeacon(line, rum.Bulk, &b); err != nil {
			t.Fatalf("line %d: %v", rd.Line(), err)
		}
		r := beaconRec{net: b.ClientSubnet, at: b.Samples[0].TS}
		for _, s := range b.Samples {
			r.targets = append(r.targets, s.Target, s.ServedBy)
		}
		out = append(out, r)
	}
	if err := rd.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestTimedPeriodsAndTruthAt(t *testing.T) {
	dir, w, _ := timedWorld(t)
	ps, err := Periods(dir)
	if err != nil {
		t.Fatal(err)
	}
	var days []int
	for _, p := range ps {
		days = append(days, p.Day)
		if want := w.Opt.Start.Add(time.Duration(p.Day) * 24 * time.Hour); !p.From.Equal(want) {
			t.Errorf("period day %d from %v, want %v", p.Day, p.From, want)
		}
	}
	if !slices.Equal(days, []int{0, 1, 2, 3}) {
		t.Fatalf("periods start on days %v, want 0 1 2 3", days)
	}
	if len(ps[3].Events) != 2 || len(ps[0].Events) != 0 {
		t.Errorf("events per period: %+v", ps)
	}
	start := w.Opt.Start
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{start, "truth-d00.tsv.gz"},
		{start.Add(23 * time.Hour), "truth-d00.tsv.gz"},
		{start.Add(24 * time.Hour), "truth-d01.tsv.gz"},
		{start.Add(60 * time.Hour), "truth-d02.tsv.gz"},
		{start.Add(30 * 24 * time.Hour), "truth-d03.tsv.gz"},
	} {
		got, err := TruthAt(dir, tc.at)
		if err != nil || got != filepath.Join(dir, tc.want) {
			t.Errorf("TruthAt(%v) = %q, %v; want %s", tc.at, got, err, tc.want)
		}
	}
	if _, err := TruthAt(dir, start.Add(-time.Second)); err == nil || !strings.Contains(err.Error(), "before the world's start") {
		t.Errorf("TruthAt before the start: %v", err)
	}
	// truth.tsv.gz is the truth at the end
	last, err1 := os.ReadFile(filepath.Join(dir, "truth-d03.tsv.gz"))
	end, err2 := os.ReadFile(filepath.Join(dir, FileTruth))
	if err1 != nil || err2 != nil || !bytes.Equal(last, end) {
		t.Errorf("truth.tsv.gz is not the last period's truth (%v, %v)", err1, err2)
	}
	// a static world has one truth at all times
	sdir, _, _ := testWorld(t)
	if got, err := TruthAt(sdir, time.Unix(0, 0)); err != nil || got != filepath.Join(sdir, FileTruth) {
		t.Errorf("static TruthAt = %q, %v", got, err)
	}
	if ps, err := Periods(sdir); err != nil || ps != nil {
		t.Errorf("static Periods = %v, %v", ps, err)
	}
}

// TestTimedArrivalsFollowTraffic: the beacon budget is met, heavier
// networks send proportionally more (beacons per unit of weight agree
// across weight quartiles), and unmeasured networks send none.
func TestTimedArrivalsFollowTraffic(t *testing.T) {
	dir, w, _ := timedWorld(t)
	_, truth := readTruthFile(t, filepath.Join(dir, FileTruth))
	bs := readBeacons(t, dir)
	// the budget holds on average over worlds; in one small world the
	// measured networks' realized weight (a heavy-tailed draw) moves it
	want := float64(w.Opt.BeaconsPerDay * w.Opt.Days)
	if got := float64(len(bs)); math.Abs(got-want) > 0.15*want {
		t.Errorf("%v beacons, budget %v", got, want)
	}
	count := map[netip.Prefix]int{}
	for _, b := range bs {
		count[b.net]++
		if tr, ok := truth[b.net]; !ok || !tr.Measured {
			t.Fatalf("beacon from %v, not a measured network", b.net)
		}
	}
	type nw struct {
		w float64
		n int
	}
	var ms []nw
	for p, tr := range truth {
		if tr.Measured {
			ms = append(ms, nw{tr.Weight, count[p]})
		}
	}
	slices.SortFunc(ms, func(a, b nw) int {
		if a.w < b.w {
			return -1
		}
		if a.w > b.w {
			return 1
		}
		return 0
	})
	var rates []float64
	var means []float64
	q := len(ms) / 4
	for k := range 4 {
		var sw float64
		var sn int
		for _, x := range ms[k*q : (k+1)*q] {
			sw += x.w
			sn += x.n
		}
		rates = append(rates, float64(sn)/sw)
		means = append(means, float64(sn)/float64(q))
	}
	t.Logf("beacons per network by weight quartile %.1f; per unit weight %.3g", means, rates)
	for k := 1; k < 4; k++ {
		if means[k] <= means[k-1] {
			t.Errorf("quartile %d sends %.1f beacons per network, not more than quartile %d's %.1f", k+1, means[k], k, means[k-1])
		}
		// beacons ∝ weight: the rate per unit weight is the same; the
		// truth marks measured only networks that sent a beacon, which
		// lifts the lightest quartile's rate a little (+15 % here)
		if r := rates[k] / rates[3]; r < 0.75 || r > 1.25 {
			t.Errorf("quartile %d: %.4f beacons per unit weight, the heaviest %.4f", k+1, rates[k], rates[3])
		}
	}
}

// TestTimedDiurnal: more beacons arrive in the local evening (16–24 h,
// around the 20:00 peak) than in the local morning (4–12 h): the model's
// ratio is about 3.
func TestTimedDiurnal(t *testing.T) {
	dir, _, _ := timedWorld(t)
	_, truth := readTruthFile(t, filepath.Join(dir, FileTruth))
	var day, night int
	for _, b := range readBeacons(t, dir) {
		h := math.Mod(float64(b.at.UnixMilli())/3.6e6+truth[b.net].Lon/15, 24)
		if h < 0 {
			h += 24
		}
		switch {
		case h >= 16:
			day++
		case h >= 4 && h < 12:
			night++
		}
	}
	r := float64(day) / float64(night)
	t.Logf("local 16-24 h: %d beacons, 4-12 h: %d, ratio %.2f", day, night, r)
	if r < 2.4 || r > 3.6 {
		t.Errorf("evening/morning ratio %.2f, want about 3 (2.4-3.6)", r)
	}
}

// TestTimedEvents: each event changes the truth from its day on, and only
// for what it concerns.
func TestTimedEvents(t *testing.T) {
	dir, w, te := timedWorld(t)
	var hs []*TruthHeader
	var ts []map[netip.Prefix]TruthRecord
	for d := range 4 {
		h, m := readTruthFile(t, filepath.Join(dir, fmt.Sprintf("truth-d%02d.tsv.gz", d)))
		hs, ts = append(hs, h), append(ts, m)
	}
	lost, rer := ispNetworks(w, te.lostISP), ispNetworks(w, te.rerouteISP)
	same := func(a, b TruthRecord, skip int) bool {
		for p := range a.Base {
			if p != skip && (a.Base[p] != b.Base[p] || a.Jitter[p] != b.Jitter[p]) {
				return false
			}
		}
		return a.Anycast == b.Anycast && a.Geo == b.Geo && a.Measured == b.Measured && a.Weight == b.Weight
	}

	// day 0 → 1: waw opens; nothing else changes but what it wins
	if !slices.Equal(hs[0].Closed, []popmap.Label{"waw"}) || len(hs[1].Closed) != 0 {
		t.Errorf("closed PoPs: day 0 %v, day 1 %v", hs[0].Closed, hs[1].Closed)
	}
	wins := 0
	for p, a := range ts[0] {
		b := ts[1][p]
		if a.Base[te.openPoP] != ClosedRTT || a.Jitter[te.openPoP] != 0 || a.Anycast == te.openPoP || a.Geo == te.openPoP {
			t.Fatalf("%v before waw opens: %v/%v, anycast %d, geo %d", p, a.Base[te.openPoP], a.Jitter[te.openPoP], a.Anycast, a.Geo)
		}
		if b.Base[te.openPoP] >= ClosedRTT {
			t.Fatalf("%v: waw still closed on day 1", p)
		}
		if b.Best(0.5) == te.openPoP {
			wins++
		}
		for q := range a.Base {
			if q != te.openPoP && (a.Base[q] != b.Base[q] || a.Jitter[q] != b.Jitter[q]) {
				t.Fatalf("%v: PoP %d changed when waw opened", p, q)
			}
		}
	}
	if wins == 0 {
		t.Error("waw is the best PoP of no network once open")
	}

	// day 1 → 2: the ISP loses peering with lostPoP: its networks' RTT to
	// it rises, every other network and PoP is unchanged
	rose := 0
	for p, a := range ts[1] {
		b := ts[2][p]
		if !lost[p] {
			if !same(a, b, -1) {
				t.Fatalf("%v (not the ISP's) changed on peering-lost:\n%+v\n%+v", p, a, b)
			}
			continue
		}
		if b.Base[te.lostPoP] <= a.Base[te.lostPoP] {
			t.Errorf("%v: RTT to %s %v → %v, did not rise on peering-lost", p, w.PoPs[te.lostPoP].Label, a.Base[te.lostPoP], b.Base[te.lostPoP])
		}
		rose++
		for q := range a.Base {
			if q != te.lostPoP && a.Base[q] != b.Base[q] {
				t.Fatalf("%v: RTT to PoP %d changed on peering-lost with %d", p, q, te.lostPoP)
			}
		}
	}
	if rose != len(lost) || rose == 0 {
		t.Errorf("%d of the ISP's %d networks saw peering-lost", rose, len(lost))
	}

	// day 2 → 3: lhr +30 ms for everyone; the rerouted ISP's transit
	// paths change, nobody else's
	changed := 0
	for p, a := range ts[2] {
		b := ts[3][p]
		if d := b.Base[te.degPoP] - a.Base[te.degPoP]; !rer[p] && math.Abs(float64(d)-30) > 0.11 {
			t.Fatalf("%v: lhr %v → %v on +30 ms", p, a.Base[te.degPoP], b.Base[te.degPoP])
		}
		if rer[p] {
			if !same(a, b, te.degPoP) {
				changed++
			}
			continue
		}
		if !same(a, b, te.degPoP) {
			t.Fatalf("%v (not rerouted) changed on day 3:\n%+v\n%+v", p, a, b)
		}
	}
	if changed == 0 {
		t.Errorf("none of the rerouted ISP's %d networks changed", len(rer))
	}
	t.Logf("waw best for %d networks; peering-lost raised %d networks; reroute changed %d of %d", wins, rose, changed, len(rer))
}

// TestTimedNewPoPUnseenBeforeOpening: no beacon sample, DNS answer or edge
// request touches a PoP before it opens; afterwards beacons time it.
func TestTimedNewPoPUnseenBeforeOpening(t *testing.T) {
	dir, w, te := timedWorld(t)
	opens := w.Opt.Start.Add(time.Duration(te.openDay) * 24 * time.Hour)
	label := string(w.PoPs[te.openPoP].Label)
	after := 0
	for _, b := range readBeacons(t, dir) {
		if slices.Contains(b.targets, label) {
			if b.at.Before(opens) {
				t.Fatalf("beacon from %v at %v times %s, which opens at %v", b.net, b.at, label, opens)
			}
			after++
		}
	}
	if after == 0 {
		t.Errorf("no beacon times %s after it opens", label)
	}
	dl, err := os.ReadFile(filepath.Join(dir, FileDNSLog))
	if err != nil {
		t.Fatal(err)
	}
	for line := range bytes.Lines(dl) {
		var le rum.LogEntry
		if err := rum.ParseLogEntry(bytes.TrimSpace(line), &le); err != nil {
			t.Fatal(err)
		}
		if le.PoP == label && le.TS.Before(opens) {
			t.Fatalf("DNS answer %s at %v before it opens", label, le.TS)
		}
	}
	el, err := os.ReadFile(filepath.Join(dir, FileEdge))
	if err != nil {
		t.Fatal(err)
	}
	served := 0
	for line := range bytes.Lines(el) {
		r, err := accesslog.ParseLine(bytes.TrimSpace(line))
		if err != nil {
			t.Fatal(err)
		}
		if r.PoP == label {
			if r.Time.Before(opens) {
				t.Fatalf("edge request at %s at %v before it opens", label, r.Time)
			}
			served++
		}
	}
	t.Logf("%d beacons time %s after it opens, %d edge requests", after, label, served)
}

// TestTimedDeterministic: the same seed and options give byte-identical
// files; the networks and truth do not depend on the beacon budget.
func TestTimedDeterministic(t *testing.T) {
	o := DefaultOptions()
	o.Networks, o.Seed, o.Days, o.BeaconsPerDay = 800, 5, 2, 500
	o.Events = []Event{{Day: 1, Kind: PoPDegraded, PoP: "fra", Ms: 12}}
	gen := func(o Options) string {
		w, err := Plan(o)
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if _, err := Generate(w, dir, nil); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	a, b := gen(o), gen(o)
	ents, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		x, err1 := os.ReadFile(filepath.Join(a, e.Name()))
		y, err2 := os.ReadFile(filepath.Join(b, e.Name()))
		if err1 != nil || err2 != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs (%v, %v)", e.Name(), err1, err2)
		}
	}
	o.BeaconsPerDay = 900
	c := gen(o)
	_, ta := readTruthFile(t, filepath.Join(a, "truth-d00.tsv.gz"))
	_, tc := readTruthFile(t, filepath.Join(c, "truth-d00.tsv.gz"))
	if len(ta) != len(tc) {
		t.Fatalf("%d vs %d networks with another budget", len(ta), len(tc))
	}
	for p, x := range ta {
		y := tc[p]
		if !slices.Equal(x.Base, y.Base) || x.Weight != y.Weight || x.Anycast != y.Anycast {
			t.Fatalf("%v differs with another beacon budget", p)
		}
	}
}

func TestTimedEventErrors(t *testing.T) {
	o, te, err := planTimed()
	if err != nil {
		t.Fatal(err)
	}
	w, err := Plan(timedOptions())
	if err != nil {
		t.Fatal(err)
	}
	lost := w.ISPs[te.lostISP]
	notPeer := -1
	for p := range w.PoPs {
		if lost.peers&(1<<p) == 0 {
			notPeer = p
			break
		}
	}
	for _, tc := range []struct {
		mod  func(*Options)
		want string
	}{
		{func(o *Options) { o.Days = 0 }, "scheduled events need a timed world"},
		{func(o *Options) { o.Events[0].Day = 4 }, "is not within the run (1 to 3)"},
		{func(o *Options) { o.Events[0].Day = 0 }, "is not within the run"},
		{func(o *Options) { o.Events[1].PoP = "zzz" }, `no PoP "zzz" in the world`},
		{func(o *Options) { o.Events[2].Day = 0; o.Events[2].PoP = "waw" }, "waw does not open before day 1"},
		{func(o *Options) { o.Events = append(o.Events, Event{Day: 2, Kind: PoPOpen, PoP: "waw"}) }, "already opens on day 1"},
		{func(o *Options) { o.Events[3].ASN = 4_000_000_000 }, "no ISP AS4000000000 with networks"},
		{func(o *Options) { o.Events[3].Hub = "Atlantis" }, `no measured city "Atlantis"`},
		{func(o *Options) { o.Events[0].PoP = w.PoPs[notPeer].Label }, "does not peer with " + string(w.PoPs[notPeer].Label)},
		{func(o *Options) { o.Events[0].Kind = PeeringAdded }, "already peers with"},
		{func(o *Options) { o.BeaconsPerDay = 0 }, "beacons-per-day: 0 out of range"},
		{func(o *Options) { o.Days = -1 }, "days: -1 out of range"},
		{func(o *Options) {
			o.PoPs = o.PoPs[:1]
			o.Events = []Event{{Day: 1, Kind: PoPOpen, PoP: o.PoPs[0].Label}}
		}, "every PoP opens later"},
	} {
		oo := o
		oo.Events = slices.Clone(o.Events)
		tc.mod(&oo)
		_, err := Plan(oo)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("want an error with %q, got %v", tc.want, err)
		}
	}
}

func TestParseEvent(t *testing.T) {
	for _, tc := range parseEventCases {
		ev, err := ParseEvent(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("ParseEvent(%q) = %v, %v; want an error with %q", tc.in, ev, err, tc.err)
			}
			continue
		}
		if err != nil || ev != tc.want {
			t.Errorf("ParseEvent(%q) = %+v, %v; want %+v", tc.in, ev, err, tc.want)
			continue
		}
		if back, err := ParseEvent(ev.String()); err != nil || back != ev {
			t.Errorf("%q: String %q reads back as %+v, %v", tc.in, ev.String(), back, err)
		}
	}
	evs, err := ReadEvents(strings.NewReader("# a schedule\n\nday=1,kind=pop-open,pop=waw\n  day=2,kind=pop-degraded,pop=lhr,ms=5\n"))
	if err != nil || len(evs) != 2 || evs[1].Ms != 5 {
		t.Errorf("ReadEvents = %+v, %v", evs, err)
	}
	if _, err := ReadEvents(strings.NewReader("day=1,kind=pop-open,pop=waw\nday=2,kind=nope\n")); err == nil || !strings.HasPrefix(err.Error(), "line 2: ") {
		t.Errorf("ReadEvents error does not name line 2: %v", err)
	}
}

var parseEventCases = []struct {
	in   string
	want Event
	err  string
}{
	{in: "day=5,kind=peering-lost,isp=AS3320,pop=fra", want: Event{Day: 5, Kind: PeeringLost, ASN: 3320, PoP: "fra"}},
	{in: " kind=peering-added , pop=ams, isp=3320,day=3 ", want: Event{Day: 3, Kind: PeeringAdded, ASN: 3320, PoP: "ams"}},
	{in: "day=7,kind=reroute,isp=as701,hub=Amsterdam", want: Event{Day: 7, Kind: Reroute, ASN: 701, Hub: "Amsterdam"}},
	{in: "day=2,kind=pop-open,pop=waw", want: Event{Day: 2, Kind: PoPOpen, PoP: "waw"}},
	{in: "day=9,kind=pop-degraded,pop=lhr,ms=25.5", want: Event{Day: 9, Kind: PoPDegraded, PoP: "lhr", Ms: 25.5}},
	{in: "day=9,kind=pop-degraded,pop=lhr,ms=0", want: Event{Day: 9, Kind: PoPDegraded, PoP: "lhr"}},
	{in: "", err: "no day=N"},
	{in: "kind=pop-open,pop=waw", err: "no day=N"},
	{in: "day=x,kind=pop-open,pop=waw", err: `day "x" is not a whole number`},
	{in: "day=-1,kind=pop-open,pop=waw", err: `day "-1" is not a whole number`},
	{in: "day=1,pop=waw", err: "no kind="},
	{in: "day=1,kind=explode,pop=waw", err: `unknown kind "explode"`},
	{in: "day=1,kind=pop-open", err: "pop-open needs pop="},
	{in: "day=1,kind=pop-open,pop=waw,isp=AS1", err: "pop-open does not take isp="},
	{in: "day=1,kind=pop-open,pop=waw,pop=lhr", err: "pop given twice"},
	{in: "day=1,kind=pop-open,pop", err: `"pop" is not key=value`},
	{in: "day=1,kind=pop-open,pop=", err: `"pop=" is not key=value`},
	{in: "day=1,kind=peering-lost,isp=ASx,pop=fra", err: `isp "ASx" is not an AS number`},
	{in: "day=1,kind=peering-lost,isp=0,pop=fra", err: `isp "0" is not an AS number`},
	{in: "day=1,kind=pop-degraded,pop=lhr,ms=-3", err: `ms "-3" is not a number of milliseconds`},
	{in: "day=1,kind=pop-degraded,pop=lhr,ms=NaN", err: `ms "NaN"`},
	{in: "day=1,kind=pop-degraded,pop=lhr,ms=1e9", err: `ms "1e9"`},
}

// FuzzParseEvent: no panic, and every accepted event reads back from its
// compact form unchanged.
func FuzzParseEvent(f *testing.F) {
	for _, tc := range parseEventCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ev, err := ParseEvent(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "event ") {
				t.Fatalf("error does not name the event: %v", err)
			}
			return
		}
		back, err := ParseEvent(ev.String())
		if err != nil || back != ev {
			t.Fatalf("%q: %+v → %q → %+v, %v", s, ev, ev.String(), back, err)
		}
	})
}
