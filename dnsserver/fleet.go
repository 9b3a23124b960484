package dnsserver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"runtime/debug"
	"slices"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/health"
	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
)

// Version is the steer build a server reports to the control server: the
// module version, else the VCS revision the binary was built from.
var Version = buildVersion()

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	rev, dirty := "", ""
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "+dirty"
			}
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if rev == "" {
		return "devel"
	}
	return rev + dirty
}

// overlay is the small, often-changing state applied over a snapshot's
// compiled maps at answer time: PoP admin states, health, load moves. A
// change builds new chains (one pass over the maps' distinct answers) and
// swaps a shallow copy of the snapshot; the maps are not recompiled.
type overlay struct {
	ctl   *control.State // last state from the control server; nil = none
	patch *popmap.Table  // the load moves ctl names (PatchSHA256); nil = none
	// ctlHealth: the control server is fresh, so its combined health
	// decides; otherwise local (the server's own checks; nil = all up).
	ctlHealth bool
	local     func(popmap.Label) bool
}

// applyOverlay compiles the snapshot's chains under ov (nil: config states,
// everything healthy). It runs before the snapshot is published.
func (s *snapshot) applyOverlay(ov *overlay) {
	if ov == nil {
		ov = &overlay{}
	}
	s.ov = ov
	list := s.cfg.PoPs
	admin := func(i int, rec string) config.State {
		if ov.ctl != nil {
			if ps := ov.ctl.PoPs[list[i].Label]; ps != nil {
				return ps.State(rec)
			}
		}
		return list[i].State
	}
	healthy := func(i int) bool {
		if ov.ctlHealth && ov.ctl != nil {
			if ps := ov.ctl.PoPs[list[i].Label]; ps != nil {
				return ps.Healthy()
			}
			return true
		}
		return ov.local == nil || ov.local(list[i].Label)
	}
	// A CNAME record answers a name, never a PoP's addresses: its chain
	// sees every PoP as having an address of both families, so that state
	// and health alone decide and the decision (taken as FamilyV4) is the
	// same for every query type — a resolver caches one CNAME for all.
	var cnameList []config.PoP
	view := func(rec string, cname, withHealth bool) *steering.PoPs {
		l := list
		if cname {
			if cnameList == nil {
				cnameList = anyFamily(list)
			}
			l = cnameList
		}
		return steering.NewPoPsWith(l, func(i int) (config.State, bool) {
			return admin(i, rec), !withHealth || healthy(i)
		})
	}
	global, globalOpen := view("", false, true), view("", false, false)
	var cnameGlobal, cnameOpen *steering.PoPs
	s.pops = global
	// The moves apply to the control map, only at the version they were
	// computed on.
	var patchFile string
	if ov.patch != nil && s.cfg.Control != nil {
		if m := s.maps[s.cfg.Control.MapFile]; m != nil && m.version == int64(ov.ctl.PatchVersion) {
			patchFile = s.cfg.Control.MapFile
		}
	}
	s.chains = make([]*steering.Chain, len(s.records))
	s.views = make([]recordView, len(s.records))
	for _, r := range s.records {
		cname := r.cname != nil
		pops, open, def := global, globalOpen, r.cfg.Default
		if cname {
			if cnameGlobal == nil {
				cnameGlobal, cnameOpen = view("", true, true), view("", true, false)
			}
			pops, open, def = cnameGlobal, cnameOpen, config.Addrs{}
			if r.cname.def != nil {
				def.IPv4 = anyAddr // the chain's default step decides; the answer is r.cname.def
			}
		}
		stateOf := ""
		if ov.ctl != nil && hasRecordOverride(ov.ctl, r.cfg.Name) {
			pops, open = view(r.cfg.Name, cname, true), view(r.cfg.Name, cname, false)
			stateOf = r.cfg.Name
		}
		opt := steering.Options{Open: open, FailClosed: r.cfg.HealthPolicy == config.FailClosed, GeoDB: s.geoDB}
		if patchFile != "" && r.cfg.ECSMap == patchFile {
			opt.ECSPatch = ov.patch
		}
		if patchFile != "" && r.cfg.ResolverMap == patchFile {
			opt.ResolverPatch = ov.patch
		}
		s.chains[r.id] = steering.NewChainWith(r.cfg.Steering, r.ecs, r.res, pops, def, opt)
		s.views[r.id] = recordView{pops: pops, open: open, ecsPatch: opt.ECSPatch, resPatch: opt.ResolverPatch,
			state: func(i int) (config.State, bool) { return admin(i, stateOf), healthy(i) }}
	}
}

