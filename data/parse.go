package data

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"strconv"
	"strings"
)

// ParseServers reads the trimmed servers file (wonderproxy-servers.csv):
// a header "id,name,title,country,lat,lon", then one server per row, with
// country an ISO 3166-1 alpha-2 code. Errors name the line.
func ParseServers(r io.Reader) ([]Server, error) {
	return parseServers(r, []string{"id", "name", "title", "country", "lat", "lon"}, true)
}

// ParseRawServers reads WonderProxy's own servers file
// (servers-2020-07-19.csv: CRLF line endings, no final newline, columns
// id,name,title,location,state,country,state_abbv,continent,latitude,
// longitude,selected and three unnamed ones). Columns are found by name.
// Country holds the country name as written there ("United States"), not a
// code. Errors name the line.
func ParseRawServers(r io.Reader) ([]Server, error) {
	return parseServers(r, []string{"id", "name", "title", "country", "latitude", "longitude"}, false)
}

// parseServers reads a CSV file with the columns named in cols (id, name,
// city, country, lat, lon, in that order); iso requires 2-letter countries.
func parseServers(r io.Reader, cols []string, iso bool) ([]Server, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	head, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("line 1: empty file, want a header")
	}
	if err != nil {
		return nil, err // a *csv.ParseError names the line
	}
	idx := make([]int, len(cols))
	for i, c := range cols {
		idx[i] = -1
		for j, h := range head {
			if strings.TrimSpace(h) == c {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, fmt.Errorf("line 1: header %q lacks column %q", strings.Join(head, ","), c)
		}
	}
	var out []Server
	seen := map[int]int{} // id → line
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		line, _ := cr.FieldPos(0)
		f := make([]string, len(idx))
		for i, j := range idx {
			if j >= len(rec) {
				return nil, fmt.Errorf("line %d: %d fields, no column %q", line, len(rec), cols[i])
			}
			f[i] = strings.TrimSpace(rec[j])
		}
		s := Server{Name: f[1], City: f[2], Country: f[3]}
		if s.ID, err = parseID(f[0]); err != nil {
			return nil, fmt.Errorf("line %d: id: %w", line, err)
		}
		if l, dup := seen[s.ID]; dup {
			return nil, fmt.Errorf("line %d: id %d already on line %d", line, s.ID, l)
		}
		seen[s.ID] = line
		if s.Name == "" {
			return nil, fmt.Errorf("line %d: empty name", line)
		}
		if iso && !isISO2(s.Country) {
			return nil, fmt.Errorf("line %d: country %q is not an ISO 3166-1 alpha-2 code", line, s.Country)
		}
		if s.Lat, s.Lon, err = parseLatLon(f[4], f[5]); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, s)
	}
}

// ParsePings reads the grouped ping file: a header
// "source,destination,min,avg,max,mdev", then one row per ordered pair of
// server ids with RTTs in ms. Rows are returned as they are (self pairs,
// unknown ids and duplicates included: [Clean] deals with those). Errors
// name the line.
func ParsePings(r io.Reader) ([]PingRow, error) {
	var out []PingRow
	err := eachLine(r, "source,destination,min,avg,max,mdev", ',', 6, func(line int, f []string) error {
		var p PingRow
		var err error
		if p.Src, err = parseID(f[0]); err != nil {
			return fmt.Errorf("source: %w", err)
		}
		if p.Dst, err = parseID(f[1]); err != nil {
			return fmt.Errorf("destination: %w", err)
		}
		v := [4]*float64{&p.Min, &p.Avg, &p.Max, &p.Mdev}
		for i, name := range [4]string{"min", "avg", "max", "mdev"} {
			x, err := strconv.ParseFloat(f[2+i], 64)
			if err != nil || math.IsNaN(x) || math.IsInf(x, 0) || x < 0 {
				return fmt.Errorf("%s %q: want a non-negative number of ms", name, f[2+i])
			}
			*v[i] = x
		}
		if p.Min > p.Avg || p.Avg > p.Max {
			return fmt.Errorf("want min ≤ avg ≤ max, have %v, %v, %v", p.Min, p.Avg, p.Max)
		}
		out = append(out, p)
		return nil
	})
	return out, err
}

