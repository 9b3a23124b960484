package geoip

import (
	"bytes"
	"math"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/popmap"
)

var testEntries = []Entry{
	{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Lat: 50.11, Lon: 8.68, Country: "DE"},
	{Prefix: netip.MustParsePrefix("198.51.100.128/25"), Lat: 51.51, Lon: -0.13, Country: "GB"},
	{Prefix: netip.MustParsePrefix("203.0.113.7/32"), Lat: 1.35, Lon: 103.82}, // no country
	{Prefix: netip.MustParsePrefix("::ffff:10.1.0.0/112"), Lat: -23.55, Lon: -46.63, Country: "BR"},
	{Prefix: netip.MustParsePrefix("2001:db8:10::/48"), Lat: 52.37, Lon: 4.90, Country: "NL"},
	{Prefix: netip.MustParsePrefix("2001:db8:20::1/64"), Lat: 39.04, Lon: -77.49, Country: "US"}, // host bits cleared
}

func writeDB(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, testEntries); err != nil {
		t.Fatalf("Write() = %v", err)
	}
	return buf.Bytes()
}

func openTestDB(t testing.TB) *DB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "test.mmdb")
	if err := os.WriteFile(path, writeDB(t), 0o644); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close() = %v", err)
		}
	})
	return db
}

func TestLocate(t *testing.T) {
	db := openTestDB(t)
	if db.Type() != "GeoIP2-City" {
		t.Errorf("Type() = %q", db.Type())
	}
	p := netip.MustParsePrefix
	tests := []struct {
		addr   string
		ok     bool
		loc    Location
		prefix netip.Prefix // checked when valid or when ok
	}{
		{"192.0.2.1", true, Location{50.11, 8.68, "DE"}, p("192.0.2.0/24")},
		{"192.0.2.255", true, Location{50.11, 8.68, "DE"}, p("192.0.2.0/24")},
		{"::ffff:192.0.2.77", true, Location{50.11, 8.68, "DE"}, p("192.0.2.0/24")}, // v4-mapped → IPv4
		{"198.51.100.128", true, Location{51.51, -0.13, "GB"}, p("198.51.100.128/25")},
		{"198.51.100.127", false, Location{}, p("198.51.100.0/25")}, // edge: just outside; empty record's network
		{"203.0.113.7", true, Location{1.35, 103.82, ""}, p("203.0.113.7/32")},
		{"203.0.113.6", false, Location{}, p("203.0.113.6/32")},
		{"10.1.2.3", true, Location{-23.55, -46.63, "BR"}, p("10.1.0.0/16")}, // inserted as v4-mapped
		{"2001:db8:10:ffff::1", true, Location{52.37, 4.90, "NL"}, p("2001:db8:10::/48")},
		{"2001:db8:20::abcd", true, Location{39.04, -77.49, "US"}, p("2001:db8:20::/64")},
		{"2001:db8:20:1::", false, Location{}, netip.Prefix{}},
		{"2001:db8:30::1", false, Location{}, netip.Prefix{}},
		{"fe80::1%eth0", false, Location{}, netip.Prefix{}},
		{"8.8.8.8", false, Location{}, netip.Prefix{}},
	}
	for _, tc := range tests {
		t.Run(tc.addr, func(t *testing.T) {
			loc, prefix, ok := db.Locate(netip.MustParseAddr(tc.addr))
			if ok != tc.ok || loc != tc.loc {
				t.Errorf("Locate(%v) = %+v, %v, %v, want %+v, %v", tc.addr, loc, prefix, ok, tc.loc, tc.ok)
			}
			if tc.prefix.IsValid() && prefix != tc.prefix {
				t.Errorf("Locate(%v) prefix = %v, want %v", tc.addr, prefix, tc.prefix)
			}
			if prefix.IsValid() && !prefix.Contains(netip.MustParseAddr(tc.addr).Unmap().WithZone("")) {
				t.Errorf("Locate(%v) prefix %v does not contain the address", tc.addr, prefix)
			}
		})
	}
	if _, _, ok := db.Locate(netip.Addr{}); ok {
		t.Errorf("Locate(invalid) ok")
	}
}

