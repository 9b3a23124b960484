package ui

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/web"
)

// Files name what `steer ui` reads.
type Files struct {
	Map     string // the map (required)
	Against string // a second map ("" = the geo baseline)
	// World is a simulated world's directory (steer sim --out): its
	// truth.tsv.gz, steer.yaml and geoip.mmdb are the defaults of Truth,
	// Config and GeoIP.
	World   string
	Truth   string
	Config  string // the DNS server's config: PoPs, states, explain
	GeoIP   string // "" = the config's
	Sources string // "" = MAP.sources.tsv beside the map
	RTTs    string // "" = MAP.rtt.tsv beside the map
	Plan    string // plan.geojson
	// Collector is a collector's base URL whose stored debug reports the
	// explorer looks up (GET URL/debug/report/ID).
	Collector string
	// Control, with ControlToken (a read token), is a control server: the
	// explorer shows its active map version (when Map is "") and the PoP
	// states the fleet agreed on.
	Control, ControlToken string
	// TempDir holds the map fetched from the control server ("" = the
	// system's temporary directory); the caller removes it.
	TempDir string
}

// Open resolves Files into Options: it reads the config, opens the GeoIP
// database and the explain inputs. Close the returned DB when done (nil
// when none was opened).
func Open(f Files) (Options, io.Closer, error) {
	var st *control.State
	if f.Control != "" {
		var err error
		if f.Map, st, err = activeMap(f); err != nil {
			return Options{}, nil, err
		}
	}
	o := Options{Map: f.Map, Against: f.Against, Truth: f.Truth, Sources: f.Sources, RTTs: f.RTTs, Plan: f.Plan}
	if f.Map == "" {
		return o, nil, errors.New("a map is required (--map, or --control URL for its active map)")
	}
	if f.World != "" {
		if st, err := os.Stat(f.World); err != nil || !st.IsDir() {
			return o, nil, fmt.Errorf("--world %s: not a directory written by steer sim", f.World)
		}
		o.Truth = cmp.Or(o.Truth, existing(filepath.Join(f.World, "truth.tsv.gz")))
		f.Config = cmp.Or(f.Config, existing(filepath.Join(f.World, "steer.yaml")))
		f.GeoIP = cmp.Or(f.GeoIP, existing(filepath.Join(f.World, "geoip.mmdb")))
	}
	var closer io.Closer
	if f.Config != "" {
		cfg, err := config.Load(f.Config)
		if err != nil {
			return o, nil, err
		}
		for _, p := range cfg.PoPs {
			o.PoPs = append(o.PoPs, PoP{Label: string(p.Label), City: p.City, Lat: p.Lat, Lon: p.Lon, State: controlState(st, p.Label, p.State)})
		}
		in, err := explain.Load(explain.Files{Config: f.Config, Map: f.Map, Sources: f.Sources, GeoIP: f.GeoIP})
		if err != nil {
			return o, nil, fmt.Errorf("explain inputs: %w", err)
		}
		o.Explain, o.GeoIP = &in, in.GeoIP
		if in.GeoIP != nil {
			closer = in.GeoIP
		}
	}
	if o.GeoIP == nil && f.GeoIP != "" {
		db, err := geoip.Open(f.GeoIP)
		if err != nil {
			return o, nil, err
		}
		o.GeoIP, closer = db, db
	}
	if f.Collector != "" {
		o.Debug = CollectorReports(f.Collector)
	}
	return o, closer, nil
}

// activeMap fetches the control server's active map into a file (unless
// f.Map names one already) and returns its path and the fleet's state.
func activeMap(f Files) (string, *control.State, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := &control.Client{URL: f.Control, Token: f.ControlToken}
	if f.Map != "" {
		st, err := c.State(ctx)
		return f.Map, st, err
	}
	data, st, err := c.ActiveMap(ctx)
	if err != nil {
		return "", nil, err
	}
	path := filepath.Join(cmp.Or(f.TempDir, os.TempDir()), fmt.Sprintf("steer-ui-map-v%d.json", st.Map.Version))
	return path, st, os.WriteFile(path, data, 0o644)
}

// controlState is a PoP's state as the fleet agreed it (the config's
// without a control server): its admin state, or "down" when the fleet's
// health checks say so.
func controlState(st *control.State, label popmap.Label, cfg config.State) string {
	if st == nil {
		return string(cfg)
	}
	ps, ok := st.PoPs[label]
	if !ok {
		return string(cfg)
	}
	if !ps.Healthy() {
		return "down"
	}
	return string(ps.Admin)
}

func existing(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// CollectorReports looks debug reports up on a collector (GET
// BASE/debug/report/ID, package web's client) and gives them as JSON.
func CollectorReports(base string) func(id string) ([]byte, error) {
	return func(id string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		rep, err := web.FetchDebugReport(ctx, base, id)
		if err != nil {
			return nil, fmt.Errorf("report %s: %w", id, err)
		}
		return json.Marshal(rep)
	}
}
