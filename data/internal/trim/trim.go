// Package trim turns the raw data sets (see data/SOURCES.md)
// into the trimmed, attributed files that package data embeds. It is the
// library behind data/internal/gen, kept importable so that data's tests can
// regenerate the files and compare them with the embedded ones.
//
// Everything here is deterministic: inputs are read in file order, every map
// is iterated in sorted order, and gzip members carry no name or time.
package trim

import (
	"archive/zip"
	"bufio"
	"bytes"
	"cmp"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Raw file names, as in the raw directory.
const (
	RawServers    = "servers-2020-07-19.csv"
	RawPings      = "pings-2020-07-19-2020-07-20-grouped.csv"
	RawCities     = "cities15000.txt"
	RawIP2Loc     = "IP2LOCATION-LITE-DB1.CSV.ZIP"
	RawIPASN4     = "ipasn_20140513.dat.gz"
	RawIPASN6     = "ipasn6_20151101.dat.gz"
	RawASNames    = "asnames.json.gz"
	ip2locCSV     = "IP2LOCATION-LITE-DB1.CSV"
	ip2locLicense = "LICENSE-CC-BY-SA-4.0.TXT"
)

// Output file names, as embedded by package data.
const (
	OutServers  = "wonderproxy-servers.csv"
	OutPings    = "wonderproxy-pings.csv.gz"
	OutCities   = "geonames-cities.tsv.gz"
	OutPrefixes = "asn-prefixes.tsv.gz"
	OutASNames  = "asn-names.tsv.gz"
	OutLicense  = ip2locLicense
)

// Outputs lists every file Run writes.
var Outputs = []string{OutServers, OutPings, OutCities, OutPrefixes, OutASNames, OutLicense}

// MaxASesPerCountry is how many ASes (by IPv4 address space in their home
// country) are kept per country. 8 keeps well over 1M /24s of space while
// the prefix file stays small.
const MaxASesPerCountry = 8

// countryOverrides maps WonderProxy country names that IP2Location spells
// differently to ISO 3166-1 alpha-2 codes. Kosovo has no ISO code and no
// IP2Location entry; XK is the user-assigned code everyone (GeoNames too) uses.
var countryOverrides = map[string]string{
	"Czech Republic": "CZ",
	"Kosovo":         "XK",
	"Moldova":        "MD",
	"Netherlands":    "NL",
	"Russia":         "RU",
	"South Korea":    "KR",
	"Taiwan":         "TW",
	"Tanzania":       "TZ",
	"Turkey":         "TR",
	"United Kingdom": "GB",
	"United States":  "US",
	"Venezuela":      "VE",
	"Vietnam":        "VN",
}

// Summary says what Run wrote.
type Summary struct {
	Servers, Pings, Cities, DroppedPPLX, DroppedNoPop int
	PrefixesV4, PrefixesV6, ASes, Named               int
	Slash24s                                          int64    // IPv4 space kept, in /24s
	FallbackCountries                                 []string // countries covered by the fallback rule
	Uncovered                                         []string // populated countries with no AS at all
}

// Run reads the raw files in rawDir and writes Outputs into outDir.
func Run(rawDir, outDir string) (Summary, error) {
	var s Summary
	ip, license, err := readIP2Location(filepath.Join(rawDir, RawIP2Loc))
	if err != nil {
		return s, err
	}
	if err := os.WriteFile(filepath.Join(outDir, OutLicense), license, 0o644); err != nil {
		return s, err
	}
	if s.Servers, err = servers(rawDir, outDir, ip); err != nil {
		return s, err
	}
	if s.Pings, err = pings(rawDir, outDir); err != nil {
		return s, err
	}
	populated, err := cities(rawDir, outDir, &s)
	if err != nil {
		return s, err
	}
	if err := prefixes(rawDir, outDir, ip, populated, &s); err != nil {
		return s, err
	}
	return s, nil
}

// ipRange is one IP2Location row.
type ipRange struct {
	from, to uint32
	cc       string // "-" for reserved or unknown space
	name     string
}

func readIP2Location(path string) ([]ipRange, []byte, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = z.Close() }()
	var ranges []ipRange
	var license []byte
	for _, f := range z.File {
		switch f.Name {
		case ip2locLicense:
			rc, err := f.Open()
			if err != nil {
				return nil, nil, err
			}
			license, err = io.ReadAll(rc)
			_ = rc.Close()
			if err != nil {
				return nil, nil, err
			}
		case ip2locCSV:
			rc, err := f.Open()
			if err != nil {
				return nil, nil, err
			}
			ranges, err = parseIP2Location(rc)
			_ = rc.Close()
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
			}
		}
	}
	if ranges == nil || license == nil {
		return nil, nil, fmt.Errorf("%s: missing %s or %s", path, ip2locCSV, ip2locLicense)
	}
	return ranges, license, nil
}

