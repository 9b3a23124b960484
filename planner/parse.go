package planner

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/popmap"
)

// maxLine bounds a line of the weights and candidates files.
const maxLine = 64 << 10

// eachLine calls fn with the 1-based number and comma-separated fields of
// every line of r that is not blank or a # comment. Errors name the line.
func eachLine(r io.Reader, fn func(line int, fields []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 4096), maxLine)
	line := 0
	for sc.Scan() {
		line++
		t := strings.TrimSpace(sc.Text())
		if t == "" || strings.HasPrefix(t, "#") {
			continue
		}
		if !isText(t) {
			return fmt.Errorf("line %d: not text (a control character or invalid UTF-8)", line)
		}
		fields := strings.Split(t, ",")
		for i := range fields {
			fields[i] = strings.TrimSpace(fields[i])
		}
		if err := fn(line, fields); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes", line+1, maxLine)
		}
		return err
	}
	return nil
}

func isText(s string) bool {
	for _, r := range s {
		if r == '\uFFFD' || (r < ' ' && r != '\t') || r == 0x7f {
			return false
		}
	}
	return true
}

// isHeader reports whether fields name the columns (a header line).
func isHeader(fields []string, names ...string) bool {
	if len(fields) > len(names) {
		return false
	}
	for i, f := range fields {
		if !strings.EqualFold(f, names[i]) {
			return false
		}
	}
	return true
}

// number parses field i (1-based in messages) of fields as a float.
func number(fields []string, i int, name string) (float64, error) {
	v, err := strconv.ParseFloat(fields[i], 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("field %d (%s): %q is not a finite number", i+1, name, fields[i])
	}
	return v, nil
}

// latLon parses fields 1 and 2 as a position.
func latLon(fields []string) (lat, lon float64, err error) {
	if lat, err = number(fields, 0, "lat"); err != nil {
		return 0, 0, err
	}
	if lon, err = number(fields, 1, "lon"); err != nil {
		return 0, 0, err
	}
	if lat < -90 || lat > 90 {
		return 0, 0, fmt.Errorf("field 1 (lat): %v outside -90..90", lat)
	}
	if lon < -180 || lon > 180 {
		return 0, 0, fmt.Errorf("field 2 (lon): %v outside -180..180", lon)
	}
	return lat, lon, nil
}

