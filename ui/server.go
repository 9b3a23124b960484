package ui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	h3 "github.com/uber/h3-go/v4"

	"github.com/steer-gslb/steer/explain"
)

//go:embed assets
var assets embed.FS

// Server serves the explorer: the page, its assets and its JSON API.
type Server struct {
	m     *Model
	log   *slog.Logger
	mux   *http.ServeMux
	mu    sync.Mutex
	hexes map[int][]byte // encoded /api/hexes per resolution, guarded by mu
}

// NewServer serves m. log may be nil.
func NewServer(m *Model, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{m: m, log: log, mux: http.NewServeMux(), hexes: map[int][]byte{}}
	static, _ := fs.Sub(assets, "assets")
	files := http.FileServerFS(static)
	s.mux.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		// A name io/fs cannot hold (invalid UTF-8, "..") is not found, not
		// the file server's 500.
		if name := strings.TrimPrefix(r.URL.Path, "/"); name != "" && !fs.ValidPath(strings.TrimSuffix(name, "/")) {
			http.NotFound(w, r)
			return
		}
		files.ServeHTTP(w, r)
	})
	s.mux.HandleFunc("GET /api/summary", s.summary)
	s.mux.HandleFunc("GET /api/hexes", s.hexesHandler)
	s.mux.HandleFunc("GET /api/cell", s.cell)
	s.mux.HandleFunc("GET /api/network", s.network)
	s.mux.HandleFunc("GET /api/explain", s.explainHandler)
	s.mux.HandleFunc("GET /api/eval", s.evalHandler)
	s.mux.HandleFunc("GET /api/plan", s.planHandler)
	s.mux.HandleFunc("GET /api/debug/{id}", s.debugHandler)
	s.mux.HandleFunc("GET /export/hexes.csv", s.exportCSV)
	s.mux.HandleFunc("GET /export/hexes.geojson", s.exportGeoJSON)
	if m.grids != nil {
		s.mux.Handle("GET /tiles/", m.grids.handler())
		s.mux.Handle("GET /hilbert/", m.grids.handler())
	}
	return s
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) summary(w http.ResponseWriter, _ *http.Request) { writeJSON(w, s.m.summary) }

// level is the aggregation of the request's res parameter (default: the
// second resolution).
func (s *Server) level(r *http.Request) (*level, error) {
	res := s.m.opts.Resolutions[min(1, len(s.m.opts.Resolutions)-1)]
	if v := r.FormValue("res"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return nil, fmt.Errorf("res %q is not a number", v)
		}
		res = n
	}
	lv, ok := s.m.levels[res]
	if !ok {
		return nil, fmt.Errorf("res %d is not aggregated (have %v)", res, s.m.opts.Resolutions)
	}
	return lv, nil
}

// hexJSON is one hexagon as the page draws it.
type hexJSON struct {
	H       string       `json:"h"`
	B       [][2]float64 `json:"b"` // boundary, lon/lat, as h3 gives it (counter-clockwise)
	N       int          `json:"n"`
	W       float64      `json:"w"`
	PoP     string       `json:"pop,omitempty"`
	Share   float64      `json:"share"`
	Samples float64      `json:"s"`
	P75     *float64     `json:"p75,omitempty"`
	Gain    *float64     `json:"gain,omitempty"`
	Src     string       `json:"src"`
	CC      string       `json:"cc"`
}

func (m *Model) hexJSON(a *cellAgg) hexJSON {
	h := hexJSON{H: a.id.String(), B: a.boundary, N: len(a.members), W: round4(a.weight), Samples: a.samples,
		P75: num(a.p75), Gain: num(a.gain), Src: sourceNames[a.mainSource()], CC: a.country}
	if p, share := a.dominant(); p >= 0 {
		h.PoP, h.Share = m.pops[p].Label, round4(share)
	}
	return h
}

