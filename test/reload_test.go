package test

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/popmap"
)

// reloadLabels are the PoPs the tracked /24 cycles through, one per good
// map; consecutive maps always differ.
var reloadLabels = []popmap.Label{"ams", "lhr", "iad", "sin", "gru", "fra"}

// Subnets the query stream asks for. The first is the tracked one whose
// answer each good map changes; the others keep their answer.
var streamSubnets = []netip.Prefix{
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("198.18.0.0/24"),
	netip.MustParsePrefix("198.19.64.0/24"),
	netip.MustParsePrefix("2001:db8:20::/56"),
}

// goodMap is the i-th good map: the tracked /24 goes to reloadLabels[i%6]
// (first choice) and fra; the rest is fixed.
func goodMap(t *testing.T, i int) *popmap.Map {
	l := reloadLabels[i%len(reloadLabels)]
	second := "fra"
	if l == "fra" {
		second = "ams"
	}
	return mapOf(t, int64(100+i),
		fmt.Sprintf("203.0.113.0/24=%s,%s", l, second),
		"198.18.0.0/24 198.18.1.0/24=ams,fra,lhr",
		"198.19.64.0/18=sin",
		"2001:db8:20::/48=sin,iad",
	)
}

// badMaps are rejected by the map parser; each is written in turn.
var badMaps = []string{
	`{"meta": {"version": 999}, "map": [{"networks": ["203.0.113.0/24"], "labels": ["gru"]}`,   // truncated JSON
	`{"meta": {"version": 999}, "map": [{"networks": ["203.0.113.1/24"], "labels": ["gru"]}]}`, // host bits set
	`{"meta": {"version": 999}, "map": [{"networks": ["203.0.113.0/24"], "labels": ["xyz"]}]}`, // PoP not configured
	`{"meta": {"version": 999}, "map": [{"networks": ["203.0.113.0/24"], "labels": ["gru"], "weight": 1}]}`,
}

// expected is what a map answers for each stream subnet: the first PoP's
// IPv4 addresses and the scope.
type expected struct {
	addrs []netip.Addr
	scope int
}

func expectations(t *testing.T, s *steerServer, m *popmap.Map) []expected {
	t.Helper()
	tab, err := popmap.Compile(m)
	if err != nil {
		t.Fatal(err)
	}
	var out []expected
	for _, p := range streamSubnets {
		labels, scope := tab.LookupPrefix(p)
		if len(labels) == 0 {
			t.Fatalf("map does not cover %s", p)
		}
		out = append(out, expected{s.popAddr4(t, labels[0]), scope})
	}
	return out
}