func TestFromBytes(t *testing.T) {
	b := writeDB(t)
	db, err := FromBytes(b)
	if err != nil {
		t.Fatalf("FromBytes() = %v", err)
	}
	defer func() { _ = db.Close() }()
	if loc, _, ok := db.Locate(netip.MustParseAddr("192.0.2.9")); !ok || loc.Country != "DE" {
		t.Errorf("Locate(192.0.2.9) = %+v, %v", loc, ok)
	}
	if _, err := FromBytes(b[:len(b)/2]); err == nil {
		t.Errorf("FromBytes(truncated) = nil error")
	}
}

func TestOpenError(t *testing.T) {
	path := filepath.Join(t.TempDir(), "missing.mmdb")
	_, err := Open(path)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("Open(missing) = %v, want an error naming %q", err, path)
	}
	bad := filepath.Join(t.TempDir(), "bad.mmdb")
	if err := os.WriteFile(bad, []byte("not a database"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Errorf("Open(bad) = %v, want an error naming %q", err, bad)
	}
}

func TestWriteErrors(t *testing.T) {
	tests := []struct {
		name string
		e    Entry
	}{
		{"invalid prefix", Entry{}},
		{"lat", Entry{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Lat: 91}},
		{"lon NaN", Entry{Prefix: netip.MustParsePrefix("192.0.2.0/24"), Lon: math.NaN()}},
		{"wide v4-mapped", Entry{Prefix: netip.MustParsePrefix("::ffff:0:0/95")}},
	}
	for _, tc := range tests {
		if err := Write(&bytes.Buffer{}, []Entry{tc.e}); err == nil {
			t.Errorf("Write(%s) = nil error", tc.name)
		}
	}
}

func TestDistance(t *testing.T) {
	tests := []struct {
		name                   string
		lat1, lon1, lat2, lon2 float64
		want, tol              float64
	}{
		{"London-Paris", 51.5074, -0.1278, 48.8566, 2.3522, 343.5, 0.5},
		{"antipodes", 0, 0, 0, 180, math.Pi * EarthRadiusKm, 1e-6}, // 20015.11 km
		{"poles", 90, 0, -90, 0, math.Pi * EarthRadiusKm, 1e-6},
		{"same", 50.11, 8.68, 50.11, 8.68, 0, 1e-9},
		{"quarter", 0, 0, 0, 90, math.Pi / 2 * EarthRadiusKm, 1e-6},
		{"dateline", 0, 179.5, 0, -179.5, math.Pi / 180 * EarthRadiusKm, 1e-6}, // 1°, not 359°
		{"Frankfurt-Singapore", 50.1109, 8.6821, 1.3521, 103.8198, 10264, 15},
	}
	for _, tc := range tests {
		got := Distance(tc.lat1, tc.lon1, tc.lat2, tc.lon2)
		if math.Abs(got-tc.want) > tc.tol {
			t.Errorf("Distance(%s) = %.3f, want %.3f ± %v", tc.name, got, tc.want, tc.tol)
		}
		if back := Distance(tc.lat2, tc.lon2, tc.lat1, tc.lon1); math.Abs(back-got) > 1e-9 {
			t.Errorf("Distance(%s) not symmetric: %v vs %v", tc.name, got, back)
		}
	}
	if d := Distance(0, 0, 0, 180); math.Abs(d-20015.11) > 0.01 {
		t.Errorf("antipodes = %.3f km, want ≈ 20015.11", d)
	}
}

