// Package geoip locates IP addresses with a MaxMind DB (.mmdb) file and ranks
// PoPs by great-circle distance: the "geo" step of steer's decision chain
// (GeoIP → nearest healthy PoP) and the geo baseline of the evaluator.
//
// A [DB] reads City-style databases (location.latitude, location.longitude,
// country.iso_code) with github.com/oschwald/maxminddb-golang/v2. [DB.Locate]
// also returns the database network that matched, so that the DNS server can
// derive an ECS scope from it. The DB is immutable and safe for concurrent
// use; a reload opens a new DB and swaps it in.
//
// [Write] builds such a database with github.com/maxmind/mmdbwriter, for tests
// and for the simulator's world.
//
// The package exports no metrics.
package geoip

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/maxmind/mmdbwriter"
	"github.com/maxmind/mmdbwriter/mmdbtype"
	"github.com/oschwald/maxminddb-golang/v2"

	"github.com/steer-gslb/steer/popmap"
)

// EarthRadiusKm is the mean Earth radius (IUGG) used by Distance.
const EarthRadiusKm = 6371.0088

// Location is where a database places an address.
type Location struct {
	Lat, Lon float64
	Country  string // ISO 3166-1 alpha-2, "" if the database has none
}

// DB is an opened MaxMind DB. It is immutable and safe for concurrent use.
type DB struct {
	r    *maxminddb.Reader
	name string // for error messages
	// cache holds decoded records by their data offset, direct-mapped:
	// many networks share one record (a city's), and decoding one through
	// reflection is most of a lookup's cost. A slot is replaced on a
	// collision; a hit reads one atomic pointer and allocates nothing.
	cache [cacheSlots]atomic.Pointer[cached]
}

// cacheSlots is the size of DB.cache (a power of two).
const cacheSlots = 1 << 14

// cached is one decoded record: its outcome for Locate.
type cached struct {
	off uintptr
	loc Location
	ok  bool
}

// record is what Locate decodes. Records are pooled: passing a value to
// Decode makes it escape, and a fresh one per lookup would allocate.
type record struct {
	Location struct {
		Latitude  float64 `maxminddb:"latitude"`
		Longitude float64 `maxminddb:"longitude"`
	} `maxminddb:"location"`
	Country struct {
		ISOCode string `maxminddb:"iso_code"`
	} `maxminddb:"country"`
}

var recordPool = sync.Pool{New: func() any { return new(record) }}

// Open opens the MaxMind DB file at path (memory-mapped where supported).
func Open(path string) (*DB, error) {
	r, err := maxminddb.Open(path)
	if err != nil {
		return nil, fmt.Errorf("opening geoip database %q: %w", path, err)
	}
	db, err := newDB(r, path)
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("opening geoip database %q: %w", path, err)
	}
	return db, nil
}

// FromBytes opens a MaxMind DB held in memory. b must not be modified while
// the DB is in use.
func FromBytes(b []byte) (*DB, error) {
	r, err := maxminddb.OpenBytes(b)
	if err != nil {
		return nil, fmt.Errorf("opening geoip database: %w", err)
	}
	db, err := newDB(r, "")
	if err != nil {
		_ = r.Close()
		return nil, fmt.Errorf("opening geoip database: %w", err)
	}
	return db, nil
}

func newDB(r *maxminddb.Reader, name string) (*DB, error) {
	switch r.Metadata.IPVersion {
	case 4, 6:
	default:
		return nil, fmt.Errorf("unsupported ip_version %d", r.Metadata.IPVersion)
	}
	return &DB{r: r, name: name}, nil
}

// Close releases the database. No Locate may run during or after Close.
func (db *DB) Close() error {
	if err := db.r.Close(); err != nil {
		return fmt.Errorf("closing geoip database %q: %w", db.name, err)
	}
	return nil
}

// Type returns the database type from the metadata (e.g. "GeoIP2-City").
func (db *DB) Type() string { return db.r.Metadata.DatabaseType }