// writeAtomic replaces path by data through a temporary file in the same
// directory and a rename, as a map publisher does. When mtime is not zero
// the new file gets it before the rename.
func writeAtomic(t *testing.T, path string, data []byte, mtime time.Time) {
	t.Helper()
	f, err := os.CreateTemp(filepath.Dir(path), ".map-*.tmp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	if !mtime.IsZero() {
		if err := os.Chtimes(f.Name(), mtime, mtime); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Rename(f.Name(), path); err != nil {
		t.Fatal(err)
	}
}

// streamResult is one query of the stream.
type streamResult struct {
	subnet int
	lo, hi int // good maps that may have been served: confirmed before, written after
	addrs  []netip.Addr
	scope  int
	err    error // both tries failed
	tries  int
}

// stream sends A queries for www.example.net over UDP, one at a time from
// each of workers goroutines, cycling through streamSubnets, until stop is
// closed. lo and hi bracket the good maps that may be served: lo is the
// last one the test saw the server load, hi the last one written.
type stream struct {
	addr    netip.AddrPort
	lo, hi  atomic.Int64
	count   atomic.Int64 // answered queries
	mu      sync.Mutex
	results []streamResult
	stop    chan struct{}
	wg      sync.WaitGroup
}

func (st *stream) run(workers int) {
	for w := range workers {
		st.wg.Add(1)
		go func() {
			defer st.wg.Done()
			for i := w; ; i += workers {
				select {
				case <-st.stop:
					return
				default:
				}
				sub := i % len(streamSubnets)
				res := streamResult{subnet: sub, lo: int(st.lo.Load())}
				var r *dns.Msg
				for res.tries < 2 {
					res.tries++
					r, res.err = query(st.addr, netip.Addr{}, "www.example.net.", dns.TypeA, streamSubnets[sub], 2*time.Second)
					if res.err == nil {
						break
					}
				}
				res.hi = int(st.hi.Load())
				if res.err == nil {
					if r.Rcode != dns.RcodeSuccess {
						res.err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
					}
					res.addrs, res.scope = answerAddrs(r), replyScope(r)
					st.count.Add(1)
				}
				st.mu.Lock()
				st.results = append(st.results, res)
				st.mu.Unlock()
			}
		}()
	}
}

// TestReloadUnderLoad keeps a query stream running while the map is
// replaced 20 times, alternating good and bad files, each written atomically
// and picked up by the file watch. No query may be lost, every answer must
// be that of a good map the server may have been serving at the time, a
// good map must be served as soon as the server reports it loaded, and a
// bad one must leave the previous answers in place, with the reload metrics
// telling which happened.
func TestReloadUnderLoad(t *testing.T) {
	s := startSteer(t, goodMap(t, 0))
	exp := [][]expected{expectations(t, s, goodMap(t, 0))}

	st := &stream{addr: s.addr, stop: make(chan struct{})}
	st.run(2)
	stopped := false
	stopStream := func() {
		if !stopped {
			stopped = true
			close(st.stop)
			st.wg.Wait()
		}
	}
	t.Cleanup(stopStream)

	tracked := func(t *testing.T, want expected, what string) {
		t.Helper()
		r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, streamSubnets[0], 2*time.Second)
		if err != nil {
			t.Fatalf("%s: query: %v", what, err)
		}
		if got := answerAddrs(r); !slices.Equal(got, want.addrs) || replyScope(r) != want.scope {
			t.Fatalf("%s: %s answered %v scope %d, want %v scope %d", what, streamSubnets[0], got, replyScope(r), want.addrs, want.scope)
		}
	}
	// progress waits until the stream has answered n more queries, so that
	// it demonstrably keeps running across every reload.
	progress := func(t *testing.T, n int64) {
		t.Helper()
		target := st.count.Load() + n
		eventually(t, 10*time.Second, fmt.Sprintf("%d more answered stream queries", n), func() bool { return st.count.Load() >= target })
	}
	progress(t, 20)

	good, bad := 0, 0
	for i := range 20 {
		ms := s.metrics(t)
		serial := s.srv.Serial()
		failures := ms.sum("steer_dns_reloads_total", map[string]string{"result": "failure"})
		if i%2 == 0 {
			good++
			m := goodMap(t, good)
			exp = append(exp, expectations(t, s, m))
			st.hi.Store(int64(good))
			writeAtomic(t, s.mapPath, encodeMap(t, m), time.Time{})
			eventually(t, 10*time.Second, fmt.Sprintf("reload %d (good map %d) to raise the serial above %d", i, good, serial),
				func() bool { return s.srv.Serial() > serial })
			st.lo.Store(int64(good))
			tracked(t, exp[good][0], fmt.Sprintf("after good reload %d", i))
			ms := s.metrics(t)
			if v := ms.sum("steer_dns_config_last_reload_successful", nil); v != 1 {
				t.Errorf("after good reload %d: steer_dns_config_last_reload_successful = %v, want 1", i, v)
			}
			if v := ms.sum("steer_dns_map_info", map[string]string{"version": fmt.Sprint(m.Meta.Version)}); v != 1 {
				t.Errorf("after good reload %d: steer_dns_map_info{version=%q} = %v, want 1", i, fmt.Sprint(m.Meta.Version), v)
			}
		} else {
			b := badMaps[bad%len(badMaps)]
			bad++
			writeAtomic(t, s.mapPath, []byte(b), time.Time{})
			eventually(t, 10*time.Second, fmt.Sprintf("reload %d (bad map %d) to count a failure above %v", i, bad, failures),
				func() bool {
					return s.metrics(t).sum("steer_dns_reloads_total", map[string]string{"result": "failure"}) > failures
				})
			if got := s.srv.Serial(); got != serial {
				t.Errorf("after bad reload %d: serial %d, want %d (unchanged)", i, got, serial)
			}
			tracked(t, exp[good][0], fmt.Sprintf("after bad reload %d", i))
			if v := s.metrics(t).sum("steer_dns_config_last_reload_successful", nil); v != 0 {
				t.Errorf("after bad reload %d: steer_dns_config_last_reload_successful = %v, want 0", i, v)
			}
		}
		progress(t, 10)
	}
	stopStream()

	st.mu.Lock()
	defer st.mu.Unlock()
	// A query that needed its retry went unanswered for 2 s: that is a
	// loss too, the retry only keeps the stream going.
	var lost, wrong, retried int
	for _, r := range st.results {
		if r.tries > 1 {
			retried++
		}
		if r.err != nil || r.tries > 1 {
			lost++
			if lost <= 5 {
				t.Errorf("query for %s lost (%d tries): %v", streamSubnets[r.subnet], r.tries, r.err)
			}
			if r.err != nil {
				continue
			}
		}
		ok := false
		for g := r.lo; g <= r.hi; g++ {
			e := exp[g][r.subnet]
			if slices.Equal(r.addrs, e.addrs) && r.scope == e.scope {
				ok = true
			}
		}
		if !ok {
			wrong++
			if wrong <= 5 {
				t.Errorf("query for %s answered %v scope %d, want the answer of one of good maps %d..%d", streamSubnets[r.subnet], r.addrs, r.scope, r.lo, r.hi)
			}
		}
	}
	t.Logf("%d stream queries across %d good and %d bad reloads: %d lost (%d of them answered on the retry), %d wrong", len(st.results), good, bad, lost, retried, wrong)
	if lost > 0 || wrong > 0 {
		t.Errorf("%d of %d queries lost, %d answered wrongly", lost, len(st.results), wrong)
	}
	ms := s.metrics(t)
	if got := ms.sum("steer_dns_reloads_total", map[string]string{"result": "failure"}); got < float64(bad) {
		t.Errorf("steer_dns_reloads_total{result=\"failure\"} = %v, want ≥ %d", got, bad)
	}
	if got := ms.sum("steer_dns_reloads_total", map[string]string{"result": "success"}); got < float64(good) {
		t.Errorf("steer_dns_reloads_total{result=\"success\"} = %v, want ≥ %d", got, good)
	}
	if n := strings.Count(s.logs.String(), "reload failed"); n < bad {
		t.Errorf("%d reload failures logged, want ≥ %d", n, bad)
	}
}

