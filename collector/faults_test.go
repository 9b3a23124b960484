package collector

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// The collector's fault tests at the unit level: the spool's file layer
// fails (write errors, a full disk, failed syncs, a failed rotation, a
// stalled disk), the store fails, a segment is corrupted. Each asserts what
// the fault must end in: a clear 503 with Retry-After for what was not
// committed, every acknowledged beacon in the store, service that resumes
// when the fault clears, and /healthz telling the truth meanwhile.
// test/faults_collect_test.go does the same with real processes.

// faultFS injects faults into the spool's file layer.
type faultFS struct {
	writeErr atomic.Pointer[error] // writes fail with it, after writing half their bytes (as on a full disk)
	syncErr  atomic.Pointer[error] // fdatasync fails with it
	dirErr   atomic.Pointer[error] // directory syncs fail with it
	stall    atomic.Pointer[chan struct{}]
}

func setFault(p *atomic.Pointer[error], err error) {
	if err == nil {
		p.Store(nil)
		return
	}
	p.Store(&err)
}

func fault(p *atomic.Pointer[error]) error {
	if e := p.Load(); e != nil {
		return *e
	}
	return nil
}

func (f *faultFS) ops() fileOps {
	return fileOps{
		writeAt: func(file *os.File, b []byte, off int64) (int, error) {
			if err := fault(&f.writeErr); err != nil {
				n, _ := file.WriteAt(b[:len(b)/2], off)
				return n, err
			}
			return file.WriteAt(b, off)
		},
		datasync: func(file *os.File) error {
			if ch := f.stall.Load(); ch != nil {
				<-*ch
			}
			if err := fault(&f.syncErr); err != nil {
				return err
			}
			return fdatasync(file)
		},
		syncDir: func(dir string) error {
			if err := fault(&f.dirErr); err != nil {
				return err
			}
			return syncDir(dir)
		},
	}
}

// clock is a settable clock safe to read from the loader's goroutine.
type clock struct{ ns atomic.Int64 }

func newClock() *clock {
	c := &clock{}
	c.ns.Store(time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC).UnixNano())
	return c
}

func (c *clock) now() time.Time      { return time.Unix(0, c.ns.Load()).UTC() }
func (c *clock) add(d time.Duration) { c.ns.Add(int64(d)) }
func (c *clock) beacon(rtt float64) string {
	return desktopBeacon(c.now().Format(time.RFC3339Nano), rtt)
}

// flakyStore fails AddBeacons and AddQueries while fail is set.
type flakyStore struct {
	store.Store
	fail atomic.Bool
}

var errStoreDown = errors.New("the store is down (injected)")

func (s *flakyStore) AddBeacons(ctx context.Context, bs []store.Beacon) (store.AddResult, error) {
	if s.fail.Load() {
		return store.AddResult{}, errStoreDown
	}
	return s.Store.AddBeacons(ctx, bs)
}

func (s *flakyStore) AddQueries(ctx context.Context, qs []rum.LogEntry) (store.AddResult, error) {
	if s.fail.Load() {
		return store.AddResult{}, errStoreDown
	}
	return s.Store.AddQueries(ctx, qs)
}

// spoolFixture is a collector with a spool, a fault-injecting file layer,
// a settable clock and a store that can fail.
type spoolFixture struct {
	*fixture
	dir   string
	fs    *faultFS
	clk   *clock
	flaky *flakyStore
	cfg   *Config
	logs  *syncbuf.Buffer
}

func newSpoolFixture(t *testing.T, mod func(*Config)) *spoolFixture {
	t.Helper()
	dir := t.TempDir()
	cfg := Defaults()
	cfg.Tokens = []string{token}
	cfg.QueryLogTokens = []string{logToken}
	cfg.Rate = 0
	if mod != nil {
		mod(cfg)
	}
	st := openStore(t, filepath.Join(dir, "store"))
	f := &spoolFixture{dir: dir, fs: &faultFS{}, clk: newClock(), flaky: &flakyStore{Store: st}, cfg: cfg, logs: &syncbuf.Buffer{}}
	f.fixture = &fixture{st: st}
	f.start(t)
	return f
}