func parseIP2Location(r io.Reader) ([]ipRange, error) {
	cr := csv.NewReader(bufio.NewReader(r))
	cr.FieldsPerRecord = 4
	cr.ReuseRecord = true
	var out []ipRange
	next := uint64(0)
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		from, err1 := strconv.ParseUint(rec[0], 10, 32)
		to, err2 := strconv.ParseUint(rec[1], 10, 32)
		if err1 != nil || err2 != nil || to < from || from != next {
			return nil, fmt.Errorf("line %d: bad or non-contiguous range %q-%q", line, rec[0], rec[1])
		}
		next = to + 1
		out = append(out, ipRange{uint32(from), uint32(to), rec[2], rec[3]})
	}
	if next != 1<<32 {
		return nil, fmt.Errorf("ranges end at %d, not at the top of the IPv4 space", next)
	}
	return out, nil
}

// servers writes id,name,title,country,lat,lon. Rows are kept as they are,
// known-bad ones included: package data cleans them.
func servers(rawDir, outDir string, ip []ipRange) (int, error) {
	path := filepath.Join(rawDir, RawServers)
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	codes := map[string]string{}
	for _, r := range ip {
		if r.cc != "-" {
			codes[r.name] = r.cc
		}
	}
	maps.Copy(codes, countryOverrides)

	cr := csv.NewReader(bytes.NewReader(b))
	cr.FieldsPerRecord = -1
	recs, err := cr.ReadAll()
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	if len(recs) == 0 {
		return 0, fmt.Errorf("%s: empty", path)
	}
	col := map[string]int{}
	for i, h := range recs[0] {
		if _, dup := col[h]; !dup {
			col[h] = i
		}
	}
	want := []string{"id", "name", "title", "country", "latitude", "longitude"}
	for _, h := range want {
		if _, ok := col[h]; !ok {
			return 0, fmt.Errorf("%s: header lacks column %q", path, h)
		}
	}
	var out bytes.Buffer
	w := csv.NewWriter(&out)
	_ = w.Write([]string{"id", "name", "title", "country", "lat", "lon"})
	for i, rec := range recs[1:] {
		f := func(h string) string {
			if c := col[h]; c < len(rec) {
				return strings.TrimSpace(rec[c])
			}
			return ""
		}
		cc, ok := codes[f("country")]
		if !ok {
			return 0, fmt.Errorf("%s: line %d: no ISO code for country %q: add it to countryOverrides", path, i+2, f("country"))
		}
		_ = w.Write([]string{f("id"), f("name"), f("title"), cc, f("latitude"), f("longitude")})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return 0, err
	}
	return len(recs) - 1, os.WriteFile(filepath.Join(outDir, OutServers), out.Bytes(), 0o644)
}

