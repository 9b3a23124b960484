// Package dnsserver is steer's authoritative GSLB DNS server. It answers each
// query from an immutable snapshot (config, compiled maps, GeoIP database)
// held in an atomic pointer: the ECS subnet map first, then the resolver
// address map, then the GeoIP-nearest PoP, then the record's default
// (anycast) answer, skipping drained and down PoPs (package steering). ECS
// replies carry the scope over which the answer is uniform (package popmap).
//
// On Linux, UDP uses one SO_REUSEPORT socket per core, each served by one
// goroutine that reads and writes batches with recvmmsg/sendmmsg; elsewhere
// (macOS, the BSDs, Windows) one socket per address is read by several
// goroutines (udp_portable.go). TCP is served per connection. The common
// A/AAAA query is answered by a hand-written path that does not allocate;
// everything else goes through github.com/miekg/dns.
//
// Floods and hostile clients (guard.go): UDP responses are rate limited per
// client prefix (response rate limiting with slip, rrl.go, off unless
// configured); TCP connections are bounded in total and per client prefix,
// and idle ones are reclaimed under pressure (tcp.go); a second server on
// our port refuses to start (portlock_linux.go).
//
// Reloads (SIGHUP via Reload, or a change to the config, a map or the GeoIP
// file, seen by fsnotify and by a polling check of file identities) build a
// new snapshot off the query path and swap it in. A bad file is rejected
// with one log line and a metric while the old snapshot keeps serving.
//
// Metrics (Prometheus, on the admin address):
//
//	steer_dns_queries_total{qtype,rcode,source}
//	steer_dns_queries_ecs_total, steer_dns_queries_dropped_total, steer_dns_responses_truncated_total
//	steer_dns_map_info{path,version}, steer_dns_map_entries{path}, steer_dns_map_networks{path,family}
//	steer_dns_map_age_seconds{path}
//	steer_dns_config_last_reload_successful, steer_dns_config_last_reload_success_timestamp_seconds
//	steer_dns_reloads_total{result}, steer_dns_reload_duration_seconds
//	steer_dns_snapshot_serial, steer_dns_querylog_dropped_total
//	steer_dns_rrl_responses_total{category,action}
//	steer_dns_tcp_connections, steer_dns_tcp_connections_refused_total{reason}, steer_dns_tcp_connections_reclaimed_total{reason}
package dnsserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/health"
	"github.com/steer-gslb/steer/internal/hugemem"
	"github.com/steer-gslb/steer/popmap"
)

// Server is a running authoritative server.
type Server struct {
	configPath string
	log        *slog.Logger

	// snap is the current snapshot; each query Loads it once.
	snap atomic.Pointer[snapshot]

	reloadMu sync.Mutex // serialises reloads
	serial   uint64     // guarded by reloadMu
	warmed   bool       // warmReload has run; guarded by reloadMu
	failures atomic.Uint64

	qlog    *queryLog
	metrics *metrics
	stats   []*workerStats // one per UDP socket, then one shared by TCP

	udp []*net.UDPConn
	// stopFD is an eventfd the UDP loops wait on beside their sockets
	// (Linux, listen_linux.go); Close makes it readable. stopping is set
	// first, for busy loops.
	stopFD   int
	stopping atomic.Bool
	tcp      []net.Listener
	guard    guard // rate limiting, TCP limits, port locks (guard.go)
	admin    *http.Server
	adminLn  net.Listener
	// The steering API on listen.api (api.go); newAPI makes its handler.
	newAPI API
	api    *http.Server
	apiLn  net.Listener

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	// The fleet: own health checks, and the control server when
	// configured (fleet.go).
	checker    *health.Checker
	follower   *control.Follower
	serverName string
	stateIndex atomic.Uint64          // last control state applied
	lastErr    atomic.Pointer[string] // why the last control state failed ("" = none)
}

// Options tune New.
type Options struct {
	Logger *slog.Logger
	// Registry receives the metrics; a new one is made when nil.
	Registry *prometheus.Registry
	// API makes the steering API's handler, served on listen.api
	// (steerapi.New). Nil: a config with listen.api fails to start.
	API API
}