func (s *Server) hexesHandler(w http.ResponseWriter, r *http.Request) {
	lv, err := s.level(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	b, ok := s.hexes[lv.res]
	if !ok {
		hs := make([]hexJSON, len(lv.cells))
		for i := range lv.cells {
			hs[i] = s.m.hexJSON(&lv.cells[i])
		}
		b, err = json.Marshal(map[string]any{"res": lv.res, "gainOver": s.m.against, "cells": hs})
		if err == nil {
			s.hexes[lv.res] = b
		}
	}
	s.mu.Unlock()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// networkJSON is one network of a cell.
type networkJSON struct {
	Net     string   `json:"net"`
	Weight  float64  `json:"w"`
	PoP     string   `json:"pop,omitempty"`
	PoPB    string   `json:"popB,omitempty"`
	Source  string   `json:"source"`
	Samples float64  `json:"samples"`
	LatA    *float64 `json:"latA,omitempty"`
	LatB    *float64 `json:"latB,omitempty"`
	CC      string   `json:"cc"`
}

func (m *Model) networkJSON(p *point) networkJSON {
	n := networkJSON{Net: p.net.String(), Weight: round4(float64(p.weight)), Source: sourceNames[p.source],
		Samples: float64(p.samples), LatA: num(float64(p.latA)), LatB: num(float64(p.latB)), CC: string(p.country[:])}
	if p.pop >= 0 {
		n.PoP = m.pops[p.pop].Label
	}
	if p.popB >= 0 {
		n.PoPB = m.pops[p.popB].Label
	}
	return n
}

// maxCellNetworks bounds the networks a cell's detail lists.
const maxCellNetworks = 200

// cell answers a click: the hexagon at lat, lon (or id) and its networks.
func (s *Server) cell(w http.ResponseWriter, r *http.Request) {
	lv, err := s.level(r)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var a *cellAgg
	if id := r.FormValue("id"); id != "" {
		c := h3.Cell(h3.IndexFromString(id))
		if !c.IsValid() {
			http.Error(w, fmt.Sprintf("id %q is not an h3 cell", id), http.StatusBadRequest)
			return
		}
		a = lv.cell(c)
	} else {
		lat, err1 := strconv.ParseFloat(r.FormValue("lat"), 64)
		lon, err2 := strconv.ParseFloat(r.FormValue("lon"), 64)
		if err := errors.Join(err1, err2); err != nil || math.Abs(lat) > 90 || math.Abs(lon) > 180 {
			http.Error(w, "give id=H3CELL or lat= and lon= in degrees", http.StatusBadRequest)
			return
		}
		a = lv.cellAt(lat, lon)
	}
	if a == nil {
		http.Error(w, "no network in that hexagon", http.StatusNotFound)
		return
	}
	type popShare struct {
		PoP   string  `json:"pop"`
		Color string  `json:"color"`
		Share float64 `json:"share"`
	}
	out := struct {
		hexJSON
		Res      int           `json:"res"`
		PoPs     []popShare    `json:"pops"`
		Networks []networkJSON `json:"networks"`
		More     int           `json:"more"` // networks not listed
	}{hexJSON: s.m.hexJSON(a), Res: lv.res}
	for i, pw := range a.popW {
		if pw > 0 {
			out.PoPs = append(out.PoPs, popShare{s.m.pops[i].Label, s.m.pops[i].Color, round4(pw / a.weight)})
		}
	}
	for k, i := range a.members {
		if k == maxCellNetworks {
			out.More = len(a.members) - k
			break
		}
		out.Networks = append(out.Networks, s.m.networkJSON(&s.m.points[i]))
	}
	writeJSON(w, out)
}

// network answers for one network: the build's RTT estimates and, when
// the explorer has a config, steer explain for it.
func (s *Server) network(w http.ResponseWriter, r *http.Request) {
	p, err := netip.ParsePrefix(r.FormValue("net"))
	if err != nil {
		http.Error(w, fmt.Sprintf("net: %v", err), http.StatusBadRequest)
		return
	}
	out := struct {
		Net     string             `json:"net"`
		Weight  *float64           `json:"weight,omitempty"`
		RTTs    []explain.Expected `json:"rtts"`
		Explain *explain.Report    `json:"explain,omitempty"`
		Error   string             `json:"explainError,omitempty"`
	}{Net: p.Masked().String(), RTTs: []explain.Expected{}}
	if e := s.m.rttEntry(p.Masked()); e != nil {
		out.Weight = num(e.Weight)
		for _, c := range e.Ranked {
			if !math.IsNaN(c.RTT) {
				out.RTTs = append(out.RTTs, explain.Expected{PoP: string(c.Label), RTTMs: c.RTT})
			}
		}
	}
	if s.m.opts.Explain != nil {
		rep, err := explain.Explain(*s.m.opts.Explain, p.Masked().Addr(), netip.Prefix{})
		if err != nil {
			out.Error = err.Error()
		}
		out.Explain = rep
	}
	writeJSON(w, out)
}

func (s *Server) explainHandler(w http.ResponseWriter, r *http.Request) {
	if s.m.opts.Explain == nil {
		http.Error(w, "explain needs the DNS server's config: start steer ui with --config", http.StatusNotFound)
		return
	}
	a, err := netip.ParseAddr(r.FormValue("ip"))
	if err != nil {
		http.Error(w, fmt.Sprintf("ip: %v", err), http.StatusBadRequest)
		return
	}
	rep, err := explain.Explain(*s.m.opts.Explain, a, netip.Prefix{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	writeJSON(w, rep)
}

func (s *Server) evalHandler(w http.ResponseWriter, _ *http.Request) {
	if s.m.eval == nil {
		http.Error(w, "the evaluation needs a simulated world's truth: start steer ui with --truth", http.StatusNotFound)
		return
	}
	writeJSON(w, s.m.eval)
}

func (s *Server) planHandler(w http.ResponseWriter, _ *http.Request) {
	if s.m.plan == nil {
		http.Error(w, "no plan: start steer ui with --plan plan.geojson", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/geo+json")
	_, _ = w.Write(s.m.plan)
}

func (s *Server) debugHandler(w http.ResponseWriter, r *http.Request) {
	if s.m.opts.Debug == nil {
		http.Error(w, "no debug reports: start steer ui with --collector URL or --collector-dir DIR", http.StatusNotFound)
		return
	}
	b, err := s.m.opts.Debug(r.PathValue("id"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// num is v for JSON, nil when NaN or infinite.
func num(v float64) *float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil
	}
	v = math.Round(v*100) / 100
	return &v
}

func writeJSON(w http.ResponseWriter, v any) {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b.Bytes())
}

// Serve serves h on ln until ctx is done, then shuts down gracefully.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return srv.Shutdown(sctx)
	}
}
