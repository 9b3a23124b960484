package data_test

import (
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/data/internal/trim"
)

// Row counts of the embedded files; README.md states them too.
const (
	nServers  = 246 // SOURCES.md says 245: the file has 246 rows and no final newline
	nPings    = 62104
	nCities   = 31031 // 33,227 − 2,195 PPLX − 1 without population
	nPrefixes = 139734
	nASes     = 1365
	nNamed    = 1363
)

// uncovered are the populated GeoNames countries no AS in the prefix table
// serves: IP2Location LITE places no routed IPv4 prefix in them (Kosovo, XK,
// has no IP2Location code at all).
var uncovered = []string{"CC", "CX", "EH", "GS", "PN", "SH", "SJ", "TF", "XK"}

func TestServers(t *testing.T) {
	s, err := data.Servers()
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != nServers {
		t.Errorf("len(Servers()) = %d, want %d", len(s), nServers)
	}
	for _, v := range s {
		if len(v.Country) != 2 || strings.ToUpper(v.Country) != v.Country {
			t.Errorf("server %d %s: country %q, want an ISO code", v.ID, v.Name, v.Country)
		}
	}
	// The caller owns the copy.
	s[0].Name = "changed"
	if again, _ := data.Servers(); again[0].Name == "changed" {
		t.Error("Servers() returned shared storage")
	}
	p, err := data.Pings()
	if err != nil {
		t.Fatal(err)
	}
	if len(p) != nPings {
		t.Errorf("len(Pings()) = %d, want %d", len(p), nPings)
	}
}

func TestCities(t *testing.T) {
	c, err := data.Cities()
	if err != nil {
		t.Fatal(err)
	}
	if len(c) != nCities {
		t.Errorf("len(Cities()) = %d, want %d", len(c), nCities)
	}
	var pop int64
	for _, v := range c {
		if v.Population <= 0 || v.Feature == "PPLX" || len(v.Country) != 2 {
			t.Errorf("city %+v: want population > 0, no PPLX, ISO country", v)
		}
		pop += int64(v.Population)
	}
	// SOURCES.md: 3.65 billion once PPLX rows are dropped.
	if pop < 3.6e9 || pop > 3.7e9 {
		t.Errorf("total population %d, want about 3.65e9", pop)
	}
}

func TestPrefixes(t *testing.T) {
	ps, err := data.Prefixes()
	if err != nil {
		t.Fatal(err)
	}
	if len(ps) != nPrefixes {
		t.Errorf("len(Prefixes()) = %d, want %d", len(ps), nPrefixes)
	}
	ases := map[uint32]bool{}
	countries := map[string]bool{}
	var v4 []netip.Prefix
	for i, p := range ps {
		if p.Prefix != p.Prefix.Masked() || p.ASN == 0 || len(p.Country) != 2 {
			t.Errorf("prefix %+v: want masked, ASN > 0, ISO country", p)
		}
		if b := p.Prefix.Bits(); (p.Prefix.Addr().Is4() && b > 24) || b > 48 {
			t.Errorf("prefix %v longer than /24 (v4) or /48 (v6)", p.Prefix)
		}
		if i > 0 && cmpPrefix(ps[i-1].Prefix, p.Prefix) >= 0 {
			t.Errorf("prefixes not sorted: %v before %v", ps[i-1].Prefix, p.Prefix)
		}
		ases[p.ASN] = true
		countries[p.Country] = true
		if p.Prefix.Addr().Is4() {
			v4 = append(v4, p.Prefix)
		}
	}
	if len(ases) != nASes {
		t.Errorf("%d ASes, want %d", len(ases), nASes)
	}
	if n := slash24s(v4); n < 1<<20 {
		t.Errorf("IPv4 space is %d /24s, want ≥ %d", n, 1<<20)
	}

	names, err := data.ASNames()
	if err != nil {
		t.Fatal(err)
	}
	if len(names) != nNamed {
		t.Errorf("len(ASNames()) = %d, want %d", len(names), nNamed)
	}
	for asn := range ases {
		n, ok := names[asn]
		if got := data.ASName(asn); ok && got != n || !ok && got != fmt.Sprintf("AS%d", asn) {
			t.Errorf("ASName(%d) = %q, want the name %q or the fallback AS%d", asn, got, n, asn)
		}
	}
	for asn := range names {
		if !ases[asn] {
			t.Errorf("ASNames has AS%d, which is not in Prefixes", asn)
		}
	}

	cities, err := data.Cities()
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, c := range cities {
		if !countries[c.Country] && !slices.Contains(missing, c.Country) {
			missing = append(missing, c.Country)
		}
	}
	slices.Sort(missing)
	if !slices.Equal(missing, uncovered) {
		t.Errorf("populated countries without an AS = %v, want %v", missing, uncovered)
	}
}