func TestNearest(t *testing.T) {
	sites := []Site{
		{"sin", 1.3521, 103.8198},
		{"fra", 50.1109, 8.6821},
		{"lhr", 51.5074, -0.1278},
		{"ams", 52.3676, 4.9041},
		{"iad", 39.0438, -77.4874},
		{"gru", -23.5505, -46.6333},
	}
	tests := []struct {
		name     string
		lat, lon float64
		want     []popmap.Label
	}{
		{"Paris", 48.8566, 2.3522, []popmap.Label{"lhr", "ams", "fra", "iad", "gru", "sin"}},
		{"Tokyo", 35.68, 139.69, []popmap.Label{"sin", "ams", "fra", "lhr", "iad", "gru"}},
		{"Buenos Aires", -34.60, -58.38, []popmap.Label{"gru", "iad", "lhr", "ams", "fra", "sin"}},
	}
	for _, tc := range tests {
		if got := Nearest(tc.lat, tc.lon, sites); !slices.Equal(got, tc.want) {
			t.Errorf("Nearest(%s) = %v, want %v", tc.name, got, tc.want)
		}
	}
	// Ties are broken by label.
	tie := []Site{{"b", 0, 10}, {"c", 0, -10}, {"a", 10, 0}, {"d", -10, 0}}
	if got, want := Nearest(0, 0, tie), []popmap.Label{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Errorf("Nearest(tie) = %v, want %v", got, want)
	}
	if got := Nearest(0, 0, nil); len(got) != 0 {
		t.Errorf("Nearest(no sites) = %v", got)
	}
}

func TestLocateAllocs(t *testing.T) {
	db := openTestDB(t)
	addrs := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8:10::1"), netip.MustParseAddr("8.8.8.8")}
	for _, a := range addrs {
		db.Locate(a) // warm the pool
		if n := testing.AllocsPerRun(100, func() { db.Locate(a) }); n > 0 {
			t.Errorf("Locate(%v) allocates %v times", a, n)
		}
	}
}

func BenchmarkLocate(b *testing.B) {
	db := openTestDB(b)
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"),
		netip.MustParseAddr("::ffff:198.51.100.200"),
		netip.MustParseAddr("2001:db8:10::1"),
		netip.MustParseAddr("8.8.8.8"),
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		db.Locate(addrs[i%len(addrs)])
		i++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "lookups/s")
}

func FuzzFromBytes(f *testing.F) {
	b := writeDB(f)
	f.Add(b)
	for _, n := range []int{0, 1, 16, 100, len(b) / 2, len(b) - 100, len(b) - 1} {
		f.Add(b[:n])
	}
	// Corrupt the search tree at the start while keeping the metadata.
	c := slices.Clone(b)
	for i := 0; i < 64 && i < len(c); i++ {
		c[i] ^= 0xa5
	}
	f.Add(c)
	addrs := []netip.Addr{
		netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("10.1.2.3"),
		netip.MustParseAddr("2001:db8:10::1"), netip.MustParseAddr("::"), netip.MustParseAddr("255.255.255.255"),
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		db, err := FromBytes(data)
		if err != nil {
			return
		}
		for _, a := range addrs {
			loc, prefix, ok := db.Locate(a)
			if ok && (loc.Lat < -90 || loc.Lat > 90 || loc.Lon < -180 || loc.Lon > 180) {
				t.Errorf("Locate(%v) = %+v out of range", a, loc)
			}
			if prefix.IsValid() && !prefix.Contains(a) {
				t.Errorf("Locate(%v) prefix %v does not contain it", a, prefix)
			}
		}
		_ = db.Close()
	})
}

// TestLocateCache: Locate through the record cache gives what decoding
// the record gives, for every address of the example world's database
// (many networks per record), asked twice, also when slots collide.
func TestLocateCache(t *testing.T) {
	db, err := Open(filepath.Join("..", "examples", "world.mmdb"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()
	rng := rand.New(rand.NewPCG(7, 7))
	for range 2 {
		for range 20000 {
			var a netip.Addr
			if rng.IntN(4) == 0 {
				var b [16]byte
				b[0], b[1] = 0x20, 0x01
				for i := 2; i < 16; i++ {
					b[i] = byte(rng.Uint32())
				}
				a = netip.AddrFrom16(b)
			} else {
				a = netip.AddrFrom4([4]byte{byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32()), byte(rng.Uint32())})
			}
			loc, prefix, ok := db.Locate(a)
			res := db.r.Lookup(a)
			var want Location
			var wantOK bool
			if res.Found() {
				want, wantOK = decodeLocation(res)
			}
			if loc != want || ok != wantOK || (ok && !prefix.Contains(a)) {
				t.Fatalf("Locate(%v) = %+v %v %v, decoding gives %+v %v", a, loc, prefix, ok, want, wantOK)
			}
		}
	}
}
