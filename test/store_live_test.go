package test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/steer-gslb/steer/collector"
	"github.com/steer-gslb/steer/internal/syncbuf"
	"github.com/steer-gslb/steer/store/duckstore"
)

// `steer store` against a store another process holds: the real steer
// binary, a real `steer collect` process, and a process that holds the
// store without being a collector (the test binary re-executed).

func init() { childRoles["store-holder"] = runStoreHolder }

// runStoreHolder opens the store dir as `steer ingest` or a build would,
// prints "ADDR - -" and holds it until SIGTERM.
func runStoreHolder(ctx context.Context, dir string) int {
	st, err := duckstore.Open(dir, duckstore.Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("ADDR - -")
	<-ctx.Done()
	if err := st.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// buildSteer builds cmd/steer (cgo, as make build does) into a temporary
// directory.
func buildSteer(t *testing.T) string {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go command not found: %v", err)
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "steer")
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", bin, "./cmd/steer")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=1")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/steer: %v\n%s", err, out)
	}
	return bin
}

// steerRun runs the steer binary to completion (at most a minute).
func steerRun(t *testing.T, bin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("steer %s: %v", strings.Join(args, " "), err)
	}
	return o.String(), e.String(), code
}

// steerCollect is a running `steer collect` process.
type steerCollect struct {
	cmd           *exec.Cmd
	public, admin string // host:port; admin "" without one
	stderr        *syncbuf.Buffer
	done          bool
}

// startSteerCollect runs `steer collect --store dir` with the test
// collectors' token and trusted proxy, and an admin listener if asked.
func startSteerCollect(t *testing.T, bin, dir string, admin bool) *steerCollect {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "collect.yaml")
	yaml := "listen: 127.0.0.1:0\ntokens: [" + collectorToken + "]\ntrusted_proxies: [127.0.0.0/8]\nrate: 0\n"
	if admin {
		yaml += "admin: 127.0.0.1:0\n"
	}
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	c := &steerCollect{cmd: exec.Command(bin, "collect", "--store", dir, "--config", cfg), stderr: &syncbuf.Buffer{}}
	c.cmd.Stderr = c.stderr
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !c.done {
			_ = c.cmd.Process.Kill()
			_ = c.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("steer collect log:\n%s", tailString(c.stderr.String(), 4000))
		}
	})
	// steer collect: listening on http://127.0.0.1:P (store DIR)
	// steer collect: admin (/metrics, /querylog, /healthz) on http://127.0.0.1:Q
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default: // nobody reads any more
			}
		}
	}()
	timeout := time.After(30 * time.Second)
	for c.public == "" || (admin && c.admin == "") {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("steer collect exited: %s", c.stderr.String())
			}
			if _, rest, ok := strings.Cut(l, "listening on http://"); ok {
				c.public, _, _ = strings.Cut(rest, " ")
			}
			if _, rest, ok := strings.Cut(l, ") on http://"); ok && strings.Contains(l, "admin") {
				c.admin = rest
			}
		case <-timeout:
			t.Fatalf("steer collect did not start within 30 s: %s", c.stderr.String())
		}
	}
	return c
}

// TestFaultStoreHeld: `steer store` on a store another process holds
// (DuckDB lets one process open a store for writing and then keeps every
// other out, readers too). The steer binary is built once for the
// subtests.
func TestFaultStoreHeld(t *testing.T) {
	bin := buildSteer(t)
	for _, admin := range []bool{false, true} {
		name := map[bool]string{false: "public-loopback", true: "admin"}[admin]
		t.Run("collector-"+name, func(t *testing.T) { storeHeldByCollector(t, bin, admin) })
	}
	t.Run("not-a-collector", func(t *testing.T) { storeHeldByAnother(t, bin) })
}