// ParseWeights reads a weights file: one "lat,lon,weight" line per point
// (degrees; weight a finite number ≥ 0), an optional "lat,lon,weight"
// header, blank lines and # comments. At least one weight must be positive.
func ParseWeights(r io.Reader) ([]Point, error) {
	var out []Point
	total := 0.0
	err := eachLine(r, func(line int, f []string) error {
		if len(out) == 0 && isHeader(f, "lat", "lon", "weight") && len(f) == 3 {
			return nil
		}
		if len(f) != 3 {
			return fmt.Errorf("%d fields, want lat,lon,weight", len(f))
		}
		lat, lon, err := latLon(f)
		if err != nil {
			return err
		}
		w, err := number(f, 2, "weight")
		if err != nil {
			return err
		}
		if w < 0 {
			return fmt.Errorf("field 3 (weight): %v is negative", w)
		}
		total += w
		out = append(out, Point{Lat: lat, Lon: lon, Weight: w})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if !(total > 0) || math.IsInf(total, 0) {
		return nil, fmt.Errorf("weights: %d points, total weight %v: want a finite, positive total", len(out), total)
	}
	return out, nil
}

// ParseCandidates reads a candidates file, one site per line, either
//
//	lat,lon[,name]     a position (named after the nearest city when no name is given)
//	City[,CC]          a GeoNames city, the most populous of that name (in country CC)
//
// with an optional "lat,lon[,name]" header, blank lines and # comments. A
// site's country is its city's, or the nearest city's for a position.
func ParseCandidates(r io.Reader, g *Gazetteer) ([]Site, error) {
	var out []Site
	first := true
	err := eachLine(r, func(line int, f []string) error {
		header := first && isHeader(f, "lat", "lon", "name")
		first = false
		if header {
			return nil
		}
		if _, err := strconv.ParseFloat(f[0], 64); err == nil {
			if len(f) < 2 || len(f) > 3 {
				return fmt.Errorf("%d fields, want lat,lon[,name] or City[,CC]", len(f))
			}
			lat, lon, err := latLon(f)
			if err != nil {
				return err
			}
			s := Site{Lat: lat, Lon: lon}
			c, km, ok := g.Nearest(lat, lon)
			if ok {
				s.Country, s.Name = c.Country, nearName(c.Name, km)
			}
			if len(f) == 3 && f[2] != "" {
				s.Name = f[2]
			}
			if s.Name == "" {
				s.Name = fmt.Sprintf("%.4g,%.4g", lat, lon)
			}
			out = append(out, s)
			return nil
		}
		if len(f) > 2 {
			return fmt.Errorf("%d fields, want City[,CC] or lat,lon[,name]", len(f))
		}
		cc := ""
		if len(f) == 2 {
			cc = strings.ToUpper(f[1])
			if Continent(cc) == "" {
				return fmt.Errorf("field 2 (country): %q is not an ISO 3166-1 alpha-2 code", f[1])
			}
		}
		c, ok := g.Lookup(f[0], cc)
		if !ok {
			in := ""
			if cc != "" {
				in = " in " + cc
			}
			return fmt.Errorf("field 1 (city): no GeoNames city (15,000 people or more) named %q%s", f[0], in)
		}
		out = append(out, Site{Name: c.Name, Country: c.Country, Lat: c.Lat, Lon: c.Lon})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, errors.New("candidates: no sites")
	}
	return out, nil
}

// ParseExclude parses a comma-separated list of ISO 3166-1 alpha-2 country
// codes (any case; returned upper case, each once). Empty means none.
func ParseExclude(s string) ([]string, error) {
	var out []string
	for i, c := range strings.Split(s, ",") {
		c = strings.TrimSpace(c)
		if c == "" && strings.TrimSpace(s) == "" {
			return nil, nil
		}
		if Continent(c) == "" {
			return nil, fmt.Errorf("exclude: item %d %q is not an ISO 3166-1 alpha-2 country code", i+1, c)
		}
		if c = strings.ToUpper(c); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// ParsePoPs parses "label=City,label=City,..." into existing PoPs. A city
// is a WonderProxy measured city first, as the simulator places PoPs (see
// [sim.ParsePoPs]; m may be nil), else the most populous GeoNames city of
// that name. Labels follow the DNS config's rules.
func ParsePoPs(s string, m *data.Matrix, g *Gazetteer) ([]Site, error) {
	var out []Site
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("pops: empty list")
	}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		l, city, ok := strings.Cut(item, "=")
		l, city = strings.TrimSpace(l), strings.TrimSpace(city)
		if !ok || l == "" || city == "" {
			return nil, fmt.Errorf("pops: item %d %q is not label=City", i+1, item)
		}
		if err := config.CheckLabel(popmap.Label(l)); err != nil {
			return nil, fmt.Errorf("pops: item %d: %w", i+1, err)
		}
		if slices.ContainsFunc(out, func(s Site) bool { return s.Label == l }) {
			return nil, fmt.Errorf("pops: item %d: label %q twice", i+1, l)
		}
		site := Site{Label: l}
		if j := indexOf(m, city); j >= 0 {
			sv := m.Servers[j]
			site.Name, site.Country, site.Lat, site.Lon = sv.City, sv.Country, sv.Lat, sv.Lon
		} else if c, ok := g.Lookup(city, ""); ok {
			site.Name, site.Country, site.Lat, site.Lon = c.Name, c.Country, c.Lat, c.Lon
		} else {
			return nil, fmt.Errorf("pops: item %d %q: no measured city or GeoNames city named %q", i+1, item, city)
		}
		out = append(out, site)
	}
	return out, nil
}

func indexOf(m *data.Matrix, city string) int {
	if m == nil {
		return -1
	}
	return m.Index(city)
}

// ConfigSites returns a DNS config's PoPs as existing sites, each in the
// country of the city nearest to it.
func ConfigSites(c *config.Config, g *Gazetteer) []Site {
	out := make([]Site, 0, len(c.PoPs))
	for _, p := range c.PoPs {
		s := Site{Label: string(p.Label), Name: p.City, Lat: p.Lat, Lon: p.Lon}
		if nc, _, ok := g.Nearest(p.Lat, p.Lon); ok {
			s.Country = nc.Country
			if s.Name == "" {
				s.Name = nc.Name
			}
		}
		out = append(out, s)
	}
	return out
}