// ParseCities reads the trimmed GeoNames file (geonames-cities.tsv):
// a header, then geonameid, name, country, lat, lon, population and feature
// code, tab-separated. Errors name the line.
func ParseCities(r io.Reader) ([]City, error) {
	var out []City
	err := eachLine(r, "geonameid\tname\tcountry\tlat\tlon\tpopulation\tfeature_code", '\t', 7, func(line int, f []string) error {
		var c City
		var err error
		if c.ID, err = parseID(f[0]); err != nil {
			return fmt.Errorf("geonameid: %w", err)
		}
		c.Name, c.Country, c.Feature = f[1], f[2], f[6]
		if c.Name == "" {
			return errors.New("empty name")
		}
		if !isISO2(c.Country) {
			return fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code", c.Country)
		}
		if c.Lat, c.Lon, err = parseLatLon(f[3], f[4]); err != nil {
			return err
		}
		if c.Population, err = strconv.Atoi(f[5]); err != nil || c.Population <= 0 {
			return fmt.Errorf("population %q: want a positive integer", f[5])
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// ParsePrefixes reads the trimmed prefix file (asn-prefixes.tsv): a header,
// then prefix, origin ASN and ISO country code, tab-separated. Prefixes must
// be masked. Errors name the line.
func ParsePrefixes(r io.Reader) ([]Prefix, error) {
	var out []Prefix
	err := eachLine(r, "prefix\tasn\tcountry", '\t', 3, func(line int, f []string) error {
		p, err := netip.ParsePrefix(f[0])
		if err != nil {
			return err
		}
		if p != p.Masked() {
			return fmt.Errorf("prefix %s has host bits set (want %s)", p, p.Masked())
		}
		asn, err := strconv.ParseUint(f[1], 10, 32)
		if err != nil || asn == 0 {
			return fmt.Errorf("asn %q: want a number in 1..4294967295", f[1])
		}
		if !isISO2(f[2]) {
			return fmt.Errorf("country %q is not an ISO 3166-1 alpha-2 code", f[2])
		}
		out = append(out, Prefix{p, uint32(asn), f[2]})
		return nil
	})
	return out, err
}

// ParseASNames reads the trimmed AS names file (asn-names.tsv): a header,
// then ASN and name, tab-separated. Errors name the line.
func ParseASNames(r io.Reader) (map[uint32]string, error) {
	out := map[uint32]string{}
	err := eachLine(r, "asn\tname", '\t', 2, func(line int, f []string) error {
		asn, err := strconv.ParseUint(f[0], 10, 32)
		if err != nil || asn == 0 {
			return fmt.Errorf("asn %q: want a number in 1..4294967295", f[0])
		}
		if _, dup := out[uint32(asn)]; dup {
			return fmt.Errorf("asn %d listed twice", asn)
		}
		out[uint32(asn)] = f[1]
		return nil
	})
	return out, err
}

// maxLine bounds a line; the longest real one is well under 1 KiB.
const maxLine = 64 << 10

// eachLine checks the header, then calls fn with the sep-separated fields of
// each following line, which must number n. Line endings may be LF or CRLF
// and the last line may lack one. Errors from fn get the line number.
func eachLine(r io.Reader, header string, sep byte, n int, fn func(line int, f []string) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLine)
	line := 0
	f := make([]string, 0, n)
	for sc.Scan() {
		line++
		t := strings.TrimSuffix(sc.Text(), "\r")
		if line == 1 {
			if t != header {
				return fmt.Errorf("line 1: header %q, want %q", t, header)
			}
			continue
		}
		f = f[:0]
		for range n - 1 {
			i := strings.IndexByte(t, sep)
			if i < 0 {
				break
			}
			f = append(f, t[:i])
			t = t[i+1:]
		}
		f = append(f, t)
		if len(f) != n || strings.IndexByte(t, sep) >= 0 {
			return fmt.Errorf("line %d: want %d fields separated by %q", line, n, sep)
		}
		if err := fn(line, f); err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("line %d: %w", line+1, err)
	}
	if line == 0 {
		return fmt.Errorf("line 1: empty file, want header %q", header)
	}
	return nil
}

func parseID(s string) (int, error) {
	id, err := strconv.Atoi(s)
	if err != nil || id < 0 {
		return 0, fmt.Errorf("%q is not a non-negative integer", s)
	}
	return id, nil
}

func parseLatLon(lat, lon string) (float64, float64, error) {
	la, err1 := strconv.ParseFloat(lat, 64)
	lo, err2 := strconv.ParseFloat(lon, 64)
	if err1 != nil || err2 != nil || !(la >= -90 && la <= 90) || !(lo >= -180 && lo <= 180) {
		return 0, 0, fmt.Errorf("coordinates %q, %q: want latitude in [-90, 90] and longitude in [-180, 180]", lat, lon)
	}
	return la, lo, nil
}

func isISO2(s string) bool {
	return len(s) == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z'
}