// New loads the config at path and everything it names. A first load that
// fails is an error (the caller exits); later reloads keep the old snapshot.
func New(path string, opts Options) (*Server, error) {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	// The identity is taken before reading, so a replacement racing with
	// the read is seen as a change by the next check.
	cfgID, _ := statID(path)
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	s := &Server{configPath: path, log: opts.Logger.With("component", "dns"), newAPI: opts.API}
	s.metrics = newMetrics(opts.Registry, s)
	opts.Registry.MustRegister(newGuardMetrics(s))
	snap, err := build(cfg, cfgID, nil, 1, nil, nil)
	if err != nil {
		return nil, err
	}
	s.serial = 1
	s.snap.Store(snap)
	s.metrics.reloaded(snap, nil, 0)
	s.newFleet(cfg)
	s.qlog = newQueryLog(s.log, s.metrics.qlogDropped, s.metrics.qlogReopened)
	if err := s.qlog.open(cfg.QueryLog, cfg.QueryLogRotate); err != nil {
		return nil, err
	}
	s.logSnapshot(snap, 0)
	// The load's garbage (some 60 MB for a 1.2M-network map) is collected
	// for the first reload to reuse, not returned with debug.FreeOSMemory,
	// whose madvise calls cost the start more (see Reload).
	runtime.GC()
	// The direct /24 tables the build deferred are built while the server
	// starts and answers, as after a reload (and before any: the lock).
	// Then the next reload's memory (warmReload).
	s.reloadMu.Lock()
	go func() {
		defer s.reloadMu.Unlock()
		if ts := snap.pendingDirect(); len(ts) > 0 {
			s.log.Info("direct /24 table built", "cpu", buildDirect(ts).Round(time.Millisecond))
		}
		s.warmReload(snap)
	}()
	return s, nil
}

// gcOff turns GC cycles off until the function it returns is called.
// Uses overlap when one process runs several servers (tests, the demo):
// the GC percent set before the first is restored after the last.
func gcOff() (restore func()) {
	gcOffMu.Lock()
	if gcOffN == 0 {
		gcOffSaved = debug.SetGCPercent(-1)
	}
	gcOffN++
	gcOffMu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			gcOffMu.Lock()
			defer gcOffMu.Unlock()
			if gcOffN--; gcOffN == 0 {
				debug.SetGCPercent(gcOffSaved)
			}
		})
	}
}

var (
	gcOffMu    sync.Mutex
	gcOffN     int // gcOff calls not restored yet
	gcOffSaved int // the GC percent before the first of them
)

// pendingDirect returns the tables of s's maps whose direct /24 table the
// build deferred (popmap.CompileOptions.DeferDirect).
func (s *snapshot) pendingDirect() []*popmap.Table {
	var ts []*popmap.Table
	for _, m := range s.maps {
		if m.table.DirectPending() {
			ts = append(ts, m.table)
		}
	}
	return ts
}

// buildDirect builds the direct /24 tables of ts on the low-priority
// thread while their snapshot serves: lookups answer the same before, during and
// after, faster once a table is there. It returns the thread's CPU time.
// The caller holds reloadMu.
func buildDirect(ts []*popmap.Table) time.Duration {
	if len(ts) == 0 {
		return 0
	}
	return lowPriority(func() {
		for _, t := range ts {
			t.BuildDirect()
		}
	})
}

// warmMin is the map memory (popmap.Table.Bytes, all maps) from which a
// server faults in its next reload's memory ahead of time (warmReload).
const warmMin = 16 << 20

