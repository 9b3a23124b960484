package loadgen

import (
	"bufio"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/steer-gslb/steer/popmap"
)

// World describes a benchmark world: one synthetic map, its successor for
// the reload test, and the same service served by steer and by gdnsd.
type World struct {
	Dir       string
	V4, V6    int
	PoPs      int
	Seed      uint64
	SteerPort int // steer-dns UDP/TCP port on 127.0.0.1
	AdminPort int // steer-dns admin port on 127.0.0.1
	GdnsdPort int // gdnsd port on 127.0.0.1
}

// AnycastAddr is the record's default (anycast) answer. gdnsd gets it as a
// datacenter named "anycast" listed first, so that its default dclist (the
// answer for networks outside the map) is the same address.
const AnycastAddr = "192.0.2.1"

// PoP labels (IATA codes of their metros) and approximate coordinates.
var popNames = []string{
	"fra", "ams", "lhr", "cdg", "mad", "mxp", "waw", "arn", "iad", "ord",
	"dfw", "lax", "sea", "yyz", "gru", "nrt", "sin", "syd", "bom", "jnb",
}

var popCoords = [][2]float64{
	{50.11, 8.68}, {52.37, 4.90}, {51.51, -0.13}, {48.86, 2.35}, {40.42, -3.70},
	{45.46, 9.19}, {52.23, 21.01}, {59.33, 18.07}, {39.04, -77.49}, {41.88, -87.63},
	{32.78, -96.80}, {34.05, -118.24}, {47.61, -122.33}, {43.65, -79.38}, {-23.55, -46.63},
	{35.68, 139.69}, {1.35, 103.82}, {-33.87, 151.21}, {19.08, 72.88}, {-26.20, 28.05},
}

// popCoord returns the i-th PoP's coordinates; PoPs past the named ones get
// a spread of made-up coordinates (the benchmark has no geo step).
func popCoord(i int) (lat, lon float64) {
	if i < len(popCoords) {
		return popCoords[i][0], popCoords[i][1]
	}
	return float64(i%120) - 60, float64((i*37)%360) - 180
}

// PoPLabels returns n PoP labels: airport codes, then p21, p22, ….
func PoPLabels(n int) []popmap.Label {
	out := make([]popmap.Label, n)
	for i := range n {
		if i < len(popNames) {
			out[i] = popmap.Label(popNames[i])
		} else {
			out[i] = popmap.Label(fmt.Sprintf("p%d", i+1))
		}
	}
	return out
}

// PoPAddr returns the service address of the i-th PoP (documentation
// ranges of RFC 5737).
func PoPAddr(i int) netip.Addr {
	if i < 100 {
		return netip.AddrFrom4([4]byte{192, 0, 2, byte(10 + i)})
	}
	return netip.AddrFrom4([4]byte{198, 51, 100, byte(10 + i - 100)})
}

// Files of a world, relative to its directory.
const (
	MapFile     = "map.json"      // the map both servers serve
	NextMapFile = "map-next.json" // the reload test's replacement: every network's first PoP changes
	SteerConfig = "steer.yaml"
	GdnsdDir    = "gdnsd"            // gdnsd -c directory
	GdnsdNets   = "gdnsd/geoip/nets" // gdnsd's nets file (watched by gdnsd)
	GdnsdNext   = "gdnsd/geoip/nets-next"
)

// Synth writes the world: map.json and map-next.json (the same networks
// with every label rotated to the next PoP, so every answer changes),
// steer.yaml, and gdnsd's config directory with a nets file generated from
// the same map. IPv6 map entries that fall in the v4-like IPv6 spaces gdnsd
// refuses in nets (6to4 2002::/16, Teredo 2001::/32) are left out of the
// gdnsd nets file; the number is returned. The load uses IPv4 ECS only.
func Synth(w World) (skipped int, err error) {
	if w.PoPs < 2 || w.PoPs > 200 {
		return 0, fmt.Errorf("synth: --pops must be in 2..200")
	}
	labels := PoPLabels(w.PoPs)
	rot := append(append([]popmap.Label{}, labels[1:]...), labels[0])
	m := popmap.Synthetic(w.V4, w.V6, labels, w.Seed)
	next := popmap.Synthetic(w.V4, w.V6, rot, w.Seed)
	if err := os.MkdirAll(filepath.Join(w.Dir, GdnsdDir, "geoip"), 0o755); err != nil {
		return 0, err
	}
	for _, d := range []string{"zones", "run", "state"} {
		if err := os.MkdirAll(filepath.Join(w.Dir, GdnsdDir, d), 0o755); err != nil {
			return 0, err
		}
	}
	if err := writeFile(filepath.Join(w.Dir, MapFile), func(bw *bufio.Writer) error { return m.Encode(bw) }); err != nil {
		return 0, err
	}
	if err := writeFile(filepath.Join(w.Dir, NextMapFile), func(bw *bufio.Writer) error { return next.Encode(bw) }); err != nil {
		return 0, err
	}
	if err := writeFile(filepath.Join(w.Dir, SteerConfig), func(bw *bufio.Writer) error {
		_, err := bw.WriteString(steerYAML(w, labels))
		return err
	}); err != nil {
		return 0, err
	}
	if err := writeFile(filepath.Join(w.Dir, GdnsdDir, "config"), func(bw *bufio.Writer) error {
		_, err := bw.WriteString(gdnsdConfig(w, labels))
		return err
	}); err != nil {
		return 0, err
	}
	if err := writeFile(filepath.Join(w.Dir, GdnsdDir, "zones", "example.net"), func(bw *bufio.Writer) error {
		_, err := bw.WriteString(gdnsdZone)
		return err
	}); err != nil {
		return 0, err
	}
	for _, f := range []struct {
		m    *popmap.Map
		path string
	}{{m, GdnsdNets}, {next, GdnsdNext}} {
		if err := writeFile(filepath.Join(w.Dir, f.path), func(bw *bufio.Writer) error {
			var err error
			skipped, err = WriteGdnsdNets(bw, f.m)
			return err
		}); err != nil {
			return 0, err
		}
	}
	return skipped, nil
}

