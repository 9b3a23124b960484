package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/loadctl"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rttfile"
)

// moveRec is a load move as state.json keeps it.
type moveRec struct {
	Prefix  netip.Prefix `json:"prefix"`
	From    popmap.Label `json:"from"`
	To      popmap.Label `json:"to"`
	Weight  float64      `json:"weight"`
	Penalty float64      `json:"penalty_ms"`
	At      int          `json:"at"`
}

func toRecs(ms []loadctl.Move) []moveRec {
	out := make([]moveRec, len(ms))
	for i, m := range ms {
		out[i] = moveRec{Prefix: m.Prefix, From: m.From, To: m.To, Weight: m.Weight, Penalty: m.Penalty, At: m.At}
	}
	return out
}

func fromRecs(rs []moveRec) []loadctl.Move {
	out := make([]loadctl.Move, len(rs))
	for i, r := range rs {
		out[i] = loadctl.Move{Prefix: r.Prefix, From: r.From, To: r.To, Weight: r.Weight, Penalty: r.Penalty, At: r.At}
	}
	return out
}

// balancer is the load controller of the active map version: it needs the
// builder's RTT file (MAP.rtt.tsv, sent with the map on publish) for each
// network's traffic weight and its latency to every ranked PoP. ctl is
// used under Server.balMu only.
type balancer struct {
	version int
	patcher *loadctl.Patcher
	ctl     *loadctl.Controller
	mapped  map[popmap.Label]float64 // weight of the networks ranking a PoP first
}

// loadBalancerLocked (re)creates the balancer for the active version, at
// start. Moves made on another version are dropped; those made on this one
// (before a restart) are restored.
func (s *Server) loadBalancerLocked() error {
	s.bal, s.patch = nil, nil
	v, path, err := s.maps.Current()
	if err != nil || v == 0 {
		return err
	}
	b, err := s.newBalancer(v, path)
	if err != nil {
		return err
	}
	if s.p.MovesVersion != v {
		s.p.Moves, s.p.MovesVersion = nil, v
	}
	s.restore(b, s.p.Moves)
	s.bal = b
	return nil
}

// restore reinstates moves in b's controller and makes their patch.
func (s *Server) restore(b *balancer, moves []moveRec) {
	if len(moves) == 0 {
		s.patch = nil
		return
	}
	b.ctl.Restore(fromRecs(moves))
	p, err := makePatch(b.patcher.Patch(fromRecs(moves)))
	if err != nil {
		s.log.Error("compiling the restored load moves; not applying them", "err", err)
	}
	s.patch = p
}

// patch is a move set's override map as the fleet gets it: compiled
// without the direct /24 table and encoded (GET /v1/patches/{id}), once.
type patch struct {
	table  []byte
	sha256 string
}

func makePatch(m *popmap.Map) (*patch, error) {
	t, err := popmap.CompileWith(m, popmap.CompileOptions{NoDirect: true})
	if err != nil {
		return nil, err
	}
	b, err := t.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &patch{table: b, sha256: sha256Hex(b)}, nil
}

// reloadBalancer makes the balancer of version v outside the lock and
// installs it if v is still the active version.
func (s *Server) reloadBalancer(v int) {
	s.balMu.Lock()
	defer s.balMu.Unlock()
	b, err := s.newBalancer(v, s.maps.VersionPath(v))
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, _, cerr := s.maps.Current(); cerr != nil || cur != v {
		return // superseded
	}
	if err != nil {
		s.log.Warn("load controller off", "version", v, "err", err)
		return
	}
	if s.p.MovesVersion != v {
		s.p.Moves, s.p.MovesVersion = nil, v
	}
	s.restore(b, s.p.Moves) // moves of v itself: a rollback and back
	s.bal = b
	if err := s.refreshLocked(); err != nil {
		s.log.Error("refresh", "err", err)
	}
}