// anyAddr stands in for the addresses of a PoP or default that a CNAME
// record's chain must see as present; it is never answered.
var anyAddr = []netip.Addr{netip.IPv4Unspecified()}

// anyFamily returns a copy of the PoPs in which each has an IPv4 address,
// for the chains of CNAME records.
func anyFamily(list []config.PoP) []config.PoP {
	out := slices.Clone(list)
	for i := range out {
		if len(out[i].IPv4) == 0 {
			out[i].IPv4 = anyAddr
		}
	}
	return out
}

func hasRecordOverride(st *control.State, rec string) bool {
	for _, ps := range st.PoPs {
		if _, ok := ps.Records[rec]; ok {
			return true
		}
	}
	return false
}

// setOverlay replaces the overlay and swaps in the current snapshot
// recompiled under it.
func (s *Server) setOverlay(change func(ov *overlay)) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	prev := s.snap.Load()
	ov := *prev.ov
	change(&ov)
	next := *prev
	next.applyOverlay(&ov)
	s.snap.Store(&next)
	s.metrics.overlayApplied(&next)
}

// currentOverlay is the overlay of the snapshot being served.
func (s *Server) currentOverlay() *overlay { return s.snap.Load().ov }

// newFleet makes the health checker and, with control: configured, the
// follower, and restores the last control state. Called from New, so that
// everything Start's goroutines read exists before they run.
func (s *Server) newFleet(cfg *config.Config) {
	s.checker = health.New(cfg.PoPs, health.Options{Logger: s.log, Registry: s.metrics.reg, OnChange: func(health.Status) {
		if s.follower != nil {
			s.follower.ReportNow()
		}
		if !s.currentOverlay().ctlHealth {
			s.setOverlay(func(*overlay) {})
		}
	}})
	s.setOverlay(func(ov *overlay) { ov.local = s.checker.Up })
	if cfg.Control == nil {
		return
	}
	// The last state applied, so that a restart while the control server
	// is away keeps its drains and moves.
	if st, err := readState(stateFile(cfg.Control)); err == nil {
		patch, err := readPatch(patchFile(cfg.Control), st)
		if err != nil {
			s.log.Warn("last load moves unreadable; without them until the control server answers", "err", err)
		}
		s.setOverlay(func(ov *overlay) { ov.ctl, ov.patch = st, patch })
		s.log.Info("last control state restored", "index", st.Index, "file", stateFile(cfg.Control))
	} else if !errors.Is(err, fs.ErrNotExist) {
		s.log.Warn("last control state unreadable; waiting for the control server", "err", err)
	}
	s.follower = control.NewFollower(control.FollowerOptions{
		URL: cfg.Control.URL, Token: cfg.Control.Token, ReportEvery: cfg.Control.ReportEvery,
		Apply: s.applyControl, Report: s.report, Logger: s.log,
	})
}

// startFleet starts the checks and the follower. Called from Start once
// the listeners are bound (the default server name is the first one). The
// control: block is read at start only: a reload that changes it needs a
// restart.
func (s *Server) startFleet(cfg *config.Config) {
	s.checker.Start(s.ctx)
	if s.follower == nil {
		return
	}
	name := cfg.Control.Server
	if name == "" {
		host, _ := os.Hostname()
		if addrs := s.Addrs(); len(addrs) > 0 {
			name = fmt.Sprintf("%s/%s", host, addrs[0])
		} else { // a steering-API-only server
			name = fmt.Sprintf("%s/api/%s", host, s.APIAddr())
		}
	}
	s.serverName = name
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		s.follower.Run(s.ctx)
	}()
	go func() {
		defer s.wg.Done()
		s.watchStale(cfg.Control.StaleAfter)
	}()
}

