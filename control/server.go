package control

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
)

// Server is the control server. Its methods are safe for concurrent use.
type Server struct {
	cfg   *Config
	log   *slog.Logger
	maps  *mapstore.Dir
	gate  mapstore.Gate
	audit *auditLog
	now   func() time.Time
	met   *metrics
	reg   *prometheus.Registry

	mu      sync.Mutex
	p       *persisted // guarded by mu
	changed chan struct{}
	// Guarded by mu: the derived state and what it is derived from.
	state   *State
	members map[string]*Member
	loads   map[popmap.Label]loadSample
	bal     *balancer // nil until a map with an RTT file is active
	// balMu serialises load-controller periods, which run outside mu (a
	// period of a 1.2M-network map takes a good part of a second, and
	// drains, polls and reports must not wait for it).
	balMu sync.Mutex
	// patch is the moves' override map, made and compiled when the moves
	// change (not per report: a patch is a pass over the base map).
	// Guarded by mu.
	patch *patch
	// shas caches the SHA-256 of version files (immutable), tableShas
	// that of their compiled tables ("" for one that does not decode).
	// Guarded by mu.
	shas, tableShas map[int]string
}

type loadSample struct {
	util float64
	at   time.Time
}

// Options tune New.
type Options struct {
	Logger   *slog.Logger
	Registry *prometheus.Registry
	// Gate scores a candidate map against the current one before a publish
	// (nil: a second version needs force).
	Gate mapstore.Gate
	Now  func() time.Time
}