// warmReload faults in, once per server, the memory the next reload of
// snap's maps will allocate while they still serve: a block of twice
// their size (the fetched or read file, the new runs, the direct /24
// table), written page by page on the low-priority thread and then
// freed. The heap keeps it (ServerGCPercent), so the first reload reuses
// it like every later one instead of faulting it in.
//
// Why: on the VMs this project is measured on, a page fault costs 11-14 µs
// (internal/hugemem), and the first reload after a start is the only one
// with no freed memory to reuse: with ten servers sharing two cores, the
// fleet's first publish after a start took 2.3-3.4 s to reach every
// server against 1.1-1.5 s for the next ones (bench/fleet.sh), and each
// server's reload faulted some 4,000 pages more. Done when the server is
// idle (after the start's direct table, or after the first reload that
// brings a large map), it costs that CPU once, off the publish's path; a
// server that never reloads pays it for nothing, and holds twice its maps
// from the start instead of from the first reload on. The caller holds
// reloadMu.
func (s *Server) warmReload(snap *snapshot) {
	if s.warmed {
		return
	}
	n := 0
	for _, m := range snap.maps {
		n += m.table.Bytes()
	}
	if n < warmMin {
		return
	}
	s.warmed = true
	start := time.Now()
	cpu := lowPriority(func() {
		b := hugemem.Make[byte](2 * n)
		for i := 0; i < len(b); i += 4096 {
			b[i] = 1
		}
	})
	runtime.GC()
	s.log.Info("next reload's memory faulted in", "bytes", 2*n, "took", time.Since(start).Round(time.Millisecond), "cpu", cpu.Round(time.Millisecond))
}

// Serial is the serial of the snapshot being served: 1 after New, +1 per
// successful reload.
func (s *Server) Serial() uint64 { return s.snap.Load().serial }

// ReloadFailures counts reloads that failed since New.
func (s *Server) ReloadFailures() uint64 { return s.failures.Load() }

// Start binds the listeners and serves until Close.
func (s *Server) Start() error {
	cfg := s.snap.Load().cfg
	s.ctx, s.cancel = context.WithCancel(context.Background())
	n := cfg.Listen.UDPSockets
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	// Each UDP loop holds a scheduler slot (P) even while it waits (see
	// serveUDP), so keep two more: one for a reload's build, whose thread
	// runs at the lowest priority (lowPriority) and, starved by a busy
	// core, may hold its P for seconds; one for everything else, the build's
	// own raise in priority included (a timer).
	if want := n*len(cfg.Listen.DNS) + 2; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	if err := s.openStop(); err != nil {
		return err
	}
	for i, ap := range cfg.Listen.DNS {
		// A second server on the same port refuses to start
		// (portlock_linux.go).
		if err := s.claimPort(i, ap); err != nil {
			s.Close()
			return err
		}
		ln, err := s.listenPair(ap, n)
		if err != nil {
			s.Close()
			return err
		}
		s.tcp = append(s.tcp, ln)
	}
	s.startFleet(cfg)
	tcpStats := &workerStats{}
	s.stats = append(s.stats, tcpStats)
	for _, c := range s.udp {
		st := &workerStats{}
		s.stats = append(s.stats, st)
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveUDP(c, &responder{srv: s, stats: st})
		}()
	}
	for _, ln := range s.tcp {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveTCP(ln, tcpStats)
		}()
	}
	if cfg.Listen.Admin.IsValid() {
		ln, err := net.Listen("tcp", cfg.Listen.Admin.String())
		if err != nil {
			s.Close()
			return fmt.Errorf("admin listener: %w", err)
		}
		s.adminLn = ln
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(s.metrics.reg, promhttp.HandlerOpts{}))
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
			snap := s.snap.Load()
			_, _ = fmt.Fprintf(w, "ok serial=%d%s\n", snap.serial, s.controlDetail())
		})
		s.admin = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.admin.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("admin server", "err", err)
			}
		}()
	}
	if err := s.startAPI(cfg.Listen.API); err != nil {
		s.Close()
		return err
	}
	if cfg.Reload.Watch {
		// Armed before Start returns, so no change after it is missed.
		w := s.newWatcher()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(s.ctx)
		}()
	}
	s.log.Info("serving", "dns", s.Addrs(), "udp_sockets", len(s.udp), "admin", s.AdminAddr(), "api", s.APIAddr())
	return nil
}

