package test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// The collector's fault tests with real processes: the test binary runs
// as a collector (runChildCollector, as steer collect does) and is killed
// with SIGKILL, given a full disk, a corrupted spool, beacons from broken
// clocks and connection floods. docs/RELIABILITY.md, "Collector", lists
// them with the outcome each asserts.

const faultQueryLogToken = "test-querylog-token-0123456789"

// faultCollectorYAML is the fault tests' collector config: both
// listeners on free loopback ports, loopback trusted as the proxy that
// sends X-Forwarded-For, no rate limit.
const faultCollectorYAML = `listen: 127.0.0.1:0
admin: 127.0.0.1:0
tokens: [` + collectorToken + `]
querylog_tokens: [` + faultQueryLogToken + `]
trusted_proxies: [127.0.0.0/8]
rate: 0
`

// startCollectorYAML runs a collector process on the store dir with a
// YAML config; child.addr is its public address, child.admin its admin.
func startCollectorYAML(t *testing.T, dir, yaml string) *child {
	t.Helper()
	return startChild(t, "collector", []string{"STEER_TEST_COLLECTOR_DIR=" + dir, "STEER_TEST_COLLECTOR_CONFIG=" + yaml})
}

// answer is an HTTP answer's code, Retry-After and body.
type answer struct {
	code       int
	retryAfter string
	body       string
}

func httpDo(ctx context.Context, c *http.Client, method, url, body string, hdr map[string]string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	b, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), string(b)}, err
}

func beaconHeader(xff string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + collectorToken, "Content-Type": "application/json", "X-Forwarded-For": xff}
}

// metricValue reads one sample from a Prometheus text exposition: the
// line starting with series (name and labels as written), or -1.
func metricValue(t *testing.T, adminAddr, series string) float64 {
	t.Helper()
	a, err := httpDo(context.Background(), &http.Client{Timeout: 5 * time.Second}, http.MethodGet, "http://"+adminAddr+"/metrics", "", nil)
	if err != nil || a.code != 200 {
		t.Fatalf("/metrics: %d %v", a.code, err)
	}
	for l := range strings.Lines(a.body) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), series+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	return -1
}