// New opens the control server's state directory and map directory.
func New(cfg *Config, opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Registry == nil {
		opt.Registry = prometheus.NewRegistry()
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if err := os.MkdirAll(filepath.Join(cfg.StateDir, "rtt"), 0o750); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	d, err := mapstore.Open(cfg.MapDir)
	if err != nil {
		return nil, err
	}
	p, err := readPersisted(filepath.Join(cfg.StateDir, "state.json"))
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	if err := readMoves(filepath.Join(cfg.StateDir, "moves.json"), p); err != nil {
		return nil, fmt.Errorf("reading load moves: %w", err)
	}
	a, err := openAudit(filepath.Join(cfg.StateDir, "audit.ndjson"))
	if err != nil {
		return nil, fmt.Errorf("audit log: %w", err)
	}
	s := &Server{
		cfg: cfg, log: opt.Logger.With("component", "control"), maps: d, gate: opt.Gate, audit: a, now: opt.Now,
		reg: opt.Registry, p: p, changed: make(chan struct{}),
		members: map[string]*Member{}, loads: map[popmap.Label]loadSample{}, shas: map[int]string{}, tableShas: map[int]string{},
	}
	s.met = newMetrics(opt.Registry, s)
	// A new epoch: a follower that saw an index this process never wrote
	// (health changes are persisted too, so only after a crash between
	// change and write) differs from it and is answered at once.
	s.mu.Lock()
	defer s.mu.Unlock()
	s.p.Index++
	if err := s.loadBalancerLocked(); err != nil {
		s.log.Warn("load controller off", "err", err)
	}
	if err := s.commitLocked(); err != nil {
		return nil, err
	}
	return s, nil
}

// Close closes the audit log.
func (s *Server) Close() error { return s.audit.close() }

// pop returns the configured PoP labelled l.
func (s *Server) pop(l popmap.Label) (*config.PoP, bool) {
	for i := range s.cfg.PoPs {
		if s.cfg.PoPs[i].Label == l {
			return &s.cfg.PoPs[i], true
		}
	}
	return nil, false
}

// deriveLocked computes the State the fleet gets from the persisted state,
// the fresh health views and the load reports.
func (s *Server) deriveLocked() *State {
	now := s.now()
	st := &State{Index: s.p.Index, Time: now, PoPs: map[popmap.Label]*PoPState{}}
	for _, pop := range s.cfg.PoPs {
		ps := &PoPState{Admin: pop.State, Health: HealthUnknown, LoadAge: -1}
		if ps.Admin == "" {
			ps.Admin = config.StateUp
		}
		if a, ok := s.p.Admin[pop.Label]; ok {
			if a.State != "" {
				ps.Admin = a.State
			}
			ps.Records = maps.Clone(a.Records)
		}
		for _, m := range s.members {
			if now.Sub(m.LastSeen) > s.cfg.HealthTTL {
				continue
			}
			if up, ok := m.Health[pop.Label]; ok {
				if up {
					ps.VotesUp++
				} else {
					ps.VotesDown++
				}
			}
		}
		switch {
		case ps.VotesUp+ps.VotesDown == 0:
		case ps.VotesDown*2 > ps.VotesUp+ps.VotesDown: // a strict majority of vantage points
			ps.Health = HealthDown
		default:
			ps.Health = HealthUp
		}
		if l, ok := s.loads[pop.Label]; ok {
			ps.Load, ps.LoadAge = l.util, now.Sub(l.at).Seconds()
		}
		st.PoPs[pop.Label] = ps
	}
	if v, _, err := s.maps.Current(); err == nil && v > 0 {
		st.Map = &MapRef{Version: v, SHA256: s.versionSHA(v), TableSHA256: s.tableSHA(v)}
	}
	if s.bal != nil && s.patch != nil && len(s.p.Moves) > 0 && st.Map != nil && s.p.MovesVersion == st.Map.Version {
		st.PatchSHA256, st.PatchVersion, st.PatchID = s.patch.sha256, s.p.MovesVersion, s.p.MovesGen
		s.bal.annotate(st, s.p.Moves)
	}
	return st
}

// versionSHA is the SHA-256 of version v's file ("" if unreadable); the
// caller holds mu.
func (s *Server) versionSHA(v int) string {
	if sum, ok := s.shas[v]; ok {
		return sum
	}
	data, err := os.ReadFile(s.maps.VersionPath(v))
	if err != nil {
		return ""
	}
	s.shas[v] = sha256Hex(data)
	return s.shas[v]
}

// tableSHA is the SHA-256 of version v's compiled table, checked once to
// decode as version v; "" when it has none or it does not (the servers
// then fetch the JSON and compile it). The caller holds mu.
func (s *Server) tableSHA(v int) string {
	if sum, ok := s.tableShas[v]; ok {
		return sum
	}
	path := s.maps.TablePath(v)
	data, err := os.ReadFile(path)
	if err != nil {
		if !errors.Is(err, fs.ErrNotExist) {
			s.log.Warn("map table unreadable; the fleet compiles the JSON", "version", v, "err", err)
		}
		return ""
	}
	sum := ""
	if t, err := popmap.DecodeTableWith(data, popmap.CompileOptions{NoDirect: true}); err != nil {
		s.log.Warn("map table does not decode; the fleet compiles the JSON", "version", v, "path", path, "err", err)
	} else if t.Meta().Version != int64(v) {
		s.log.Warn("map table is of another version; the fleet compiles the JSON", "version", v, "path", path, "table_version", t.Meta().Version)
	} else {
		sum = sha256Hex(data)
	}
	s.tableShas[v] = sum
	return sum
}

// commitLocked persists the state, derives the fleet's view and wakes long
// polls. The caller has changed s.p (and bumped the index when the fleet
// must see it).
func (s *Server) commitLocked() error { return s.commitStateLocked(nil) }

// commitStateLocked is commitLocked with the fleet's view already derived
// (nil: derive it); its index is set to the persisted one.
func (s *Server) commitStateLocked(st *State) error {
	data, err := json.MarshalIndent(s.p, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.Write(filepath.Join(s.cfg.StateDir, "state.json"), data, 0o640); err != nil {
		return fmt.Errorf("persisting state: %w", err)
	}
	if st == nil {
		st = s.deriveLocked()
	}
	st.Index = s.p.Index
	s.state = st
	close(s.changed)
	s.changed = make(chan struct{})
	s.met.update(s.state)
	return nil
}

// refreshLocked re-derives the state and, when what the fleet sees changed
// (health, map, moves), bumps the index and commits.
func (s *Server) refreshLocked() error {
	next := s.deriveLocked()
	if sameForFleet(s.state, next) {
		// Votes and load figures only: a new State with the same index (a
		// published State is never modified; a long poll may be encoding
		// it).
		cp := *s.state
		cp.PoPs = next.PoPs
		s.state = &cp
		s.met.update(s.state)
		return nil
	}
	s.p.Index++
	return s.commitStateLocked(next)
}

// sameForFleet reports whether a and b steer alike (ignoring index, time,
// votes and load figures).
func sameForFleet(a, b *State) bool {
	// The patch is compared by its ID (the move set's generation), not by
	// content: refreshes run on every load report and health report.
	if a == nil || b == nil || !mapRefEq(a.Map, b.Map) || a.PatchVersion != b.PatchVersion || a.PatchID != b.PatchID || a.PatchSHA256 != b.PatchSHA256 {
		return false
	}
	if len(a.PoPs) != len(b.PoPs) {
		return false
	}
	for l, pa := range a.PoPs {
		pb := b.PoPs[l]
		if pb == nil || pa.Admin != pb.Admin || pa.Healthy() != pb.Healthy() || !maps.Equal(pa.Records, pb.Records) {
			return false
		}
	}
	return true
}

func mapRefEq(a, b *MapRef) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// Snapshot returns the current state and a channel closed when it changes.
func (s *Server) Snapshot() (*State, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.changed
}

// Run does the periodic work until ctx ends: expiring stale health views
// and load reports, and one load-controller period every Load.Period.
func (s *Server) Run(ctx context.Context) {
	health := time.NewTicker(min(s.cfg.HealthTTL/4, time.Second))
	defer health.Stop()
	load := time.NewTicker(s.cfg.Load.Period)
	defer load.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-health.C:
			s.mu.Lock()
			if err := s.refreshLocked(); err != nil {
				s.log.Error("refresh", "err", err)
			}
			s.mu.Unlock()
		case <-load.C:
			s.balance()
		}
	}
}