func cmpPrefix(a, b netip.Prefix) int {
	return cmp.Or(a.Addr().Compare(b.Addr()), cmp.Compare(a.Bits(), b.Bits()))
}

// slash24s counts the IPv4 space of sorted prefixes in /24s, nested
// prefixes once.
func slash24s(sorted []netip.Prefix) int64 {
	var n, end int64 = 0, -1
	for _, p := range sorted {
		a := p.Addr().As4()
		lo := int64(a[0])<<24 | int64(a[1])<<16 | int64(a[2])<<8 | int64(a[3])
		hi := lo + 1<<(32-p.Bits()) - 1
		if hi <= end {
			continue
		}
		n += (hi - lo + 1) >> 8
		end = hi
	}
	return n
}

func TestLoadMatrix(t *testing.T) {
	m, rep, err := data.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	if m.N() != nServers-2 {
		t.Errorf("N() = %d, want %d (LaCeiba and Belfast dropped)", m.N(), nServers-2)
	}
	if got := rep.SelfPairs + rep.UnknownIDs + rep.DroppedServer + rep.Duplicates + rep.FasterThanLight + rep.Kept; got != rep.Rows {
		t.Errorf("report %+v: counts add up to %d, want Rows = %d", rep, got, rep.Rows)
	}
	if len(rep.Fixes) != 3 {
		t.Errorf("Fixes = %q, want 3 (one swap, two drops)", rep.Fixes)
	}
	for _, name := range []string{"LaCeiba", "Belfast", "La Ceiba"} {
		if i := m.Index(name); i >= 0 {
			t.Errorf("Index(%q) = %d, want -1 (dropped)", name, i)
		}
	}
	g, p := m.Servers[m.Index("Guatemala")], m.Servers[m.Index("panama")]
	if g.Lat < 14 || p.Lat > 10 {
		t.Errorf("Guatemala at %v, Panama at %v: want the coordinates swapped back", g, p)
	}
	t.Logf("clean report: %+v", rep)

	// Repeated calls share the matrix and are cheap.
	m2, rep2, _ := data.LoadMatrix()
	if m2 != m || rep2.Filled != rep.Filled {
		t.Error("second LoadMatrix returned a different matrix")
	}
}

// tinyServers is a hand-made world: Guatemala and Panama have each other's
// coordinates, LaCeiba is dropped by name and id, Paris–London is close.
var tinyServers = []data.Server{
	{ID: 1, Name: "London", City: "London", Country: "GB", Lat: 51.5074, Lon: -0.1278},
	{ID: 2, Name: "Paris", City: "Paris", Country: "FR", Lat: 48.8566, Lon: 2.3522},
	{ID: 3, Name: "NewYork", City: "New York", Country: "US", Lat: 40.7128, Lon: -74.0060},
	{ID: 99, Name: "Guatemala", City: "Guatemala", Country: "GT", Lat: 9, Lon: -79.5},
	{ID: 98, Name: "Panama", City: "Panama", Country: "PA", Lat: 14.6317, Lon: -90.5236},
	{ID: 220, Name: "LaCeiba", City: "La Ceiba", Country: "HN", Lat: 15.7703, Lon: -86.7919},
}

func ping(src, dst int, lo float64) data.PingRow {
	return data.PingRow{Src: src, Dst: dst, Ping: data.Ping{Min: lo, Avg: lo + 1, Max: lo + 2, Mdev: 0.5}}
}