// TestReloadSameSizeSameMtime replaces the map by one of the same size
// carrying the very same modification time, once by rename and once by
// rewriting the file in place: the server must pick up both (gdnsd 3.8
// misses such a replacement).
func TestReloadSameSizeSameMtime(t *testing.T) {
	s := startSteer(t, goodMap(t, 0)) // ams
	// A first ordinary replacement, so that the watch is surely armed and
	// the files below replace one the server has loaded.
	serial := s.srv.Serial()
	writeAtomic(t, s.mapPath, encodeMap(t, goodMap(t, 1)), time.Time{}) // lhr
	eventually(t, 10*time.Second, "the first replacement to be loaded", func() bool { return s.srv.Serial() > serial })
	tracked0 := expectations(t, s, goodMap(t, 1))[0]
	r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, streamSubnets[0], 2*time.Second)
	if err != nil || !slices.Equal(answerAddrs(r), tracked0.addrs) {
		t.Fatalf("after the first replacement: %v %v, want %v", r, err, tracked0.addrs)
	}
	fi0, err := os.Stat(s.mapPath)
	if err != nil {
		t.Fatal(err)
	}
	mtime := fi0.ModTime()

	for i, how := range []string{"rename", "in place"} {
		m := goodMap(t, i+2) // iad, then sin: labels of the same length
		data := encodeMap(t, m)
		if int64(len(data)) != fi0.Size() {
			t.Fatalf("replacement map is %d bytes, want %d (same size)", len(data), fi0.Size())
		}
		want := expectations(t, s, m)[0]
		serial := s.srv.Serial()
		switch how {
		case "rename":
			writeAtomic(t, s.mapPath, data, mtime)
		case "in place":
			if err := os.WriteFile(s.mapPath, data, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(s.mapPath, mtime, mtime); err != nil {
				t.Fatal(err)
			}
		}
		start := time.Now()
		fi, err := os.Stat(s.mapPath)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() != fi0.Size() || !fi.ModTime().Equal(mtime) {
			t.Fatalf("%s: replacement has size %d mtime %v, want %d %v", how, fi.Size(), fi.ModTime(), fi0.Size(), mtime)
		}
		eventually(t, 10*time.Second, how+" replacement with the same size and mtime to be served", func() bool {
			r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, streamSubnets[0], 2*time.Second)
			return err == nil && slices.Equal(answerAddrs(r), want.addrs) && replyScope(r) == want.scope
		})
		t.Logf("%s replacement served after %v", how, time.Since(start).Round(time.Millisecond))
		if got := s.srv.Serial(); got <= serial {
			t.Errorf("%s: serial %d, want > %d", how, got, serial)
		}
	}
}