// Serve runs the API on ln and the periodic work (Run) until ctx ends,
// then shuts the listener down, giving calls in flight (long polls among
// them) up to 5 s.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	err := hs.Serve(ln)
	<-done
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// --- HTTP API ---

// Handler returns the API: /v1/…, /metrics and /healthz.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	h := func(pattern string, need Role, f func(w http.ResponseWriter, r *http.Request, tok *Token)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			tok, code := s.authenticate(r, need)
			if code != 0 {
				s.met.calls.WithLabelValues(route(pattern), strconv.Itoa(code)).Inc()
				if code == http.StatusUnauthorized {
					w.Header().Set("WWW-Authenticate", `Bearer realm="steer"`)
					writeErr(w, code, "", "a valid bearer token is required (Authorization: Bearer TOKEN)")
				} else {
					writeErr(w, code, "", fmt.Sprintf("token %q (role %s) may not call this (needs %s)", tok.Name, tok.Role, need))
				}
				return
			}
			rw := &statusWriter{ResponseWriter: w, code: 200}
			f(rw, r, tok)
			s.met.calls.WithLabelValues(route(pattern), strconv.Itoa(rw.code)).Inc()
		})
	}
	h("GET /v1/state", RoleRead, s.getState)
	h("GET /v1/pops", RoleRead, s.getPoPs)
	h("POST /v1/pops/{label}/state", RoleOperate, s.postPoPState)
	h("POST /v1/load", RoleOperate, s.postLoad)
	h("GET /v1/fleet", RoleRead, s.getFleet)
	h("POST /v1/fleet/report", RoleRead, s.postReport)
	h("GET /v1/maps", RoleRead, s.getMaps)
	h("GET /v1/maps/{version}", RoleRead, s.getMap)
	h("GET /v1/maps/{version}/rtt", RoleRead, s.getRTT)
	h("GET /v1/maps/{version}/table", RoleRead, s.getTable)
	h("GET /v1/patches/{id}", RoleRead, s.getPatch)
	h("POST /v1/maps", RolePublish, s.postMap)
	h("POST /v1/maps/activate", RolePublish, s.postActivate)
	h("POST /v1/maps/rollback", RolePublish, s.postRollback)
	mux.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		st, _ := s.Snapshot()
		_, _ = fmt.Fprintf(w, "ok index=%d\n", st.Index)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		writeErr(w, http.StatusNotFound, "", "no such call")
	})
	return mux
}

