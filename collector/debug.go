package collector

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/web"
	"github.com/steer-gslb/steer/web/debugmap"
)

// The debug page (package web, "The debug page"): the collector serves it
// at /debug, takes its reports at POST /debug/report and serves them at
// GET /debug/report/ID (on the public listener, the ID being the
// capability, and on the admin one). A report is kept as one file,
// DebugDir/ID.json, written atomically and fsync'ed before the page gets
// its ID. It holds the client's /24 or /56, never its address.

// debugLookupTimeout bounds the store query that joins a report's DNS
// test with the query log.
const debugLookupTimeout = 3 * time.Second

// mountDebug mounts the debug page and the report endpoints on the public
// mux, and loads the DNS config and map reports are explained against.
func (s *Server) mountDebug() error {
	page := web.DebugHandler("", s.cfg.PoP)
	s.mux.Handle(web.DebugPath, page)
	s.mux.Handle(web.DebugScriptPath, page)
	s.mux.HandleFunc(web.DebugReportURLPath, s.serveDebugReport)
	s.mux.HandleFunc(web.DebugReportURLPath+"/", s.serveDebugLookup)
	if s.cfg.DebugDNSConfig == "" {
		return nil
	}
	l, err := debugmap.NewLoader(explain.Files{Config: s.cfg.DebugDNSConfig, Map: s.cfg.DebugMap})
	if err != nil {
		return fmt.Errorf("collector: debug: %w", err)
	}
	s.debugMap = l
	return nil
}

func (s *Server) serveDebugReport(w http.ResponseWriter, r *http.Request) {
	rep, rej := s.handleDebugReport(w, r)
	switch {
	case rej != nil:
		s.m.rejected.WithLabelValues("debug-" + rej.reason).Inc()
		rej.write(w)
	case rep == nil: // a preflight
		w.WriteHeader(http.StatusNoContent)
	default:
		writeDebugJSON(w, rep)
	}
}

func (s *Server) handleDebugReport(w http.ResponseWriter, r *http.Request) (*web.DebugReport, *rejection) {
	if s.debugDir == "" {
		return nil, reject(http.StatusNotFound, "debug-off", "this collector keeps no debug reports (no debug directory)")
	}
	h := w.Header()
	if origin := r.Header.Get("Origin"); origin != "" {
		o := s.corsOrigin(origin)
		if o == "" && sameOrigin(origin, r) {
			o = origin
		}
		if o == "" {
			return nil, reject(http.StatusForbidden, "origin", "Origin %q is not allowed (the collector's origins)", origin)
		}
		h.Set("Access-Control-Allow-Origin", o)
		h.Add("Vary", "Origin")
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
		h.Set("Access-Control-Allow-Headers", "Content-Type")
		h.Set("Access-Control-Max-Age", "86400")
		return nil, nil
	case http.MethodPost:
	default:
		h.Set("Allow", "POST, OPTIONS")
		return nil, reject(http.StatusMethodNotAllowed, "method", "method %s not allowed: POST a debug report", r.Method)
	}
	network, rej := s.network(r)
	if rej != nil {
		return nil, rej
	}
	// From here on only the truncated network is used or logged.
	switch ct, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(strings.ToLower(ct)) {
	case "application/json", "text/plain", "":
	default:
		return nil, reject(http.StatusUnsupportedMediaType, "type", "Content-Type %q: send application/json or text/plain", ct)
	}
	now := s.now().UTC()
	if ok, wait := s.limiter.allow(network, 1, now); !ok {
		rej := reject(http.StatusTooManyRequests, "rate", "too many requests from %v", network)
		rej.retryAfter = max(1, int(wait/time.Second)+1)
		return nil, rej
	}
	body, err := readBody(r.Body, nil, web.MaxDebugReportSize)
	if err != nil {
		if errors.Is(err, errTooBig) {
			return nil, reject(http.StatusRequestEntityTooLarge, "size", "debug report larger than %d bytes", web.MaxDebugReportSize)
		}
		return nil, reject(http.StatusBadRequest, "read", "reading the body: %v", err)
	}
	rep, err := web.ParseDebugReport(body)
	if err != nil {
		return nil, reject(http.StatusBadRequest, "invalid", "%v", err)
	}
	rep.Network, rep.Received = network, now.Truncate(time.Millisecond)
	if s.debugMap != nil {
		in, err := s.debugMap.Inputs()
		if err == nil {
			err = debugmap.Fill(rep, in)
		}
		if err != nil {
			s.log.Warn("debug report: no map answer", "error", err)
		}
	}
	if err := s.storeDebugReport(rep); err != nil {
		s.log.Error("debug report not stored", "error", err)
		return nil, reject(http.StatusServiceUnavailable, "store", "debug report not stored: writing it failed; retry later")
	}
	s.log.Info("debug report stored", "id", rep.ID, "network", network, "fastest", rep.Fastest)
	return rep, nil
}

