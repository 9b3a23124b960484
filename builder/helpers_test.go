package builder

import (
	"context"
	"maps"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// The two PoPs of the cleaning tests: near is truly better for every
// client network, far is what dirty input makes look better.
const (
	near = "fra"
	far  = "syd"
)

// testRecv is when the test beacons were received.
var testRecv = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// openStore opens an empty store in a fresh temporary directory.
func openStore(t testing.TB) *duckstore.DB {
	t.Helper()
	st, err := duckstore.Open(t.TempDir(), duckstore.Options{Threads: 2, Now: func() time.Time { return testRecv }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// writePyASN writes a pyasn file ("prefix<TAB>asn" lines) and returns its
// path.
func writePyASN(t testing.TB, routes map[string]uint32) string {
	t.Helper()
	var sb strings.Builder
	sb.WriteString("; IP-ASN32-DAT file\n")
	for _, p := range slices.Sorted(maps.Keys(routes)) {
		sb.WriteString(p + "\t" + strconv.FormatUint(uint64(routes[p]), 10) + "\n")
	}
	f := filepath.Join(t.TempDir(), "routes.pyasn")
	if err := os.WriteFile(f, []byte(sb.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// beaconSet accumulates test beacons; every beacon gets its own sample
// times so that no two are identical (the store keeps one of identical
// beacons).
type beaconSet struct {
	bs []store.Beacon
	n  int
}

// smp is a sample for a beacon: a PoP, an RTT, and optionally a probe
// other than HTTPS and a time offset from the beacon's received time.
type smp struct {
	pop   string
	rtt   float64
	probe rum.Probe     // 0: HTTPS
	at    time.Duration // sample time relative to received; 0: a minute before
}

// add appends a beacon of network pfx (received at testRecv) with the given
// timer and DNS test name.
func (s *beaconSet) add(pfx string, timer, dnsTest string, samples ...smp) {
	s.n++
	b := rum.Beacon{V: 1, ClientSubnet: netip.MustParsePrefix(pfx), DNSTest: dnsTest,
		Agent: rum.Agent{Kind: rum.KindDesktop, Platform: "windows", Timer: timer}}
	base := testRecv.Add(-time.Minute).Add(time.Duration(s.n) * time.Second)
	for j, x := range samples {
		ts := base.Add(time.Duration(j) * time.Millisecond)
		if x.at != 0 {
			ts = testRecv.Add(x.at).Add(time.Duration(s.n) * time.Second)
		}
		pr := x.probe
		if pr == 0 {
			pr = rum.ProbeHTTPS
		}
		b.Samples = append(b.Samples, rum.Sample{TS: ts, Target: x.pop, Probe: pr, RTTms: x.rtt})
	}
	s.bs = append(s.bs, store.Beacon{Beacon: b, Received: testRecv, Source: "ingest"})
}

// store writes the beacons into st, failing on any duplicate.
func (s *beaconSet) store(t testing.TB, st *duckstore.DB) {
	t.Helper()
	res, err := st.AddBeacons(context.Background(), s.bs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != len(s.bs) || res.Duplicates != 0 {
		t.Fatalf("stored %d of %d beacons (%d duplicates)", res.Added, len(s.bs), res.Duplicates)
	}
}

// query is a DNS query-log line for a test name from a resolver at a time.
func query(name, resolver string, at time.Duration) rum.LogEntry {
	return rum.LogEntry{TS: testRecv.Add(at), QName: name + ".", QType: "A",
		Resolver: netip.MustParseAddr(resolver), PoP: near, Source: rum.SourceResolver}
}

// holdNone is the hold-out share the tests build with: the smallest
// positive share, which holds out only the beacons whose (id>>7)%10000 is
// 0 (one in 10,000); build checks that the test store has none. It stands
// in for Options.HoldOut = -1, which should hold out nothing but holds out
// 10 % of the beacons (TestBuildHoldOutNone).
const holdNone = math.SmallestNonzeroFloat64

// build builds a map from st with no beacon held out.
func build(t testing.TB, st *duckstore.DB, bgpFiles []string, opt Options) *Result {
	t.Helper()
	ctx := context.Background()
	rows, err := st.Query(ctx, `SELECT id FROM beacons`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uint64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		if IsHeldOut(id, holdNone) {
			t.Fatalf("beacon %d is held out even at the smallest share: change the test's beacons", id)
		}
	}
	if err := rows.Close(); err != nil {
		t.Fatal(err)
	}
	opt.HoldOut = holdNone
	res, err := Build(ctx, Input{Store: st, BGP: bgpFiles, Options: opt})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// ruleCount returns a rule's line of a report.
func ruleCount(t testing.TB, rep *Report, r Rule) RuleCount {
	t.Helper()
	for _, rc := range rep.Rules {
		if rc.Rule == r {
			return rc
		}
	}
	t.Fatalf("report has no line for rule %s", r)
	return RuleCount{}
}

// firstFor is a map's first choice for a client network ("" if none).
func firstFor(tab *popmap.Table, pfx string) popmap.Label {
	ls, _ := tab.LookupPrefix(netip.MustParsePrefix(pfx))
	if len(ls) == 0 {
		return ""
	}
	return ls[0]
}

// firstForResolver is a map's first choice for a resolver address.
func firstForResolver(tab *popmap.Table, addr string) popmap.Label {
	ls, _ := tab.Lookup(netip.MustParseAddr(addr))
	if len(ls) == 0 {
		return ""
	}
	return ls[0]
}