// storeHeldByCollector: `steer store stats --store DIR` while `steer
// collect` holds the store prints the store's counts, got from that
// collector through its announcement in DIR, on its public listener from
// loopback or on its admin listener; --collector URL asks a collector
// directly. export and prune, which need the store, fail with a line
// naming the collector. Once the collector is gone (stopped: its
// announcement is removed; killed: the stale one is ignored) stats reads
// the store itself.
func storeHeldByCollector(t *testing.T, bin string, admin bool) {
	name := map[bool]string{false: "public", true: "admin"}[admin]
	dir := filepath.Join(t.TempDir(), "rum")
	c := startSteerCollect(t, bin, dir, admin)
	pid := c.cmd.Process.Pid
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range 3 {
		code, err := postBeacon(ctx, client, "http://"+c.public+"/beacon", testBeacon(fmt.Sprintf("live-%s-%d", name, i), float64(20+i)), fmt.Sprintf("81.2.%d.9", 60+i))
		if err != nil || code != http.StatusOK {
			t.Fatalf("beacon %d: %d %v", i, code, err)
		}
	}

	counts := fmt.Sprintf("%s: 3 beacons, 6 samples, 0 DNS queries; samples from ", dir)
	note := fmt.Sprintf(" (from the running collector, pid %d)\n", pid)
	var out, errOut string
	var code int
	// the spool loader moves acknowledged beacons into the store
	// within about a second
	eventually(t, 20*time.Second, "steer store stats to count the beacons through the collector", func() bool {
		out, errOut, code = steerRun(t, bin, "store", "stats", "--store", dir)
		return code == 0 && strings.HasPrefix(out, counts) && strings.HasSuffix(out, note)
	})
	if errOut != "" || strings.Count(out, "\n") != 1 {
		t.Errorf("stats: stdout %q stderr %q", out, errOut)
	}

	url := "http://" + c.public
	if admin {
		url = "http://" + c.admin
		// the public listener does not serve it
		resp, err := client.Get("http://" + c.public + collector.StoreStatsPath)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("public %s with an admin listener: %d", collector.StoreStatsPath, resp.StatusCode)
		}
	}
	out, errOut, code = steerRun(t, bin, "store", "stats", "--collector", url)
	if want := fmt.Sprintf(" (from the collector at %s, pid %d)\n", url, pid); code != 0 || !strings.HasPrefix(out, counts) || !strings.HasSuffix(out, want) {
		t.Errorf("stats --collector %s: %d %q %q", url, code, out, errOut)
	}

	exp := filepath.Join(t.TempDir(), "parquet")
	for _, args := range [][]string{{"export", "--out", exp}, {"prune", "--older-than", "1s"}} {
		out, errOut, code = steerRun(t, bin, append([]string{"store", args[0], "--store", dir}, args[1:]...)...)
		want := fmt.Sprintf("steer store %s: store %s is held by the running collector (pid %d, %s): %s needs the store to itself: stop the collector first",
			args[0], dir, pid, url, args[0])
		if code != 1 || out != "" || !strings.HasPrefix(errOut, want) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("store %s: %d %q %q, want %q", args[0], code, out, errOut, want)
		}
	}
	if _, err := os.Stat(exp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("export wrote %s: %v", exp, err)
	}
	// a bulk import too (the collector takes beacons over HTTP instead)
	bf := filepath.Join(t.TempDir(), "beacons.ndjson")
	line := strings.Replace(testBeacon("bulk-"+name, 30), `{"v":1,`, `{"v":1,"client_subnet":"81.2.70.0/24",`, 1)
	if err := os.WriteFile(bf, []byte(line+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, errOut, code = steerRun(t, bin, "ingest", "--store", dir, bf)
	if want := fmt.Sprintf("steer ingest: store %s is held by the running collector (pid %d, %s): ingest needs the store to itself: stop the collector first\n", dir, pid, url); code != 1 || out != "" || errOut != want {
		t.Errorf("ingest: %d %q %q, want %q", code, out, errOut, want)
	}

	announcement := filepath.Join(dir, collector.AnnounceFile)
	sig := syscall.SIGTERM
	if admin {
		sig = syscall.SIGKILL
	}
	if err := c.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	err := c.cmd.Wait()
	c.done = true
	if sig == syscall.SIGTERM {
		if err != nil {
			t.Fatalf("steer collect after SIGTERM: %v", err)
		}
		if _, err := os.Stat(announcement); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after a clean stop: %v", announcement, err)
		}
	} else if _, err := collector.ReadAnnouncement(dir); err != nil {
		t.Errorf("after SIGKILL the announcement should be left behind (stale): %v", err)
	}
	out, errOut, code = steerRun(t, bin, "store", "stats", "--store", dir)
	if code != 0 || !strings.HasPrefix(out, counts) || strings.Contains(out, " (from the") || strings.Count(out, "\n") != 1 {
		t.Errorf("stats after the collector stopped (%v): %d %q %q", sig, code, out, errOut)
	}
}