// listenPair binds the UDP sockets and the TCP listener of one address on
// the same port. With port 0 the kernel picks the UDP port, and another
// program may hold that port for TCP: then another port is tried, a few
// times.
func (s *Server) listenPair(ap netip.AddrPort, n int) (net.Listener, error) {
	for attempt := 1; ; attempt++ {
		before := len(s.udp)
		port, err := s.listenUDP(ap, n)
		if err != nil {
			return nil, err
		}
		ln, err := listenConfig.Listen(s.ctx, "tcp", netip.AddrPortFrom(ap.Addr(), port).String())
		if err == nil {
			return ln, nil
		}
		if ap.Port() != 0 || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listening on tcp %s: %w", ap, inUse(err))
		}
		for _, c := range s.udp[before:] {
			_ = c.Close() // never served
		}
		s.udp = s.udp[:before]
	}
}

// Addrs returns the bound DNS addresses (one per configured address).
func (s *Server) Addrs() []netip.AddrPort {
	var out []netip.AddrPort
	for _, ln := range s.tcp {
		out = append(out, ln.Addr().(*net.TCPAddr).AddrPort())
	}
	return out
}

// AdminAddr returns the bound admin address, or "" when off.
func (s *Server) AdminAddr() string {
	if s.adminLn == nil {
		return ""
	}
	return s.adminLn.Addr().String()
}

// startAPI serves the steering API on ap (off when invalid) over
// HTTP/1.1 and unencrypted HTTP/2 (h2c), so that Connect, gRPC and
// gRPC-Web clients share the port. Each request reads the snapshot being
// served, so reloads and overlay changes apply to the next request.
func (s *Server) startAPI(ap netip.AddrPort) error {
	if !ap.IsValid() {
		return nil
	}
	if s.newAPI == nil {
		return fmt.Errorf("listen.api %v: this program serves no steering API", ap)
	}
	ln, err := net.Listen("tcp", ap.String())
	if err != nil {
		return fmt.Errorf("api listener: %w", err)
	}
	s.apiLn = ln
	var protos http.Protocols
	protos.SetHTTP1(true)
	protos.SetUnencryptedHTTP2(true)
	s.api = &http.Server{
		Handler:           s.newAPI(s),
		Protocols:         &protos,
		ReadHeaderTimeout: 5 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		if err := s.api.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("api server", "err", err)
		}
	}()
	return nil
}

// stopAPI lets the API's requests in flight finish (for up to apiDrain),
// then closes its connections.
func (s *Server) stopAPI() {
	if s.api == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), apiDrain)
	defer cancel()
	if err := s.api.Shutdown(ctx); err != nil {
		_ = s.api.Close()
	}
}

// apiDrain bounds how long Close waits for API requests in flight.
const apiDrain = 5 * time.Second

// APIAddr returns the bound steering API address, or "" when off.
func (s *Server) APIAddr() string {
	if s.apiLn == nil {
		return ""
	}
	return s.apiLn.Addr().String()
}

// Close stops serving and waits for the goroutines.
func (s *Server) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stopping.Store(true)
	s.wakeStop()
	for _, c := range s.udp {
		_ = c.Close()
	}
	for _, ln := range s.tcp {
		_ = ln.Close()
	}
	if s.admin != nil {
		_ = s.admin.Close()
	}
	s.stopAPI()
	s.wg.Wait()
	if s.checker != nil {
		s.checker.Stop()
	}
	s.closeStop()
	s.guard.releasePorts()
	s.qlog.close()
}

// Reload re-reads the config and everything it names and swaps in the new
// snapshot. On error the old snapshot keeps serving; the error is logged
// once and counted, and returned.
func (s *Server) Reload(reason string) error { return s.reload(reason, nil) }

