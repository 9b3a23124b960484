package duckstore

import (
	"context"
	"errors"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

var ctx = context.Background()

func TestOpenCreatesSchemaAndReopens(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "store")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err != nil {
		t.Fatalf("Open did not create %s: %v", DBFile, err)
	}
	var v int
	if err := s.DB().QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != SchemaVersion {
		t.Fatalf("schema_version = %d, %v; want %d", v, err, SchemaVersion)
	}
	var names []string
	rows, err := s.Query(ctx, `SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
		names = append(names, n)
	}
	want := []string{"beacons", "beacons_v", "dict", "queries", "queries_v", "samples", "samples_v", "schema_version"}
	if !slices.Equal(names, want) {
		t.Errorf("tables and views = %v, want %v", names, want)
	}
	if _, err := s.AddBeacons(ctx, genBeacons(1, 10, 3, time.Now())); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Stats(ctx); err == nil {
		t.Error("store.Stats on a closed store succeeded")
	}
	if _, err := s.AddBeacons(ctx, genBeacons(2, 1, 1, time.Now())); !errors.Is(err, errClosed) {
		t.Errorf("AddBeacons on a closed store: %v, want %v", err, errClosed)
	}

	s = openTest(t, dir)
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != 10 || st.Samples != 30 {
		t.Errorf("after reopening: %d beacons, %d samples; want 10, 30", st.Beacons, st.Samples)
	}
	// New labels after reopening continue the ids.
	if _, err := s.AddBeacons(ctx, genBeacons(3, 5, 3, time.Now())); err != nil {
		t.Fatal(err)
	}
	var dupLabels int
	if err := s.DB().QueryRow(`SELECT count(*) - count(DISTINCT value) + count(*) - count(DISTINCT id) FROM dict`).Scan(&dupLabels); err != nil || dupLabels != 0 {
		t.Errorf("dict has %d repeated values or ids (%v)", dupLabels, err)
	}
}

func TestOpenRefusesNewerSchema(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`UPDATE schema_version SET version = 99`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	_, err = Open(dir, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99") {
		t.Fatalf("Open of a version-99 store: %v, want an error naming version 99", err)
	}
}

func TestOpenErrorNamesTheDirectory(t *testing.T) {
	f := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(f, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(f, Options{}); err == nil || !strings.Contains(err.Error(), f) {
		t.Errorf("Open(%s) where a file is: %v, want an error naming it", f, err)
	}
}

// wantRows is what ScanSamples should return for bs.
func wantRows(bs []store.Beacon) []store.SampleRow {
	var out []store.SampleRow
	for i := range bs {
		b := &bs[i]
		id := store.BeaconID(&b.Beacon)
		for _, s := range b.Samples {
			out = append(out, store.SampleRow{BeaconID: id, Network: b.ClientSubnet, Agent: b.Agent, DNSTest: b.DNSTest,
				Received: b.Received.Truncate(time.Microsecond).UTC(), Sample: s})
		}
	}
	return out
}

func scanAll(t *testing.T, s store.Store) []store.SampleRow {
	t.Helper()
	var got []store.SampleRow
	if err := s.ScanSamples(ctx, func(r *store.SampleRow) error {
		got = append(got, *r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

func sameRow(a, b *store.SampleRow) bool {
	return a.BeaconID == b.BeaconID && a.Network == b.Network && a.Agent == b.Agent && a.DNSTest == b.DNSTest &&
		a.Received.Equal(b.Received) && a.TS.Equal(b.TS) && a.Target == b.Target && a.Probe == b.Probe &&
		a.RTTms == b.RTTms && a.ServedBy == b.ServedBy
}

func TestAddBeaconsScanSamples(t *testing.T) {
	s := openTest(t, t.TempDir())
	recv := time.Date(2026, 11, 22, 8, 0, 0, 123456000, time.UTC)
	bs := genBeacons(1, 300, 7, recv)
	// Edge values: a /0, a short IPv6 prefix, microsecond timestamps, a
	// negative and a huge RTT (cleaning's business, stored as given),
	// every probe, years 0001 and 9999.
	bs[0].ClientSubnet = netip.MustParsePrefix("0.0.0.0/0")
	bs[1].ClientSubnet = netip.MustParsePrefix("2001:db8::/32")
	bs[2].Samples[0].TS = time.Date(2026, 11, 21, 10, 0, 0, 999999000, time.UTC)
	bs[2].Samples[1].RTTms = -1.5
	bs[2].Samples[2].RTTms = 1e300
	bs[2].Samples[3].Probe = rum.ProbeHTTP
	bs[3].Samples[0].TS = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	bs[3].Samples[1].TS = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
	bs[4].Agent = rum.Agent{Kind: rum.KindCLI, Platform: "linux"}
	res, err := s.AddBeacons(ctx, bs)
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != len(bs) || res.Duplicates != 0 {
		t.Fatalf("AddBeacons = %+v, want %d added", res, len(bs))
	}
	got, want := scanAll(t, s), wantRows(bs)
	if len(got) != len(want) {
		t.Fatalf("ScanSamples returned %d rows, want %d", len(got), len(want))
	}
	for i := range want {
		if !sameRow(&got[i], &want[i]) {
			t.Fatalf("row %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != 300 || st.Samples != 2100 || st.Queries != 0 {
		t.Errorf("store.Stats = %+v, want 300 beacons, 2100 samples", st)
	}
	if !st.Oldest.Equal(bs[3].Samples[0].TS) || !st.Newest.Equal(bs[3].Samples[1].TS) {
		t.Errorf("store.Stats oldest, newest = %v, %v; want %v, %v", st.Oldest, st.Newest, bs[3].Samples[0].TS, bs[3].Samples[1].TS)
	}
	// The views show the same in text.
	var network, target, probe string
	var servedBy *string
	if err := s.DB().QueryRow(`SELECT network, target, probe, served_by FROM samples_v WHERE beacon_id = CAST(? AS UBIGINT) ORDER BY ts LIMIT 1`,
		idArg(store.BeaconID(&bs[1].Beacon))).Scan(&network, &target, &probe, &servedBy); err != nil {
		t.Fatal(err)
	}
	if p, err := netip.ParsePrefix(network); err != nil || p != bs[1].ClientSubnet || target != bs[1].Samples[0].Target || probe != "https" || servedBy != nil {
		t.Errorf("samples_v = %s %s %s %v, want %s %s https <nil>", network, target, probe, servedBy, bs[1].ClientSubnet, bs[1].Samples[0].Target)
	}
}

func TestSubMicrosecondTimesAreTruncated(t *testing.T) {
	s := openTest(t, t.TempDir())
	bs := genBeacons(1, 1, 1, time.Now())
	bs[0].Samples[0].TS = time.Date(2026, 11, 21, 10, 0, 0, 123456789, time.UTC)
	if _, err := s.AddBeacons(ctx, bs); err != nil {
		t.Fatal(err)
	}
	got := scanAll(t, s)
	if want := bs[0].Samples[0].TS.Truncate(time.Microsecond); len(got) != 1 || !got[0].TS.Equal(want) {
		t.Fatalf("stored ts = %v, want %v", got, want)
	}
	if got[0].BeaconID != store.BeaconID(&bs[0].Beacon) {
		t.Error("the ID is not that of the beacon as delivered")
	}
}

func TestDuplicatesCountedOnce(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bs := genBeacons(1, 50, 4, time.Now())
	if res, err := s.AddBeacons(ctx, bs); err != nil || res.Added != 50 {
		t.Fatalf("first delivery: %+v, %v", res, err)
	}
	// Delivered again, later and by another path: same beacons.
	again := genBeacons(1, 50, 4, time.Now().Add(time.Minute))
	for i := range again {
		again[i].Source = "ingest"
	}
	if res, err := s.AddBeacons(ctx, again); err != nil || res.Added != 0 || res.Duplicates != 50 {
		t.Fatalf("second delivery: %+v, %v; want 50 duplicates", res, err)
	}
	// Twice within one call, with one new beacon.
	fresh := genBeacons(2, 1, 4, time.Now())
	mixed := []store.Beacon{fresh[0], bs[3], fresh[0]}
	if res, err := s.AddBeacons(ctx, mixed); err != nil || res.Added != 1 || res.Duplicates != 2 {
		t.Fatalf("a call with repeats: %+v, %v; want 1 added, 2 duplicates", res, err)
	}
	// A changed beacon is another beacon.
	changed := genBeacons(1, 1, 4, time.Now())
	changed[0].Samples[2].RTTms += 0.001
	if res, err := s.AddBeacons(ctx, changed); err != nil || res.Added != 1 {
		t.Fatalf("a changed beacon: %+v, %v; want it added", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTest(t, dir)
	if res, err := s.AddBeacons(ctx, again); err != nil || res.Added != 0 || res.Duplicates != 50 {
		t.Fatalf("after reopening: %+v, %v; want 50 duplicates", res, err)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != 52 || st.Samples != 52*4 {
		t.Errorf("stored %d beacons, %d samples; want 52, %d", st.Beacons, st.Samples, 52*4)
	}
}

func TestDuplicateWindow(t *testing.T) {
	dir := t.TempDir()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	s, err := Open(dir, Options{Now: clock, DedupWindow: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	old := genBeacons(1, 5, 2, now.Add(-3*time.Hour)) // received before the window
	recent := genBeacons(2, 5, 2, now.Add(-time.Hour))
	for _, bs := range [][]store.Beacon{old, recent} {
		if res, err := s.AddBeacons(ctx, bs); err != nil || res.Added != 5 {
			t.Fatalf("AddBeacons: %+v, %v", res, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{Now: clock, DedupWindow: 2 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	if res, err := s.AddBeacons(ctx, recent); err != nil || res.Duplicates != 5 {
		t.Errorf("a beacon received within the window, again: %+v, %v; want 5 duplicates", res, err)
	}
	if res, err := s.AddBeacons(ctx, old); err != nil || res.Added != 5 {
		t.Errorf("a beacon received before the window, again: %+v, %v; want it stored again", res, err)
	}
	// Stored twice: the rows of each copy stay apart (seq), a scan does
	// not multiply them.
	if got := len(scanAll(t, s)); got != 30 {
		t.Errorf("ScanSamples returned %d rows, want 30", got)
	}
}

func TestRecentIDs(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	us := func(d time.Duration) int64 { return now.Add(d).UnixMicro() }
	r := newRecentIDs(48*time.Hour, 3)
	for i, d := range []time.Duration{-50 * time.Hour, -47 * time.Hour, -2 * time.Hour, -time.Hour, 0} {
		r.add(uint64(i), us(d), now)
	}
	if r.contains(0) {
		t.Error("an ID received 50 h ago is kept with a 48 h window")
	}
	r.expire(now)
	if len(r.m) != 3 || r.contains(1) || !r.contains(2) || !r.contains(4) {
		t.Errorf("after expire with max 3: %v, want IDs 2, 3, 4", r.m)
	}
	r.expire(now.Add(48 * time.Hour))
	if len(r.m) != 1 || !r.contains(4) {
		t.Errorf("48 h later: %v, want ID 4", r.m)
	}
	// A bulk import stamps everything with one time: over max, the
	// newest hour is kept whole.
	for i := range 10 {
		r.insert(uint64(100+i), us(47*time.Hour))
	}
	r.expire(now.Add(48 * time.Hour))
	if len(r.m) != 10 || r.contains(4) {
		t.Errorf("over max in one hour: %d IDs kept (4 kept: %v), want the 10 of the newest hour", len(r.m), r.contains(4))
	}
	if r.insert(105, us(0)) {
		t.Error("insert of a known ID reported it new")
	}
}

func TestAddBeaconsRejectsFineOrMissingSubnets(t *testing.T) {
	cases := []struct {
		name   string
		prefix string // "" for none
		want   string
	}{
		{"ipv4 host", "198.51.100.77/32", "IPv4 /32 is finer than /24"},
		{"ipv4 /25", "198.51.100.128/25", "IPv4 /25 is finer than /24"},
		{"ipv6 /64", "2001:db8:1:2::/64", "IPv6 /64 is finer than /24 (IPv4) or /56"},
		{"ipv6 host", "2001:db8:1:2:3:4:5:6/128", "IPv6 /128"},
		{"host bits", "198.51.100.77/24", "host bits set"},
		{"missing", "", "no client subnet"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := openTest(t, t.TempDir())
			bs := genBeacons(1, 3, 2, time.Now())
			if tc.prefix != "" {
				bs[1].ClientSubnet = netip.MustParsePrefix(tc.prefix)
			} else {
				bs[1].ClientSubnet = netip.Prefix{}
			}
			_, err := s.AddBeacons(ctx, bs)
			if err == nil || !strings.Contains(err.Error(), "beacons[1]") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddBeacons = %v, want an error naming beacons[1] and %q", err, tc.want)
			}
			if tc.prefix != "" {
				addr := netip.MustParsePrefix(tc.prefix).Addr().String()
				if strings.Contains(err.Error(), addr) {
					t.Errorf("the error %q shows the address %s", err, addr)
				}
			}
			if st, err := s.Stats(ctx); err != nil || st.Beacons != 0 || st.Samples != 0 {
				t.Errorf("after the rejected call: %+v, %v; want nothing stored", st, err)
			}
		})
	}
}

func TestAddBeaconsRejectsInvalidSamples(t *testing.T) {
	cases := []struct {
		name string
		mod  func(b *store.Beacon)
		want string
	}{
		{"no samples", func(b *store.Beacon) { b.Samples = nil }, "0 samples"},
		{"no kind", func(b *store.Beacon) { b.Agent.Kind = "" }, "agent.kind"},
		{"no target", func(b *store.Beacon) { b.Samples[1].Target = "" }, "samples[1].target"},
		{"bad probe", func(b *store.Beacon) { b.Samples[0].Probe = 9 }, "samples[0].probe"},
		{"nan", func(b *store.Beacon) { b.Samples[0].RTTms = nan() }, "samples[0].rtt_ms: not finite"},
		{"year 10000", func(b *store.Beacon) { b.Samples[1].TS = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "samples[1].ts"},
	}
	s := openTest(t, t.TempDir())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			bs := genBeacons(1, 2, 2, time.Now())
			tc.mod(&bs[1])
			_, err := s.AddBeacons(ctx, bs)
			if err == nil || !strings.Contains(err.Error(), "beacons[1]: ") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("AddBeacons = %v, want beacons[1]: …%s…", err, tc.want)
			}
		})
	}
	if st, err := s.Stats(ctx); err != nil || st.Beacons != 0 {
		t.Errorf("after rejected calls: %+v, %v; want nothing stored", st, err)
	}
}

func nan() float64 {
	var z float64
	return z / z
}

func genQueries(n int) []rum.LogEntry {
	qs := make([]rum.LogEntry, n)
	for i := range qs {
		q := rum.LogEntry{TS: testStart.Add(time.Duration(i) * time.Second), QName: "q" + itoa(uint64(i)) + ".rum.example.net.",
			QType: "A", Resolver: netip.AddrFrom4([4]byte{192, 0, 2, byte(i)}), PoP: testPoPs[i%len(testPoPs)], Source: rum.SourceECS}
		switch i % 4 {
		case 0:
			q.ECS = netip.PrefixFrom(netip.AddrFrom4([4]byte{203, 0, byte(i), 0}), 24)
		case 1:
			q.ECS = netip.MustParsePrefix("2001:db8:aa00::/40")
			q.QType, q.Resolver = "AAAA", netip.MustParseAddr("2001:db8::53")
		case 2:
			q.Source, q.PoP = rum.SourceDefault, ""
		case 3:
			q.Source = rum.SourceResolver
		}
		qs[i] = q
	}
	return qs
}

func TestAddQueriesScanQueries(t *testing.T) {
	s := openTest(t, t.TempDir())
	qs := genQueries(40)
	qs = append(qs, qs[3]) // duplicates are kept: the builder counts them
	res, err := s.AddQueries(ctx, qs)
	if err != nil || res.Added != len(qs) {
		t.Fatalf("AddQueries = %+v, %v; want %d added", res, err, len(qs))
	}
	var got []rum.LogEntry
	if err := s.ScanQueries(ctx, func(e *rum.LogEntry) error {
		got = append(got, *e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(qs) {
		t.Fatalf("ScanQueries returned %d rows, want %d", len(got), len(qs))
	}
	for i := range qs {
		g, w := got[i], qs[i]
		if !g.TS.Equal(w.TS) || g.QName != w.QName || g.QType != w.QType || g.Resolver != w.Resolver || g.ECS != w.ECS || g.PoP != w.PoP || g.Source != w.Source {
			t.Errorf("query %d:\n got %+v\nwant %+v", i, g, w)
		}
	}
	bad := genQueries(2)
	bad[1].ECS = netip.MustParsePrefix("203.0.113.9/32")
	if _, err := s.AddQueries(ctx, bad); err == nil || !strings.Contains(err.Error(), "queries[1]: ecs: an IPv4 /32") || strings.Contains(err.Error(), "203.0.113.9") {
		t.Errorf("AddQueries with a /32 ECS: %v, want an error naming queries[1] and not the address", err)
	}
}

func TestDeleteBefore(t *testing.T) {
	s := openTest(t, t.TempDir())
	t0 := time.Date(2026, 11, 20, 0, 0, 0, 0, time.UTC)
	oldB := genBeacons(1, 10, 3, t0)
	newB := genBeacons(2, 20, 3, t0.Add(48*time.Hour))
	qs := genQueries(30) // one a second from testStart (2026-11-21 10:00)
	for _, bs := range [][]store.Beacon{oldB, newB} {
		if _, err := s.AddBeacons(ctx, bs); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.AddQueries(ctx, qs); err != nil {
		t.Fatal(err)
	}
	cut := testStart.Add(10 * time.Second) // after oldB's receipt, within the queries
	n, err := s.DeleteBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(10 + 30 + 10); n != want {
		t.Errorf("DeleteBefore deleted %d rows, want %d (10 beacons, 30 samples, 10 queries)", n, want)
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != 20 || st.Samples != 60 || st.Queries != 20 {
		t.Errorf("after DeleteBefore: %+v, want 20 beacons, 60 samples, 20 queries", st)
	}
	for _, r := range scanAll(t, s) {
		if r.Received.Before(cut) {
			t.Fatalf("a sample of a beacon received at %v survived", r.Received)
		}
	}
	// A deleted beacon delivered again is stored again.
	if res, err := s.AddBeacons(ctx, oldB[:2]); err != nil || res.Added != 2 {
		t.Errorf("re-adding deleted beacons: %+v, %v; want 2 added", res, err)
	}
}

func TestExportParquet(t *testing.T) {
	s := openTest(t, t.TempDir())
	bs := genBeacons(1, 40, 5, time.Now())
	if _, err := s.AddBeacons(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddQueries(ctx, genQueries(12)); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "export")
	if err := s.ExportParquet(ctx, out); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		file string
		want int
	}{{"samples.parquet", 200}, {"beacons.parquet", 40}, {"queries.parquet", 12}} {
		var n int
		p := filepath.Join(out, c.file)
		if err := s.DB().QueryRow(`SELECT count(*) FROM read_parquet(` + sqlString(p) + `)`).Scan(&n); err != nil {
			t.Fatalf("reading %s back: %v", p, err)
		}
		if n != c.want {
			t.Errorf("%s has %d rows, want %d", c.file, n, c.want)
		}
	}
	var network string
	var rtt float64
	p := filepath.Join(out, "samples.parquet")
	if err := s.DB().QueryRow(`SELECT network, rtt_ms FROM read_parquet(`+sqlString(p)+`) WHERE beacon_id = CAST(? AS UBIGINT) ORDER BY ts LIMIT 1`,
		idArg(store.BeaconID(&bs[7].Beacon))).Scan(&network, &rtt); err != nil {
		t.Fatal(err)
	}
	if network != bs[7].ClientSubnet.String() || rtt != bs[7].Samples[0].RTTms {
		t.Errorf("exported sample: %s %v, want %s %v", network, rtt, bs[7].ClientSubnet, bs[7].Samples[0].RTTms)
	}
}

// TestScanWhileWriting runs scans concurrently with writes (under -race):
// each scan sees a consistent snapshot, whole beacons only.
func TestScanWhileWriting(t *testing.T) {
	s := openTest(t, t.TempDir())
	const k = 4
	var wg sync.WaitGroup
	done := make(chan struct{})
	scanning := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(done)
		for i := range 20 {
			if i == 1 {
				<-scanning // the first scan has run: the others overlap writes
			}
			if _, err := s.AddBeacons(ctx, genBeacons(uint64(i+1), 100, k, time.Now())); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	scans := 0
	for {
		select {
		case <-done:
			wg.Wait()
			if got := len(scanAll(t, s)); got != 20*100*k {
				t.Errorf("final scan: %d rows, want %d", got, 20*100*k)
			}
			t.Logf("%d scans ran while writing", scans)
			return
		default:
		}
		per := map[uint64]int{}
		if err := s.ScanSamples(ctx, func(r *store.SampleRow) error {
			per[r.BeaconID]++
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		for id, n := range per {
			if n != k {
				t.Fatalf("a scan saw %d samples of beacon %x, want %d", n, id, k)
			}
		}
		if scans == 0 {
			close(scanning)
		}
		scans++
	}
}

func TestQueryAndContext(t *testing.T) {
	s := openTest(t, t.TempDir())
	if _, err := s.AddBeacons(ctx, genBeacons(1, 10, 2, time.Now())); err != nil {
		t.Fatal(err)
	}
	var n int
	rows, err := s.Query(ctx, `SELECT count(*) FROM samples_v WHERE target = ?`, "anycast")
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		if err := rows.Scan(&n); err != nil {
			t.Fatal(err)
		}
	}
	if n != 10 {
		t.Errorf("anycast samples = %d, want 10", n)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.AddBeacons(cctx, genBeacons(2, 1, 1, time.Now())); !errors.Is(err, context.Canceled) {
		t.Errorf("AddBeacons with a canceled context: %v", err)
	}
	stop := errors.New("stop")
	if err := s.ScanSamples(ctx, func(*store.SampleRow) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ScanSamples returned %v, want the callback's error", err)
	}
}