// storeHeldByAnother: when the process holding the store is not a
// collector (steer ingest, a build), or the announced collector does not
// answer, `steer store` fails with one line naming the holder and the fix,
// and creates nothing; a stale announcement is not believed.
func storeHeldByAnother(t *testing.T, bin string) {
	dir := filepath.Join(t.TempDir(), "rum")
	holder := startRole(t, "store-holder", dir)
	pid := holder.cmd.Process.Pid

	check := func(what string, args []string, want, fix string) {
		t.Helper()
		out, errOut, code := steerRun(t, bin, args...)
		if code != 1 || out != "" || !strings.HasPrefix(errOut, want) || !strings.HasSuffix(errOut, fix+"\n") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want %q … %q", what, code, out, errOut, want, fix)
		}
	}
	locked := func(sub string) string {
		return fmt.Sprintf("steer store %s: store %s is locked by another process (pid %d, ", sub, dir, pid)
	}
	statsFix := "stop it, or give --collector URL of the collector that holds it"
	check("stats", []string{"store", "stats", "--store", dir}, locked("stats"), statsFix)
	check("export", []string{"store", "export", "--store", dir, "--out", filepath.Join(t.TempDir(), "x")}, locked("export"), "stop it first: export needs the store to itself")
	check("prune", []string{"store", "prune", "--store", dir, "--older-than", "1h"}, locked("prune"), "stop it first: prune needs the store to itself")
	check("build", []string{"build", "--store", dir, "--out", filepath.Join(t.TempDir(), "m.json"), "-q"},
		fmt.Sprintf("steer build: store %s is held by process %d (", dir, pid), "stop it, or build inside the collector (steer collect --build-every 1h --build-out MAP.json)")

	// a stale announcement (a collector killed with SIGKILL, its pid gone)
	// is not believed
	gone := exec.Command(bin, "version")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	closedURL := "http://" + closedAddr(t)
	writeAnnouncement(t, dir, gone.Process.Pid, closedURL)
	check("stats, stale announcement", []string{"store", "stats", "--store", dir}, locked("stats"), statsFix)

	// the holder announced, but its URL does not answer
	writeAnnouncement(t, dir, pid, closedURL)
	check("stats, collector not answering", []string{"store", "stats", "--store", dir},
		fmt.Sprintf("steer store stats: store %s is held by the running collector (pid %d), but asking it failed: ", dir, pid),
		"check that collector, or give --collector URL of its admin listener")
	_, errOut, code := steerRun(t, bin, "store", "stats", "--collector", closedURL)
	if code != 1 || !strings.HasPrefix(errOut, "steer store stats: asking the collector: ") || !strings.Contains(errOut, "connection refused") {
		t.Errorf("stats --collector %s: %d %q", closedURL, code, errOut)
	}

	// a store that does not exist is not created by looking at it
	missing := filepath.Join(t.TempDir(), "nope")
	for _, args := range [][]string{{"stats"}, {"export", "--out", filepath.Join(t.TempDir(), "x")}, {"prune", "--older-than", "1h"}} {
		if _, errOut, code := steerRun(t, bin, append([]string{"store", args[0], "--store", missing}, args[1:]...)...); code != 1 || !strings.Contains(errOut, "no store") {
			t.Errorf("store %s of a missing store: %d %q", args[0], code, errOut)
		}
	}
	if _, err := os.Stat(missing); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("looking at a missing store created %s: %v", missing, err)
	}

	holder.stop(t, syscall.SIGTERM)
	out, errOut, code := steerRun(t, bin, "store", "stats", "--store", dir)
	if want := dir + ": 0 beacons, 0 samples, 0 DNS queries\n"; code != 0 || out != want {
		t.Errorf("stats once the holder is gone: %d %q %q, want %q", code, out, errOut, want)
	}
}

// writeAnnouncement writes a collector announcement into dir, as a
// collector would.
func writeAnnouncement(t *testing.T, dir string, pid int, url string) {
	t.Helper()
	b := fmt.Appendf(nil, `{"pid":%d,"url":%q,"started":"2026-12-07T09:00:00Z"}`, pid, url)
	if _, err := collector.ParseAnnouncement(b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, collector.AnnounceFile), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// closedAddr is a loopback address nothing listens on (just closed).
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}