func TestClean(t *testing.T) {
	// London–Paris is 344 km: 3.44 ms is the floor. London–New York 5,570 km.
	// New York–Guatemala City is 3,330 km, New York–Panama City 3,560 km.
	rows := []data.PingRow{
		ping(1, 1, 0.02),  // self pair
		ping(1, 2, 4.5),   // kept
		ping(2, 1, 3.0),   // faster than light: dropped, then filled from 1→2
		ping(1, 3, 70),    // kept; 3→1 filled
		ping(1, 292, 10),  // unknown id
		ping(220, 3, 4),   // dropped server
		ping(3, 99, 34),   // New York → Guatemala: fine only once fixed (3,330 km)
		ping(3, 98, 35.7), // New York → Panama: fine only once fixed (3,560 km)
		ping(1, 2, 9),     // duplicate
		ping(99, 98, 1),   // Guatemala → Panama, 1,350 km in 1 ms: faster than light
	}
	m, rep := data.Clean(tinyServers, rows)
	want := data.CleanReport{
		Rows: 10, SelfPairs: 1, UnknownIDs: 1, DroppedServer: 1, Duplicates: 1,
		FasterThanLight: 2, Kept: 4,
		Filled: 4, // 2→1, 3→1, 99→3, 98→3
		// 5 servers, 20 ordered pairs, 8 known: 2→3, 3→2, 1↔99, 1↔98, 2↔99,
		// 2↔98, 99↔98 are missing.
		Missing: 12,
	}
	got := rep
	got.Fixes = nil
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Clean report = %+v\nwant %+v", got, want)
	}
	if len(rep.Fixes) != 2 || !strings.Contains(rep.Fixes[0], "swapped") || !strings.Contains(rep.Fixes[1], "LaCeiba") {
		t.Errorf("Fixes = %q, want the Guatemala/Panama swap and the LaCeiba drop", rep.Fixes)
	}
	if tinyServers[3].Lat != 9 {
		t.Error("Clean modified its argument")
	}
	cases := []struct {
		src, dst string
		ok       bool
		min      float64
	}{
		{"London", "Paris", true, 4.5},
		{"paris", "london", true, 4.5},   // filled from the reverse
		{"new york", "London", true, 70}, // filled
		{"NewYork", "Guatemala", true, 34},
		{"Guatemala", "NewYork", true, 34},
		{"Guatemala", "Panama", false, 0}, // FTL, and no reverse
		{"London", "London", false, 0},    // self pairs are dropped
		{"Paris", "NewYork", false, 0},
	}
	for _, c := range cases {
		i, j := m.Index(c.src), m.Index(c.dst)
		if i < 0 || j < 0 {
			t.Fatalf("Index(%q), Index(%q) = %d, %d", c.src, c.dst, i, j)
		}
		p, ok := m.RTT(i, j)
		if ok != c.ok || p.Min != c.min {
			t.Errorf("RTT(%s, %s) = %v, %v; want min %v, %v", c.src, c.dst, p, ok, c.min, c.ok)
		}
	}
	if i := m.Index("LaCeiba"); i != -1 {
		t.Errorf("Index(LaCeiba) = %d, want -1", i)
	}
	if _, ok := m.RTT(0, m.N()); ok {
		t.Error("RTT out of range: ok = true")
	}

	// Cleaning a cleaned list changes nothing more.
	_, rep2 := data.Clean(m.Servers, rows)
	if len(rep2.Fixes) != 0 {
		t.Errorf("second Clean fixes %q, want none", rep2.Fixes)
	}
}

// parseCases feed TestParse and the fuzz targets' seeds.
var parseCases = []struct {
	name, in string
	n        int    // rows parsed when err is ""
	err      string // substring of the error
}{
	{"pings ok", "source,destination,min,avg,max,mdev\n0,1,1,2,3,0.5\n1,0,1.5,2,3,0\n", 2, ""},
	{"pings crlf no final newline", "source,destination,min,avg,max,mdev\r\n0,1,1,2,3,0.5\r\n1,0,1.5,2,3,0", 2, ""},
	{"pings header only", "source,destination,min,avg,max,mdev\n", 0, ""},
	{"pings empty", "", 0, "line 1: empty file"},
	{"pings bad header", "src,dst,min,avg,max,mdev\n", 0, "line 1: header"},
	{"pings short row", "source,destination,min,avg,max,mdev\n0,1,1,2,3,0.5\n0,1,1\n", 0, "line 3: want 6 fields"},
	{"pings long row", "source,destination,min,avg,max,mdev\n0,1,1,2,3,0.5,7\n", 0, "line 2: want 6 fields"},
	{"pings bad id", "source,destination,min,avg,max,mdev\n0,-1,1,2,3,0.5\n", 0, "line 2: destination"},
	{"pings NaN", "source,destination,min,avg,max,mdev\n0,1,NaN,2,3,0.5\n", 0, "line 2: min"},
	{"pings min above avg", "source,destination,min,avg,max,mdev\n0,1,3,2,3,0.5\n", 0, "line 2: want min ≤ avg ≤ max"},
}

