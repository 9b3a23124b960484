package sim

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"math"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/steer-gslb/steer/popmap"
)

// The ground-truth file (truth.tsv.gz) is gzip-compressed TSV: '#' header
// lines (format version, the latency model, one "#pop" line per PoP), a
// column header, then one row per client network. Per PoP it holds the two
// parameters of the network's true RTT distribution, "base/jitter": RTT is
// base + an exponential with mean jitter, so any percentile is exact:
// quantile(q) = base − jitter·ln(1−q). It is streamed in both directions:
// a 1M-network world never sits in memory.
const truthVersion = "# steer sim ground truth v1"

// TruthPoP is a PoP as the truth file names it.
type TruthPoP struct {
	Label    popmap.Label
	City     string
	Country  string
	Lat, Lon float64
}

// TruthHeader is what the truth file says before its rows.
type TruthHeader struct {
	PoPs []TruthPoP
	// Closed are the PoPs not open yet in this period of a timed world
	// (their columns are ClosedRTT/0; "#closed" header lines).
	Closed []popmap.Label
}

// TruthRecord is one client network's ground truth.
type TruthRecord struct {
	Network     netip.Prefix
	Weight      float64 // traffic weight
	City        string
	Country     string
	Lat, Lon    float64 // where its users are
	ASN         uint32  // origin AS (longest match)
	Resolver    netip.Addr
	ResolverECS bool // its resolver sends ECS
	Measured    bool // it sends beacons
	Anycast     int  // PoP index the anycast address reaches
	Geo         int  // PoP index a geo map gives it (nearest to its GeoIP location); -1 if GeoIP has none
	Base        []float32
	Jitter      []float32
}

// Quantile is the true q-quantile (0 < q < 1) of RTT to PoP p, in ms.
func (t *TruthRecord) Quantile(p int, q float64) float64 { return quantile(t.Base[p], t.Jitter[p], q) }

// Best is the PoP with the lowest q-quantile RTT.
func (t *TruthRecord) Best(q float64) int {
	best := 0
	for p := range t.Base {
		if t.Quantile(p, q) < t.Quantile(best, q) {
			best = p
		}
	}
	return best
}

func newTruthHeader(w *World) *TruthHeader {
	h := &TruthHeader{}
	for _, p := range w.PoPs {
		h.PoPs = append(h.PoPs, TruthPoP{p.Label, p.City, p.Country, p.Lat, p.Lon})
	}
	return h
}

