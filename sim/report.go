package sim

import (
	"cmp"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/steer-gslb/steer/internal/wstats"
)

// ReportQuantile is the per-network statistic the report ranks PoPs by and
// reports: each network's median RTT to a PoP.
const ReportQuantile = 0.5

// Strategies the report compares, in column order.
const (
	stratGeo     = iota // nearest PoP to where the users really are
	stratGeoIP          // nearest PoP to the GeoIP location (what a geo map does)
	stratAnycast        // where BGP sends the anycast address
	stratBest           // the network's latency-best PoP (a perfect map)
	nStrat
)

var stratNames = [nStrat]string{"geo (true location)", "geo (GeoIP database)", "anycast (BGP)", "latency-best (perfect map)"}

type cityAgg struct {
	name, country string
	w             float64
	lat           [nStrat]float64 // weighted sums
	geo           int
	best          map[int]float64
}

type countryAgg struct {
	w    float64
	geo  map[int]float64
	best map[int]float64
}

// Report summarizes a world from its ground truth alone.
type Report struct {
	Counts Counts

	h         *TruthHeader
	lat       [nStrat]wstats.Histogram
	total     float64
	notNear   float64 // traffic whose best PoP is not the nearest
	notGeoIP  float64
	atBest    [nStrat]float64
	cities    map[string]*cityAgg
	countries map[string]*countryAgg
	nets      int
	popVecs   []vec3

	// after finish
	pct [nStrat][3]float64
}

func newReport(h *TruthHeader) *Report {
	return &Report{h: h, cities: map[string]*cityAgg{}, countries: map[string]*countryAgg{}}
}

func (r *Report) nearest(lat, lon float64) int {
	if r.popVecs == nil {
		for _, p := range r.h.PoPs {
			r.popVecs = append(r.popVecs, unitVec(p.Lat, p.Lon))
		}
	}
	return nearestVec(unitVec(lat, lon), r.popVecs)
}

func (r *Report) add(t *TruthRecord) {
	r.nets++
	w := t.Weight
	var pick [nStrat]int
	pick[stratGeo] = r.nearest(t.Lat, t.Lon)
	pick[stratGeoIP] = t.Geo
	if t.Geo < 0 {
		pick[stratGeoIP] = t.Anycast // a geo map without a location falls back to the default (anycast)
	}
	pick[stratAnycast] = t.Anycast
	pick[stratBest] = t.Best(ReportQuantile)
	best := t.Quantile(pick[stratBest], ReportQuantile)
	key := t.City + "\x00" + t.Country
	ca := r.cities[key]
	if ca == nil {
		ca = &cityAgg{name: t.City, country: t.Country, geo: pick[stratGeo], best: map[int]float64{}}
		r.cities[key] = ca
	}
	ca.w += w
	ca.best[pick[stratBest]] += w
	co := r.countries[t.Country]
	if co == nil {
		co = &countryAgg{geo: map[int]float64{}, best: map[int]float64{}}
		r.countries[t.Country] = co
	}
	co.w += w
	co.geo[pick[stratGeo]] += w
	co.best[pick[stratBest]] += w
	for s, p := range pick {
		v := t.Quantile(p, ReportQuantile)
		r.lat[s].Add(v, w)
		ca.lat[s] += v * w
		if v <= best {
			r.atBest[s] += w
		}
	}
	r.total += w
	if pick[stratBest] != pick[stratGeo] {
		r.notNear += w
	}
	if pick[stratBest] != pick[stratGeoIP] {
		r.notGeoIP += w
	}
}

func (r *Report) finish() {
	for s := range nStrat {
		p := r.lat[s].Percentiles(0.5, 0.75, 0.95)
		copy(r.pct[s][:], p)
		r.lat[s] = wstats.Histogram{}
	}
}