// watchStale switches health between the control server's view and the
// server's own as contact with the control server comes and goes.
func (s *Server) watchStale(after time.Duration) {
	t := time.NewTicker(min(after/4, time.Second))
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		fresh := s.controlFresh(after)
		if fresh != s.currentOverlay().ctlHealth {
			s.log.Warn("control server contact", "fresh", fresh, "last_contact", s.follower.LastContact())
			s.setOverlay(func(ov *overlay) { ov.ctlHealth = fresh && ov.ctl != nil })
		}
	}
}

func (s *Server) controlFresh(after time.Duration) bool {
	lc := s.follower.LastContact()
	return !lc.IsZero() && time.Since(lc) <= after
}

// applyControl applies a state from the control server: the active map
// (its compiled table, or the JSON from a control server without one;
// fetched, digest-checked, loaded from memory, then written to
// control.map_file), then the overlay. An error is a NACK: reported, and the old state keeps serving.
func (s *Server) applyControl(ctx context.Context, st *control.State) error {
	patch, err := s.loadPatch(ctx, st)
	if err != nil {
		return s.nack(fmt.Errorf("state %d: load moves: %w", st.Index, err))
	}
	cfg := s.snap.Load().cfg
	needMap := false
	if st.Map != nil && cfg.Control != nil {
		// The file holds the version's JSON or its compiled table.
		m := s.snap.Load().maps[cfg.Control.MapFile]
		needMap = m == nil || (m.sha256 != st.Map.SHA256 && (st.Map.TableSHA256 == "" || m.sha256 != st.Map.TableSHA256))
	}
	s.setOverlay(func(ov *overlay) {
		ov.ctl, ov.patch = st, patch
		ov.ctlHealth = s.controlFresh(cfg.Control.StaleAfter)
	})
	if needMap {
		// The compiled table when the control server has one: decoding
		// it costs a copy, compiling the JSON most of a second of CPU
		// for a 1.2M-network map, on every server of the fleet at once.
		fetch, sum := s.follower.FetchMap, st.Map.SHA256
		if st.Map.TableSHA256 != "" {
			fetch, sum = s.follower.FetchTable, st.Map.TableSHA256
		}
		data, err := fetch(ctx, *st.Map) // checked against sum
		if err != nil {
			return s.nack(err)
		}
		// The version's RTT file goes beside the map file first (explain
		// and the steering API's expected RTTs read it), or a previous
		// version's is removed: it would describe another map.
		rtt, ok, err := s.follower.FetchRTT(ctx, st.Map.Version)
		if err != nil {
			return s.nack(err)
		}
		rttPath := explain.RTTPath(cfg.Control.MapFile)
		if ok {
			err = atomicfile.Write(rttPath, rtt, 0o644)
		} else if err = os.Remove(rttPath); errors.Is(err, fs.ErrNotExist) {
			err = nil
		}
		if err != nil {
			return s.nack(fmt.Errorf("the RTT file beside %s: %w", cfg.Control.MapFile, err))
		}
		// Served from memory first, then written (fsynced): ten servers
		// writing 24 MB each to one disk took most of a second of the
		// fleet's switch (bench/fleet.sh). A crash before the write leaves
		// the previous map and state on disk, and the server fetches this
		// version again when it is back.
		if err := s.reload(fmt.Sprintf("control: map version %d", st.Map.Version), &preloaded{path: cfg.Control.MapFile, data: data, sha256: sum}); err != nil {
			return s.nack(err)
		}
		if err := atomicfile.Write(cfg.Control.MapFile, data, 0o644); err != nil {
			return s.nack(fmt.Errorf("writing %s: %w", cfg.Control.MapFile, err))
		}
		s.adoptMapFile(cfg.Control.MapFile, sum)
	}
	s.lastErr.Store(new(string))
	s.stateIndex.Store(st.Index)
	if b, err := json.Marshal(st); err == nil {
		if err := atomicfile.Write(stateFile(cfg.Control), b, 0o644); err != nil {
			s.log.Warn("saving the control state", "err", err)
		}
	}
	return nil
}

