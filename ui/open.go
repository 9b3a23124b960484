package ui

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/geoip"
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
}

// Open resolves Files into Options: it reads the config, opens the GeoIP
// database and the explain inputs. Close the returned DB when done (nil
// when none was opened).
func Open(f Files) (Options, io.Closer, error) {
	o := Options{Map: f.Map, Against: f.Against, Truth: f.Truth, Sources: f.Sources, RTTs: f.RTTs, Plan: f.Plan}
	if f.Map == "" {
		return o, nil, errors.New("a map is required (--map)")
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
			o.PoPs = append(o.PoPs, PoP{Label: string(p.Label), City: p.City, Lat: p.Lat, Lon: p.Lon, State: string(p.State)})
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

func existing(path string) string {
	if _, err := os.Stat(path); err != nil {
		return ""
	}
	return path
}

// CollectorReports looks debug reports up on a collector: GET
// BASE/debug/report/ID.
func CollectorReports(base string) func(id string) ([]byte, error) {
	c := &http.Client{Timeout: 10 * time.Second}
	return func(id string) ([]byte, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/debug/report/"+url.PathEscape(id), nil)
		if err != nil {
			return nil, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return nil, err
		}
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("report %s: %s: %s", id, resp.Status, b)
		}
		return b, nil
	}
}