// storeContents opens the store (no collector may run) and returns the
// DNS test names of its beacons and the qnames of its queries.
func storeContents(t *testing.T, dir string) (beacons, queries map[string]bool) {
	t.Helper()
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatalf("opening the store: %v", err)
	}
	defer func() { _ = st.Close() }()
	beacons, queries = map[string]bool{}, map[string]bool{}
	if err := st.ScanSamples(context.Background(), func(r *store.SampleRow) error {
		beacons[strings.TrimSuffix(r.DNSTest, ".rum.example.net")] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := st.ScanQueries(context.Background(), func(e *rum.LogEntry) error {
		queries[e.QName] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return beacons, queries
}

// checkAcked fails for every acknowledged name missing from got.
func checkAcked(t *testing.T, what string, acked []string, got map[string]bool) {
	t.Helper()
	lost := 0
	for _, n := range acked {
		if !got[n] {
			if lost++; lost <= 5 {
				t.Errorf("acknowledged %s %s is not in the store", what, n)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d of %d acknowledged %s lost", lost, len(acked), what)
	}
}

// ackLog collects what the collector acknowledged, from many goroutines.
type ackLog struct {
	mu      sync.Mutex
	beacons []string
	queries []string
}

func (a *ackLog) add(beacons, queries []string) {
	a.mu.Lock()
	a.beacons = append(a.beacons, beacons...)
	a.queries = append(a.queries, queries...)
	a.mu.Unlock()
}

func (a *ackLog) counts() (int, int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.beacons), len(a.queries)
}

// TestFaultCollectorKill9Random kills the collector with SIGKILL at a
// random moment in each of several rounds, while clients post beacons and
// a DNS server ships query log batches, restarting it on the same store
// each time; then stops it cleanly and finds every acknowledged beacon and
// query log line in the store. The seed is logged.
func TestFaultCollectorKill9Random(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	rnd := rand.New(rand.NewPCG(seed, 0))
	dir := t.TempDir()
	var acks ackLog
	const rounds = 3
	for round := range rounds {
		c := startCollectorYAML(t, dir, faultCollectorYAML)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		client := &http.Client{Timeout: 10 * time.Second}
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Go(func() {
				for i := range 5000 { // bounded: the kill comes long before
					name := fmt.Sprintf("r%dw%dn%d", round, w, i)
					code, err := postBeacon(ctx, client, "http://"+c.addr+"/beacon", testBeacon(name, float64(i)), fmt.Sprintf("81.2.%d.%d", 60+w, i%250+1))
					if err != nil {
						return // killed
					}
					if code == http.StatusOK {
						acks.add([]string{name}, nil)
					}
				}
			})
		}
		wg.Go(func() { // a shipper: batches of 50 query log lines
			for b := range 1000 {
				var lines, names []string
				for i := range 50 {
					e := rum.LogEntry{TS: time.Now().UTC().Truncate(time.Millisecond), QName: fmt.Sprintf("r%db%dq%d.rum.example.net.", round, b, i),
						QType: "A", Resolver: netip.MustParseAddr("81.2.69.53"), PoP: "fra", Source: rum.SourceResolver}
					lines = append(lines, string(rum.AppendLogEntry(nil, &e)))
					names = append(names, e.QName)
				}
				a, err := httpDo(ctx, client, http.MethodPost, "http://"+c.admin+"/querylog", strings.Join(lines, "\n")+"\n",
					map[string]string{"Authorization": "Bearer " + faultQueryLogToken, "Content-Type": "application/x-ndjson"})
				if err != nil {
					return
				}
				if a.code == http.StatusOK {
					acks.add(nil, names)
				}
			}
		})
		// the kill: some time after the first acknowledgements
		eventually(t, 15*time.Second, "first acknowledgements", func() bool { b, q := acks.counts(); return b > 0 && q > 0 })
		delay := time.Duration(50+rnd.IntN(1200)) * time.Millisecond
		<-time.After(delay)
		c.stop(t, syscall.SIGKILL)
		wg.Wait()
		cancel()
		b, q := acks.counts()
		t.Logf("round %d: killed %v after the first acknowledgement; %d beacons, %d query log lines acknowledged so far", round, delay, b, q)
	}
	startCollectorYAML(t, dir, faultCollectorYAML).stop(t, syscall.SIGTERM)
	beacons, queries := storeContents(t, dir)
	checkAcked(t, "beacon", acks.beacons, beacons)
	checkAcked(t, "query log line", acks.queries, queries)
}

// TestFaultCollectorDiskFull puts the spool on a small tmpfs and fills it:
// the collector answers 503 with Retry-After (never 200 for what it could
// not write) while the disk is full, takes beacons again once space is
// freed, and after a SIGKILL and a restart every acknowledged beacon is
// in the store.
func TestFaultCollectorDiskFull(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	if err := os.MkdirAll(spoolDir, 0o700); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", spoolDir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs for the spool (needs root and mount rights): %v: %s", err, out)
	}
	t.Cleanup(func() { // after the collector's own cleanup (registered later, run earlier)
		if out, err := exec.Command("umount", spoolDir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", spoolDir, err, out)
		}
	})
	c := startCollectorYAML(t, dir, faultCollectorYAML)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()
	var acked []string
	post := func(name string) answer {
		t.Helper()
		a, err := httpDo(ctx, client, http.MethodPost, "http://"+c.addr+"/beacon", testBeacon(name, 1), beaconHeader("81.2.69.7"))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if a.code == http.StatusOK {
			acked = append(acked, name)
		}
		return a
	}
	for i := range 20 {
		if a := post(fmt.Sprintf("before%d", i)); a.code != 200 {
			t.Fatalf("before the disk is full: %d %s", a.code, a.body)
		}
	}
	// fill the tmpfs, then free a little: the spool fills it up
	filler := filepath.Join(spoolDir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	var size int64
	for {
		n, err := f.Write(chunk)
		size += int64(n)
		if err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	if err := errors.Join(f.Truncate(size-48<<10), f.Close()); err != nil {
		t.Fatal(err)
	}
	var full answer
	for i := 0; full.code == 0; i++ {
		if i == 2000 {
			t.Fatal("2000 beacons accepted with 48 KiB free")
		}
		if a := post(fmt.Sprintf("filling%d", i)); a.code != 200 {
			full = a
		}
	}
	if full.code != http.StatusServiceUnavailable || full.retryAfter == "" || !strings.Contains(full.body, "no space left for the spool; retry later") {
		t.Errorf("on a full disk: %d Retry-After %q %q", full.code, full.retryAfter, full.body)
	}
	if v := metricValue(t, c.admin, `steer_collector_rejected_total{reason="disk-full"}`); v < 1 {
		t.Errorf("rejected{reason=disk-full} %v", v)
	}
	t.Logf("%d beacons acknowledged before the disk was full", len(acked))
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		if a := post(fmt.Sprintf("after%d", i)); a.code != 200 {
			t.Fatalf("with space again: %d %s", a.code, a.body)
		}
	}
	c.stop(t, syscall.SIGKILL)
	startCollectorYAML(t, dir, faultCollectorYAML).stop(t, syscall.SIGTERM)
	beacons, _ := storeContents(t, dir)
	checkAcked(t, "beacon", acked, beacons)
}

// newestSegment is the path of the spool's newest segment.
func newestSegment(t *testing.T, spoolDir string) string {
	t.Helper()
	segs, err := filepath.Glob(filepath.Join(spoolDir, "*.spool"))
	if err != nil || len(segs) == 0 {
		t.Fatalf("no spool segment in %s: %v", spoolDir, err)
	}
	slices.Sort(segs)
	return segs[len(segs)-1]
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestFaultCollectorCorruptSpool: an undecodable line appended to a spool
// segment (the reviewer's `1 {"v":1,"garbage"`) no longer stops the
// loader for good: after a restart the line is quarantined (counted,
// logged with its offset), new beacons still reach the store, /healthz
// and the backlog tell the truth, and a further restart does not
// quarantine it again. A torn last line (no newline: a crash mid-write) is
// cut off, not quarantined.
func TestFaultCollectorCorruptSpool(t *testing.T) {
	dir := t.TempDir()
	spoolDir := filepath.Join(dir, "spool")
	client := &http.Client{Timeout: 10 * time.Second}
	var acked []string
	postAll := func(c *child, prefix string, n int) {
		t.Helper()
		for i := range n {
			name := fmt.Sprintf("%s%d", prefix, i)
			code, err := postBeacon(context.Background(), client, "http://"+c.addr+"/beacon", testBeacon(name, float64(i)), "81.2.69.8")
			if err != nil || code != 200 {
				t.Fatalf("%s: %d %v", name, code, err)
			}
			acked = append(acked, name)
		}
	}
	c := startCollectorYAML(t, dir, faultCollectorYAML)
	postAll(c, "first", 20)
	c.stop(t, syscall.SIGTERM)
	appendFile(t, newestSegment(t, spoolDir), `1 {"v":1,"garbage"`+"\n")

	c = startCollectorYAML(t, dir, faultCollectorYAML)
	postAll(c, "second", 20)
	eventually(t, 15*time.Second, "the quarantine and an empty backlog", func() bool {
		return metricValue(t, c.admin, `steer_collector_spool_quarantined_total{spool="beacons"}`) == 1 &&
			metricValue(t, c.admin, `steer_collector_spool_backlog_bytes{spool="beacons"}`) == 0 &&
			metricValue(t, c.admin, `steer_collector_beacons_total{result="stored"}`) == 20
	})
	if a, err := httpDo(context.Background(), client, http.MethodGet, "http://"+c.addr+"/healthz", "", nil); err != nil || a.code != 200 || a.body != "ok\n" {
		t.Errorf("/healthz %+v %v", a, err)
	}
	if s := c.stderr.String(); !strings.Contains(s, "quarantine") || !strings.Contains(s, "offset=") {
		t.Errorf("the quarantine was not logged with its offset:\n%s", s)
	}
	c.stop(t, syscall.SIGTERM)

	// a torn line: cut off on open, not quarantined
	appendFile(t, newestSegment(t, spoolDir), `1764000000000 {"v":1,"agent":{"ki`)
	c = startCollectorYAML(t, dir, faultCollectorYAML)
	postAll(c, "third", 5)
	eventually(t, 15*time.Second, "the third beacons loaded", func() bool {
		return metricValue(t, c.admin, `steer_collector_beacons_total{result="stored"}`) == 5
	})
	if v := metricValue(t, c.admin, `steer_collector_spool_quarantined_total{spool="beacons"}`); v > 0 {
		t.Errorf("the restart quarantined %v lines (the garbage again, or the torn line)", v)
	}
	c.stop(t, syscall.SIGTERM)

	q, err := os.ReadFile(filepath.Join(spoolDir, "quarantine.ndjson"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(q), "\n"); n != 1 || !strings.Contains(string(q), `"line":"1 {\"v\":1,\"garbage\"\n"`) {
		t.Errorf("quarantine.ndjson holds %d records:\n%s", n, q)
	}
	beacons, _ := storeContents(t, dir)
	checkAcked(t, "beacon", acked, beacons)
}

// TestFaultCollectorDoor: beacons from agents whose clock jumped (1971,
// 2099), with an absurd RTT, or whose address in the trusted proxy's
// header is not global are refused with 400 naming the problem and
// counted by reason; /metrics and /querylog are on the admin listener
// only; a lower-case bearer scheme is accepted.
func TestFaultCollectorDoor(t *testing.T) {
	dir := t.TempDir()
	c := startCollectorYAML(t, dir, faultCollectorYAML)
	client := &http.Client{Timeout: 10 * time.Second}
	ctx := context.Background()
	now := time.Now().UTC()
	beacon := func(ts time.Time, rtt float64) string {
		return fmt.Sprintf(`{"v":1,"agent":{"kind":"cli"},"samples":[{"ts":%q,"target":"fra","probe":"https","rtt_ms":%v}]}`, ts.Format(time.RFC3339Nano), rtt)
	}
	for _, tc := range []struct {
		name, body, xff string
		code            int
		want, reason    string
	}{
		{"now", beacon(now, 12), "81.2.69.9", 200, `{"accepted":1}`, ""},
		{"1971", beacon(time.Date(1971, 1, 1, 0, 0, 0, 0, time.UTC), 12), "81.2.69.9", 400, "is more than 168h0m0s before the collector's clock", "too-old"},
		{"2099", beacon(time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC), 12), "81.2.69.9", 400, "ahead of the collector's clock", "future"},
		{"1e9 ms", beacon(now, 1e9), "81.2.69.9", 400, "rtt_ms: 1e+09 is over the limit of 60000 ms", "rtt"},
		{"link-local with a zone", beacon(now, 13), "fe80::1%eth0", 400, "X-Forwarded-For: element 1 is not a global address (zoned)", "address-zoned"},
		{"private", beacon(now, 14), "192.168.1.20", 400, "not a global address (private)", "address-private"},
	} {
		a, err := httpDo(ctx, client, http.MethodPost, "http://"+c.addr+"/beacon", tc.body, beaconHeader(tc.xff))
		if err != nil || a.code != tc.code || !strings.Contains(a.body, tc.want) {
			t.Errorf("%s: %d %q %v, want %d %q", tc.name, a.code, a.body, err, tc.code, tc.want)
		}
		if tc.reason != "" {
			if v := metricValue(t, c.admin, `steer_collector_rejected_total{reason="`+tc.reason+`"}`); v != 1 {
				t.Errorf("%s: rejected{reason=%q} %v", tc.name, tc.reason, v)
			}
		}
	}
	lower := map[string]string{"Authorization": "bearer " + collectorToken, "X-Forwarded-For": "81.2.69.9"}
	if a, err := httpDo(ctx, client, http.MethodPost, "http://"+c.addr+"/beacon", beacon(now, 15), lower); err != nil || a.code != 200 {
		t.Errorf("lower-case bearer: %+v %v", a, err)
	}
	for _, p := range []string{"/metrics", "/querylog"} {
		if a, err := httpDo(ctx, client, http.MethodGet, "http://"+c.addr+p, "", nil); err != nil || a.code != 404 {
			t.Errorf("public %s: %+v %v", p, a, err)
		}
	}
	if a, err := httpDo(ctx, client, http.MethodGet, "http://"+c.admin+"/healthz", "", nil); err != nil || a.code != 200 {
		t.Errorf("admin /healthz: %+v %v", a, err)
	}
	c.stop(t, syscall.SIGTERM)
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = st.Close() }()
	s, err := st.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Samples != 2 {
		t.Errorf("%d samples stored, want the 2 accepted", s.Samples)
	}
}

// TestFaultCollectorConnFlood: a flood of connections that dribble their
// request headers (slowloris), then one of idle keep-alive connections,
// each as large as the connection limit, cannot keep a normal client out:
// it gets 200 within a few seconds, and the flood's connections are
// closed by the collector (the slow ones at read_header_timeout, the idle
// ones as soon as a new connection needs their slot).
func TestFaultCollectorConnFlood(t *testing.T) {
	const conns = 32
	dir := t.TempDir()
	c := startCollectorYAML(t, dir, faultCollectorYAML+"max_conns: 32\nread_header_timeout: 1s\nidle_timeout: 60s\n")
	normal := func(name string) time.Duration {
		t.Helper()
		client := &http.Client{Timeout: 8 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
		t0 := time.Now()
		code, err := postBeacon(context.Background(), client, "http://"+c.addr+"/beacon", testBeacon(name, 1), "81.2.69.10")
		if err != nil || code != 200 {
			t.Fatalf("a normal client during the flood: %d %v", code, err)
		}
		return time.Since(t0)
	}
	// closedWithin reads each connection until the collector closes it.
	closedWithin := func(cs []net.Conn, d time.Duration) {
		t.Helper()
		deadline := time.Now().Add(d)
		for i, conn := range cs {
			_ = conn.SetReadDeadline(deadline)
			if _, err := io.Copy(io.Discard, conn); isTimeout(err) {
				t.Errorf("connection %d still open after %v", i, d)
			}
			_ = conn.Close()
		}
	}

	// slowloris: every slot taken by a connection sending a header byte
	// every 100 ms
	var slow []net.Conn
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range conns {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		slow = append(slow, conn)
		wg.Go(func() {
			if _, err := io.WriteString(conn, "POST /beacon HTTP/1.1\r\nHost: x\r\n"); err != nil {
				return
			}
			tick := time.NewTicker(100 * time.Millisecond)
			defer tick.Stop()
			for range 100 {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := conn.Write([]byte("X")); err != nil {
					return // closed by the collector
				}
			}
		})
	}
	t0 := time.Now()
	d := normal("slowloris")
	t.Logf("with %d slow connections: a normal request took %v", conns, d)
	closedWithin(slow, 5*time.Second)
	close(stop)
	wg.Wait()
	t.Logf("slow connections closed %v after the flood began", time.Since(t0).Round(time.Millisecond))

	// idle keep-alive connections in every slot
	var idle []net.Conn
	for range conns {
		conn, err := net.DialTimeout("tcp", c.addr, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, conn)
		if _, err := io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("/healthz %d", resp.StatusCode)
		}
	}
	d = normal("idle")
	if d > 5*time.Second {
		t.Errorf("with %d idle connections a normal request took %v: idle connections were not closed to make room", conns, d)
	}
	// the idle connections that made room were closed, far sooner than
	// idle_timeout (60 s); one that went idle only after the new request
	// had its slot may stay open
	closed := 0
	deadline := time.Now().Add(time.Second)
	for _, conn := range idle {
		_ = conn.SetReadDeadline(deadline)
		if _, err := io.Copy(io.Discard, conn); err == nil || !isTimeout(err) {
			closed++
		}
		_ = conn.Close()
	}
	t.Logf("with %d idle keep-alive connections: a normal request took %v; %d idle connections closed", conns, d, closed)
	if closed == 0 {
		t.Error("no idle connection was closed to make room")
	}
	c.stop(t, syscall.SIGTERM)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
