package collector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

func spoolBeacons(t *testing.T, from, n int) []store.Beacon {
	t.Helper()
	var out []store.Beacon
	for i := from; i < from+n; i++ {
		var b store.Beacon
		if _, err := rum.ParseBeacon([]byte(desktopBeacon("2026-11-21T10:00:00.123Z", float64(i))), rum.Strict, &b.Beacon); err != nil {
			t.Fatal(err)
		}
		b.ClientSubnet = netipPrefix(fmt.Sprintf("198.51.%d.0/24", i%200))
		b.Received, b.Source = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC), "http"
		out = append(out, b)
	}
	return out
}

// appendBeacons spools beacons as the commit loop does.
func appendBeacons(sp *spool, bs []store.Beacon) (start, end position, err error) {
	var buf []byte
	for i := range bs {
		buf = append(encodeBeacon(buf, &bs[i]), '\n')
	}
	return sp.append(buf)
}

// openStore opens a store for a test and closes it at the end.
func openStore(t *testing.T, dir string) store.Store {
	t.Helper()
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

func countSamples(t *testing.T, st store.Store) map[float64]int {
	t.Helper()
	got := map[float64]int{}
	if err := st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		got[r.RTTms]++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSpoolReplay: beacons spooled by a process that died before loading
// them (and a torn last line it never acknowledged) are loaded by the next
// start; segments rotate and loaded ones are deleted.
func TestSpoolReplay(t *testing.T) {
	old := segmentMax
	segmentMax = 2 << 10 // a few batches per segment
	defer func() { segmentMax = old }()
	dir := t.TempDir()
	spDir := filepath.Join(dir, "spool")
	sp, err := openSpool(spDir, osOps)
	if err != nil {
		t.Fatal(err)
	}
	const batches, per = 12, 5
	for k := range batches {
		if _, _, err := appendBeacons(sp, spoolBeacons(t, k*per, per)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := sp.segments()
	if len(segs) < 3 {
		t.Fatalf("%d segments; want rotation", len(segs))
	}
	// a torn write after the last acknowledged batch
	if _, err := sp.f.WriteAt([]byte(`1763719200123 {"v":1,"client_subn`), sp.off); err != nil {
		t.Fatal(err)
	}
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}

	st := openStore(t, filepath.Join(dir, "store"))
	srv, err := New(Defaults(), st, Options{SpoolDir: spDir, LoadBatch: 7, LoadInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	got := countSamples(t, st)
	if len(got) != batches*per {
		t.Fatalf("%d beacons loaded, want %d", len(got), batches*per)
	}
	for rtt, n := range got {
		if n != 1 {
			t.Errorf("rtt %v stored %d times", rtt, n)
		}
	}
	if segs, _ := sp.segments(); len(segs) != 1 {
		t.Errorf("%d segments left after loading everything; want only the current one", len(segs))
	}

	// a restart loads nothing again
	srv, err = New(Defaults(), st, Options{SpoolDir: spDir, LoadInterval: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if s, d := testutil.ToFloat64(srv.m.beacons.WithLabelValues("stored")), testutil.ToFloat64(srv.m.beacons.WithLabelValues("duplicate")); s+d != 0 {
		t.Errorf("the restart loaded %v stored + %v duplicates; want nothing", s, d)
	}
}

// TestSpoolLive: with the spool, HTTP beacons are acknowledged once
// spooled and reach the store through the loader (in memory, not parsed
// again), with requests arriving while loads run.
func TestSpoolLive(t *testing.T) {
	dir := t.TempDir()
	st := openStore(t, filepath.Join(dir, "store"))
	cfg := Defaults()
	cfg.Tokens = []string{token}
	cfg.Rate = 0
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	srv, err := New(cfg, st, Options{SpoolDir: filepath.Join(dir, "spool"), LoadBatch: 50, LoadInterval: 5 * time.Millisecond,
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv, st: st}
	const n = 400
	for i := range n {
		if w := f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", float64(i)), header: auth}); w.Code != 200 {
			t.Fatalf("%d %s", w.Code, w.Body.String())
		}
	}
	// the loader catches up while the server runs
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for testutil.ToFloat64(srv.m.beacons.WithLabelValues("stored")) < n {
		if time.Now().After(deadline) {
			t.Fatalf("only %v of %d beacons loaded", testutil.ToFloat64(srv.m.beacons.WithLabelValues("stored")), n)
		}
		<-tick.C
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countSamples(t, st); len(got) != n {
		t.Errorf("%d beacons in the store, want %d", len(got), n)
	}
}

func TestDecodeLine(t *testing.T) {
	good := `1763719200123 ` + strings.Replace(desktopBeacon("2026-11-21T10:00:00.123Z", 5), `{"v":1,`, `{"v":1,"client_subnet":"198.51.100.0/24",`, 1) + "\n"
	b, err := decodeLine([]byte(good))
	if err != nil || b.ClientSubnet.String() != "198.51.100.0/24" || b.Received.UnixMilli() != 1763719200123 || b.Source != "http" {
		t.Fatalf("%+v, %v", b, err)
	}
	for _, tc := range []struct{ in, want string }{
		{"nospace\n", `not "<ms> <beacon>"`},
		{"x1 {}\n", `received time "x1"`},
		{"1 {\n", "offset"},
	} {
		if _, err := decodeLine([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %q", tc.in, err, tc.want)
		}
	}
}

func FuzzDecodeLine(f *testing.F) {
	f.Add(`1763719200123 ` + desktopBeacon("2026-11-21T10:00:00.123Z", 5) + "\n")
	f.Add("1 {}\n")
	f.Add("nospace")
	f.Fuzz(func(t *testing.T, s string) {
		b, err := decodeLine([]byte(s))
		if err == nil && (b.V != 1 || len(b.Samples) == 0) {
			t.Fatalf("accepted %q as %+v", s, b)
		}
	})
}

func TestSpoolBadProgress(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, progressFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := openSpool(dir, osOps)
	if err == nil || !strings.Contains(err.Error(), `"garbage" is not "segment offset"`) {
		t.Errorf("error %v", err)
	}
}
