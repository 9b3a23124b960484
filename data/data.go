// Package data ships the real-world data sets behind steer's simulated world,
// trimmed and attributed, embedded in the binary so that any program works
// from any directory:
//
//   - WonderProxy's measured RTTs between about 250 servers in world cities
//     (2020): [ParsePings], [ParseServers], [Clean] and [LoadMatrix], which
//     returns the cleaned RTT matrix the simulator uses as its backbone;
//   - GeoNames cities of 15,000 people or more: [Cities];
//   - real prefix → origin AS tables (pyasn, from RouteViews/RIPE RIS RIBs)
//     with each prefix's country from IP2Location LITE: [Prefixes], [ASNames].
//
// README.md in this directory says where each file comes from, how it was
// trimmed (go generate, see data/internal/trim), its license and the
// attribution it requires.
//
// Cleaning is kept out of the trimmed files on purpose: the embedded servers
// and pings are the raw rows, so that tests show what [Clean] fixes. The
// known-bad servers (confirmed by comparing each server's nearest neighbours
// by min RTT with its nearest by distance) are:
//
//   - LaCeiba (id 220, Honduras) answers in 3.7–4 ms from the New York area,
//     3,000 km away: its host is not in La Ceiba. Dropped.
//   - Belfast (id 204) answers in 1.9 ms from Maidstone, 569 km away: its host
//     is in south-east England. Dropped.
//   - Guatemala (id 99) has Panama City's coordinates and Panama (id 98) has
//     Guatemala City's. Swapped back.
//
// Fixes are applied before the speed-of-light filter, which drops an ordered
// pair whose min RTT is below great-circle km / 100 (light in fibre covers
// about 200 km per ms, so 100 km per ms of round trip).
//
// Loaders parse the embedded files once, on first use; later calls are cheap.
// Slices and maps they return are copies the caller may modify; the [*Matrix]
// from [LoadMatrix] is shared and must not be modified.
//
// The package exports no metrics.
package data

//go:generate go run ./internal/gen -raw /work/shared/data/raw -out .

import (
	"bytes"
	"compress/gzip"
	_ "embed"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"sync"

	"github.com/steer-gslb/steer/geoip"
)

var (
	//go:embed wonderproxy-servers.csv
	serversCSV []byte
	//go:embed wonderproxy-pings.csv.gz
	pingsGz []byte
	//go:embed geonames-cities.tsv.gz
	citiesGz []byte
	//go:embed asn-prefixes.tsv.gz
	prefixesGz []byte
	//go:embed asn-names.tsv.gz
	asNamesGz []byte
)

// Server is a WonderProxy server: a measured city.
type Server struct {
	ID       int
	Name     string // WonderProxy's short name, e.g. "SaoPaulo"
	City     string // city as written, e.g. "Sao Paulo"
	Country  string // ISO 3166-1 alpha-2; the country name for ParseRawServers
	Lat, Lon float64
}

// Ping summarises the pings from one server to another, in milliseconds.
type Ping struct{ Min, Avg, Max, Mdev float64 }

// PingRow is one row of the grouped ping file.
type PingRow struct {
	Src, Dst int
	Ping
}

// City is a GeoNames populated place.
type City struct {
	ID         int // geonameid
	Name       string
	Country    string // ISO 3166-1 alpha-2
	Lat, Lon   float64
	Population int
	Feature    string // GeoNames feature code: PPL, PPLA, PPLC, ...
}

// Prefix is a routed prefix, its origin AS and its country.
type Prefix struct {
	Prefix  netip.Prefix // masked
	ASN     uint32
	Country string // ISO 3166-1 alpha-2
}

// Distance returns the great-circle distance in km; it is [geoip.Distance].
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	return geoip.Distance(lat1, lon1, lat2, lon2)
}

// gunzip opens an embedded gzip file. The files are part of the binary, so
// a failure here is a build problem and is reported as an error by callers.
func gunzip(name string, b []byte) (io.Reader, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("embedded %s: %w", name, err)
	}
	return zr, nil
}

var loadServers = sync.OnceValues(func() ([]Server, error) {
	s, err := ParseServers(bytes.NewReader(serversCSV))
	if err != nil {
		return nil, fmt.Errorf("embedded wonderproxy-servers.csv: %w", err)
	}
	return s, nil
})