func writeFile(path string, fill func(*bufio.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = fill(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		_ = f.Close() // the write error is the one to report
		return fmt.Errorf("synth: writing %q: %w", path, err)
	}
	return f.Close()
}

// v4-like IPv6 spaces gdnsd's geoip plugin refuses in "nets".
var gdnsdForbidden6 = []netip.Prefix{
	netip.MustParsePrefix("::ffff:0:0/96"),
	netip.MustParsePrefix("::ffff:0:0:0/96"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("2001::/32"),
	netip.MustParsePrefix("2002::/16"),
}

// WriteGdnsdNets writes m's networks as the body of gdnsd geoip "nets"
// (one `prefix => [ dc1, dc2 ]` line each; the file form of the hash). It
// returns how many IPv6 networks it left out because gdnsd refuses them,
// and the first write error.
func WriteGdnsdNets(bw *bufio.Writer, m *popmap.Map) (skipped int, err error) {
	if _, err := bw.WriteString("# generated by steer-dnsload synth from a popmap; do not edit\n"); err != nil {
		return skipped, err
	}
	for _, e := range m.Entries {
		dcs := make([]string, len(e.Labels))
		for i, l := range e.Labels {
			dcs[i] = string(l)
		}
		list := " => [ " + strings.Join(dcs, ", ") + " ]\n"
	nets:
		for _, p := range e.Networks {
			if p.Addr().Is6() {
				for _, f := range gdnsdForbidden6 {
					if f.Overlaps(p) {
						skipped++
						continue nets
					}
				}
			}
			if _, err := bw.WriteString(`"` + p.String() + `"` + list); err != nil {
				return skipped, err
			}
		}
	}
	return skipped, nil
}

func steerYAML(w World, labels []popmap.Label) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# steer-dns config of the benchmark world (generated by steer-dnsload synth).
listen:
  dns: ["127.0.0.1:%d"]
  admin: "127.0.0.1:%d"
  udp_sockets: 1

reload:
  watch: true

pops:
`, w.SteerPort, w.AdminPort)
	for i, l := range labels {
		lat, lon := popCoord(i)
		fmt.Fprintf(&b, "  - label: %s\n    lat: %.2f\n    lon: %.2f\n    ipv4: [\"%s\"]\n", l, lat, lon, PoPAddr(i))
	}
	// No geo step: it needs a GeoIP database and every benchmark query
	// carries an ECS source from the map.
	fmt.Fprintf(&b, `
zones:
  - name: example.net
    soa:
      mname: ns1.example.net
      rname: hostmaster.example.net
    ns:
      - name: ns1.example.net
        ipv4: ["127.0.0.1"]
    records:
      - name: www
        ttl: 30
        steering: [ecs, resolver, default]
        ecs_map: %s
        resolver_map: %s
        default:
          ipv4: ["%s"]
`, MapFile, MapFile, AnycastAddr)
	return b.String()
}

func gdnsdConfig(w World, labels []popmap.Label) string {
	var b strings.Builder
	fmt.Fprintf(&b, `# gdnsd 3.8 config of the benchmark world (generated by steer-dnsload synth).
options => {
  listen => [ "127.0.0.1:%d" ]
  udp_threads => 1
  tcp_threads => 1
  # 1 MiB (gdnsd's maximum): the default 208 KiB drops queries once more
  # than ~250 are queued, which a 256-query window already does.
  udp_rcvbuf => 1048576
  udp_sndbuf => 1048576
  run_dir => "%s"
  state_dir => "%s"
}
plugins => {
  geoip => {
    maps => {
      steer => {
        # "anycast" first: the default dclist of networks outside the map
        # answers like steer's default.
        datacenters => [ anycast`, w.GdnsdPort, filepath.Join(w.Dir, GdnsdDir, "run"), filepath.Join(w.Dir, GdnsdDir, "state"))
	for _, l := range labels {
		fmt.Fprintf(&b, ", %s", l)
	}
	b.WriteString(` ]
        nets => nets
      }
    }
    resources => {
      www => {
        map => steer
        dcmap => {
          anycast => ` + AnycastAddr + "\n")
	for i, l := range labels {
		fmt.Fprintf(&b, "          %s => %s\n", l, PoPAddr(i))
	}
	b.WriteString(`        }
      }
    }
  }
}
`)
	return b.String()
}

const gdnsdZone = `; example.net for gdnsd (generated by steer-dnsload synth)
@     60   SOA ns1 hostmaster 1 3600 600 604800 60
@     3600 NS  ns1
ns1   3600 A   127.0.0.1
www   30   DYNA geoip!www
`