// readPublishForm reads a multipart publish (what steer publish --control
// sends, so that a large map is streamed to disk instead of scanned as a
// JSON string): part "map" is the NS1 map, written to tmp; "rtt" the RTT
// file; "force" and "source" the flags. It answers 400 naming the part on
// error.
func readPublishForm(w http.ResponseWriter, r *http.Request, req *publishWire, tmp *os.File) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 2*maxBody)
	mr, err := r.MultipartReader()
	if err != nil {
		writeErr(w, http.StatusBadRequest, "", err.Error())
		return false
	}
	gotMap := false
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeErr(w, http.StatusBadRequest, "", "malformed multipart body: "+err.Error())
			return false
		}
		name := part.FormName()
		switch name {
		case "map":
			n, err := io.Copy(tmp, io.LimitReader(part, maxBody+1))
			if err != nil || n > maxBody {
				writeErr(w, http.StatusBadRequest, "map", fmt.Sprintf("reading the map: %v (at most %d bytes)", err, int64(maxBody)))
				return false
			}
			gotMap = n > 0
		case "rtt", "force", "source":
			b, err := io.ReadAll(io.LimitReader(part, maxBody+1))
			if err != nil || len(b) > maxBody {
				writeErr(w, http.StatusBadRequest, name, fmt.Sprintf("reading %s: %v", name, err))
				return false
			}
			switch name {
			case "rtt":
				req.RTT = string(b)
			case "source":
				req.Source = string(b)
			case "force":
				f, err := strconv.ParseBool(string(b))
				if err != nil {
					writeErr(w, http.StatusBadRequest, "force", "force must be true or false")
					return false
				}
				req.Force = f
			}
		default:
			writeErr(w, http.StatusBadRequest, name, fmt.Sprintf("unknown part %q", name))
			return false
		}
	}
	if !gotMap {
		writeErr(w, http.StatusBadRequest, "map", "map is required")
		return false
	}
	return true
}

// route is the metric label of a mux pattern ("POST /v1/load" → "/v1/load").
func route(pattern string) string {
	_, p, _ := strings.Cut(pattern, " ")
	return p
}

type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	w.code = code
	w.ResponseWriter.WriteHeader(code)
}

// authenticate finds the request's token. It returns 401 without a valid
// token, 403 when the token's role does not allow need.
func (s *Server) authenticate(r *http.Request, need Role) (*Token, int) {
	h := r.Header.Get("Authorization")
	scheme, val, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") { // RFC 7235: the scheme is case-insensitive
		return nil, http.StatusUnauthorized
	}
	val = strings.TrimSpace(val)
	for i := range s.cfg.Tokens {
		t := &s.cfg.Tokens[i]
		if subtle.ConstantTimeCompare([]byte(t.Value), []byte(val)) == 1 {
			if !t.Role.allows(need) {
				return t, http.StatusForbidden
			}
			return t, 0
		}
	}
	return nil, http.StatusUnauthorized
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeErr(w http.ResponseWriter, code int, field, msg string) {
	writeJSON(w, code, APIError{Error: msg, Field: field})
}

// maxBody bounds request bodies (a map of a few million networks fits).
const maxBody = 512 << 20

// decode reads a strict JSON body into v; on error it answers 400 naming
// the field and returns false.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBody))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil && dec.More() {
		err = errors.New("more than one JSON value")
	}
	if err == nil {
		return true
	}
	field := ""
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		field = te.Field
		err = fmt.Errorf("field %q: want %s, got %s", te.Field, te.Type, te.Value)
	case errors.As(err, &se):
		err = fmt.Errorf("malformed JSON at byte %d: %w", se.Offset, se)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field = strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		err = fmt.Errorf("unknown field %q", field)
	case errors.Is(err, io.EOF):
		err = errors.New("empty body")
	}
	writeErr(w, http.StatusBadRequest, field, err.Error())
	return false
}