var serverCases = []struct {
	name, in string
	raw      bool
	n        int
	err      string
}{
	{"trimmed ok", "id,name,title,country,lat,lon\n1,SaoPaulo,Sao Paulo,BR,-23.55,-46.6333\n2,A,\"B, C\",US,1,2\n", false, 2, ""},
	{"trimmed bad country", "id,name,title,country,lat,lon\n1,X,X,Brazil,1,2\n", false, 0, "line 2: country"},
	{"trimmed bad lat", "id,name,title,country,lat,lon\n1,X,X,BR,91,2\n", false, 0, "line 2: coordinates"},
	{"trimmed duplicate id", "id,name,title,country,lat,lon\n1,X,X,BR,1,2\n1,Y,Y,BR,1,2\n", false, 0, "line 3: id 1 already on line 2"},
	{"trimmed missing column", "id,name,title,lat,lon\n", false, 0, `line 1: header "id,name,title,lat,lon" lacks column "country"`},
	{"trimmed short row", "id,name,title,country,lat,lon\n1,X,X\n", false, 0, "line 2: 3 fields"},
	{"trimmed empty", "", false, 0, "line 1: empty"},
	{"trimmed bad quote", "id,name,title,country,lat,lon\n1,\"X,X,BR,1,2\n", false, 0, "line 2"},
	{"raw ok", "id,name,title,location,state,country,state_abbv,continent,latitude,longitude,selected,,,11\r\n" +
		"1,Melbourne,Melbourne,Melbourne,Victoria,Australia,VIC,4,-37.7833,144.9667,1,,,\r\n" +
		"232,HoChiMinhCity,Ho Chi Minh City,Ho Chi Minh City,Ho Chi Minh City,Vietnam,,3,10.8231,106.6297,,,,", true, 2, ""},
	{"raw bad id", "id,name,title,location,state,country,state_abbv,continent,latitude,longitude\r\nx,A,A,A,A,A,A,1,1,1", true, 0, "line 2: id"},
}

func TestParse(t *testing.T) {
	for _, c := range parseCases {
		t.Run(c.name, func(t *testing.T) {
			rows, err := data.ParsePings(strings.NewReader(c.in))
			checkErr(t, err, c.err, len(rows), c.n)
		})
	}
	for _, c := range serverCases {
		t.Run(c.name, func(t *testing.T) {
			parse := data.ParseServers
			if c.raw {
				parse = data.ParseRawServers
			}
			s, err := parse(strings.NewReader(c.in))
			checkErr(t, err, c.err, len(s), c.n)
		})
	}
	s, err := data.ParseRawServers(strings.NewReader(serverCases[8].in))
	want := data.Server{ID: 232, Name: "HoChiMinhCity", City: "Ho Chi Minh City", Country: "Vietnam", Lat: 10.8231, Lon: 106.6297}
	if err != nil || s[1] != want {
		t.Errorf("ParseRawServers: %+v, %v; want second %+v", s, err, want)
	}
}

func checkErr(t *testing.T, err error, want string, n, wantN int) {
	t.Helper()
	switch {
	case want == "" && err != nil:
		t.Errorf("error %v, want none", err)
	case want == "" && n != wantN:
		t.Errorf("%d rows, want %d", n, wantN)
	case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
		t.Errorf("error %v, want one containing %q", err, want)
	}
}

func FuzzParsePings(f *testing.F) {
	for _, c := range parseCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		rows, err := data.ParsePings(strings.NewReader(in))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q names no line", err)
			}
			return
		}
		for _, r := range rows {
			if r.Src < 0 || r.Dst < 0 || !(r.Min <= r.Avg && r.Avg <= r.Max) || r.Mdev < 0 {
				t.Errorf("accepted bad row %+v", r)
			}
		}
	})
}

