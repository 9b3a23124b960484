// Package examples embeds the example DNS config, route map and GeoIP
// database, so `steer demo` runs from any directory. WriteTo lays them out
// in a directory, where the config's relative paths find each other.
package examples

import (
	"embed"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/steer-gslb/steer/geoip"
)

//go:embed steer.yaml map.json world.mmdb
var files embed.FS

// Files are the names of the embedded files.
var Files = []string{"steer.yaml", "map.json", "world.mmdb"}

// WriteTo writes the example files into dir.
func WriteTo(dir string) error {
	for _, name := range Files {
		b, err := files.ReadFile(name)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			return fmt.Errorf("writing example %s: %w", name, err)
		}
	}
	return nil
}

// World is the content of world.mmdb: a few documentation and shared
// ranges placed in real cities, so the geo step has something to find.
// `go test ./examples -update` rewrites world.mmdb from it.
var World = []geoip.Entry{
	{Prefix: mustPrefix("100.64.0.0/10"), Lat: 1.3521, Lon: 103.8198, Country: "SG"},     // Singapore
	{Prefix: mustPrefix("198.18.128.0/17"), Lat: -23.5505, Lon: -46.6333, Country: "BR"}, // São Paulo
	{Prefix: mustPrefix("233.252.0.0/24"), Lat: 48.8566, Lon: 2.3522, Country: "FR"},     // Paris
	{Prefix: mustPrefix("2001:db8:30::/48"), Lat: 40.7128, Lon: -74.0060, Country: "US"}, // New York
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