// nsid asks the server for its NSID (RFC 5001).
func nsid(addr netip.AddrPort) (string, error) {
	m := new(dns.Msg)
	m.SetQuestion("example.net.", dns.TypeSOA)
	m.SetEdns0(1232, false)
	m.IsEdns0().Option = append(m.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID})
	r, _, err := (&dns.Client{Net: "udp", Timeout: 2 * time.Second}).Exchange(m, addr.String())
	if err != nil {
		return "", err
	}
	if opt := r.IsEdns0(); opt != nil {
		for _, o := range opt.Option {
			if n, ok := o.(*dns.EDNS0_NSID); ok {
				b, err := hex.DecodeString(n.Nsid)
				return string(b), err
			}
		}
	}
	return "", nil
}

// TestReloadChangeBeforeWatch changes the config, or the map, after the
// server has loaded them (New) but before its file watch runs (Start), as a
// push during a restart can. Neither change may be missed: the identity
// check must compare the files with the ones the snapshot was built from,
// not with what they are when the watch starts. Each change is made alone,
// so that one's reload does not carry the other.
func TestReloadChangeBeforeWatch(t *testing.T) {
	t.Run("map", func(t *testing.T) {
		s := layoutSteer(t, goodMap(t, 0))
		srv := s.newServer(t)
		m := goodMap(t, 1)
		writeAtomic(t, s.mapPath, encodeMap(t, m), time.Time{})
		s.start(t, srv)
		want := expectations(t, s, m)[0]
		start := time.Now()
		// The poll runs every 2 s ± 20 %: 5 s is more than two rounds.
		eventually(t, 5*time.Second, "the map replaced between New and Start to be served", func() bool {
			r, err := query(s.addr, netip.Addr{}, "www.example.net.", dns.TypeA, streamSubnets[0], 2*time.Second)
			return err == nil && slices.Equal(answerAddrs(r), want.addrs)
		})
		t.Logf("map replaced between New and Start served after %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("config", func(t *testing.T) {
		s := layoutSteer(t, goodMap(t, 0))
		srv := s.newServer(t)
		editYAML(t, s.cfgPath, map[string]string{"server.nsid": `"steer-changed-before-start"`})
		s.start(t, srv)
		start := time.Now()
		eventually(t, 5*time.Second, "the config changed between New and Start to be served (NSID)", func() bool {
			id, err := nsid(s.addr)
			return err == nil && id == "steer-changed-before-start"
		})
		t.Logf("config changed between New and Start served after %v", time.Since(start).Round(time.Millisecond))
	})
	t.Run("config after start", func(t *testing.T) { // control: the same change once the watch runs
		s := startSteer(t, goodMap(t, 0))
		// Wait for one map reload first, so that the watch is surely armed.
		serial := s.srv.Serial()
		writeAtomic(t, s.mapPath, encodeMap(t, goodMap(t, 1)), time.Time{})
		eventually(t, 5*time.Second, "a map reload", func() bool { return s.srv.Serial() > serial })
		editYAML(t, s.cfgPath, map[string]string{"server.nsid": `"steer-changed-later"`})
		eventually(t, 5*time.Second, "a config change after Start to be served (NSID)", func() bool {
			id, err := nsid(s.addr)
			return err == nil && id == "steer-changed-later"
		})
	})
}