func FuzzParseServers(f *testing.F) {
	for _, c := range serverCases {
		f.Add(c.in, c.raw)
	}
	f.Fuzz(func(t *testing.T, in string, raw bool) {
		parse := data.ParseServers
		if raw {
			parse = data.ParseRawServers
		}
		s, err := parse(strings.NewReader(in))
		if err != nil {
			if !strings.Contains(err.Error(), "line ") {
				t.Errorf("error %q names no line", err)
			}
			return
		}
		for _, v := range s {
			if v.ID < 0 || v.Name == "" || math.Abs(v.Lat) > 90 || math.Abs(v.Lon) > 180 {
				t.Errorf("accepted bad server %+v", v)
			}
			if !raw && len(v.Country) != 2 {
				t.Errorf("accepted bad country %+v", v)
			}
		}
	})
}

// rawDir returns the raw data directory, or skips the test when it is
// absent (CI's clean clone has no raw data).
func rawDir(t *testing.T) string {
	t.Helper()
	dir := cmp.Or(os.Getenv("STEER_RAW_DATA"), "/work/shared/data/raw")
	if _, err := os.Stat(filepath.Join(dir, trim.RawServers)); err != nil {
		t.Skipf("raw data not found in %s (set STEER_RAW_DATA to the directory holding SOURCES.md's files): %v", dir, err)
	}
	return dir
}

func openRaw(t *testing.T, name string) *os.File {
	t.Helper()
	f, err := os.Open(filepath.Join(rawDir(t), name))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func TestRawFiles(t *testing.T) {
	s, err := data.ParseRawServers(openRaw(t, trim.RawServers))
	if err != nil {
		t.Fatal(err)
	}
	if len(s) != nServers {
		t.Errorf("raw servers: %d rows, want %d", len(s), nServers)
	}
	rows, err := data.ParsePings(openRaw(t, trim.RawPings))
	if err != nil {
		t.Fatal(err)
	}
	ids := map[int]bool{}
	for _, r := range rows {
		ids[r.Src], ids[r.Dst] = true, true
	}
	known := map[int]bool{}
	for _, v := range s {
		known[v.ID] = true
	}
	var unknown []int
	for id := range ids {
		if !known[id] {
			unknown = append(unknown, id)
		}
	}
	slices.Sort(unknown)
	if len(rows) != nPings || len(ids) != 250 || !slices.Equal(unknown, []int{292, 293, 294, 295}) {
		t.Errorf("raw pings: %d rows, %d ids, unknown %v; want %d, 250, [292 293 294 295]", len(rows), len(ids), unknown, nPings)
	}

	var n, pplx int
	sc := bufio.NewScanner(openRaw(t, trim.RawCities))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		n++
		if strings.Split(sc.Text(), "\t")[7] == "PPLX" {
			pplx++
		}
	}
	if n != 33227 || pplx != 2195 {
		t.Errorf("GeoNames: %d rows, %d PPLX; want 33227, 2195", n, pplx)
	}
}

