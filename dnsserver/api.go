package dnsserver

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
	"github.com/steer-gslb/steer/steertoken"
)

// This file is the DNS server's decision as the steering API (package
// steerapi) asks for it: the same snapshot, chains and PoP state as the
// answers, through the same snapshot.decide.

// ErrUnknownRecord is the error of Decide for a name that is not a steered
// record of the config.
var ErrUnknownRecord = errors.New("not a steered record")

// Query is a steering question: a record (by name; "" = the first steered
// record of the config), an answer family and the client as a DNS query
// shows it.
type Query struct {
	Record string
	Family steering.Family
	Client steering.Client
}

// Decision is the DNS server's answer to a Query.
type Decision struct {
	steering.Decision
	// Ranked is the decided PoP (Decision.PoP) followed by the deciding
	// map entry's next usable PoPs, best first, as indexes into
	// Config.PoPs; empty when no PoP decides. It is appended to the slice
	// given to Decide.
	Ranked []int
	// Record is the record decided for, as configured.
	Record *config.Record
	// CNAME: the record answers a CNAME to the decided PoP's target, and
	// the decision was taken as FamilyV4 over state and health alone, as
	// the DNS answer takes it.
	CNAME bool
	// MapVersion is the meta.version of the record's ECS map, else its
	// resolver map (0 when absent or unversioned).
	MapVersion int64
	// Config is the snapshot's config: Ranked indexes its PoPs.
	Config *config.Config
	// Serial is the snapshot's serial.
	Serial uint64
}

// Decide answers q from the snapshot being served, exactly as a query for
// the record from q.Client would be answered now. It does not allocate
// when ranked has room for the ranking (len(Config.PoPs)).
func (s *Server) Decide(q Query, ranked []int) (Decision, error) {
	return s.Snapshot().Decide(q, ranked)
}

// Snapshot is the snapshot being served, for several decisions taken
// from the same one (a batch). It is immutable.
type Snapshot struct{ snap *snapshot }

// Snapshot returns the snapshot being served.
func (s *Server) Snapshot() Snapshot { return Snapshot{s.snap.Load()} }

// Decide is Server.Decide on this snapshot.
func (v Snapshot) Decide(q Query, ranked []int) (Decision, error) {
	snap := v.snap
	rec := snap.records0(q.Record)
	if rec == nil {
		if q.Record == "" {
			return Decision{}, fmt.Errorf("record: %w: the config has none", ErrUnknownRecord)
		}
		return Decision{}, fmt.Errorf("record %q: %w", q.Record, ErrUnknownRecord)
	}
	out := Decision{Record: rec.cfg, Config: snap.cfg, Serial: snap.serial, Ranked: ranked[:0], MapVersion: rec.mapVersion}
	fam := q.Family
	if rec.cname != nil {
		fam, out.CNAME = steering.FamilyV4, true
	}
	out.Decision, _ = snap.decide(rec, fam, q.Client)
	if out.PoP >= 0 {
		out.Ranked = snap.rank(rec, fam, q.Client, out.Decision, out.Ranked)
	}
	return out, nil
}

// records0 returns the steered record named name (any case, with or
// without the final dot), or the first steered record for "".
func (s *snapshot) records0(name string) *record {
	if name == "" {
		if len(s.records) == 0 {
			return nil
		}
		return s.records[0]
	}
	if r := s.byName[name]; r != nil {
		return r
	}
	return s.byName[strings.ToLower(name)]
}

// decide runs rec's chain for a client and returns the decision and the
// addresses it answers (nil: none, NODATA). The DNS answers and Decide
// both take their decisions here.
func (s *snapshot) decide(rec *record, fam steering.Family, cl steering.Client) (steering.Decision, [][]byte) {
	d := s.chains[rec.id].Decide(fam, cl)
	switch {
	case d.PoP >= 0:
		return d, s.popAddr[fam][d.PoP]
	case d.Source == steering.SourceDefault || d.Anycast:
		return d, rec.def[fam]
	}
	return d, nil
}

// rank appends d.PoP and, for a map decision, the next PoPs of the map
// entry (the load-move patch's where it has one) that the record's view
// lets answer family fam.
func (s *snapshot) rank(rec *record, fam steering.Family, cl steering.Client, d steering.Decision, out []int) []int {
	out = append(out, d.PoP)
	v := &s.views[rec.id]
	var labels []popmap.Label
	switch d.Source {
	case steering.SourceECS:
		ecs, _ := steering.Unmap(cl.ECS)
		labels = entryLabels(rec.ecs, v.ecsPatch, func(t *popmap.Table) int { id, _ := t.LookupPrefixIndex(ecs); return id })
	case steering.SourceResolver:
		labels = entryLabels(rec.res, v.resPatch, func(t *popmap.Table) int { id, _ := t.LookupIndex(cl.Resolver); return id })
	default:
		return out
	}
	// The chain fell back to the view without health when health left no
	// PoP of the family: rank in the view that decided.
	pops := v.pops
	if !pops.Usable(fam, d.PoP) && v.open != nil {
		pops = v.open
	}
	after := false
	for _, l := range labels {
		i, ok := pops.Index(l)
		if !ok {
			continue
		}
		if i == d.PoP {
			after = true
			continue
		}
		if after && pops.Usable(fam, i) {
			out = append(out, i)
		}
	}
	return out
}