// pings copies the grouped ping rows, rounding each value to 4 decimals:
// the grouped values are medians of two hourly values, so x.xxx5 is common
// and 3 decimals would change them.
func pings(rawDir, outDir string) (int, error) {
	path := filepath.Join(rawDir, RawPings)
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer func() { _ = f.Close() }()
	cr := csv.NewReader(bufio.NewReader(f))
	cr.FieldsPerRecord = 6
	cr.ReuseRecord = true
	var buf bytes.Buffer
	n := -1
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("%s: %w", path, err)
		}
		n++
		if n == 0 {
			buf.WriteString(strings.Join(rec, ",") + "\n")
			continue
		}
		line, _ := cr.FieldPos(0)
		for i, v := range rec {
			if i > 0 {
				buf.WriteByte(',')
			}
			if i < 2 {
				buf.WriteString(v)
				continue
			}
			x, err := strconv.ParseFloat(v, 64)
			if err != nil {
				return 0, fmt.Errorf("%s: line %d: %w", path, line, err)
			}
			buf.WriteString(strconv.FormatFloat(math.Round(x*1e4)/1e4, 'f', -1, 64))
		}
		buf.WriteByte('\n')
	}
	return n, writeGzip(filepath.Join(outDir, OutPings), buf.Bytes())
}