// TestGenerated regenerates the trimmed files from the raw ones and
// compares them with the embedded files. Gzip files are compared after
// decompression: the compressed bytes may change with the Go release.
func TestGenerated(t *testing.T) {
	raw := rawDir(t)
	if testing.Short() {
		t.Skip("regenerating takes seconds; skipped with -short")
	}
	out := t.TempDir()
	s, err := trim.Run(raw, out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("generator: %+v", s)
	for _, name := range trim.Outputs {
		got, want := readMaybeGzip(t, filepath.Join(out, name)), readMaybeGzip(t, name)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what the generator writes: run go generate ./data", name)
		}
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{s.Servers, s.Pings, s.Cities, s.PrefixesV4, s.PrefixesV6, s.ASes, s.Named} {
		if !bytes.Contains(readme, []byte(commas(n))) {
			t.Errorf("README.md does not mention the count %s", commas(n))
		}
	}
}

func readMaybeGzip(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(path, ".gz") {
		return b
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	b, err = io.ReadAll(zr)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

func commas(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// TestRawClean cleans the raw files and checks the result against values
// read off the data by hand.
func TestRawClean(t *testing.T) {
	s, err := data.ParseServers(openRaw(t, trim.RawServers))
	if err == nil {
		t.Fatalf("ParseServers accepted the raw format (%d servers): want a header error", len(s))
	}
	raw, err := data.ParseRawServers(openRaw(t, trim.RawServers))
	if err != nil {
		t.Fatal(err)
	}
	rows, err := data.ParsePings(openRaw(t, trim.RawPings))
	if err != nil {
		t.Fatal(err)
	}
	m, rep := data.Clean(raw, rows)
	t.Logf("raw clean report: %+v", rep)
	emb, embRep, err := data.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	if rep.FasterThanLight != embRep.FasterThanLight || rep.Filled != embRep.Filled || rep.Missing != embRep.Missing || m.N() != emb.N() {
		t.Errorf("raw report %+v\ndiffers from embedded %+v", rep, embRep)
	}
	if rep.FasterThanLight != 13 || rep.Filled != 327 || rep.Missing != 66 {
		t.Errorf("FasterThanLight, Filled, Missing = %d, %d, %d; want 13, 327, 66", rep.FasterThanLight, rep.Filled, rep.Missing)
	}
	for _, c := range []struct {
		src, dst string
		min      float64
	}{
		{"Johannesburg", "London", 156.4775},
		{"Johannesburg", "SaoPaulo", 343.381},
	} {
		p, ok := m.RTT(m.Index(c.src), m.Index(c.dst))
		if !ok || math.Abs(p.Min-c.min) > 0.001 {
			t.Errorf("RTT(%s, %s) = %v, %v; want min %v", c.src, c.dst, p, ok, c.min)
		}
	}
	for i := range m.N() {
		for j := range m.N() {
			p, ok := m.RTT(i, j)
			a, b := m.Servers[i], m.Servers[j]
			if km := data.Distance(a.Lat, a.Lon, b.Lat, b.Lon); ok && p.Min < km/data.FibreKmPerMs {
				t.Errorf("%s → %s: min %v ms over %.0f km is faster than light", a.Name, b.Name, p.Min, km)
			}
		}
	}
}

// TestRIPECrossCheck compares WonderProxy with RIPE Atlas (2025): for each
// country pair in both, the median min RTT between the two countries'
// servers against RIPE's mean RTT between the countries' ASes.
func TestRIPECrossCheck(t *testing.T) {
	f := openRaw(t, "country_rtt_stat.csv.gz")
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(zr).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := data.LoadMatrix()
	if err != nil {
		t.Fatal(err)
	}
	by := map[string][]int{}
	for i, s := range m.Servers {
		by[s.Country] = append(by[s.Country], i)
	}
	var wp, ripe []float64
	for _, r := range recs[1:] {
		if r[0] == r[1] {
			continue
		}
		var mins []float64
		for _, i := range by[r[0]] {
			for _, j := range by[r[1]] {
				if p, ok := m.RTT(i, j); ok {
					mins = append(mins, p.Min)
				}
			}
		}
		if len(mins) == 0 {
			continue
		}
		avg, err := strconv.ParseFloat(r[3], 64)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(mins)
		wp = append(wp, (mins[(len(mins)-1)/2]+mins[len(mins)/2])/2)
		ripe = append(ripe, avg)
	}
	rho := spearman(wp, ripe)
	t.Logf("%d country pairs, Spearman rho = %.4f", len(wp), rho)
	if len(wp) < 1000 || rho < 0.85 {
		t.Errorf("%d country pairs, Spearman rho = %.4f; want ≥ 1000 pairs and rho ≥ 0.85", len(wp), rho)
	}
}

// spearman returns the rank correlation of x and y (average ranks for ties).
func spearman(x, y []float64) float64 {
	rx, ry := ranks(x), ranks(y)
	var mx, my float64
	for i := range rx {
		mx += rx[i]
		my += ry[i]
	}
	mx /= float64(len(rx))
	my /= float64(len(ry))
	var sxy, sxx, syy float64
	for i := range rx {
		sxy += (rx[i] - mx) * (ry[i] - my)
		sxx += (rx[i] - mx) * (rx[i] - mx)
		syy += (ry[i] - my) * (ry[i] - my)
	}
	return sxy / math.Sqrt(sxx*syy)
}

func ranks(v []float64) []float64 {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(v[a], v[b]) })
	r := make([]float64, len(v))
	for i := 0; i < len(idx); {
		j := i
		for j+1 < len(idx) && v[idx[j+1]] == v[idx[i]] {
			j++
		}
		for k := i; k <= j; k++ {
			r[idx[k]] = float64(i+j)/2 + 1
		}
		i = j + 1
	}
	return r
}