// ReadReport computes the report of a world directory from its truth file.
func ReadReport(dir string) (*Report, error) {
	var r *Report
	h, err := ReadTruth(filepath.Join(dir, FileTruth), func(h *TruthHeader, t *TruthRecord) error {
		if r == nil {
			r = newReport(h)
		}
		r.add(t)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if r == nil {
		r = newReport(h)
	}
	r.finish()
	return r, nil
}

func pctChange(a, b float64) string {
	if a == 0 {
		return "-"
	}
	return fmt.Sprintf("%+.1f %%", (b-a)/a*100)
}

// Write prints the report.
func (r *Report) Write(w io.Writer) error {
	if r.total == 0 {
		_, err := fmt.Fprintf(w, "Ground truth: %d client networks and no traffic: nothing to report.\n", r.nets)
		return err
	}
	labels := func(p int) string { return string(r.h.PoPs[p].Label) }
	fmt.Fprintf(w, "Ground truth: %d client networks, %d PoPs; latency = each network's true median RTT, percentiles over traffic.\n\n",
		r.nets, len(r.h.PoPs))
	fmt.Fprintf(w, "%-28s %8s %8s %8s %10s %14s\n", "steering", "p50 ms", "p75 ms", "p95 ms", "at best", "p75 vs best")
	for s := range nStrat {
		fmt.Fprintf(w, "%-28s %8.1f %8.1f %8.1f %9.1f%% %14s\n", stratNames[s], r.pct[s][0], r.pct[s][1], r.pct[s][2],
			100*r.atBest[s]/r.total, pctChange(r.pct[stratBest][1], r.pct[s][1]))
	}
	fmt.Fprintf(w, "\nA perfect latency map vs geo (GeoIP): p50 %s, p75 %s, p95 %s.\n",
		pctChange(r.pct[stratGeoIP][0], r.pct[stratBest][0]), pctChange(r.pct[stratGeoIP][1], r.pct[stratBest][1]),
		pctChange(r.pct[stratGeoIP][2], r.pct[stratBest][2]))
	fmt.Fprintf(w, "Traffic whose latency-best PoP is not the nearest PoP: %.1f %% (not the GeoIP-nearest: %.1f %%).\n",
		100*r.notNear/r.total, 100*r.notGeoIP/r.total)
	fmt.Fprintf(w, "Anycast reaches the best PoP for %.1f %% of traffic; p75 %s against a perfect map.\n\n",
		100*r.atBest[stratAnycast]/r.total, pctChange(r.pct[stratBest][1], r.pct[stratAnycast][1]))

	type row struct {
		c             *cityAgg
		geoMs, bestMs float64
		best          int
		regret        float64
	}
	var rows []row
	for _, c := range r.cities {
		best, bw := 0, -1.0
		for p, x := range c.best {
			if x > bw || (x == bw && p < best) {
				best, bw = p, x
			}
		}
		g, b := c.lat[stratGeo]/c.w, c.lat[stratBest]/c.w
		rows = append(rows, row{c, g, b, best, g - b})
	}
	// Worst cases: cities with real traffic where geo costs the most.
	minW := r.total / 20000
	slices.SortFunc(rows, func(a, b row) int {
		if c := cmp.Compare(b.regret, a.regret); c != 0 {
			return c
		}
		return cmp.Compare(a.c.name, b.c.name)
	})
	fmt.Fprintln(w, "Worst cases: cities where the nearest PoP costs the most (traffic-weighted mean of the city's networks)")
	fmt.Fprintf(w, "  %-30s %-18s %-18s %8s %8s\n", "city", "geo (nearest)", "latency-best", "saved", "traffic")
	n := 0
	for _, x := range rows {
		if x.c.w < minW || x.best == x.c.geo {
			continue
		}
		fmt.Fprintf(w, "  %-30s %-18s %-18s %6.0f ms %7.3f%%\n", x.c.name+", "+x.c.country,
			fmt.Sprintf("%s %.0f ms", labels(x.c.geo), x.geoMs), fmt.Sprintf("%s %.0f ms", labels(x.best), x.bestMs),
			x.regret, 100*x.c.w/r.total)
		if n++; n == 15 {
			break
		}
	}
	fmt.Fprintln(w, "\nNamed cities")
	for _, name := range []string{"Johannesburg", "Cape Town", "Reykjavik", "Vienna", "Prague", "Budapest", "Bratislava", "Zurich", "Vladivostok", "Mumbai", "Dubai", "Lagos", "Nairobi"} {
		for _, x := range rows {
			if strings.EqualFold(x.c.name, name) {
				fmt.Fprintf(w, "  %-30s geo %s %.0f ms, best %s %.0f ms\n", x.c.name+", "+x.c.country,
					labels(x.c.geo), x.geoMs, labels(x.best), x.bestMs)
				break
			}
		}
	}
	// Where each country's traffic is best served.
	type crow struct {
		code string
		c    *countryAgg
	}
	var cs []crow
	for k, c := range r.countries {
		cs = append(cs, crow{k, c})
	}
	slices.SortFunc(cs, func(a, b crow) int {
		if c := cmp.Compare(b.c.w, a.c.w); c != 0 {
			return c
		}
		return cmp.Compare(a.code, b.code)
	})
	top := func(m map[int]float64, total float64) string {
		type kv struct {
			p int
			w float64
		}
		var kvs []kv
		for p, x := range m {
			kvs = append(kvs, kv{p, x})
		}
		slices.SortFunc(kvs, func(a, b kv) int {
			if c := cmp.Compare(b.w, a.w); c != 0 {
				return c
			}
			return cmp.Compare(a.p, b.p)
		})
		var parts []string
		for i, x := range kvs {
			if i == 3 || x.w/total < 0.05 {
				break
			}
			parts = append(parts, fmt.Sprintf("%s %.0f%%", labels(x.p), 100*x.w/total))
		}
		return strings.Join(parts, ", ")
	}
	fmt.Fprintln(w, "\nCountries with the most traffic: nearest PoP vs latency-best PoP (share of the country's traffic)")
	for i, c := range cs {
		if i == 20 {
			break
		}
		fmt.Fprintf(w, "  %-3s %5.1f%%  nearest: %-24s best: %s\n", c.code, 100*c.c.w/r.total, top(c.c.geo, c.c.w), top(c.c.best, c.c.w))
	}
	return nil
}