// start starts (or restarts) the collector on the fixture's spool.
func (f *spoolFixture) start(t *testing.T) {
	t.Helper()
	f.reg = prometheus.NewRegistry()
	srv, err := New(f.cfg, f.flaky, Options{Registry: f.reg, Now: f.clk.now, Logger: newTestLogger(f.logs),
		SpoolDir: filepath.Join(f.dir, "spool"), LoadInterval: 5 * time.Millisecond, fs: f.fs.ops()})
	if err != nil {
		t.Fatal(err)
	}
	f.srv = srv
	t.Cleanup(func() { _ = srv.Close() })
}

// post posts beacon i (its rtt identifies it) and returns the answer.
func (f *spoolFixture) post(t *testing.T, i int) (int, http.Header, string) {
	t.Helper()
	w := f.do(t, req{body: f.clk.beacon(float64(i)), header: auth})
	return w.Code, w.Header(), w.Body.String()
}

// waitFor polls cond until it holds, failing after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

func (f *spoolFixture) health(t *testing.T) (int, string) {
	t.Helper()
	w := f.do(t, req{method: http.MethodGet, path: "/healthz"})
	return w.Code, w.Body.String()
}

func gauge(t *testing.T, reg *prometheus.Registry, name, spool string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "spool" && l.GetValue() == spool {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{spool=%q}", name, spool)
	return 0
}

// TestFaultSpoolWriteErrors: a failed write (a full disk: ENOSPC after a
// partial write; EIO) or a failed fdatasync answers 503 with Retry-After
// and acknowledges nothing; once the fault clears, beacons are accepted
// again, and every acknowledged beacon is in the store, also after a
// restart. The failed writes are cut off the spool: none of their
// beacons is loaded.
func TestFaultSpoolWriteErrors(t *testing.T) {
	f := newSpoolFixture(t, nil)
	acked := map[float64]bool{}
	post := func(i int, want int, body string) {
		t.Helper()
		code, h, b := f.post(t, i)
		if code != want || !strings.Contains(b, body) {
			t.Fatalf("beacon %d: %d %q, want %d %q", i, code, b, want, body)
		}
		if code == 200 {
			acked[float64(i)] = true
		} else if h.Get("Retry-After") == "" {
			t.Errorf("beacon %d: %d without Retry-After", i, code)
		}
	}
	for i := range 10 {
		post(i, 200, `{"accepted":1}`)
	}
	setFault(&f.fs.writeErr, syscall.ENOSPC)
	post(10, 503, "no space left for the spool; retry later")
	setFault(&f.fs.writeErr, syscall.EIO)
	post(11, 503, "the commit failed; retry later")
	setFault(&f.fs.writeErr, nil)
	setFault(&f.fs.syncErr, syscall.EIO)
	post(12, 503, "the commit failed")
	setFault(&f.fs.syncErr, nil)
	for i := 13; i < 20; i++ {
		post(i, 200, `{"accepted":1}`)
	}
	if n := testutil.ToFloat64(f.srv.m.spoolErrors.WithLabelValues("beacons", "commit")); n != 3 {
		t.Errorf("steer_collector_spool_errors_total{op=commit} %v, want 3", n)
	}
	if n := testutil.ToFloat64(f.srv.m.rejected.WithLabelValues("disk-full")); n != 1 {
		t.Errorf("rejected{reason=disk-full} %v, want 1", n)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		got := countSamples(t, f.st)
		for rtt := range acked {
			if got[rtt] != 1 {
				t.Errorf("acknowledged beacon %v stored %d times", rtt, got[rtt])
			}
		}
		for _, rtt := range []float64{10, 11, 12} {
			if got[rtt] != 0 {
				t.Errorf("beacon %v, refused with 503, was loaded: the failed write was not cut off", rtt)
			}
		}
		if len(got) != len(acked) {
			t.Errorf("%d beacons in the store, want the %d acknowledged", len(got), len(acked))
		}
	}
	check()
	f.start(t) // a restart loads nothing more and loses nothing
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	check()
}

// TestFaultSpoolRotateRecovers: a rotation whose directory sync fails
// leaves the next segment file behind, half created. Appends continue in
// the current segment meanwhile, and once the fault clears rotation
// reuses that file and works again (it used to fail for good: O_EXCL on
// the file left behind).
func TestFaultSpoolRotateRecovers(t *testing.T) {
	old := segmentMax
	segmentMax = 1 << 10 // a rotation every few beacons
	defer func() { segmentMax = old }()
	f := newSpoolFixture(t, nil)
	spDir := filepath.Join(f.dir, "spool")
	i := 0
	postN := func(n int) {
		t.Helper()
		for range n {
			if code, _, b := f.post(t, i); code != 200 {
				t.Fatalf("beacon %d: %d %s", i, code, b)
			}
			i++
		}
	}
	postN(3)
	setFault(&f.fs.dirErr, syscall.EIO)
	postN(10) // rotation fails on each: the beacons go to the current segment
	if n := testutil.ToFloat64(f.srv.m.spoolErrors.WithLabelValues("beacons", "rotate")); n < 2 {
		t.Fatalf("%v failed rotations counted, want several", n)
	}
	sp := f.srv.beacons.sp
	sp.mu.Lock()
	seg := sp.seg
	sp.mu.Unlock()
	if _, err := os.Stat(filepath.Join(spDir, segName(seg+1))); err != nil {
		t.Fatalf("the failed rotation left no next segment behind: %v", err)
	}
	setFault(&f.fs.dirErr, nil)
	postN(20)
	sp.mu.Lock()
	now := sp.seg
	sp.mu.Unlock()
	if now < seg+3 {
		t.Errorf("segment %d after the fault cleared, was %d: rotation did not recover", now, seg)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countSamples(t, f.st); len(got) != i {
		t.Errorf("%d of %d acknowledged beacons in the store", len(got), i)
	}
}

// TestFaultSpoolQuarantine: an undecodable line in a spool segment (the
// reviewer's `1 {"v":1,"garbage"`), and a finished segment cut short
// without its newline, are moved to quarantine.ndjson with their segment
// and offset, counted and logged without a client address; every good
// beacon before and after them is loaded, new beacons keep reaching the
// store, and a restart quarantines nothing again.
func TestFaultSpoolQuarantine(t *testing.T) {
	dir := t.TempDir()
	spDir := filepath.Join(dir, "spool")
	sp, err := openSpool(spDir, osOps)
	if err != nil {
		t.Fatal(err)
	}
	must := func(_, _ position, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(appendBeacons(sp, spoolBeacons(t, 0, 5)))
	must(sp.append([]byte(`1 {"v":1,"garbage"` + "\n")))
	// a line whose error would quote a full address
	must(sp.append([]byte(`1763719200123 {"v":1,"client_subnet":"203.0.113.77/32","agent":{"kind":"web"},"samples":[]}` + "\n")))
	must(appendBeacons(sp, spoolBeacons(t, 5, 5)))
	must(sp.append([]byte(`1763719200123 {"v":1,"agent"`))) // no newline: then the segment is finished
	sp.fresh = true
	must(appendBeacons(sp, spoolBeacons(t, 10, 5)))
	if err := sp.close(); err != nil {
		t.Fatal(err)
	}

	st := openStore(t, filepath.Join(dir, "store"))
	var logs syncbuf.Buffer
	cfg := Defaults()
	cfg.Tokens, cfg.Rate = []string{token}, 0
	now := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	start := func() *Server {
		srv, err := New(cfg, st, Options{SpoolDir: spDir, LoadInterval: 5 * time.Millisecond, Logger: newTestLogger(&logs),
			Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		return srv
	}
	srv := start()
	f := &fixture{srv: srv, st: st}
	waitFor(t, "the spooled beacons to be loaded", func() bool {
		return testutil.ToFloat64(srv.m.beacons.WithLabelValues("stored")) == 15
	})
	if n := testutil.ToFloat64(srv.m.quarantined.WithLabelValues("beacons")); n != 3 {
		t.Errorf("%v lines quarantined, want 3", n)
	}
	// the loader did not stop: new beacons reach the store, health is ok
	if w := f.do(t, req{body: desktopBeacon("2026-11-21T10:00:00.123Z", 99), header: auth}); w.Code != 200 {
		t.Fatalf("new beacon: %d %s", w.Code, w.Body.String())
	}
	waitFor(t, "the new beacon to be loaded", func() bool {
		return testutil.ToFloat64(srv.m.beacons.WithLabelValues("stored")) == 16
	})
	if w := f.do(t, req{method: http.MethodGet, path: "/healthz"}); w.Code != 200 {
		t.Errorf("/healthz %d %s", w.Code, w.Body.String())
	}
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countSamples(t, st); len(got) != 16 {
		t.Errorf("%d beacons in the store, want 16", len(got))
	}

	// the quarantine file: one record per line, where it was and why
	qf, err := os.Open(filepath.Join(spDir, quarantineFile))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = qf.Close() }()
	type record struct {
		Segment uint64 `json:"segment"`
		Offset  int64  `json:"offset"`
		Error   string `json:"error"`
		Line    string `json:"line"`
	}
	var recs []record
	sc := bufio.NewScanner(qf)
	for sc.Scan() {
		var rec record
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("quarantine line %q: %v", sc.Text(), err)
		}
		recs = append(recs, rec)
	}
	if len(recs) != 3 || recs[0].Line != `1 {"v":1,"garbage"`+"\n" || recs[0].Offset == 0 || !strings.Contains(recs[0].Error, "segment") ||
		recs[2].Line != `1763719200123 {"v":1,"agent"` || recs[2].Segment != recs[0].Segment {
		t.Errorf("quarantine records %+v", recs)
	}
	for _, s := range []string{logs.String(), recs[1].Error} {
		if strings.Contains(s, "203.0.113.77") {
			t.Errorf("a full address in a log or quarantine error: %s", s)
		}
	}
	if !strings.Contains(logs.String(), "quarantine") || !strings.Contains(logs.String(), "offset=") {
		t.Errorf("the quarantine was not logged with its offset:\n%s", logs.String())
	}

	// a restart loads and quarantines nothing again
	srv = start()
	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(srv.m.quarantined.WithLabelValues("beacons")); n != 0 {
		t.Errorf("the restart quarantined %v lines again", n)
	}
	if s, d := testutil.ToFloat64(srv.m.beacons.WithLabelValues("stored")), testutil.ToFloat64(srv.m.beacons.WithLabelValues("duplicate")); s+d != 0 {
		t.Errorf("the restart loaded %v + %v duplicates", s, d)
	}
}

// TestFaultLoaderHealth: while the store fails, acknowledged beacons wait
// in the spool (the backlog metric says how much), and once the loader
// has been behind for max_load_lag /healthz answers 503 naming the
// problem; when the store is back the backlog is loaded and /healthz is
// ok again.
func TestFaultLoaderHealth(t *testing.T) {
	f := newSpoolFixture(t, func(c *Config) { c.MaxLoadLag = time.Minute })
	if code, body := f.health(t); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz %d %q", code, body)
	}
	f.flaky.fail.Store(true)
	for i := range 5 {
		if code, _, b := f.post(t, i); code != 200 {
			t.Fatalf("beacon %d: %d %s (the spool acknowledges while the store is down)", i, code, b)
		}
	}
	waitFor(t, "a failed load", func() bool {
		return testutil.ToFloat64(f.srv.m.spoolErrors.WithLabelValues("beacons", "load")) > 0
	})
	if b := gauge(t, f.reg, "steer_collector_spool_backlog_bytes", "beacons"); b < 500 {
		t.Errorf("backlog %v bytes with 5 beacons not loaded", b)
	}
	if code, _ := f.health(t); code != 200 {
		t.Errorf("/healthz %d before max_load_lag", code)
	}
	f.clk.add(2 * time.Minute)
	code, body := f.health(t)
	if code != 503 || !strings.Contains(body, "beacon spool: the loader has been behind for 2m0s") ||
		!strings.Contains(body, "bytes acknowledged but not in the store") || !strings.Contains(body, errStoreDown.Error()) {
		t.Errorf("/healthz %d %q", code, body)
	}
	if lag := gauge(t, f.reg, "steer_collector_spool_load_lag_seconds", "beacons"); lag < 120 {
		t.Errorf("load lag %v s", lag)
	}
	f.flaky.fail.Store(false)
	waitFor(t, "the backlog to be loaded and /healthz ok", func() bool {
		code, _ := f.health(t)
		return code == 200 && gauge(t, f.reg, "steer_collector_spool_backlog_bytes", "beacons") == 0
	})
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countSamples(t, f.st); len(got) != 5 {
		t.Errorf("%d beacons in the store, want 5", len(got))
	}
}

// TestFaultCommitStalled: with the disk stalled (fdatasync does not
// return) a request waits at most commit_timeout and is answered 503 with
// Retry-After, not held for ever; what it sent may still be committed
// once the disk is back (stored without acknowledgement, at-least-once),
// and what is acknowledged afterwards is stored.
func TestFaultCommitStalled(t *testing.T) {
	f := newSpoolFixture(t, func(c *Config) { c.CommitTimeout = 100 * time.Millisecond })
	stall := make(chan struct{})
	f.fs.stall.Store(&stall)
	for i := range 3 {
		t0 := time.Now()
		code, h, body := f.post(t, i)
		if d := time.Since(t0); code != 503 || h.Get("Retry-After") != "1" || !strings.Contains(body, "not committed within 100ms") || d > 5*time.Second {
			t.Fatalf("beacon %d on a stalled disk: %d %v %q after %v", i, code, h, body, d)
		}
	}
	if n := testutil.ToFloat64(f.srv.m.rejected.WithLabelValues("timeout")); n != 3 {
		t.Errorf("rejected{reason=timeout} %v, want 3", n)
	}
	f.fs.stall.Store(nil)
	close(stall)
	// the stalled commits finish first: on a busy machine that may take
	// longer than 100 ms
	f.srv.beacons.timeout = 10 * time.Second
	if code, _, body := f.post(t, 3); code != 200 {
		t.Fatalf("after the stall: %d %s", code, body)
	}
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	if got := countSamples(t, f.st); got[3] != 1 {
		t.Errorf("the acknowledged beacon is not in the store: %v", got)
	}
}

// TestCommitBounds: a request that cannot even queue (the queue stays
// full) gives up after the timeout, and one whose client went away at
// once.
func TestCommitBounds(t *testing.T) {
	in := &intake[int]{jobs: make(chan *job[int]), timeout: 20 * time.Millisecond} // nobody takes jobs
	if err := in.commit(context.Background(), []int{1}); !errors.Is(err, errQueueFull) {
		t.Errorf("full queue: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := in.commit(ctx, []int{1}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	in.jobs = make(chan *job[int], 1) // queued, never committed
	if err := in.commit(context.Background(), []int{1}); !errors.Is(err, errCommitTimeout) {
		t.Errorf("queued, no commit: %v", err)
	}
}

// TestFaultQueryLogSpool: query log lines go through their own spool: a
// batch is acknowledged once spooled, also while the store is down, and
// reaches the store when it is back; a restart does not load it twice.
func TestFaultQueryLogSpool(t *testing.T) {
	f := newSpoolFixture(t, nil)
	f.flaky.fail.Store(true)
	var lines []string
	for i := range 30 {
		lines = append(lines, queryLine(i, "203.0.113.0/24"))
	}
	w := f.do(t, req{path: "/querylog", body: strings.Join(lines, "\n") + "\n",
		header: map[string]string{"Authorization": "bearer " + logToken, "Content-Type": "application/x-ndjson"}})
	if w.Code != 200 || w.Body.String() != "{\"accepted\":30}\n" {
		t.Fatalf("%d %s", w.Code, w.Body.String())
	}
	waitFor(t, "a failed load", func() bool {
		return testutil.ToFloat64(f.srv.m.spoolErrors.WithLabelValues("querylog", "load")) > 0
	})
	f.clk.add(2 * time.Minute)
	if code, body := f.health(t); code != 503 || !strings.Contains(body, "query log spool: the loader has been behind") {
		t.Errorf("/healthz %d %q", code, body)
	}
	f.flaky.fail.Store(false)
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	f.start(t)
	if err := f.srv.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := f.st.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Queries != 30 {
		t.Errorf("%d queries in the store, want 30", s.Queries)
	}
	if _, err := os.Stat(filepath.Join(f.dir, "spool", "querylog", progressFile)); err != nil {
		t.Errorf("no query log spool progress: %v", err)
	}
}

// TestSpoolOpenStates: opening a spool after the loader's recorded
// position is past what the segments hold (removed or cut by hand) starts
// after it, and new records are loaded.
func TestSpoolOpenStates(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, progressFile), []byte("7 100\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err := openSpool(dir, osOps)
	if err != nil {
		t.Fatal(err)
	}
	if sp.seg != 8 || sp.loadedPos() != (position{8, 0}) {
		t.Errorf("segment %d, loaded %v", sp.seg, sp.loadedPos())
	}
	_ = sp.close()
	// segment 8 exists but is shorter than the recorded position
	if err := os.WriteFile(filepath.Join(dir, progressFile), []byte("8 5000\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sp, err = openSpool(dir, osOps)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sp.close() }()
	if sp.loadedPos() != (position{8, 0}) || sp.backlog() != 0 {
		t.Errorf("loaded %v, backlog %d", sp.loadedPos(), sp.backlog())
	}
	if _, _, err := appendBeacons(sp, spoolBeacons(t, 0, 2)); err != nil {
		t.Fatal(err)
	}
	if sp.backlog() == 0 {
		t.Error("new records are not in the backlog")
	}
}
