// Package dnsserver is steer's authoritative GSLB DNS server. It answers each
// query from an immutable snapshot (config, compiled maps, GeoIP database)
// held in an atomic pointer: the ECS subnet map first, then the resolver
// address map, then the GeoIP-nearest PoP, then the record's default
// (anycast) answer, skipping drained and down PoPs (package steering). ECS
// replies carry the scope over which the answer is uniform (package popmap).
//
// UDP uses one SO_REUSEPORT socket per core, each served by one goroutine
// that reads and writes batches with recvmmsg/sendmmsg on Linux; TCP is
// served per connection. The common A/AAAA query is answered by a
// hand-written path that does not allocate; everything else goes through
// github.com/miekg/dns.
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
	"golang.org/x/sys/unix"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/health"
)

// Server is a running authoritative server.
type Server struct {
	configPath string
	log        *slog.Logger

	// snap is the current snapshot; each query Loads it once.
	snap atomic.Pointer[snapshot]

	reloadMu sync.Mutex // serialises reloads
	serial   uint64     // guarded by reloadMu
	failures atomic.Uint64

	qlog    *queryLog
	metrics *metrics
	stats   []*workerStats // one per UDP socket, then one shared by TCP

	udp []*net.UDPConn
	// stopFD is an eventfd the UDP loops wait on beside their sockets;
	// Close makes it readable. stopping is set first, for busy loops.
	stopFD   int
	stopping atomic.Bool
	building atomic.Bool // a reload is compiling a snapshot
	tcp      []net.Listener
	admin    *http.Server
	adminLn  net.Listener

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
	s := &Server{configPath: path, log: opts.Logger.With("component", "dns")}
	s.metrics = newMetrics(opts.Registry, s)
	snap, err := build(cfg, cfgID, nil, 1, nil)
	if err != nil {
		return nil, err
	}
	s.serial = 1
	s.snap.Store(snap)
	s.metrics.reloaded(snap, nil, 0)
	s.newFleet(cfg)
	s.qlog = newQueryLog(s.log, s.metrics.qlogDropped)
	if err := s.qlog.open(cfg.QueryLog); err != nil {
		return nil, err
	}
	s.logSnapshot(snap, 0)
	debug.FreeOSMemory() // parsing garbage: return it before serving
	return s, nil
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
	// serveUDP), so keep one more for everything else — reloads above all,
	// which run on a niced thread (lowPriority) so that the kernel still
	// favours the query loops when they share a core.
	if want := n*len(cfg.Listen.DNS) + 1; runtime.GOMAXPROCS(0) < want {
		runtime.GOMAXPROCS(want)
	}
	stopFD, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("eventfd: %w", err)
	}
	s.stopFD = stopFD
	for _, ap := range cfg.Listen.DNS {
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
	if cfg.Reload.Watch {
		// Armed before Start returns, so no change after it is missed.
		w := s.newWatcher()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			w.run(s.ctx)
		}()
	}
	s.log.Info("serving", "dns", s.Addrs(), "udp_sockets", len(s.udp), "admin", s.AdminAddr())
	return nil
}

var reuseListenConfig = net.ListenConfig{
	Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil {
				// Room for bursts (and for a reload's pause) without drops.
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
				_ = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
			}
		})
		if err != nil {
			return err
		}
		return serr
	},
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
		ln, err := reuseListenConfig.Listen(s.ctx, "tcp", netip.AddrPortFrom(ap.Addr(), port).String())
		if err == nil {
			return ln, nil
		}
		if ap.Port() != 0 || attempt == 10 || !errors.Is(err, syscall.EADDRINUSE) {
			return nil, fmt.Errorf("listening on tcp %s: %w", ap, err)
		}
		for _, c := range s.udp[before:] {
			_ = c.Close() // never served
		}
		s.udp = s.udp[:before]
	}
}

