package sim

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"
)

// writeConfig writes the DNS server configuration for the world (its PoPs,
// GeoIP database, RUM zone and an empty map, so the server answers by geo
// until a built map replaces map.json) and that empty map.
func (w *World) writeConfig(dir string) error {
	if err := writeFile(filepath.Join(dir, FileMap), func(f io.Writer) error {
		_, err := io.WriteString(f, `{"meta": {"version": 1}, "map": []}`+"\n")
		return err
	}); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, FileConfig), func(f io.Writer) error {
		_, err := io.WriteString(f, w.configYAML())
		return err
	})
}

func (w *World) configYAML() string {
	var b strings.Builder
	fmt.Fprintf(&b, `# steer DNS server configuration for a simulated world (steer sim, seed %d).
# Relative paths resolve against this file's directory.
#
#   steer dns --config %s
#   dig @127.0.0.1 -p 5353 www.%s A +subnet=203.0.113.0/24

listen:
  dns: ["127.0.0.1:5353"]
  admin: "127.0.0.1:9153"

geoip: %s
query_log: queries.ndjson

reload:
  watch: true

# PoP service addresses are documentation addresses (RFC 5737, RFC 3849):
# the simulated world has no real services.
pops:
`, w.Opt.Seed, FileConfig, w.Opt.Zone, FileGeoIP)
	for i, p := range w.PoPs {
		fmt.Fprintf(&b, "  - label: %s\n    city: %q\n    lat: %.4f\n    lon: %.4f\n    ipv4: [\"%s\"]\n    ipv6: [\"2001:db8::%x\"]\n",
			p.Label, p.City, p.Lat, p.Lon, popAddr4(i), 0x100+i)
	}
	fmt.Fprintf(&b, `
zones:
  - name: %s
    ttl: 3600
    soa:
      mname: ns1.%s
      rname: hostmaster.%s
      serial: 1
      refresh: 3600
      retry: 600
      expire: 604800
      minimum: 60
    ns:
      - name: ns1.%s
        ipv4: ["127.0.0.1"]
    records:
      - name: www
        ttl: 30
        steering: [ecs, resolver, geo, default]
        ecs_map: %s
        resolver_map: %s
        default:                 # anycast
          ipv4: ["192.0.2.1"]
          ipv6: ["2001:db8::1"]
      - name: rum                # the random-name DNS tests: rum.%s and every name below it, logged
        rum: true
        ttl: 0
        steering: [ecs, resolver, geo, default]
        ecs_map: %s
        resolver_map: %s
        default:
          ipv4: ["192.0.2.1"]
          ipv6: ["2001:db8::1"]
`, w.Opt.Zone, w.Opt.Zone, w.Opt.Zone, w.Opt.Zone, FileMap, FileMap, w.Opt.Zone, FileMap, FileMap)
	return b.String()
}

// popAddr4 spreads PoP addresses over the three RFC 5737 documentation
// networks.
func popAddr4(i int) string {
	nets := []string{"192.0.2", "198.51.100", "203.0.113"}
	return fmt.Sprintf("%s.%d", nets[i/60%3], 10+i%60)
}