// Locate returns the location the database gives addr and the database
// network that matched. v4-mapped IPv6 addresses are looked up as IPv4 and
// get an IPv4 prefix; zones are ignored.
//
// ok is false when the database has no location for addr (no record, a
// record without location, or a lookup error). prefix is then still the
// network of the empty or location-less record when the lookup succeeded
// (every address in it gets the same "no location"), and invalid otherwise.
//
// Locate does not allocate once the record is in its cache (it allocates
// the cache entry when it decodes one).
func (db *DB) Locate(addr netip.Addr) (loc Location, prefix netip.Prefix, ok bool) {
	addr = addr.Unmap().WithZone("")
	res := db.r.Lookup(addr)
	if res.Err() != nil {
		return Location{}, netip.Prefix{}, false
	}
	prefix = res.Prefix()
	if !prefix.IsValid() || prefix.Addr().Is4() != addr.Is4() {
		// The match lies above the IPv4 subtree (e.g. ::/N around it):
		// no IPv4 prefix expresses it.
		prefix = netip.Prefix{}
	}
	if !res.Found() {
		return Location{}, prefix, false
	}
	off := res.Offset()
	slot := &db.cache[(off>>2)&(cacheSlots-1)]
	if c := slot.Load(); c != nil && c.off == off {
		return c.loc, prefix, c.ok
	}
	loc, ok = decodeLocation(res)
	slot.Store(&cached{off: off, loc: loc, ok: ok})
	return loc, prefix, ok
}

// decodeLocation decodes a found record's location and country; ok is
// false for a record without a valid location.
func decodeLocation(res maxminddb.Result) (loc Location, ok bool) {
	rec := recordPool.Get().(*record)
	*rec = record{}
	rec.Location.Latitude = math.NaN() // absent stays NaN
	rec.Location.Longitude = math.NaN()
	err := res.Decode(rec)
	loc = Location{Lat: rec.Location.Latitude, Lon: rec.Location.Longitude, Country: rec.Country.ISOCode}
	recordPool.Put(rec)
	if err != nil || math.IsNaN(loc.Lat) || math.IsNaN(loc.Lon) ||
		loc.Lat < -90 || loc.Lat > 90 || loc.Lon < -180 || loc.Lon > 180 {
		return Location{}, false
	}
	return loc, true
}

// Distance returns the great-circle distance in km between two points given
// in degrees (haversine on a sphere of radius EarthRadiusKm; within 0.5% of
// the ellipsoid, plenty for ranking PoPs).
func Distance(lat1, lon1, lat2, lon2 float64) float64 {
	const rad = math.Pi / 180
	φ1, φ2 := lat1*rad, lat2*rad
	dφ := (lat2 - lat1) * rad
	dλ := (lon2 - lon1) * rad
	s1, s2 := math.Sin(dφ/2), math.Sin(dλ/2)
	h := s1*s1 + math.Cos(φ1)*math.Cos(φ2)*s2*s2
	h = min(max(h, 0), 1) // rounding can leave [0, 1] near antipodes
	return 2 * EarthRadiusKm * math.Asin(math.Sqrt(h))
}

// Site is a PoP's position.
type Site struct {
	Label    popmap.Label
	Lat, Lon float64
}

// Nearest returns the labels of all sites ranked by distance from (lat, lon),
// nearest first; equal distances are ordered by label.
func Nearest(lat, lon float64, sites []Site) []popmap.Label {
	type ranked struct {
		d float64
		l popmap.Label
	}
	rs := make([]ranked, len(sites))
	for i, s := range sites {
		rs[i] = ranked{Distance(lat, lon, s.Lat, s.Lon), s.Label}
	}
	slices.SortFunc(rs, func(a, b ranked) int {
		if c := cmp.Compare(a.d, b.d); c != 0 {
			return c
		}
		return cmp.Compare(a.l, b.l)
	})
	out := make([]popmap.Label, len(rs))
	for i, r := range rs {
		out[i] = r.l
	}
	return out
}

// Entry is one network of a database written by Write.
type Entry struct {
	Prefix   netip.Prefix // IPv4, IPv6 or v4-mapped IPv6 (stored as IPv4)
	Lat, Lon float64
	Country  string // optional ISO code
}

