package test

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/builder"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/chtest"
	"github.com/steer-gslb/steer/sim"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
	"github.com/steer-gslb/steer/store/storeopen"
	"github.com/steer-gslb/steer/store/storetest"
)

// TestClickHouseSameMap ingests one simulated world into DuckDB and, by
// the same import and store.Copy (steer ingest --store clickhouse://),
// into a two-shard ClickHouse cluster; the two stores aggregate to the
// same cells and DNS join, and builder.Build gives byte-identical maps,
// sources and RTT files from either. Retention and export then work on
// the ClickHouse store.
func TestClickHouseSameMap(t *testing.T) {
	cl := chtest.Start(t, chtest.Options{Shards: 2})
	ctx := context.Background()
	world := t.TempDir()
	o := sim.DefaultOptions()
	o.Networks, o.Seed, o.Measured = 3000, 5, 0.3
	w, err := sim.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Generate(w, world, nil); err != nil {
		t.Fatal(err)
	}
	duck, err := duckstore.Open(t.TempDir(), duckstore.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = duck.Close() }()
	for _, f := range []string{sim.FileBeacons, sim.FileDNSLog} {
		if _, err := duckstore.ImportFile(ctx, duck, filepath.Join(world, f), duckstore.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	ch, err := storeopen.Open(ctx, cl.URL(), storeopen.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = ch.Close() }()
	cs, err := store.Copy(ctx, ch, duck, 0)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := duck.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hs, err := ch.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("DuckDB %+v; ClickHouse %+v (copied %+v)", ds, hs, cs)
	if ds.Beacons != hs.Beacons || ds.Samples != hs.Samples || ds.Queries != hs.Queries {
		t.Fatalf("stats differ: DuckDB %+v, ClickHouse %+v", ds, hs)
	}
	for _, c := range []store.Clean{
		{HoldOut: 0.1, Split: store.TrainBeacons},
		{HoldOut: 0.1, Split: store.HoldoutBeacons},
		{HoldOut: -1, Split: store.AllBeacons, Skip: map[store.Rule]bool{store.RuleHTTPSOnly: true, store.RuleDNSDuplicate: true}},
	} {
		for _, q := range []float64{0.5, 0.75} {
			a, err := duck.Aggregate(ctx, c, q)
			if err != nil {
				t.Fatal(err)
			}
			b, err := ch.Aggregate(ctx, c, q)
			if err != nil {
				t.Fatal(err)
			}
			diffAggregates(t, fmt.Sprintf("split %d q %v", c.Split, q), a, b)
		}
		ja, err := duck.JoinDNS(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		jb, err := ch.JoinDNS(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if ja.Queries != jb.Queries || ja.Names != jb.Names || ja.Tests != jb.Tests || len(ja.Rows) != len(jb.Rows) {
			t.Errorf("split %d: DNS join: DuckDB %d queries %d names %d tests %d rows, ClickHouse %d %d %d %d",
				c.Split, ja.Queries, ja.Names, ja.Tests, len(ja.Rows), jb.Queries, jb.Names, jb.Tests, len(jb.Rows))
		} else {
			for i := range ja.Rows {
				if ja.Rows[i] != jb.Rows[i] {
					t.Errorf("split %d: DNS join row %d: DuckDB %+v, ClickHouse %+v", c.Split, i, ja.Rows[i], jb.Rows[i])
					break
				}
			}
		}
	}

	geo, err := geoip.Open(filepath.Join(world, sim.FileGeoIP))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = geo.Close() }()
	build := func(st store.Reader) map[string][]byte {
		res, err := builder.Build(ctx, builder.Input{Store: st, BGP: []string{filepath.Join(world, sim.FileBGP)}, GeoIP: geo})
		if err != nil {
			t.Fatal(err)
		}
		out := map[string][]byte{}
		for name, write := range map[string]func(w *bytes.Buffer) error{
			"map":     func(w *bytes.Buffer) error { return res.Map.Encode(w) },
			"sources": func(w *bytes.Buffer) error { return res.Sources.WriteTSV(w) },
			"rtt":     func(w *bytes.Buffer) error { return res.RTT.WriteTSV(w) },
		} {
			var b bytes.Buffer
			if err := write(&b); err != nil {
				t.Fatal(err)
			}
			out[name] = b.Bytes()
		}
		return out
	}
	a, b := build(duck), build(ch)
	for name := range a {
		if !bytes.Equal(a[name], b[name]) {
			t.Errorf("the %s from DuckDB (%d bytes) and from ClickHouse (%d bytes) differ", name, len(a[name]), len(b[name]))
		} else {
			t.Logf("%s: %d bytes, identical", name, len(a[name]))
		}
	}
	if !bytes.Contains(a["map"], []byte("/")) {
		t.Fatalf("the map has no entries:\n%.300s", a["map"])
	}

	// export: the same Parquet rows from either engine
	out := filepath.Join(t.TempDir(), "export")
	if err := duckstore.Export(ctx, ch, out, t.TempDir()); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]int64{"samples.parquet": ds.Samples, "beacons.parquet": ds.Beacons, "queries.parquet": ds.Queries} {
		var n int64
		p := filepath.Join(out, file)
		if err := duck.DB().QueryRow(`SELECT count(*) FROM read_parquet('` + p + `')`).Scan(&n); err != nil {
			t.Fatalf("reading %s back: %v", p, err)
		}
		if n != want {
			t.Errorf("exported %s has %d rows, want %d", file, n, want)
		}
	}

	// retention: both engines delete the same rows (beacons by when they
	// were received, queries by their time)
	old := storetest.GenBeacons(9, 200, 4, time.Now().Add(-60*24*time.Hour))
	for _, st := range []store.Store{duck, ch} {
		if _, err := st.AddBeacons(ctx, old); err != nil {
			t.Fatal(err)
		}
	}
	cut := time.Now().Add(-30 * 24 * time.Hour)
	nd, err := duck.DeleteBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	nh, err := ch.DeleteBefore(ctx, cut)
	if err != nil {
		t.Fatal(err)
	}
	ds2, _ := duck.Stats(ctx)
	hs2, _ := ch.Stats(ctx)
	t.Logf("DeleteBefore %s: DuckDB %d rows → %+v; ClickHouse %d rows → %+v", cut.Format(time.RFC3339), nd, ds2, nh, hs2)
	if ds2.Beacons != hs2.Beacons || ds2.Samples != hs2.Samples || ds2.Queries != hs2.Queries || ds2.Beacons != ds.Beacons {
		t.Errorf("after retention: DuckDB %+v, ClickHouse %+v; want the %d beacons of before (the 200 old ones deleted)", ds2, hs2, ds.Beacons)
	}
	if nd == 0 || nh == 0 {
		t.Errorf("DeleteBefore deleted %d rows (DuckDB), %d (ClickHouse); want the old beacons' rows", nd, nh)
	}
}

// diffAggregates reports the first differences between two aggregates.
func diffAggregates(t *testing.T, what string, a, b *store.Aggregate) {
	t.Helper()
	if strings.Join(a.PoPs, ",") != strings.Join(b.PoPs, ",") {
		t.Errorf("%s: PoPs %v vs %v", what, a.PoPs, b.PoPs)
		return
	}
	for r, n := range a.Counts {
		if b.Counts[r] != n && r != store.RuleDuplicateBeacon {
			t.Errorf("%s: rule %s: DuckDB %d, ClickHouse %d", what, r, n, b.Counts[r])
		}
	}
	if len(a.Networks) != len(b.Networks) || len(a.Cells) != len(b.Cells) {
		t.Errorf("%s: DuckDB %d networks %d cells, ClickHouse %d networks %d cells", what, len(a.Networks), len(a.Cells), len(b.Networks), len(b.Cells))
		return
	}
	bad := 0
	for i := range a.Networks {
		if a.Networks[i] != b.Networks[i] {
			if bad++; bad <= 3 {
				t.Errorf("%s: network %d: DuckDB %+v, ClickHouse %+v", what, i, a.Networks[i], b.Networks[i])
			}
		}
	}
	for i := range a.Cells {
		if a.Cells[i] != b.Cells[i] {
			if bad++; bad <= 6 {
				t.Errorf("%s: cell %d: DuckDB %+v, ClickHouse %+v", what, i, a.Cells[i], b.Cells[i])
			}
		}
	}
}

// TestClickHouseTwoCollectorsKill9: two collector processes behind a
// round-robin "load balancer" write to one two-shard ClickHouse cluster,
// each with its own spool. Some beacons are delivered to both (a client
// retrying through the balancer). One collector is killed with SIGKILL
// mid-load; its clients retry on the other, as a balancer would. After
// the killed one restarts on its spool and both stop, every acknowledged
// beacon is in the store exactly once.
func TestClickHouseTwoCollectorsKill9(t *testing.T) {
	cl := chtest.Start(t, chtest.Options{Shards: 2})
	spoolA, spoolB := t.TempDir(), t.TempDir()
	start := func(dir string) *child {
		return startChild(t, "collector", []string{"STEER_TEST_COLLECTOR_DIR=" + dir, "STEER_TEST_COLLECTOR_STORE=" + cl.URL()})
	}
	a, b := start(spoolA), start(spoolB)
	urls := []string{"http://" + a.addr + "/beacon", "http://" + b.addr + "/beacon"}

	var (
		mu    sync.Mutex
		acked = map[string]int{} // name → 2xx answers
		dead  = make(chan struct{})
	)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	var wg sync.WaitGroup
	const workers, perWorker = 6, 400
	for wk := range workers {
		wg.Go(func() {
			for i := range perWorker {
				name := fmt.Sprintf("w%dn%d", wk, i)
				body := testBeacon(name, float64(i%50)+1)
				xff := fmt.Sprintf("198.51.%d.%d", wk, i%250+1)
				targets := []int{(wk + i) % 2}
				if i%10 == 0 {
					targets = []int{0, 1} // delivered to both collectors
				}
				for _, c := range targets {
					select {
					case <-dead:
						c = 1 // the balancer sends everything to the survivor
					default:
					}
					code, err := postBeacon(ctx, client, urls[c], body, xff)
					if err != nil && c == 0 {
						code, err = postBeacon(ctx, client, urls[1], body, xff) // retry on the other
					}
					if err != nil {
						t.Errorf("beacon %s: %v", name, err)
						return
					}
					if code == http.StatusOK {
						mu.Lock()
						acked[name]++
						mu.Unlock()
					}
				}
			}
		})
	}
	eventually(t, 60*time.Second, "500 beacons acknowledged", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acked) >= 500
	})
	close(dead)
	a.stop(t, syscall.SIGKILL)
	wg.Wait()
	start(spoolA).stop(t, syscall.SIGTERM) // loads what its spool holds
	b.stop(t, syscall.SIGTERM)

	st, err := storeopen.Open(context.Background(), cl.URL(), storeopen.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	rows := map[string]int{} // name → sample rows (2 per beacon)
	if err := st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		rows[strings.TrimSuffix(r.DNSTest, ".rum.example.net")]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	stats, err := st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	twice := 0
	for _, n := range acked {
		if n > 1 {
			twice++
		}
	}
	t.Logf("%d beacons acknowledged (%d of them twice), %d stored; store %+v", len(acked), twice, len(rows), stats)
	bad := 0
	for name := range acked {
		if rows[name] != 2 {
			if bad++; bad <= 5 {
				t.Errorf("acknowledged beacon %s: %d sample rows in the store, want 2 (once)", name, rows[name])
			}
		}
	}
	if bad > 0 {
		t.Errorf("%d of %d acknowledged beacons not stored exactly once", bad, len(acked))
	}
	if stats.Beacons != int64(len(rows)) || stats.Samples != 2*int64(len(rows)) {
		t.Errorf("stats %+v; want %d beacons, each once", stats, len(rows))
	}
	if twice == 0 {
		t.Error("no beacon was acknowledged by both collectors: the test did not exercise duplicates")
	}

	// privacy: no client's full address in anything the collectors or the
	// servers wrote (spools, data, server logs) or logged
	written := map[string][]byte{"collector A's log": []byte(a.stderr.String()), "collector B's log": []byte(b.stderr.String())}
	for _, root := range []string{spoolA, spoolB, cl.Dir()} {
		if err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			data, err := os.ReadFile(p)
			written[p] = data
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	for name, data := range written {
		for wk := range workers {
			for host := 1; host <= 250; host++ {
				if addr := fmt.Sprintf("198.51.%d.%d", wk, host); bytes.Contains(data, []byte(addr)) {
					t.Fatalf("%s holds the full client address %s", name, addr)
				}
			}
		}
	}
	t.Logf("no full client address in %d files and logs", len(written))
}