// listenUDP binds n SO_REUSEPORT sockets on ap; port 0 picks one port for all.
func (s *Server) listenUDP(ap netip.AddrPort, n int) (uint16, error) {
	port := ap.Port()
	for i := range n {
		pc, err := reuseListenConfig.ListenPacket(s.ctx, "udp", netip.AddrPortFrom(ap.Addr(), port).String())
		if err != nil {
			return 0, fmt.Errorf("listening on udp %s (socket %d): %w", ap, i, err)
		}
		c := pc.(*net.UDPConn)
		if port == 0 {
			port = c.LocalAddr().(*net.UDPAddr).AddrPort().Port()
		}
		s.udp = append(s.udp, c)
	}
	return port, nil
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

// Close stops serving and waits for the goroutines.
func (s *Server) Close() {
	if s.cancel != nil {
		s.cancel()
	}
	s.stopping.Store(true)
	if s.stopFD > 0 {
		_, _ = unix.Write(s.stopFD, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	}
	for _, c := range s.udp {
		_ = c.Close()
	}
	for _, ln := range s.tcp {
		_ = ln.Close()
	}
	if s.admin != nil {
		_ = s.admin.Close()
	}
	s.wg.Wait()
	if s.checker != nil {
		s.checker.Stop()
	}
	if s.stopFD > 0 {
		_ = unix.Close(s.stopFD)
		s.stopFD = 0
	}
	s.qlog.close()
}

// Reload re-reads the config and everything it names and swaps in the new
// snapshot. On error the old snapshot keeps serving; the error is logged
// once and counted, and returned.
func (s *Server) Reload(reason string) error {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	start := time.Now()
	prev := s.snap.Load()
	var snap *snapshot
	var err error
	// No GC cycle while building: a large map allocates a few hundred MB
	// that all die together, and every cycle's mark phase puts a worker on
	// the query loop's core. The garbage goes in one forced cycle below.
	gcPercent := debug.SetGCPercent(-1)
	s.building.Store(true)
	lowPriority(func() {
		cfgID, _ := statID(s.configPath)
		var cfg *config.Config
		if cfg, err = config.Load(s.configPath); err == nil {
			snap, err = build(cfg, cfgID, prev, s.serial+1, prev.ov)
		}
	})
	took := time.Since(start)
	s.building.Store(false)
	debug.SetGCPercent(gcPercent)
	if err != nil {
		s.failures.Add(1)
		s.metrics.reloaded(nil, err, took)
		s.log.Error("reload failed; still serving the previous snapshot", "reason", reason, "serial", prev.serial, "err", err)
		return err
	}
	s.serial++
	s.snap.Store(snap)
	s.metrics.reloaded(snap, nil, took)
	if s.checker != nil {
		s.checker.Update(snap.cfg.PoPs)
	}
	if err := s.qlog.open(snap.cfg.QueryLog); err != nil {
		s.log.Error("query log", "err", err)
	}
	if prev.geoDB != nil && prev.geoDB != snap.geoDB {
		// Queries that loaded prev may still be running: close the old
		// database only after they are surely done.
		old := prev.geoDB
		time.AfterFunc(10*time.Second, func() { _ = old.Close() })
	}
	s.logSnapshot(snap, took)
	// The old snapshot and the build's garbage are a few hundred MB for a
	// large map: return them now (on the niced thread) so RSS stays near
	// one snapshot's worth instead of waiting for the background scavenger.
	lowPriority(debug.FreeOSMemory)
	return nil
}

// lowPriority runs f on an OS thread of its own at nice 15, so that
// building a snapshot — a quarter to three quarters of a second of CPU for
// a 1.2M-network map — takes mostly what the query loops leave. Measured on
// one shared core at 50k qps (bench/dns-qps.sh, three runs each): nice 19
// kept p99 at 0.5–1.0 ms but let the swap take up to 1.0 s; nice 10 swapped
// in 0.74–0.82 s at p99 1.5–1.8 ms; nice 15 gave 0.74–0.90 s at 0.6–1.5 ms.
// The thread is discarded afterwards (the goroutine exits locked to it).
const reloadNice = 15

func lowPriority(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		// Failure (no permission to lower priority is not possible, but
		// seccomp may refuse) only loses the optimisation.
		_ = unix.Setpriority(unix.PRIO_PROCESS, unix.Gettid(), reloadNice)
		f()
	}()
	<-done
}

func (s *Server) logSnapshot(snap *snapshot, took time.Duration) {
	args := []any{"serial", snap.serial, "took", took.Round(time.Millisecond), "pops", len(snap.cfg.PoPs), "zones", len(snap.zones)}
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