// Write writes a GeoIP2-City-style IPv6 database (IPv4 aliased into ::/96
// and the usual IPv4-embedding ranges, reserved networks allowed so that
// documentation ranges work) holding entries. Host bits of prefixes are
// cleared; where entries overlap, the later one wins for the addresses they
// share.
func Write(w io.Writer, entries []Entry) error { return WriteBuilt(w, entries, time.Time{}) }

// WriteBuilt is Write with the database's build time set, so the same
// entries give the same bytes (the zero time means now).
func WriteBuilt(w io.Writer, entries []Entry, built time.Time) error {
	var epoch int64
	if !built.IsZero() {
		epoch = built.Unix()
	}
	tree, err := mmdbwriter.New(mmdbwriter.Options{
		BuildEpoch:              epoch,
		DatabaseType:            "GeoIP2-City",
		Description:             map[string]string{"en": "steer GeoIP database"},
		Languages:               []string{"en"},
		IncludeReservedNetworks: true,
		IPVersion:               6,
		RecordSize:              28,
	})
	if err != nil {
		return fmt.Errorf("writing geoip database: %w", err)
	}
	for i, e := range entries {
		n, err := ipNet(e.Prefix)
		if err != nil {
			return fmt.Errorf("writing geoip database: entry %d: %w", i, err)
		}
		if math.IsNaN(e.Lat) || e.Lat < -90 || e.Lat > 90 || math.IsNaN(e.Lon) || e.Lon < -180 || e.Lon > 180 {
			return fmt.Errorf("writing geoip database: entry %d (%v): location %v,%v out of range", i, e.Prefix, e.Lat, e.Lon)
		}
		rec := mmdbtype.Map{
			"location": mmdbtype.Map{
				"latitude":  mmdbtype.Float64(e.Lat),
				"longitude": mmdbtype.Float64(e.Lon),
			},
		}
		if e.Country != "" {
			rec["country"] = mmdbtype.Map{"iso_code": mmdbtype.String(e.Country)}
		}
		if err := tree.Insert(n, rec); err != nil {
			return fmt.Errorf("writing geoip database: entry %d (%v): %w", i, e.Prefix, err)
		}
	}
	if _, err := tree.WriteTo(w); err != nil {
		return fmt.Errorf("writing geoip database: %w", err)
	}
	return nil
}

// ipNet converts a prefix for mmdbwriter: IPv4 (and v4-mapped) prefixes as
// 4-byte networks, which the writer places in the IPv4 subtree.
func ipNet(p netip.Prefix) (*net.IPNet, error) {
	if !p.IsValid() {
		return nil, errors.New("invalid prefix")
	}
	a := p.Addr()
	if a.Is4In6() {
		if p.Bits() < 96 {
			return nil, fmt.Errorf("prefix %v covers more than the v4-mapped range", p)
		}
		a = a.Unmap()
		p = netip.PrefixFrom(a, p.Bits()-96)
	}
	if a.Zone() != "" {
		return nil, fmt.Errorf("prefix %v has a zone", p)
	}
	p = p.Masked()
	return &net.IPNet{
		IP:   net.IP(p.Addr().AsSlice()),
		Mask: net.CIDRMask(p.Bits(), a.BitLen()),
	}, nil
}

// Networks calls fn for every network of the database that has a location,
// in address order: the builder's GeoIP model maps unmeasured address space
// block by block. IPv4 networks come as IPv4 prefixes.
func (db *DB) Networks(fn func(prefix netip.Prefix, loc Location) error) error {
	for res := range db.r.Networks() {
		if err := res.Err(); err != nil {
			return fmt.Errorf("geoip database %q: %w", db.name, err)
		}
		var rec record
		rec.Location.Latitude, rec.Location.Longitude = math.NaN(), math.NaN()
		if err := res.Decode(&rec); err != nil {
			return fmt.Errorf("geoip database %q: %w", db.name, err)
		}
		loc := Location{Lat: rec.Location.Latitude, Lon: rec.Location.Longitude, Country: rec.Country.ISOCode}
		if math.IsNaN(loc.Lat) || math.IsNaN(loc.Lon) {
			continue
		}
		p := res.Prefix()
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		if err := fn(p, loc); err != nil {
			return err
		}
	}
	return nil
}