// reload is Reload with one map file's content given (nil: none).
func (s *Server) reload(reason string, pre *preloaded) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	prev := s.snap.Load()
	var snap *snapshot
	var err error
	// No GC cycle while building: a large map allocates some 150 MB that
	// all die together, and a cycle started then would stop the world
	// while the build thread, which the query loops and anything else on
	// the core may starve, holds a P. One cycle runs at the end instead,
	// from this goroutine at normal priority (with the pointer-free tables
	// its mark takes about a millisecond), so that the old snapshot and the
	// garbage are free for the next reload: a server that hardly allocates
	// between reloads might otherwise start none before the next build.
	defer runtime.GC()
	restoreGC := gcOff()
	// The query loops do not hold queries back while a reload builds (they
	// once coalesced wake-ups for 200 µs so as not to preempt a nice-15
	// build): a SCHED_IDLE build is meant to be preempted, and the delay
	// put the reload window's p99 at 1.3 ms instead of 1.0 ms (p99.9 3.3
	// instead of 2.7; five paired rounds of four reloads, 50k qps,
	// docs/BENCHMARKS.md).
	cpu := lowPriority(func() {
		cfgID, _ := statID(s.configPath)
		var cfg *config.Config
		if cfg, err = config.Load(s.configPath); err == nil {
			snap, err = build(cfg, cfgID, prev, s.serial+1, prev.ov, pre)
		}
	})
	took := time.Since(start)
	if err != nil {
		restoreGC()
		s.failures.Add(1)
		s.metrics.reloaded(nil, err, took)
		s.log.Error("reload failed; still serving the previous snapshot", "reason", reason, "serial", prev.serial, "err", err)
		return err
	}
	s.serial++
	s.snap.Store(snap)
	// The direct /24 tables the build deferred (32 MiB for a large map),
	// now that the new map answers; GC cycles stay off until they are done.
	direct := buildDirect(snap.pendingDirect())
	restoreGC()
	s.metrics.reloaded(snap, nil, took)
	if s.checker != nil {
		s.checker.Update(snap.cfg.PoPs)
	}
	if err := s.qlog.open(snap.cfg.QueryLog, snap.cfg.QueryLogRotate); err != nil {
		s.log.Error("query log", "err", err)
	}
	if prev.geoDB != nil && prev.geoDB != snap.geoDB {
		// Queries that loaded prev may still be running: close the old
		// database only after they are surely done.
		old := prev.geoDB
		time.AfterFunc(10*time.Second, func() { _ = old.Close() })
	}
	s.logSnapshot(snap, took, "cpu", cpu.Round(time.Millisecond), "direct_table_cpu", direct.Round(time.Millisecond))
	if !s.warmed {
		// A server that started without a large map (a fleet member
		// before its first state) warms after the reload that brings one,
		// once the caller has what it waited for.
		go func() {
			s.reloadMu.Lock()
			defer s.reloadMu.Unlock()
			s.warmReload(s.snap.Load())
		}()
	}
	// The old snapshot and the build's garbage (some 150 MB for a 1.2M-
	// network map) are collected by the deferred runtime.GC and stay in the
	// heap for the next reload to reuse, instead of being returned with
	// debug.FreeOSMemory as before: that stopped the world from the
	// low-priority thread, which anything else on the core could then
	// starve while the query loops waited, and the next build faulted the
	// memory back in, a third of its CPU time on a VM (issue #14). The
	// runtime's background scavenger returns what lies beyond its goal, in
	// small paced steps.
	return nil
}

// lowPriority runs f on an OS thread of its own under the SCHED_IDLE
// policy, so that building a snapshot — a few hundred milliseconds of CPU
// for a 1.2M-network map — takes only what the query loops leave. The
// policy matters more than the share: the kernel preempts a SCHED_IDLE
// thread as soon as a normal one wakes, whereas a niced SCHED_NORMAL
// thread keeps the slice it was given (EEVDF's run to parity) while a
// woken query loop waits. With nice 15 the reporter of issue #14 measured
// p99 4–6 ms during reloads at 50k qps on one core.
//
// A query loop that never idles, or other programs keeping the core busy,
// would starve the build for good, so it is raised in steps (reloadSteps):
// after a second to SCHED_NORMAL at nice 15, the old policy, and after ten
// to nice 0, so that a reload always completes. A thread that may not
// raise its priority (no CAP_SYS_NICE and the default RLIMIT_NICE, as for
// a service run as a plain user) could never leave SCHED_IDLE: it starts
// at nice 15 instead, as before, and stays there (firstStep). The thread
// is discarded afterwards (the goroutine exits locked to it).
//
// f must not stop the world (runtime.GC, debug.FreeOSMemory, ...): the
// world would stay stopped, query loops included, for as long as the core
// starves the thread that stopped it. Nor may its allocations start a GC
// cycle, which stops the world from the allocating thread: GC cycles are
// off while f runs (gcOff), and the first one after may start when they
// are back on, from the caller's goroutine. lowPriority returns the CPU
// time the thread spent in f (0 where unknown).
func lowPriority(f func()) time.Duration {
	defer gcOff()()
	return runStepped(f, reloadSteps)
}