// sameOrigin reports whether origin is the request's own (the page the
// collector served itself).
func sameOrigin(origin string, r *http.Request) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return u.Scheme == scheme && strings.EqualFold(u.Host, r.Host)
}

// storeDebugReport gives rep a fresh ID and writes it durably.
func (s *Server) storeDebugReport(rep *web.DebugReport) error {
	if err := os.MkdirAll(s.debugDir, 0o755); err != nil {
		return fmt.Errorf("debug reports: %w", err)
	}
	for range 8 {
		rep.ID = web.NewDebugReportID()
		path := web.DebugReportPath(s.debugDir, rep.ID)
		if _, err := os.Lstat(path); err == nil {
			continue // taken: 40 random bits make this rare
		}
		data, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return fmt.Errorf("debug report: %w", err)
		}
		return atomicfile.Write(path, append(data, '\n'), 0o644)
	}
	return errors.New("debug reports: no free report ID in 8 tries")
}

// serveDebugLookup serves GET /debug/report/ID: the stored report, with
// the user's resolver when the store has the DNS test's query log line,
// and what the map gives that resolver.
func (s *Server) serveDebugLookup(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		reject(http.StatusMethodNotAllowed, "method", "method %s not allowed: GET a debug report", r.Method).write(w)
		return
	}
	if s.debugDir == "" {
		reject(http.StatusNotFound, "debug-off", "this collector keeps no debug reports (no debug directory)").write(w)
		return
	}
	id := strings.TrimPrefix(r.URL.Path, web.DebugReportURLPath+"/")
	if _, err := web.NormalizeDebugReportID(id); err != nil {
		reject(http.StatusBadRequest, "invalid", "%v", err).write(w)
		return
	}
	rep, err := web.ReadDebugReport(s.debugDir, id)
	switch {
	case errors.Is(err, web.ErrNoDebugReport):
		reject(http.StatusNotFound, "missing", "no debug report %s", strings.ToUpper(id)).write(w)
		return
	case err != nil:
		s.log.Error("reading a debug report", "error", err)
		reject(http.StatusInternalServerError, "read", "reading the report failed").write(w)
		return
	}
	if err := s.joinResolver(r.Context(), rep); err != nil {
		s.log.Warn("debug report: looking up its DNS test", "id", rep.ID, "error", err)
	}
	writeDebugJSON(w, rep)
}

// joinResolver sets rep.Resolver from the store's first query log line
// for the report's DNS test name and, with a map loaded, the map's answer
// for that resolver.
func (s *Server) joinResolver(ctx context.Context, rep *web.DebugReport) error {
	if rep.DNSTest == "" || s.st == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, debugLookupTimeout)
	defer cancel()
	e, err := s.st.FirstQuery(ctx, strings.ToLower(rep.DNSTest)+".")
	if err != nil || e == nil {
		return err
	}
	res := &web.DebugResolver{From: "store", Addr: e.Resolver, ECS: e.ECS, PoP: e.PoP, Source: e.Source}
	rep.Resolver = res
	if s.debugMap == nil {
		return nil
	}
	in, err := s.debugMap.Inputs()
	if err != nil {
		return err
	}
	kept := rep.Map
	if err := debugmap.Fill(rep, in); err != nil {
		return err
	}
	if kept != nil {
		// the network's answer stays the one of the report's time
		rep.Map.NetworkPoP, rep.Map.NetworkSource, rep.Map.Version = kept.NetworkPoP, kept.NetworkSource, kept.Version
	}
	return nil
}

func writeDebugJSON(w http.ResponseWriter, rep *web.DebugReport) {
	data, _ := json.Marshal(rep) // plain data: no error
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(data)+1))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(data, '\n'))
}
