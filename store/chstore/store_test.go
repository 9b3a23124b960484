package chstore

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// TestDuplicatesStoredOnce: the same beacons sent again (a retry, or a
// second collector through its own handle) are counted as Duplicates;
// sent again without the lookup (two collectors racing) they are rows
// twice on disk, and every read still counts them once.
func TestDuplicatesStoredOnce(t *testing.T) {
	for _, mode := range []string{"cluster", "single"} {
		t.Run(mode, func(t *testing.T) {
			open := openCluster
			if mode == "single" {
				open = openSingle
			}
			st, u := open(t)
			st2 := mustOpen(t, u) // a second collector
			ctx := ctxT(t)
			world := ruleWorld()
			samples := 0
			for _, b := range world {
				samples += len(b.Samples)
			}
			res, err := st.AddBeacons(ctx, world)
			if err != nil {
				t.Fatal(err)
			}
			if res.Added != len(world) || res.Duplicates != 0 {
				t.Errorf("first add: %+v", res)
			}
			// again through the second handle, two of them twice in the batch
			res, err = st2.AddBeacons(ctx, append(slices.Clone(world), world[0], world[3]))
			if err != nil {
				t.Fatal(err)
			}
			if res.Added != 0 || res.Duplicates != len(world)+2 {
				t.Errorf("second add: %+v, want 0 added, %d duplicates", res, len(world)+2)
			}
			// a new beacon among old ones is added
			fresh := beacon(n2, "web", "performance", https("fra", 33))
			res, err = st2.AddBeacons(ctx, []store.Beacon{world[1], fresh})
			if err != nil || res.Added != 1 || res.Duplicates != 1 {
				t.Errorf("mixed add: %+v, %v", res, err)
			}
			// raced: stored twice
			if _, err := insertRaw(ctx, st2, world); err != nil {
				t.Fatal(err)
			}
			rows := sql(t, st.first(), `SELECT count() FROM `+st.beacons)
			if rows != fmt.Sprintf("%d\n", 2*len(world)+1) {
				t.Errorf("%s rows on the servers, want %d (the duplicates are there)", strings.TrimSpace(rows), 2*len(world)+1)
			}
			for _, s := range []*Store{st, st2} {
				stats, err := s.Stats(ctx)
				if err != nil {
					t.Fatal(err)
				}
				want := store.Stats{Beacons: int64(len(world) + 1), Samples: int64(samples + 1)}
				if stats.Beacons != want.Beacons || stats.Samples != want.Samples || stats.Queries != 0 {
					t.Errorf("stats %+v, want %+v", stats, want)
				}
				// oldest: B2's sample 31 days back; newest: B1's 25 h ahead
				if !stats.Oldest.Equal(base.Add(-31*24*time.Hour)) || !stats.Newest.Equal(base.Add(25*time.Hour)) {
					t.Errorf("oldest %v newest %v", stats.Oldest, stats.Newest)
				}
			}
			n := 0
			if err := st.ScanSamples(ctx, func(*store.SampleRow) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if n != samples+1 {
				t.Errorf("ScanSamples: %d rows, want %d", n, samples+1)
			}
		})
	}
}

// TestAddBeaconsInvalid: a bad beacon is an error naming its index and
// the problem (never the client address), and nothing of the batch is
// stored.
func TestAddBeaconsInvalid(t *testing.T) {
	st, _ := openCluster(t)
	ctx := ctxT(t)
	good := beacon(n1, "web", "performance", https("ams", 10))
	tests := []struct {
		mod  func(b *store.Beacon)
		want string
	}{
		{func(b *store.Beacon) { b.ClientSubnet = netip.MustParsePrefix("192.0.2.77/32") }, "finer than /24"},
		{func(b *store.Beacon) { b.ClientSubnet = netip.MustParsePrefix("2001:db8::1234/128") }, "finer than /24"},
		{func(b *store.Beacon) { b.ClientSubnet = netip.Prefix{} }, "no client subnet"},
		{func(b *store.Beacon) { b.ClientSubnet = netip.MustParsePrefix("192.0.2.77/24") }, "host bits"},
		{func(b *store.Beacon) { b.Samples = nil }, "0 samples"},
		{func(b *store.Beacon) { b.Agent.Kind = "" }, "agent.kind: empty"},
		{func(b *store.Beacon) { b.Samples[0].Target = "" }, "samples[0].target: empty"},
		{func(b *store.Beacon) { b.Samples[0].Probe = 9 }, "samples[0].probe"},
		{func(b *store.Beacon) { b.Samples[0].RTTms = posInf() }, "samples[0].rtt_ms: not finite"},
		{func(b *store.Beacon) { b.Samples[0].TS = time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC) }, "samples[0].ts: year 10001"},
	}
	for _, tc := range tests {
		bad := beacon(n1, "web", "performance", https("ams", 10))
		tc.mod(&bad)
		_, err := st.AddBeacons(ctx, []store.Beacon{good, bad})
		if err == nil || !strings.Contains(err.Error(), "beacons[1]: ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error %v, want beacons[1]: ... %s", err, tc.want)
		}
		if err != nil && (strings.Contains(err.Error(), "192.0.2.77") || strings.Contains(err.Error(), "1234")) {
			t.Errorf("the error names the client address: %v", err)
		}
	}
	stats, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Beacons != 0 {
		t.Errorf("%d beacons stored after failed adds", stats.Beacons)
	}
	if _, err := st.AddQueries(ctx, []rum.LogEntry{{TS: base, QName: "x.", Resolver: netip.MustParseAddr("192.0.2.1"), ECS: netip.MustParsePrefix("198.51.100.7/32")}}); err == nil ||
		!strings.Contains(err.Error(), "queries[0]: ecs") || strings.Contains(err.Error(), "198.51.100.7") {
		t.Errorf("query with a /32 ECS: %v", err)
	}
}