func (h *TruthHeader) write(w io.Writer) error {
	var b strings.Builder
	b.WriteString(truthVersion + "\n")
	b.WriteString("# RTT from a network to a PoP is base + an exponential with mean jitter (ms): quantile(q) = base - jitter*ln(1-q)\n")
	b.WriteString("# anycast, geo: the PoP the anycast address reaches, the PoP nearest the network's GeoIP location (- if none)\n")
	for _, p := range h.PoPs {
		fmt.Fprintf(&b, "#pop\t%s\t%s\t%s\t%.4f\t%.4f\n", p.Label, p.City, p.Country, p.Lat, p.Lon)
	}
	for _, l := range h.Closed {
		fmt.Fprintf(&b, "#closed\t%s\n", l)
	}
	b.WriteString("network\tweight\tcity\tcountry\tlat\tlon\tasn\tresolver\tresolver_ecs\tmeasured\tanycast\tgeo")
	for _, p := range h.PoPs {
		b.WriteString("\t" + string(p.Label))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func (t *TruthRecord) append(b []byte, h *TruthHeader) []byte {
	b = t.Network.AppendTo(b)
	b = append(b, '\t')
	b = strconv.AppendFloat(b, t.Weight, 'f', 2, 64)
	b = append(b, '\t')
	b = append(b, t.City...)
	b = append(b, '\t')
	b = append(b, t.Country...)
	b = append(b, '\t')
	b = strconv.AppendFloat(b, t.Lat, 'f', 4, 64)
	b = append(b, '\t')
	b = strconv.AppendFloat(b, t.Lon, 'f', 4, 64)
	b = append(b, '\t')
	b = strconv.AppendUint(b, uint64(t.ASN), 10)
	b = append(b, '\t')
	b = t.Resolver.AppendTo(b)
	b = append(b, '\t', '0'+byte(b2i(t.ResolverECS)), '\t', '0'+byte(b2i(t.Measured)), '\t')
	b = append(b, h.PoPs[t.Anycast].Label...)
	b = append(b, '\t')
	if t.Geo >= 0 {
		b = append(b, h.PoPs[t.Geo].Label...)
	} else {
		b = append(b, '-')
	}
	for p := range t.Base {
		b = append(b, '\t')
		b = strconv.AppendFloat(b, float64(t.Base[p]), 'f', 1, 32)
		b = append(b, '/')
		b = strconv.AppendFloat(b, float64(t.Jitter[p]), 'f', 1, 32)
	}
	return append(b, '\n')
}

// ReadTruth streams a truth file, calling fn for every row with the header
// and a record it reuses. Errors name the file and line.
func ReadTruth(path string, fn func(*TruthHeader, *TruthRecord) error) (*TruthHeader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	h, err := readTruth(f, fn)
	if err != nil {
		return h, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

func readTruth(r io.Reader, fn func(*TruthHeader, *TruthRecord) error) (*TruthHeader, error) {
	zr, err := gzip.NewReader(bufio.NewReaderSize(r, 1<<16))
	if err != nil {
		return nil, fmt.Errorf("not a gzip-compressed truth file: %w", err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 0, 1<<16), 1<<20)
	h := &TruthHeader{}
	line := 0
	lerr := func(format string, args ...any) error {
		return fmt.Errorf("line %d: %s", line, fmt.Sprintf(format, args...))
	}
	labels := map[string]int{}
	var rec TruthRecord
	header := false
	for sc.Scan() {
		line++
		s := sc.Bytes()
		if line == 1 {
			if string(s) != truthVersion {
				return nil, lerr("not a steer sim truth file (want %q)", truthVersion)
			}
			continue
		}
		if len(s) > 0 && s[0] == '#' {
			if bytes.HasPrefix(s, []byte("#pop\t")) {
				if header {
					return nil, lerr("#pop line after the column header")
				}
				f := strings.Split(string(s), "\t")
				if len(f) != 6 {
					return nil, lerr("#pop: %d fields, want 6", len(f))
				}
				lat, err1 := strconv.ParseFloat(f[4], 64)
				lon, err2 := strconv.ParseFloat(f[5], 64)
				if err1 != nil || err2 != nil || f[1] == "" {
					return nil, lerr("#pop: bad label or coordinates")
				}
				if _, dup := labels[f[1]]; dup {
					return nil, lerr("#pop: label %q twice", f[1])
				}
				labels[f[1]] = len(h.PoPs)
				h.PoPs = append(h.PoPs, TruthPoP{popmap.Label(f[1]), f[2], f[3], lat, lon})
			}
			if l, ok := bytes.CutPrefix(s, []byte("#closed\t")); ok {
				if header {
					return nil, lerr("#closed line after the column header")
				}
				if _, known := labels[string(l)]; !known {
					return nil, lerr("#closed: no #pop %q before it", l)
				}
				if slices.Contains(h.Closed, popmap.Label(l)) {
					return nil, lerr("#closed: %q twice", l)
				}
				h.Closed = append(h.Closed, popmap.Label(l))
			}
			continue
		}
		if !header {
			want := "network\tweight\tcity\tcountry\tlat\tlon\tasn\tresolver\tresolver_ecs\tmeasured\tanycast\tgeo"
			for _, p := range h.PoPs {
				want += "\t" + string(p.Label)
			}
			if string(s) != want {
				return nil, lerr("column header does not match the #pop lines")
			}
			if len(h.PoPs) == 0 {
				return nil, lerr("no #pop lines")
			}
			header = true
			rec.Base = make([]float32, len(h.PoPs))
			rec.Jitter = make([]float32, len(h.PoPs))
			continue
		}
		if err := rec.parse(s, labels); err != nil {
			return nil, lerr("%v", err)
		}
		if err := fn(h, &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, lerr("%v", err)
	}
	if !header {
		return nil, errors.New("truncated: no column header")
	}
	return h, nil
}

func (t *TruthRecord) parse(s []byte, labels map[string]int) error {
	f := strings.Split(string(s), "\t")
	if want := 12 + len(t.Base); len(f) != want {
		return fmt.Errorf("%d fields, want %d", len(f), want)
	}
	var err error
	if t.Network, err = netip.ParsePrefix(f[0]); err != nil || t.Network != t.Network.Masked() {
		return fmt.Errorf("network %q: not a masked prefix", f[0])
	}
	num := func(name, v string, lo, hi float64) float64 {
		x, e := strconv.ParseFloat(v, 64)
		if e != nil || math.IsNaN(x) || x < lo || x > hi {
			if err == nil {
				err = fmt.Errorf("%s %q: not a number in [%v, %v]", name, v, lo, hi)
			}
		}
		return x
	}
	t.Weight = num("weight", f[1], 0, math.MaxFloat64)
	t.City, t.Country = f[2], f[3]
	t.Lat = num("lat", f[4], -90, 90)
	t.Lon = num("lon", f[5], -180, 180)
	asn, e := strconv.ParseUint(f[6], 10, 32)
	if e != nil && err == nil {
		err = fmt.Errorf("asn %q: not a 32-bit number", f[6])
	}
	t.ASN = uint32(asn)
	if t.Resolver, e = netip.ParseAddr(f[7]); e != nil && err == nil {
		err = fmt.Errorf("resolver %q: not an address", f[7])
	}
	flag := func(name, v string) bool {
		if v != "0" && v != "1" && err == nil {
			err = fmt.Errorf("%s %q: want 0 or 1", name, v)
		}
		return v == "1"
	}
	t.ResolverECS = flag("resolver_ecs", f[8])
	t.Measured = flag("measured", f[9])
	var ok bool
	if t.Anycast, ok = labels[f[10]]; !ok && err == nil {
		err = fmt.Errorf("anycast %q: no such PoP", f[10])
	}
	t.Geo = -1
	if f[11] != "-" {
		if t.Geo, ok = labels[f[11]]; !ok && err == nil {
			err = fmt.Errorf("geo %q: no such PoP", f[11])
		}
	}
	for p := range t.Base {
		bs, js, cut := strings.Cut(f[12+p], "/")
		if !cut && err == nil {
			err = fmt.Errorf("column %d %q: want base/jitter", 13+p, f[12+p])
		}
		t.Base[p] = float32(num("base", bs, 0, 1e6))
		t.Jitter[p] = float32(num("jitter", js, 0, 1e6))
	}
	return err
}
