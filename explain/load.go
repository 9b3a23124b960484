package explain

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
)

// Files name what an offline explanation reads: `steer explain --config
// FILE [--map MAP] [--sources FILE] [--geoip FILE] [--record NAME]`.
type Files struct {
	Config string // the DNS server's config (required)
	// Map replaces the record's ecs_map and resolver_map ("" = the
	// record's own maps, as the server would load them).
	Map string
	// Sources is Map's sources file ("" = MAP.sources.tsv beside each map,
	// when it exists).
	Sources string
	GeoIP   string // "" = the config's geoip
	Record  string // Inputs.Record
	Family  string // Inputs.Family
}

// SourcesPath is the sources file a build writes beside map: MAP.sources.tsv.
func SourcesPath(mapPath string) string {
	return strings.TrimSuffix(mapPath, ".json") + ".sources.tsv"
}

// FindSources returns the sources file of the map at mapPath: the one
// beside it (SourcesPath); else, for a map served from a map directory
// (DIR/current.json, a symlink to DIR/versions/NNNNNN.json), the one beside
// the version file, or beside the build output the version was published
// from (its history record's source). "" when there is none.
func FindSources(mapPath string) string { return findBeside(mapPath, SourcesPath) }

// FindRTTs is FindSources for the map's MAP.rtt.tsv (RTTPath).
func FindRTTs(mapPath string) string { return findBeside(mapPath, RTTPath) }

// findBeside finds the build output named by beside(map) for the map at
// mapPath, as FindSources describes.
func findBeside(mapPath string, beside func(string) string) string {
	exists := func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }
	if p := beside(mapPath); exists(p) {
		return p
	}
	target, err := filepath.EvalSymlinks(mapPath)
	if err != nil {
		return ""
	}
	if p := beside(target); exists(p) {
		return p
	}
	versions := filepath.Dir(target)
	if filepath.Base(versions) != "versions" {
		return ""
	}
	d, err := mapstore.Open(filepath.Dir(versions))
	if err != nil {
		return ""
	}
	hist, err := d.History()
	if err != nil {
		return ""
	}
	file := "versions/" + filepath.Base(target)
	for i := len(hist) - 1; i >= 0; i-- {
		if r := hist[i]; r.Action == mapstore.ActionPublish && r.File == file && r.Source != "" {
			if p := beside(r.Source); exists(p) {
				return p
			}
			return ""
		}
	}
	return ""
}

// Load reads the files an offline explanation needs into Inputs: the
// config, the record's maps (checked against the config's PoPs), their
// sources files and the GeoIP database. A missing default sources file is
// not an error: entries are then reported without origin.
func Load(f Files) (Inputs, error) {
	if f.Config == "" {
		return Inputs{}, errors.New("explain: no config")
	}
	cfg, err := config.Load(f.Config)
	if err != nil {
		return Inputs{}, err
	}
	in := Inputs{Config: cfg, Record: f.Record, Family: f.Family}
	rec, err := findRecord(cfg, f.Record)
	if err != nil {
		return Inputs{}, err
	}
	in.Record = rec.Name
	type loaded struct {
		t    *popmap.Table
		src  *Sources
		rtts *RTTs
	}
	cache := map[string]loaded{}
	load := func(path string) (loaded, error) {
		if l, ok := cache[path]; ok {
			return l, nil
		}
		m, t, err := popmap.Load(path)
		if err != nil {
			return loaded{}, err
		}
		if err := t.CheckLabels(func(l popmap.Label) bool { _, ok := cfg.PoP(l); return ok }); err != nil {
			return loaded{}, fmt.Errorf("map %s: %w", path, err)
		}
		l := loaded{t: t}
		srcPath := FindSources(path)
		if srcPath == "" {
			srcPath = SourcesPath(path) // not there: the map's own entries
		}
		if f.Map != "" && f.Sources != "" {
			srcPath = f.Sources
		}
		l.src, err = LoadSources(srcPath)
		if err != nil {
			if f.Sources != "" || !errors.Is(err, fs.ErrNotExist) {
				return loaded{}, err
			}
			l.src = SourcesFromMap(m)
		}
		if p := FindRTTs(path); p != "" {
			if l.rtts, err = LoadRTTs(p); err != nil {
				return loaded{}, err
			}
		}
		cache[path] = l
		return l, nil
	}
	pick := func(configured string) string {
		if configured == "" || f.Map == "" {
			return configured
		}
		return f.Map
	}
	if p := pick(rec.ECSMap); p != "" {
		l, err := load(p)
		if err != nil {
			return Inputs{}, err
		}
		in.ECSMap, in.ECSSources, in.ECSRTTs = l.t, l.src, l.rtts
	}
	if p := pick(rec.ResolverMap); p != "" {
		l, err := load(p)
		if err != nil {
			return Inputs{}, err
		}
		in.ResolverMap, in.ResolverSources, in.ResolverRTTs = l.t, l.src, l.rtts
	}
	if f.Map != "" && rec.ECSMap == "" && rec.ResolverMap == "" {
		return Inputs{}, fmt.Errorf("explain: record %s uses no map (steering %v): --map has nothing to replace", rec.Name, rec.Steering)
	}
	geo := cfg.GeoIP
	if f.GeoIP != "" {
		geo = f.GeoIP
	}
	if geo != "" && rec.Has(config.StepGeo) {
		in.GeoIP, err = geoip.Open(geo)
		if err != nil {
			return Inputs{}, err
		}
	}
	return in, nil
}