// reloadSteps is the build thread's scheduling over time (see lowPriority).
var reloadSteps = []schedStep{
	{0, schedIdle, 0},
	{time.Second, schedNormal, 15},
	{10 * time.Second, schedNormal, 0},
}

// A schedStep gives the thread policy and nice from after on.
type schedStep struct {
	after  time.Duration
	policy uint32
	nice   int32
}

func runStepped(f func(), steps []schedStep) (cpu time.Duration) {
	var (
		mu       sync.Mutex // held while the thread's policy is changed
		finished bool
	)
	done := make(chan struct{})
	tidc := make(chan int, 2)
	go func() {
		defer close(done)
		runtime.LockOSThread()
		tid := gettid()
		tidc <- tid
		tidc <- firstStep(tid, steps)
		cpu0 := threadCPU()
		f()
		cpu = threadCPU() - cpu0
		// The thread ends when this goroutine does, and its id may be
		// reused: never change it after this point.
		mu.Lock()
		finished = true
		mu.Unlock()
	}()
	tid, first := <-tidc, <-tidc
	start := time.Now()
	for _, st := range steps[first+1:] {
		t := time.NewTimer(time.Until(start.Add(st.after)))
		select {
		case <-done:
			t.Stop()
			return cpu
		case <-t.C:
		}
		mu.Lock()
		if !finished {
			_ = setPolicyFunc(tid, st.policy, st.nice)
		}
		mu.Unlock()
	}
	<-done
	return cpu
}

// firstStep puts thread tid on the first of steps it can take and returns
// its index. A SCHED_IDLE step is skipped when the process may not raise
// a thread's priority (mayRaise): without CAP_SYS_NICE, under the default
// RLIMIT_NICE, a thread can never leave SCHED_IDLE, and a saturated core
// would starve the build for good. Entering a step may also fail (seccomp
// may refuse SCHED_IDLE): the next is tried.
func firstStep(tid int, steps []schedStep) int {
	raise := mayRaiseFunc()
	for i, st := range steps {
		if st.policy == schedIdle && !raise && i < len(steps)-1 {
			continue
		}
		if setPolicyFunc(tid, st.policy, st.nice) == nil {
			return i
		}
	}
	return len(steps) - 1
}

// setPolicyFunc and mayRaiseFunc are setPolicy and mayRaise; tests
// replace them to play an unprivileged process.
var (
	setPolicyFunc = setPolicy
	mayRaiseFunc  = mayRaise
)

func (s *Server) logSnapshot(snap *snapshot, took time.Duration, extra ...any) {
	args := append([]any{"serial", snap.serial, "took", took.Round(time.Millisecond)}, extra...)
	args = append(args, "pops", len(snap.cfg.PoPs), "zones", len(snap.zones))
	for path, m := range snap.maps {
		r4, r6 := m.table.Runs()
		args = append(args, "map", path, "version", m.table.Meta().Version, "entries", m.table.Entries(), "cells", r4+r6)
	}
	s.log.Info("snapshot loaded", args...)
}

func (s *Server) debug(msg string, args ...any) {
	if s.log.Enabled(context.Background(), slog.LevelDebug) {
		s.log.Debug(msg, args...)
	}
}
