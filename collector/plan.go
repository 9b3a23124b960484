package collector

import (
	"context"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/measureplan"
	"github.com/steer-gslb/steer/store"
)

// PlanPath is where each client network gets its measurement plan: the
// PoP list of /rum/pops.json plus, with a plan: section, a "plan" object
//
//	{"pops": [...], "anycast": "...", "rum_zone": "...",
//	 "plan": {"network": "198.51.100.0/24", "pops": ["fra", "ams"], "next_s": 300}}
//
// for the requesting client's network (truncated to /24 or /56 at the
// door, like a beacon's): which PoPs its next beacon should time, and how
// many seconds it should wait before the next one. The answer is per
// client, so it is never cached (Cache-Control: no-store), unlike
// /rum/pops.json. Clients that ignore "plan" time every PoP, as before,
// and their beacons are accepted: the plan is advice, never checked at
// the door.
const PlanPath = "/rum/plan.json"

// planner keeps the per-network knowledge fresh and plans from it.
type planner struct {
	pol     measureplan.Policy
	refresh time.Duration
	recent  time.Duration // the refresh's change test (PlanConfig.Recent)
	st      store.Reader
	know    atomic.Pointer[measureplan.Knowledge]
	// refreshMu serializes refreshes (the loop's and tests').
	refreshMu sync.Mutex
	stop      chan struct{}
	done      chan struct{}
}

// startPlanner starts the refresh loop when the config has a plan.
func (s *Server) startPlanner() {
	pc := s.cfg.Plan
	if pc == nil || len(s.cfg.PoPs) == 0 {
		return
	}
	labels := make([]string, len(s.cfg.PoPs))
	for i, p := range s.cfg.PoPs {
		labels[i] = p.Label
	}
	p := &planner{pol: pc.Policy, refresh: pc.Refresh, recent: pc.Recent, st: s.st, stop: make(chan struct{}), done: make(chan struct{})}
	p.know.Store(measureplan.NewKnowledge(labels))
	if p.refresh <= 0 {
		p.refresh = DefaultPlan().Refresh
	}
	s.plan = p
	go s.planLoop()
}

func (s *Server) planLoop() {
	p := s.plan
	defer close(p.done)
	t := time.NewTicker(p.refresh)
	defer t.Stop()
	for {
		if err := s.refreshPlan(); err != nil && s.throttle("plan-refresh") {
			s.log.Warn("reading the store for the measurement plans failed; serving the previous knowledge",
				"error", Redact(err.Error()))
		}
		select {
		case <-p.stop:
			return
		case <-t.C:
		}
	}
}

// refreshPlan re-reads the per-network knowledge from the store. On
// failure the previous knowledge stays.
func (s *Server) refreshPlan() error {
	p := s.plan
	p.refreshMu.Lock()
	defer p.refreshMu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), max(p.refresh, commitDeadline))
	defer cancel()
	go func() {
		select {
		case <-p.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	k, _, err := p.know.Load().Refresh(ctx, p.st, s.now(), p.recent)
	if err != nil {
		return err
	}
	p.know.Store(k)
	return nil
}

func (s *Server) stopPlanner() {
	if s.plan != nil {
		close(s.plan.stop)
		<-s.plan.done
	}
}

// planBuf is a request's scratch space.
type planBuf struct {
	st   []measureplan.PoPState
	idx  []int
	body []byte
}

var planPool = sync.Pool{New: func() any {
	return &planBuf{idx: make([]int, 0, measureplan.MaxPoPs+1), body: make([]byte, 0, 1024)}
}}

func (s *Server) servePlan(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Access-Control-Allow-Origin", "*")
	if s.plan == nil {
		_, _ = w.Write(s.pops)
		return
	}
	network, rej := s.network(r)
	if rej != nil { // no network to plan for: the plain PoP list
		_, _ = w.Write(s.pops)
		return
	}
	b := planPool.Get().(*planBuf)
	defer planPool.Put(b)
	b.body = s.appendPlan(b, network, s.now())
	_, _ = w.Write(b.body)
}

// appendPlan writes the PoP list with network's plan into b.body.
func (s *Server) appendPlan(b *planBuf, network netip.Prefix, now time.Time) []byte {
	out := b.body[:0]
	out = append(out, s.pops[:len(s.pops)-1]...) // the PoP list without its closing brace
	key, err := store.NetworkKey(network)
	if err != nil {
		return append(out, '}')
	}
	k := s.plan.know.Load()
	b.st = k.Lookup(key, b.st)
	pl, err := s.plan.pol.Plan(b.idx, key, b.st, now)
	if err != nil {
		return append(out, '}')
	}
	b.idx = pl.PoPs
	labels := k.PoPs()
	out = append(out, `,"plan":{"network":"`...)
	out = network.AppendTo(out)
	out = append(out, `","pops":[`...)
	for i, p := range pl.PoPs {
		if i > 0 {
			out = append(out, ',')
		}
		out = append(out, '"')
		out = append(out, labels[p]...) // labels are [a-z0-9-]: nothing to escape
		out = append(out, '"')
	}
	out = append(out, `],"next_s":`...)
	out = strconv.AppendInt(out, int64(pl.After/time.Second), 10)
	return append(out, "}}"...)
}