// getState is the long poll: ?index=N&wait=30s answers at once when the
// current index differs from N, else when it changes or the wait ends.
// X-Steer-Index carries the index on every answer.
func (s *Server) getState(w http.ResponseWriter, r *http.Request, _ *Token) {
	q := r.URL.Query()
	st, changed := s.Snapshot()
	if v := q.Get("index"); v != "" {
		idx, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			writeErr(w, http.StatusBadRequest, "index", "index must be an unsigned integer")
			return
		}
		wait := s.cfg.LongPollMax
		if v := q.Get("wait"); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d < 0 {
				writeErr(w, http.StatusBadRequest, "wait", "wait must be a duration such as 30s")
				return
			}
			wait = min(d, s.cfg.LongPollMax)
		}
		if idx == st.Index {
			t := time.NewTimer(wait)
			defer t.Stop()
			select {
			case <-changed:
				st, _ = s.Snapshot()
			case <-t.C:
			case <-r.Context().Done():
				return
			}
		}
	}
	w.Header().Set("X-Steer-Index", strconv.FormatUint(st.Index, 10))
	writeJSON(w, http.StatusOK, st)
}

// PoPInfo is one row of GET /v1/pops.
type PoPInfo struct {
	Label    popmap.Label `json:"label"`
	City     string       `json:"city,omitempty"`
	Capacity float64      `json:"capacity"`
	PoPState
}