// adoptMapFile records the identity of the map file just written with the
// content (sum) the served snapshot loaded from memory, so that the next
// reload does not load it again.
func (s *Server) adoptMapFile(path, sum string) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	id, err := statID(path)
	if err != nil {
		return
	}
	if m := s.snap.Load().maps[path]; m != nil && m.sha256 == sum && m.id == (fileID{}) {
		m.id = id // read only by build, under reloadMu
	}
}

// stateFile is where the last control state applied is kept: next to
// the control map file.
func stateFile(c *config.Control) string { return c.MapFile + ".control-state.json" }

func readState(path string) (*control.State, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var st control.State
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &st, nil
}

// loadPatch returns the load moves st names: the ones being served when
// st names the same (a drain while moves are active neither fetches nor
// decodes them), else fetched from the control server, digest-checked,
// decoded on the niced reload thread and kept beside the state for a
// restart.
func (s *Server) loadPatch(ctx context.Context, st *control.State) (*popmap.Table, error) {
	if st.PatchSHA256 == "" {
		return nil, nil
	}
	if ov := s.currentOverlay(); ov.patch != nil && ov.ctl != nil && ov.ctl.PatchSHA256 == st.PatchSHA256 {
		return ov.patch, nil
	}
	data, err := s.follower.FetchPatch(ctx, st)
	if err != nil {
		return nil, err
	}
	var t *popmap.Table
	lowPriority(func() { t, err = popmap.DecodeTableWith(data, popmap.CompileOptions{NoDirect: true}) })
	if err != nil {
		return nil, fmt.Errorf("load-move patch %d: %w", st.PatchID, err)
	}
	if err := atomicfile.Write(patchFile(s.snap.Load().cfg.Control), data, 0o644); err != nil {
		s.log.Warn("saving the load moves", "err", err)
	}
	return t, nil
}

// patchFile is where the load moves last applied are kept, beside the
// state file.
func patchFile(c *config.Control) string { return c.MapFile + ".control-patch.table" }

// readPatch reads the load moves st names from path, checked against its
// digest; nil when st has none.
func readPatch(path string, st *control.State) (*popmap.Table, error) {
	if st.PatchSHA256 == "" {
		return nil, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if sum := sha256Hex(b); sum != st.PatchSHA256 {
		return nil, fmt.Errorf("%s: sha256 %s, the state says %s", path, sum, st.PatchSHA256)
	}
	t, err := popmap.DecodeTableWith(b, popmap.CompileOptions{NoDirect: true})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

func (s *Server) nack(err error) error {
	msg := err.Error()
	s.lastErr.Store(&msg)
	return err
}

// report is what the follower sends to the control server.
func (s *Server) report() control.Report {
	snap := s.snap.Load()
	r := control.Report{Server: s.serverName, Version: Version, StateIndex: s.stateIndex.Load()}
	if e := s.lastErr.Load(); e != nil {
		r.Error = *e
	}
	if c := snap.cfg.Control; c != nil {
		if m := snap.maps[c.MapFile]; m != nil {
			r.MapVersion, r.MapSHA256, r.MapAge = int(m.version), m.sha256, time.Since(m.loaded).Seconds()
		}
	}
	if s.checker != nil {
		for _, st := range s.checker.Statuses() {
			if st.Checked {
				if r.Health == nil {
					r.Health = map[popmap.Label]bool{}
				}
				r.Health[st.Label] = st.Up
			}
		}
	}
	return r
}

// controlDetail is the /healthz line's control part.
func (s *Server) controlDetail() string {
	if s.follower == nil {
		return ""
	}
	lc := s.follower.LastContact()
	age := "never"
	if !lc.IsZero() {
		age = fmt.Sprintf("%.1fs", time.Since(lc).Seconds())
	}
	snap := s.snap.Load()
	mv, mage := int64(0), "none"
	if m := snap.maps[snap.cfg.Control.MapFile]; m != nil {
		mv, mage = m.version, fmt.Sprintf("%.1fs", time.Since(m.loaded).Seconds())
	}
	return fmt.Sprintf(" control=%s state_index=%d control_contact_age=%s map_version=%d map_age=%s",
		snap.cfg.Control.URL, s.stateIndex.Load(), age, mv, mage)
}