// newBalancer reads version v's map and RTT file and makes its controller.
func (s *Server) newBalancer(v int, path string) (*balancer, error) {
	rf, err := os.Open(s.rttPath(v))
	if err != nil {
		return nil, fmt.Errorf("version %d has no RTT file (publish it with MAP.rtt.tsv next to the map): %w", v, err)
	}
	entries, err := rttfile.Read(rf)
	_ = rf.Close()
	if err != nil {
		return nil, fmt.Errorf("version %d: RTT file: %w", v, err)
	}
	base, err := popmap.ReadFile(path)
	if err != nil {
		return nil, err
	}
	b := &balancer{version: v, patcher: loadctl.NewPatcher(base), mapped: map[popmap.Label]float64{}}
	nets := make([]loadctl.Network, 0, len(entries))
	for _, e := range entries {
		n := loadctl.Network{Prefix: e.Network, Weight: e.Weight}
		for _, c := range e.Ranked {
			n.Ranked = append(n.Ranked, loadctl.Choice{Label: c.Label, RTT: c.RTT})
		}
		nets = append(nets, n)
		if len(e.Ranked) > 0 {
			b.mapped[e.Ranked[0].Label] += e.Weight
		}
	}
	pops := make([]loadctl.PoP, 0, len(s.cfg.PoPs))
	for _, p := range s.cfg.PoPs {
		pops = append(pops, loadctl.PoP{Label: p.Label, Capacity: p.Capacity, Target: s.cfg.Load.Target})
	}
	l := s.cfg.Load
	b.ctl, err = loadctl.New(nets, pops, loadctl.Options{Gain: l.Gain, MaxMove: l.MaxMove, Hysteresis: l.Hysteresis, Delay: l.Delay})
	if err != nil {
		return nil, err
	}
	return b, nil
}

// annotate adds the moves' counts and shares to st's PoPs.
func (b *balancer) annotate(st *State, moves []moveRec) {
	for _, m := range moves {
		if ps := st.PoPs[m.From]; ps != nil {
			ps.MovedNetworks++
			if w := b.mapped[m.From]; w > 0 {
				ps.MovedShare += m.Weight / w
			}
		}
	}
}

// balance runs one load-controller period: fresh load reports in, moves
// out; a change of the move set is persisted (moves.json), audited (token
// "controller") and reaches the fleet like any other state. The period's
// work — the controller's step, the patch, moves.json — runs outside mu, so
// drains, long polls and reports never wait for it.
func (s *Server) balance() {
	s.balMu.Lock()
	defer s.balMu.Unlock()
	s.mu.Lock()
	b, st, prev := s.bal, s.state, s.p.Moves
	now := s.now()
	load := map[popmap.Label]float64{}
	for l, r := range s.loads {
		if now.Sub(r.at) > s.cfg.Load.ReportTTL {
			continue
		}
		if p, ok := s.pop(l); ok {
			load[l] = r.util * p.Capacity
		}
	}
	s.mu.Unlock()
	if b == nil {
		s.met.steps.WithLabelValues("off").Inc()
		return
	}
	usable := func(l popmap.Label) bool {
		ps := st.PoPs[l]
		return ps != nil && ps.Admin == config.StateUp && ps.Healthy()
	}
	moves := toRecs(b.ctl.Step(load, usable))
	if slices.Equal(moves, prev) {
		s.met.steps.WithLabelValues("unchanged").Inc()
		return
	}
	var patch *patch
	if len(moves) > 0 {
		var err error
		if patch, err = makePatch(b.patcher.Patch(fromRecs(moves))); err != nil {
			s.log.Error("compiling the load moves; not applying them", "err", err)
			return
		}
	}
	s.mu.Lock()
	gen := s.p.MovesGen + 1
	s.mu.Unlock()
	data, err := json.Marshal(movesFile{Version: b.version, Gen: gen, Moves: moves})
	if err == nil {
		err = atomicfile.Write(filepath.Join(s.cfg.StateDir, "moves.json"), data, 0o640)
	}
	if err != nil {
		s.log.Error("persisting load moves; not applying them", "err", err)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.bal != b {
		return // a new map version replaced the controller meanwhile
	}
	s.met.steps.WithLabelValues("moved").Inc()
	before := summarizeMoves(s.p.Moves)
	s.p.Moves, s.p.MovesVersion, s.p.MovesGen, s.patch = moves, b.version, gen, patch
	if err := s.auditLocked("controller", "load period", before, summarizeMoves(moves)); err != nil {
		s.log.Error("load moves not audited", "err", err)
	}
	s.p.Index++
	if err := s.commitLocked(); err != nil {
		s.log.Error("load moves", "err", err)
		return
	}
	s.log.Info("load moves", "moves", len(moves), "index", s.p.Index, "by_pop", summarizeMoves(moves))
}

// summarizeMoves counts moves and their weight by source PoP (the audit
// log records this rather than every network).
func summarizeMoves(ms []moveRec) map[popmap.Label]map[string]float64 {
	out := map[popmap.Label]map[string]float64{}
	for _, m := range ms {
		if out[m.From] == nil {
			out[m.From] = map[string]float64{}
		}
		out[m.From]["networks"]++
		out[m.From]["weight"] += m.Weight
		out[m.From]["penalty_ms"] += m.Penalty
	}
	return out
}

// checkRTT validates an RTT file sent with a map.
func checkRTT(text string) error {
	_, err := rttfile.Read(bytes.NewReader([]byte(text)))
	return err
}