// cities writes geonameid, name, country, lat, lon, population, feature code
// for GeoNames rows minus PPLX (sections of a city, which would count people
// twice) and minus rows with no population (one: Plymouth, Montserrat, the
// abandoned capital). It returns the countries with population.
func cities(rawDir, outDir string, s *Summary) (map[string]bool, error) {
	path := filepath.Join(rawDir, RawCities)
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	var buf bytes.Buffer
	buf.WriteString("geonameid\tname\tcountry\tlat\tlon\tpopulation\tfeature_code\n")
	populated := map[string]bool{}
	for line := 1; sc.Scan(); line++ {
		c := strings.Split(sc.Text(), "\t")
		if len(c) != 19 {
			return nil, fmt.Errorf("%s: line %d: %d columns, want 19", path, line, len(c))
		}
		if c[7] == "PPLX" {
			s.DroppedPPLX++
			continue
		}
		pop, err := strconv.ParseInt(c[14], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: population: %w", path, line, err)
		}
		if pop <= 0 {
			s.DroppedNoPop++
			continue
		}
		name := c[2]
		if name == "" {
			name = c[1]
		}
		if c[8] == "" {
			return nil, fmt.Errorf("%s: line %d: no country code", path, line)
		}
		populated[c[8]] = true
		fmt.Fprintf(&buf, "%s\t%s\t%s\t%s\t%s\t%d\t%s\n", c[0], name, c[8], c[4], c[5], pop, c[7])
		s.Cities++
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return populated, writeGzip(filepath.Join(outDir, OutCities), buf.Bytes())
}

// route is one prefix → origin AS entry of a pyasn file.
type route struct {
	p   netip.Prefix
	asn uint32
}

func readIPASN(path string, v6 bool) ([]route, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	sc := bufio.NewScanner(zr)
	var out []route
	for line := 1; sc.Scan(); line++ {
		t := sc.Text()
		if t == "" || t[0] == ';' {
			continue
		}
		ps, as, ok := strings.Cut(t, "\t")
		if !ok {
			return nil, fmt.Errorf("%s: line %d: no tab", path, line)
		}
		p, err := netip.ParsePrefix(ps)
		if err != nil {
			return nil, fmt.Errorf("%s: line %d: %w", path, line, err)
		}
		asn, err := strconv.ParseUint(as, 10, 32)
		if err != nil || asn == 0 {
			return nil, fmt.Errorf("%s: line %d: bad ASN %q", path, line, as)
		}
		if p.Addr().Is6() != v6 {
			continue
		}
		p = p.Masked()
		if v6 {
			if p.Bits() > 48 || !global6.Contains(p.Addr()) || p.Bits() < global6.Bits() || doc6.Overlaps(p) {
				continue
			}
		} else if p.Bits() > 24 {
			continue
		}
		out = append(out, route{p, uint32(asn)})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return out, nil
}

var (
	global6 = netip.MustParsePrefix("2000::/3")
	doc6    = netip.MustParsePrefix("2001:db8::/32")
)

// v4span returns the first and last address of an IPv4 prefix.
func v4span(p netip.Prefix) (uint32, uint32) {
	a := p.Addr().As4()
	lo := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	return lo, lo + uint32(uint64(1)<<(32-p.Bits())-1)
}

// countrySpace adds to acc the addresses of [lo, hi] per IP2Location code.
func countrySpace(ip []ipRange, lo, hi uint32, acc map[string]int64) {
	i, _ := slices.BinarySearchFunc(ip, lo, func(r ipRange, a uint32) int { return cmp.Compare(r.to, a) })
	for ; i < len(ip) && ip[i].from <= hi; i++ {
		a, b := max(ip[i].from, lo), min(ip[i].to, hi)
		acc[ip[i].cc] += int64(b) - int64(a) + 1
	}
}

// top returns the key with the largest value, ignoring "-"; ties go to the
// smaller key.
func top(acc map[string]int64) (string, int64) {
	best, n := "", int64(0)
	for _, k := range slices.Sorted(maps.Keys(acc)) {
		if k != "-" && acc[k] > n {
			best, n = k, acc[k]
		}
	}
	return best, n
}

type asInfo struct {
	asn    uint32
	routes []int            // indexes into the v4 routes
	space  map[string]int64 // IPv4 addresses per country, overlaps counted once
	home   string
}

// prefixes picks the ASes and writes asn-prefixes and asn-names.
func prefixes(rawDir, outDir string, ip []ipRange, populated map[string]bool, s *Summary) error {
	v4, err := readIPASN(filepath.Join(rawDir, RawIPASN4), false)
	if err != nil {
		return err
	}
	v6, err := readIPASN(filepath.Join(rawDir, RawIPASN6), true)
	if err != nil {
		return err
	}
	// Country of each IPv4 prefix: the one holding most of its addresses.
	cc := make([]string, len(v4))
	acc := map[string]int64{}
	for i, r := range v4 {
		clear(acc)
		lo, hi := v4span(r.p)
		countrySpace(ip, lo, hi, acc)
		cc[i], _ = top(acc)
		if acc["-"] > acc[cc[i]] {
			cc[i] = "" // mostly reserved space: a bogon
		}
	}
	ases := map[uint32]*asInfo{}
	for i, r := range v4 {
		a := ases[r.asn]
		if a == nil {
			a = &asInfo{asn: r.asn, space: map[string]int64{}}
			ases[r.asn] = a
		}
		a.routes = append(a.routes, i)
	}
	byCountry := map[string][]*asInfo{}
	for _, asn := range slices.Sorted(maps.Keys(ases)) {
		a := ases[asn]
		slices.SortFunc(a.routes, func(x, y int) int {
			return v4[x].p.Addr().Compare(v4[y].p.Addr())*64 + cmp.Compare(v4[x].p.Bits(), v4[y].p.Bits())
		})
		var end int64 = -1 // last address covered so far: nested prefixes count once
		for _, i := range a.routes {
			lo, hi := v4span(v4[i].p)
			if int64(hi) <= end {
				continue
			}
			countrySpace(ip, lo, hi, a.space)
			end = int64(hi)
		}
		a.home, _ = top(a.space)
		if a.home != "" {
			byCountry[a.home] = append(byCountry[a.home], a)
		}
	}
	type pick struct {
		asn uint32
		cc  string
	}
	var picks []pick
	primary := map[uint32]string{}
	for _, c := range slices.Sorted(maps.Keys(byCountry)) {
		l := byCountry[c]
		slices.SortFunc(l, func(x, y *asInfo) int {
			return cmp.Or(cmp.Compare(y.space[c], x.space[c]), cmp.Compare(x.asn, y.asn))
		})
		for _, a := range l[:min(len(l), MaxASesPerCountry)] {
			picks = append(picks, pick{a.asn, c})
			primary[a.asn] = c
		}
	}
	// Populated countries no AS calls home: take the AS announcing most
	// of the country's space, with just its prefixes in that country.
	for _, c := range slices.Sorted(maps.Keys(populated)) {
		if len(byCountry[c]) > 0 {
			continue
		}
		var best uint32
		var bestN int64
		for _, asn := range slices.Sorted(maps.Keys(ases)) {
			var n int64
			for _, i := range ases[asn].routes {
				if cc[i] == c {
					n += int64(1) << (32 - v4[i].p.Bits())
				}
			}
			if n > bestN {
				best, bestN = asn, n
			}
		}
		if bestN == 0 {
			s.Uncovered = append(s.Uncovered, c)
			continue
		}
		picks = append(picks, pick{best, c})
		s.FallbackCountries = append(s.FallbackCountries, c)
	}

	type row struct {
		p   netip.Prefix
		asn uint32
		cc  string
	}
	var rows []row
	kept := map[uint32]bool{}
	for _, pk := range picks {
		kept[pk.asn] = true
		for _, i := range ases[pk.asn].routes {
			if cc[i] == pk.cc {
				rows = append(rows, row{v4[i].p, pk.asn, pk.cc})
			}
		}
	}
	for _, r := range v6 {
		if c, ok := primary[r.asn]; ok {
			rows = append(rows, row{r.p, r.asn, c})
		}
	}
	slices.SortFunc(rows, func(x, y row) int {
		return cmp.Or(x.p.Addr().Compare(y.p.Addr()), cmp.Compare(x.p.Bits(), y.p.Bits()), cmp.Compare(x.asn, y.asn))
	})
	rows = slices.CompactFunc(rows, func(x, y row) bool { return x.p == y.p })
	var buf bytes.Buffer
	buf.WriteString("prefix\tasn\tcountry\n")
	var covered []netip.Prefix
	for _, r := range rows {
		fmt.Fprintf(&buf, "%s\t%d\t%s\n", r.p, r.asn, r.cc)
		if r.p.Addr().Is4() {
			s.PrefixesV4++
			covered = append(covered, r.p)
		} else {
			s.PrefixesV6++
		}
	}
	// Space in /24s, nested prefixes counted once (rows are sorted).
	var end int64 = -1
	for _, p := range covered {
		lo, hi := v4span(p)
		if int64(hi) <= end {
			continue
		}
		s.Slash24s += (int64(hi) - int64(lo) + 1) >> 8
		end = int64(hi)
	}
	if err := writeGzip(filepath.Join(outDir, OutPrefixes), buf.Bytes()); err != nil {
		return err
	}
	s.ASes = len(kept)
	return asNames(rawDir, outDir, kept, s)
}

// asNames writes asn<TAB>name for the kept ASes that have a name; tabs and
// line breaks in names become spaces.
func asNames(rawDir, outDir string, kept map[uint32]bool, s *Summary) error {
	path := filepath.Join(rawDir, RawASNames)
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() { _ = f.Close() }()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var names map[string]string
	if err := json.NewDecoder(zr).Decode(&names); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	var buf bytes.Buffer
	buf.WriteString("asn\tname\n")
	clean := strings.NewReplacer("\t", " ", "\n", " ", "\r", " ")
	for _, asn := range slices.Sorted(maps.Keys(kept)) {
		n, ok := names[strconv.FormatUint(uint64(asn), 10)]
		if n = strings.TrimSpace(clean.Replace(n)); !ok || n == "" {
			continue
		}
		fmt.Fprintf(&buf, "%d\t%s\n", asn, n)
		s.Named++
	}
	return writeGzip(filepath.Join(outDir, OutASNames), buf.Bytes())
}

// writeGzip writes b gzip-compressed, with no name and no time in the header
// so that the output depends on b alone.
func writeGzip(path string, b []byte) error {
	var out bytes.Buffer
	zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
	if err != nil {
		return err
	}
	if _, err := zw.Write(b); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}