// Servers returns the embedded WonderProxy servers, uncleaned.
func Servers() ([]Server, error) {
	s, err := loadServers()
	return slices.Clone(s), err
}

var loadPings = sync.OnceValues(func() ([]PingRow, error) {
	r, err := gunzip("wonderproxy-pings.csv.gz", pingsGz)
	if err != nil {
		return nil, err
	}
	p, err := ParsePings(r)
	if err != nil {
		return nil, fmt.Errorf("embedded wonderproxy-pings.csv.gz: %w", err)
	}
	return p, nil
})

// Pings returns the embedded ping rows, uncleaned.
func Pings() ([]PingRow, error) {
	p, err := loadPings()
	return slices.Clone(p), err
}

type matrixResult struct {
	m   *Matrix
	rep CleanReport
}

var loadMatrix = sync.OnceValues(func() (matrixResult, error) {
	s, err := loadServers()
	if err != nil {
		return matrixResult{}, err
	}
	p, err := loadPings()
	if err != nil {
		return matrixResult{}, err
	}
	m, rep := Clean(s, p)
	return matrixResult{m, rep}, nil
})

// LoadMatrix returns the embedded servers and pings, cleaned by [Clean].
// The Matrix is shared by every caller and must not be modified.
func LoadMatrix() (*Matrix, CleanReport, error) {
	r, err := loadMatrix()
	if err != nil {
		return nil, CleanReport{}, err
	}
	rep := r.rep
	rep.Fixes = slices.Clone(rep.Fixes)
	return r.m, rep, nil
}

var loadCities = sync.OnceValues(func() ([]City, error) {
	r, err := gunzip("geonames-cities.tsv.gz", citiesGz)
	if err != nil {
		return nil, err
	}
	c, err := ParseCities(r)
	if err != nil {
		return nil, fmt.Errorf("embedded geonames-cities.tsv.gz: %w", err)
	}
	return c, nil
})

// Cities returns the embedded GeoNames cities: every place of 15,000 people
// or more, and capitals, minus PPLX rows (sections of a city, which would
// count people twice) and the one row with no population (Plymouth,
// Montserrat, abandoned in 1997). Every city has Population > 0.
func Cities() ([]City, error) {
	c, err := loadCities()
	return slices.Clone(c), err
}

var loadPrefixes = sync.OnceValues(func() ([]Prefix, error) {
	r, err := gunzip("asn-prefixes.tsv.gz", prefixesGz)
	if err != nil {
		return nil, err
	}
	p, err := ParsePrefixes(r)
	if err != nil {
		return nil, fmt.Errorf("embedded asn-prefixes.tsv.gz: %w", err)
	}
	return p, nil
})

// Prefixes returns the embedded prefix → origin AS → country table, sorted
// by prefix (IPv4 first). It holds the IPv4 prefixes (/24 or shorter) of up
// to 8 ASes per country, those with the most IPv4 address space there, and
// the IPv6 prefixes (/48 or shorter) of the same ASes; see README.md.
// Prefixes may nest: look them up by longest match.
func Prefixes() ([]Prefix, error) {
	p, err := loadPrefixes()
	return slices.Clone(p), err
}

var loadASNames = sync.OnceValues(func() (map[uint32]string, error) {
	r, err := gunzip("asn-names.tsv.gz", asNamesGz)
	if err != nil {
		return nil, err
	}
	n, err := ParseASNames(r)
	if err != nil {
		return nil, fmt.Errorf("embedded asn-names.tsv.gz: %w", err)
	}
	return n, nil
})

// ASNames returns the names of the ASes in [Prefixes]. A few ASes have no
// name in the source; use [ASName] for a name with a fallback.
func ASNames() (map[uint32]string, error) {
	n, err := loadASNames()
	return maps.Clone(n), err
}

// ASName returns the name of an AS in [Prefixes], or "AS<asn>" when the
// source has none.
func ASName(asn uint32) string {
	n, _ := loadASNames()
	if s, ok := n[asn]; ok {
		return s
	}
	return "AS" + strconv.FormatUint(uint64(asn), 10)
}