func (s *Server) getPoPs(w http.ResponseWriter, _ *http.Request, _ *Token) {
	st, _ := s.Snapshot()
	out := make([]PoPInfo, 0, len(s.cfg.PoPs))
	for _, p := range s.cfg.PoPs {
		out = append(out, PoPInfo{Label: p.Label, City: p.City, Capacity: p.Capacity, PoPState: *st.PoPs[p.Label]})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postPoPState(w http.ResponseWriter, r *http.Request, tok *Token) {
	label := popmap.Label(r.PathValue("label"))
	if _, ok := s.pop(label); !ok {
		writeErr(w, http.StatusNotFound, "label", fmt.Sprintf("unknown PoP %q", label))
		return
	}
	var ch StateChange
	if !decode(w, r, &ch) {
		return
	}
	if _, err := config.ParseState(string(ch.State)); err != nil {
		writeErr(w, http.StatusBadRequest, "state", err.Error())
		return
	}
	if ch.Record != "" && !s.knownRecord(ch.Record) {
		writeErr(w, http.StatusNotFound, "record", fmt.Sprintf("no steered record %q in the fleet's DNS config", ch.Record))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.p.Admin[label]
	eff := s.state.PoPs[label] // the effective state (config's when never set)
	after := adminRec{State: eff.Admin, Records: maps.Clone(before.Records)}
	if ch.Record == "" {
		after.State = ch.State
	} else {
		if after.Records == nil {
			after.Records = map[string]config.State{}
		}
		rec := canonicalRecord(ch.Record)
		if ch.State == after.State {
			delete(after.Records, rec) // the record follows the PoP again
		} else {
			after.Records[rec] = ch.State
		}
	}
	s.p.Admin[label] = after
	s.p.Index++
	audit := func(a adminRec) map[string]any {
		return map[string]any{"pop": label, "admin": a.State, "records": a.Records}
	}
	if err := s.auditLocked(tok.Name, r.Method+" "+r.URL.Path, audit(adminRec{State: eff.Admin, Records: eff.Records}), audit(after)); err != nil {
		s.p.Admin[label] = before
		s.p.Index--
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	if err := s.commitLocked(); err != nil {
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	s.log.Info("pop state", "pop", label, "state", ch.State, "record", ch.Record, "token", tok.Name, "index", s.p.Index)
	writeJSON(w, http.StatusOK, s.state)
}

func canonicalRecord(name string) string {
	name = strings.ToLower(name)
	if !strings.HasSuffix(name, ".") {
		name += "."
	}
	return name
}

// knownRecord reports whether the fleet's DNS config has a steered record
// of that name.
func (s *Server) knownRecord(name string) bool {
	cfg, err := config.Load(s.cfg.DNSConfig)
	if err != nil {
		return false
	}
	name = canonicalRecord(name)
	for _, z := range cfg.Zones {
		for _, r := range z.Records {
			if r.Name == name && r.Steered() {
				return true
			}
		}
	}
	return false
}

// auditLocked appends an audit line; the change must not be applied when
// it fails (an unaudited change is refused).
func (s *Server) auditLocked(token, call string, before, after any) error {
	err := s.audit.append(AuditEntry{Time: s.now().UTC(), Token: token, Call: call, Before: before, After: after})
	if err != nil {
		return fmt.Errorf("audit log: %w", err)
	}
	return nil
}

func (s *Server) postLoad(w http.ResponseWriter, r *http.Request, _ *Token) {
	var rep LoadReport
	if !decode(w, r, &rep) {
		return
	}
	pop, ok := s.pop(rep.PoP)
	switch {
	case rep.PoP == "":
		writeErr(w, http.StatusBadRequest, "pop", "pop is required")
		return
	case !ok:
		writeErr(w, http.StatusNotFound, "pop", fmt.Sprintf("unknown PoP %q", rep.PoP))
		return
	case rep.Load == nil:
		writeErr(w, http.StatusBadRequest, "load", "load is required")
		return
	case !(*rep.Load >= 0) || *rep.Load > 1e15:
		writeErr(w, http.StatusBadRequest, "load", "load must be a finite number ≥ 0")
		return
	case rep.Capacity < 0 || rep.Capacity > 1e15:
		writeErr(w, http.StatusBadRequest, "capacity", "capacity must be > 0 when given")
		return
	}
	capacity := rep.Capacity
	if capacity == 0 {
		capacity = pop.Capacity
	}
	s.mu.Lock()
	s.loads[rep.PoP] = loadSample{util: *rep.Load / capacity, at: s.now()}
	err := s.refreshLocked()
	s.mu.Unlock()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	s.met.load.WithLabelValues(string(rep.PoP)).Set(*rep.Load / capacity)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getFleet(w http.ResponseWriter, _ *http.Request, _ *Token) {
	writeJSON(w, http.StatusOK, s.Fleet())
}

// Fleet returns the fleet's status: every server that reported, by name.
func (s *Server) Fleet() Fleet {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	f := Fleet{Index: s.state.Index, Map: s.state.Map, Servers: []Member{}}
	for _, name := range slices.Sorted(maps.Keys(s.members)) {
		m := *s.members[name]
		m.Age = now.Sub(m.LastSeen).Seconds()
		m.Fresh = now.Sub(m.LastSeen) <= s.cfg.HealthTTL
		f.Servers = append(f.Servers, m)
	}
	return f
}

func (s *Server) postReport(w http.ResponseWriter, r *http.Request, _ *Token) {
	var rep Report
	if !decode(w, r, &rep) {
		return
	}
	if rep.Server == "" {
		writeErr(w, http.StatusBadRequest, "server", "server is required")
		return
	}
	for l := range rep.Health {
		if _, ok := s.pop(l); !ok {
			writeErr(w, http.StatusBadRequest, "health", fmt.Sprintf("unknown PoP %q", l))
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.members[rep.Server] = &Member{Report: rep, Addr: r.RemoteAddr, LastSeen: s.now()}
	if err := s.refreshLocked(); err != nil {
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) getMaps(w http.ResponseWriter, _ *http.Request, _ *Token) {
	vs, err := s.maps.Versions()
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	type row struct {
		Version int               `json:"version"`
		Current bool              `json:"current"`
		History []mapstore.Record `json:"history"`
	}
	out := []row{}
	for _, v := range vs {
		out = append(out, row{v.Version, v.Current, v.History})
	}
	writeJSON(w, http.StatusOK, out)
}

// getMap serves a version file byte for byte, with its SHA-256 in
// X-Steer-SHA256 (the follower checks the body against the state's).
func (s *Server) getMap(w http.ResponseWriter, r *http.Request, _ *Token) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		writeErr(w, http.StatusBadRequest, "version", "version must be a positive integer")
		return
	}
	f, err := os.Open(s.maps.VersionPath(v))
	if err != nil {
		writeErr(w, http.StatusNotFound, "version", fmt.Sprintf("no version %d", v))
		return
	}
	defer func() { _ = f.Close() }()
	// Version files are immutable: their digest is hashed once, not per
	// server fetching them.
	s.mu.Lock()
	sum := s.versionSHA(v)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	serveFile(w, f, sum)
}

// serveFile sends an immutable version file with its digest and length
// (so that a server reads it into one buffer of the right size).
func serveFile(w http.ResponseWriter, f *os.File, sum string) {
	w.Header().Set("X-Steer-SHA256", sum)
	if fi, err := f.Stat(); err == nil {
		w.Header().Set("Content-Length", strconv.FormatInt(fi.Size(), 10))
	}
	_, _ = io.Copy(w, f)
}

// getTable serves a version's compiled table (mapstore's TablePath), what
// the DNS servers load instead of compiling the JSON; 404 when the version
// has none that decodes (the state then carries no table_sha256).
func (s *Server) getTable(w http.ResponseWriter, r *http.Request, _ *Token) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		writeErr(w, http.StatusBadRequest, "version", "version must be a positive integer")
		return
	}
	s.mu.Lock()
	sum := s.tableSHA(v)
	s.mu.Unlock()
	f, err := os.Open(s.maps.TablePath(v))
	if err != nil || sum == "" {
		if f != nil {
			_ = f.Close()
		}
		writeErr(w, http.StatusNotFound, "version", fmt.Sprintf("version %d has no compiled table", v))
		return
	}
	defer func() { _ = f.Close() }()
	w.Header().Set("Content-Type", "application/octet-stream")
	serveFile(w, f, sum)
}

// getPatch serves the current load moves' compiled override table (the
// state's patch_sha256); 404 for another id: moves change, and only the
// current ones are kept.
func (s *Server) getPatch(w http.ResponseWriter, r *http.Request, _ *Token) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeErr(w, http.StatusBadRequest, "id", "id must be a positive integer")
		return
	}
	s.mu.Lock()
	p, cur := s.patch, s.p.MovesGen
	s.mu.Unlock()
	if p == nil || id != cur {
		writeErr(w, http.StatusNotFound, "id", fmt.Sprintf("patch %d is not the current one (%d)", id, cur))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("X-Steer-SHA256", p.sha256)
	w.Header().Set("Content-Length", strconv.Itoa(len(p.table)))
	_, _ = w.Write(p.table)
}

// getRTT serves the RTT file published with a version (MAP.rtt.tsv): the
// DNS servers write it beside their map file, for the steering API's
// expected RTTs and explain. 404 when the version was published without one.
func (s *Server) getRTT(w http.ResponseWriter, r *http.Request, _ *Token) {
	v, err := strconv.Atoi(r.PathValue("version"))
	if err != nil || v < 1 {
		writeErr(w, http.StatusBadRequest, "version", "version must be a positive integer")
		return
	}
	f, err := os.Open(s.rttPath(v))
	if err != nil {
		writeErr(w, http.StatusNotFound, "version", fmt.Sprintf("version %d has no RTT file", v))
		return
	}
	defer func() { _ = f.Close() }()
	w.Header().Set("Content-Type", "text/tab-separated-values")
	_, _ = io.Copy(w, f)
}

func (s *Server) postMap(w http.ResponseWriter, r *http.Request, tok *Token) {
	// The map is written to a temporary file as sent; Publish parses,
	// compiles, checks and gates it, once (a 1.2M-network map takes most
	// of a second).
	tmp, err := os.CreateTemp(s.cfg.StateDir, "candidate-*.json")
	if err != nil {
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	var req publishWire
	ok := false
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "multipart/form-data" {
		ok = readPublishForm(w, r, &req, tmp)
	} else if ok = decode(w, r, &req); ok {
		if len(req.Map) == 0 || string(req.Map) == "null" {
			writeErr(w, http.StatusBadRequest, "map", "map is required")
			ok = false
		} else if _, err := tmp.Write(req.Map); err != nil {
			writeErr(w, http.StatusInternalServerError, "", err.Error())
			ok = false
		}
	}
	if err := tmp.Close(); err != nil && ok {
		writeErr(w, http.StatusInternalServerError, "", err.Error())
		return
	}
	if !ok {
		return
	}
	if req.RTT != "" {
		if err := checkRTT(req.RTT); err != nil {
			writeErr(w, http.StatusBadRequest, "rtt", err.Error())
			return
		}
	}
	known := func(l popmap.Label) bool { _, ok := s.pop(l); return ok }
	opt := mapstore.PublishOptions{Force: req.Force, Gate: s.gate, Check: func(m *popmap.Map) error { return m.CheckLabels(known) }, Score: map[string]any{"source": req.Source, "token": tok.Name}}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.state.Map
	res, err := s.maps.Publish(tmp.Name(), opt)
	if err != nil {
		code := http.StatusBadRequest
		if errors.Is(err, mapstore.ErrWorse) || errors.Is(err, mapstore.ErrNoGate) {
			code = http.StatusConflict
		}
		writeErr(w, code, "map", err.Error())
		return
	}
	if req.RTT != "" && !res.Unchanged {
		if err := atomicfile.Write(s.rttPath(res.Version), []byte(req.RTT), 0o640); err != nil {
			s.log.Error("saving the RTT file; load moves off for this version", "version", res.Version, "err", err)
		}
	}
	s.mapChangedLocked(tok.Name, r.Method+" "+r.URL.Path, before, res, w)
}

func (s *Server) rttPath(v int) string {
	return filepath.Join(s.cfg.StateDir, "rtt", fmt.Sprintf("%06d.rtt.tsv", v))
}

// mapChangedLocked audits a map change, reloads the load controller for
// the new version and answers.
func (s *Server) mapChangedLocked(token, call string, before *MapRef, res mapstore.Result, w http.ResponseWriter) {
	out := PublishResult{Action: string(res.Action), Unchanged: res.Unchanged, Version: res.Version, Previous: res.Previous, SHA256: res.SHA256, Forced: res.Forced}
	// The digests mapstore computed as it wrote the files: not read and
	// hashed again before the fleet hears of the version.
	if res.SHA256 != "" {
		s.shas[res.Version] = res.SHA256
	}
	if res.TableSHA256 != "" {
		s.tableShas[res.Version] = res.TableSHA256
	}
	if res.Gate != nil {
		g := res.Gate.String()
		out.Gate = &g
	}
	if !res.Unchanged {
		if err := s.auditLocked(token, call, before, out); err != nil {
			s.log.Error("map changed but not audited", "err", err)
		}
		// The fleet hears of the version first; the load controller for it
		// (a parse of the map and its RTT file) is made in the background.
		s.bal, s.patch = nil, nil
		s.p.Index++
		if err := s.commitLocked(); err != nil {
			writeErr(w, http.StatusInternalServerError, "", err.Error())
			return
		}
		go s.reloadBalancer(res.Version)
		s.log.Info("map", "action", res.Action, "version", res.Version, "previous", res.Previous, "token", token)
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) postActivate(w http.ResponseWriter, r *http.Request, tok *Token) {
	var req struct {
		Version int `json:"version"`
	}
	if !decode(w, r, &req) {
		return
	}
	if req.Version < 1 {
		writeErr(w, http.StatusBadRequest, "version", "version must be a positive integer")
		return
	}
	if _, err := os.Stat(s.maps.VersionPath(req.Version)); err != nil {
		writeErr(w, http.StatusNotFound, "version", fmt.Sprintf("no version %d", req.Version))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.state.Map
	res, err := s.maps.Activate(req.Version)
	if err != nil {
		writeErr(w, http.StatusConflict, "version", err.Error())
		return
	}
	s.mapChangedLocked(tok.Name, r.Method+" "+r.URL.Path, before, res, w)
}

func (s *Server) postRollback(w http.ResponseWriter, r *http.Request, tok *Token) {
	s.mu.Lock()
	defer s.mu.Unlock()
	before := s.state.Map
	res, err := s.maps.Rollback()
	if err != nil {
		writeErr(w, http.StatusConflict, "", err.Error())
		return
	}
	s.mapChangedLocked(tok.Name, r.Method+" "+r.URL.Path, before, res, w)
}