// entryLabels returns the labels of the patch's entry for a client when it
// has one, else the map's.
func entryLabels(t, patch *popmap.Table, lookup func(*popmap.Table) int) []popmap.Label {
	if patch != nil {
		if id := lookup(patch); id != popmap.NoAnswer {
			return patch.Answer(id)
		}
	}
	if t == nil {
		return nil
	}
	return t.Answer(lookup(t))
}

// recordView is what a record's chain was compiled with, kept for rank
// and Explain.
type recordView struct {
	pops, open         *steering.PoPs
	ecsPatch, resPatch *popmap.Table
	// state is each PoP's admin state for the record and health, as the
	// chain was compiled with them.
	state func(i int) (config.State, bool)
}

// API returns the steering API's handler for s; cmd/steer and
// cmd/steer-dns set it to steerapi.New. Nil: listen.api is refused.
type API func(s *Server) http.Handler

// TokenKeys are the snapshot's steering token keys and their TTL
// (api_tokens); nil when the config has none.
func (v Snapshot) TokenKeys() (*steertoken.KeySet, time.Duration) {
	if v.snap.tokenKeys == nil {
		return nil, 0
	}
	return v.snap.tokenKeys, v.snap.cfg.APITokens.TTL
}

// Explain explains the decision this snapshot takes for a client of the
// record (""= the first steered record): the same chain decides, and the
// report adds the map entries and where the build got them (MAP.sources.tsv
// beside each map, read on the first Explain of a snapshot; without one the
// entries have no origin), the GeoIP record and nearest PoP, and the PoPs
// skipped and why. family is "A", "AAAA" or "" (the address's own).
func (v Snapshot) Explain(record, family string, addr netip.Addr, ecs netip.Prefix) (*explain.Report, error) {
	snap := v.snap
	rec := snap.records0(record)
	if rec == nil {
		if record == "" {
			return nil, fmt.Errorf("record: %w: the config has none", ErrUnknownRecord)
		}
		return nil, fmt.Errorf("record %q: %w", record, ErrUnknownRecord)
	}
	view := &snap.views[rec.id]
	in := explain.Inputs{
		Config:        snap.cfg,
		Record:        rec.cfg.Name,
		ECSMap:        rec.ecs,
		ResolverMap:   rec.res,
		MapVersion:    int(rec.mapVersion),
		ECSPatch:      view.ecsPatch,
		ResolverPatch: view.resPatch,
		GeoIP:         snap.geoDB,
		State:         view.state,
		Chain:         snap.chains[rec.id],
		Family:        family,
	}
	if rec.ecs != nil {
		in.ECSSources, in.ECSRTTs = snap.buildOutputs(rec.cfg.ECSMap)
	}
	if rec.res != nil {
		in.ResolverSources, in.ResolverRTTs = snap.buildOutputs(rec.cfg.ResolverMap)
	}
	return explain.Explain(in, addr, ecs)
}

// buildOutputs returns the build's sources and expected RTTs of the map
// file path (its MAP.sources.tsv and MAP.rtt.tsv), loaded once per loaded
// map; nil for one it does not have or that does not load (Explain then
// reports entries without their origin or expected RTTs).
func (s *snapshot) buildOutputs(path string) (*explain.Sources, *explain.RTTs) {
	m := s.maps[path]
	if m == nil {
		return nil, nil
	}
	m.sourcesOnce.Do(func() {
		if p := explain.FindSources(path); p != "" {
			if src, err := explain.LoadSources(p); err == nil {
				m.sources = src
			}
		}
		if p := explain.FindRTTs(path); p != "" {
			if r, err := explain.LoadRTTs(p); err == nil {
				m.rtts = r
			}
		}
	})
	return m.sources, m.rtts
}

// Expected returns the build's expected RTTs (MAP.rtt.tsv beside the map
// whose entry decided d) for the client of q, best-ranked first; nil when
// no map entry decided (geo, default) or that map has no RTT file. The file
// is read on first use per loaded map, as for Explain.
func (v Snapshot) Expected(q Query, d Decision) []explain.Expected {
	if d.Record == nil {
		return nil
	}
	var path string
	var addr netip.Addr
	switch d.Source {
	case steering.SourceECS:
		path, addr = d.Record.ECSMap, q.Client.ECS.Addr()
	case steering.SourceResolver:
		path, addr = d.Record.ResolverMap, q.Client.Resolver
	default:
		return nil
	}
	if path == "" {
		return nil
	}
	_, rtts := v.snap.buildOutputs(path)
	ex, _ := rtts.Lookup(addr)
	return ex
}