func posInf() float64 { return 1 / zero }

var zero float64

// TestScans: every sample and query comes back as stored, once.
func TestScans(t *testing.T) {
	st, _ := openCluster(t)
	st.opt.ScanPage = 3 // several pages
	ctx := ctxT(t)
	world := ruleWorld()
	if _, err := st.AddBeacons(ctx, world); err != nil {
		t.Fatal(err)
	}
	if _, err := insertRaw(ctx, st, world[:4]); err != nil { // stored twice
		t.Fatal(err)
	}
	var want []string
	for _, b := range world {
		k, _ := store.NetworkKey(b.ClientSubnet)
		for _, s := range b.Samples {
			want = append(want, sampleText(store.BeaconID(&b.Beacon), store.NetworkPrefix(k), b.Agent, b.DNSTest, b.Received, s))
		}
	}
	var got []string
	err := st.ScanSamples(ctx, func(r *store.SampleRow) error {
		got = append(got, sampleText(r.BeaconID, r.Network, r.Agent, r.DNSTest, r.Received, r.Sample))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("ScanSamples:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	stop := errors.New("stop")
	if err := st.ScanSamples(ctx, func(*store.SampleRow) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("fn's error: %v", err)
	}

	qs := queryLog()
	if _, err := st.AddQueries(ctx, qs); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AddQueries(ctx, qs[:2]); err != nil { // duplicates are kept
		t.Fatal(err)
	}
	want = want[:0]
	for _, q := range append(slices.Clone(qs), qs[:2]...) {
		want = append(want, string(rum.AppendLogEntry(nil, &q)))
	}
	got = got[:0]
	if err := st.ScanQueries(ctx, func(e *rum.LogEntry) error {
		got = append(got, string(rum.AppendLogEntry(nil, e)))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("ScanQueries:\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	stats, err := st.Stats(ctx)
	if err != nil || stats.Queries != int64(len(qs)+2) {
		t.Errorf("stats %+v %v", stats, err)
	}

	// FirstQuery: by time, the name exactly as stored
	e, err := st.FirstQuery(ctx, "t1.rum.example.")
	if err != nil || e == nil || !e.TS.Equal(base) || e.Resolver != netip.MustParseAddr("192.0.2.53") {
		t.Errorf("FirstQuery: %+v, %v", e, err)
	}
	if e, err := st.FirstQuery(ctx, "nothing'; DROP TABLE x --\\"); err != nil || e != nil {
		t.Errorf("FirstQuery of an absent name: %+v, %v", e, err)
	}
}

func sampleText(id uint64, net netip.Prefix, a rum.Agent, dns string, recv time.Time, s rum.Sample) string {
	return fmt.Sprintf("%x %v %+v %q %v %v %s %v %v %s", id, net, a, dns, recv.UnixMicro(), s.TS.UnixMicro(), s.Target, s.Probe, s.RTTms, s.ServedBy)
}

// queryLog is a DNS query log for the join: names in mixed case with
// trailing dots, repeated queries (the first by time wins), ECS or not,
// resolvers of both families.
func queryLog() []rum.LogEntry {
	r1, r2, r3 := netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("198.51.100.1")
	ecs := netip.MustParsePrefix("10.1.1.0/24")
	q := func(dt time.Duration, name string, r netip.Addr, e netip.Prefix) rum.LogEntry {
		return rum.LogEntry{TS: base.Add(dt), QName: name, QType: "A", Resolver: r, ECS: e, PoP: "ams", Source: rum.SourceResolver}
	}
	return []rum.LogEntry{
		q(0, "t1.rum.example.", r1, netip.Prefix{}),
		q(time.Second, "T1.RUM.example.", r2, ecs), // a retry through another resolver
		q(-time.Second, "t2.rum.example..", r2, ecs),
		q(time.Millisecond, "t2.rum.example.", r1, netip.Prefix{}),
		q(0, "t3.rum.example.", r3, netip.Prefix{}),
		q(0, "t4.rum.example", r3, ecs), // no beacon names it
		q(0, "t5.rum.example.", r1, ecs),
	}
}

// TestJoinDNS joins beacons' DNS test names with the query log, with and
// without the first-query rule, and in the held-out split.
func TestJoinDNS(t *testing.T) {
	st, _ := openCluster(t)
	ctx := ctxT(t)
	var bs []store.Beacon
	add := func(net, test string, rtt float64) {
		b := beacon(net, "web", "performance", https("ams", rtt))
		b.DNSTest = test
		bs = append(bs, b)
	}
	add(n1, "t1.rum.example", 10)
	add(n1, "t2.rum.example", 11)
	add(n2, "t1.rum.example", 12) // two beacons, one name
	add(n3, "T3.rum.example", 13)
	add(n3, "t5.rum.example", 14)
	add(n2, "t9.rum.example", 15) // never queried
	add(n2, "", 16)               // no DNS test
	if _, err := st.AddBeacons(ctx, bs); err != nil {
		t.Fatal(err)
	}
	if _, err := insertRaw(ctx, st, bs[:2]); err != nil { // stored twice: counted once
		t.Fatal(err)
	}
	if _, err := st.AddQueries(ctx, queryLog()); err != nil {
		t.Fatal(err)
	}
	k1, k2, k3 := key(t, n1), key(t, n2), key(t, n3)
	r1, r2, r3 := netip.MustParseAddr("192.0.2.53"), netip.MustParseAddr("2001:db8::53"), netip.MustParseAddr("198.51.100.1")
	rc := func(r netip.Addr, net uint64, n, ecs int64) store.ResolverClients {
		return store.ResolverClients{Resolver: r, Network: net, N: n, ECS: ecs}
	}
	j, err := st.JoinDNS(ctx, store.Clean{})
	if err != nil {
		t.Fatal(err)
	}
	// first queries: t1 → r1 no ECS; t2 → r2 ECS (the earlier, with two dots);
	// t3 → r3; t5 → r1 ECS. Sorted by resolver text: "192.0.2.53" <
	// "198.51.100.1" < "2001:db8::53".
	want := &store.Join{Queries: 7, Names: 5, Tests: 6, Rows: []store.ResolverClients{
		rc(r1, k1, 1, 0), rc(r1, k2, 1, 0), rc(r1, k3, 1, 1),
		rc(r3, k3, 1, 0),
		rc(r2, k1, 1, 1),
	}}
	if !joinEqual(j, want) {
		t.Errorf("join\n%+v\nwant\n%+v", j, want)
	}
	// every query counts
	j, err = st.JoinDNS(ctx, store.Clean{Skip: map[store.Rule]bool{store.RuleDNSDuplicate: true}})
	if err != nil {
		t.Fatal(err)
	}
	want.Rows = []store.ResolverClients{
		rc(r1, k1, 2, 0), rc(r1, k2, 1, 0), rc(r1, k3, 1, 1),
		rc(r3, k3, 1, 0),
		rc(r2, k1, 2, 2), rc(r2, k2, 1, 1),
	}
	if !joinEqual(j, want) {
		t.Errorf("join without dns-duplicate\n%+v\nwant\n%+v", j, want)
	}
	// the held-out split: the beacons IsHeldOut picks at a share that
	// splits these six
	share := 0.5
	var held, train int64
	for _, b := range bs {
		if b.DNSTest == "" {
			continue
		}
		if store.IsHeldOut(store.BeaconID(&b.Beacon), share) {
			held++
		} else {
			train++
		}
	}
	jh, err := st.JoinDNS(ctx, store.Clean{Split: store.HoldoutBeacons, HoldOut: share})
	if err != nil {
		t.Fatal(err)
	}
	jt, err := st.JoinDNS(ctx, store.Clean{Split: store.TrainBeacons, HoldOut: share})
	if err != nil {
		t.Fatal(err)
	}
	if jh.Tests != held || jt.Tests != train {
		t.Errorf("tests held out %d, trained %d; want %d, %d", jh.Tests, jt.Tests, held, train)
	}
	if sumN(jh)+sumN(jt) != 5 {
		t.Errorf("joined beacons: %d held out + %d train, want 5", sumN(jh), sumN(jt))
	}
}

func sumN(j *store.Join) int64 {
	var n int64
	for _, r := range j.Rows {
		n += r.N
	}
	return n
}

func joinEqual(a, b *store.Join) bool {
	return a.Queries == b.Queries && a.Names == b.Names && a.Tests == b.Tests && slices.Equal(a.Rows, b.Rows)
}

// TestDeleteBefore: retention by received time drops whole old months
// and deletes the rest of the rows before t, counting each beacon once.
func TestDeleteBefore(t *testing.T) {
	for _, mode := range []string{"cluster", "single"} {
		t.Run(mode, func(t *testing.T) {
			open := openCluster
			if mode == "single" {
				open = openSingle
			}
			st, _ := open(t)
			ctx := ctxT(t)
			months := []time.Time{
				time.Date(2026, 8, 10, 0, 0, 0, 0, time.UTC),  // a whole month before t
				time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC), // t's month, before t
				time.Date(2026, 10, 25, 0, 0, 0, 0, time.UTC), // t's month, after t
				time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC),  // after
			}
			cut := time.Date(2026, 10, 20, 0, 0, 0, 0, time.UTC)
			var bs []store.Beacon
			var qs []rum.LogEntry
			wantDeleted := 0
			for i, m := range months {
				for j := range 3 {
					b := beacon(fmt.Sprintf("10.9.%d.0/24", 10*i+j), "web", "performance", https("ams", float64(10+j)), https("fra", 20))
					b.Received = m.Add(time.Duration(j) * time.Hour)
					bs = append(bs, b)
					qs = append(qs, rum.LogEntry{TS: b.Received, QName: "x.", QType: "A", Resolver: netip.MustParseAddr("192.0.2.1"), Source: rum.SourceGeo})
					if m.Before(cut) {
						wantDeleted += 1 + 2 + 1
					}
				}
			}
			if _, err := st.AddBeacons(ctx, bs); err != nil {
				t.Fatal(err)
			}
			if _, err := insertRaw(ctx, st, bs[:1]); err != nil { // stored twice
				t.Fatal(err)
			}
			if _, err := st.AddQueries(ctx, qs); err != nil {
				t.Fatal(err)
			}
			t0 := time.Now()
			n, err := st.DeleteBefore(ctx, cut)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("DeleteBefore: %v", time.Since(t0))
			if n != int64(wantDeleted) {
				t.Errorf("deleted %d rows, want %d", n, wantDeleted)
			}
			stats, err := st.Stats(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if stats.Beacons != 6 || stats.Samples != 12 || stats.Queries != 6 {
				t.Errorf("after: %+v, want 6 beacons, 12 samples, 6 queries", stats)
			}
			var left []time.Time
			if err := st.ScanSamples(ctx, func(r *store.SampleRow) error {
				left = append(left, r.Received)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			for _, r := range left {
				if r.Before(cut) {
					t.Errorf("a sample received %v survived", r)
				}
			}
			// the old month's partition is gone on every node, dropped whole
			for _, nd := range st.nodes {
				if got := sql(t, nd.addr, `SELECT count() FROM system.parts WHERE active AND database = '`+st.loc.Database+`' AND partition = '202608'`); got != "0\n" {
					t.Errorf("%s: %s active parts of 2026-08 left", nd.addr, strings.TrimSpace(got))
				}
			}
			// again: nothing to delete
			if n, err := st.DeleteBefore(ctx, cut); err != nil || n != 0 {
				t.Errorf("second DeleteBefore: %d, %v", n, err)
			}
		})
	}
}

// TestMigrations: a second Open changes nothing, a newer schema is an
// error, and a database made for one node is not opened as a cluster's.
func TestMigrations(t *testing.T) {
	st, u := openCluster(t)
	ctx := ctxT(t)
	for _, n := range st.nodes {
		if got := sql(t, n.addr, `SELECT version FROM `+st.loc.Database+`.steer_migrations`); got != fmt.Sprintf("%d\n", SchemaVersion) {
			t.Errorf("%s: steer_migrations %q", n.addr, got)
		}
	}
	if _, err := st.AddBeacons(ctx, ruleWorld()); err != nil {
		t.Fatal(err)
	}
	st2 := mustOpen(t, u)
	for _, n := range st2.nodes {
		if got := sql(t, n.addr, `SELECT count() FROM `+st.loc.Database+`.steer_migrations`); got != "1\n" {
			t.Errorf("%s: %s migration rows after a second Open", n.addr, strings.TrimSpace(got))
		}
	}
	stats, err := st2.Stats(ctx)
	if err != nil || stats.Beacons != int64(len(ruleWorld())) {
		t.Errorf("after a second Open: %+v, %v", stats, err)
	}

	// a newer schema on one node
	sql(t, st.nodes[1].addr, `INSERT INTO `+st.loc.Database+`.steer_migrations VALUES (99, now())`)
	_, err = Open(ctx, u, Options{})
	if err == nil || !strings.Contains(err.Error(), "schema version 99") || !strings.Contains(err.Error(), "upgrade steer") {
		t.Errorf("newer schema: %v", err)
	}

	// a single node's database opened as a cluster's
	single, su := openSingle(t)
	_ = single
	_, err = Open(ctx, strings.Replace(u, st.loc.Database, single.loc.Database, 1), Options{})
	if err == nil || !strings.Contains(err.Error(), "engine") {
		t.Errorf("single database as a cluster: %v", err)
	}
	_ = su
}

// TestOpenErrors: unreachable servers, missing or mismatched clusters and
// bad URLs are errors that name the problem.
func TestOpenErrors(t *testing.T) {
	c := needCluster(t)
	ctx := ctxT(t)
	h0, h1 := c.Nodes[0].HTTP, c.Nodes[1].HTTP
	tests := []struct{ url, want string }{
		{"clickhouse://127.0.0.1:1/db", "unreachable"},
		{"clickhouse://" + h0 + "," + h1 + "/db?cluster=nope", `cluster "nope" is not defined on ` + h0},
		{"clickhouse://" + h0 + "/db?cluster=steer", `cluster "steer" has 2 shards on ` + h0 + `; the URL lists 1 nodes`},
		{"clickhouse://" + h0 + ",127.0.0.1:1/db?cluster=steer", "127.0.0.1:1"},
		{"clickhouse://" + h0 + "/db?user=nobody&password=secret", "nobody"},
		{"clickhouse://" + h0 + "/bad-name", "database"},
	}
	for _, tc := range tests {
		s, err := Open(ctx, tc.url, Options{})
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: no error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: %v, want %q", tc.url, err, tc.want)
		}
	}
	for _, k := range []string{"query", "max threads"} {
		if _, err := Open(ctx, c.NodeURL(0, "db"), Options{Settings: map[string]string{k: "1"}}); err == nil || !strings.Contains(err.Error(), "Options.Settings") {
			t.Errorf("setting %q: %v", k, err)
		}
	}
	st, _ := openCluster(t)
	_ = st.Close()
	if _, err := st.Stats(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Stats after Close: %v", err)
	}
}

// TestQuote sends every byte value through quote and reads it back.
func TestQuote(t *testing.T) {
	c := needCluster(t)
	var all []byte
	for i := range 256 {
		all = append(all, byte(i))
	}
	for _, s := range []string{"", "plain", "it's", `back\slash`, `\'`, "line\nfeed\ttab\x00nul", "ünïcode", string(all)} {
		got := sql(t, c.Nodes[0].HTTP, `SELECT hex(`+quote(s)+`)`)
		if want := strings.ToUpper(hex.EncodeToString([]byte(s))) + "\n"; got != want {
			t.Errorf("quote(%q): server read %s, want %s", s, got, want)
		}
	}
	for _, x := range []float64{0.001, 15.625, 1e-300, 30000, math.Copysign(0, -1), 0.1, math.MaxFloat64} {
		var le [8]byte
		binary.LittleEndian.PutUint64(le[:], math.Float64bits(x))
		got := sql(t, c.Nodes[0].HTTP, `SELECT hex(reinterpretAsString(`+float64SQL(x)+`))`)
		if want := strings.ToUpper(hex.EncodeToString(le[:])) + "\n"; got != want {
			t.Errorf("float64SQL(%v): server has %s, want %s", x, got, want)
		}
	}
}

// TestFaultQueryCanceled: a query whose caller gave up is stopped on
// the server (18.16 would run it to the end otherwise).
func TestFaultQueryCanceled(t *testing.T) {
	st, _ := openSingle(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := st.c.query(ctx, st.first(), `SELECT count() FROM system.numbers WHERE NOT ignore(sleep(0.2))`, func(r *rowReader) error {
		for r.more() {
			_ = r.u64()
		}
		return nil
	}, setting{"max_block_size", "1"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
	}
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		left := sql(t, st.first(), `SELECT count() FROM system.processes WHERE query LIKE '%sleep(0.2)%' AND query NOT LIKE '%system.processes%'`)
		if left == "0\n" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the canceled query still runs: %s", left)
		}
		<-tick.C
	}
}

// TestFaultErrorMidResult: an error the server hits after it has
// produced megabytes of a result is an error, not rows read from its
// message (without wait_end_of_query ClickHouse sends 200 and appends
// the exception's text to the rows).
func TestFaultErrorMidResult(t *testing.T) {
	st, _ := openSingle(t)
	ctx := ctxT(t)
	rows := 0
	err := st.c.query(ctx, st.first(), `SELECT number, throwIf(number = 1000000) FROM numbers(2000000)`, func(r *rowReader) error {
		for r.more() {
			_, _ = r.u64(), r.u8()
			rows++
		}
		return nil
	})
	var ce *Error
	if !errors.As(err, &ce) || !strings.Contains(ce.Message, "throwIf") || ce.Code == 0 {
		t.Fatalf("err = %v", err)
	}
	if rows != 0 {
		t.Errorf("%d rows handed out before the error", rows)
	}
	// and a result cut short is an error too
	var r rowReader
	r.r = bufio.NewReader(strings.NewReader("\x01\x02"))
	_ = r.u64()
	if !errors.Is(r.err, io.ErrUnexpectedEOF) {
		t.Errorf("a truncated row: %v", r.err)
	}
}
