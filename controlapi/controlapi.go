// Package controlapi serves the steering API (package steerapi) from the
// control server. The control server keeps no DNS snapshot of its own, so
// it runs an embedded DNS server with no DNS listeners that follows it like
// any member of the fleet: the same config (the control server's
// dns_config), the same active map, PoP states, health and load moves, and
// the same decision code. Its answers are therefore the fleet's answers, a
// long poll later at most.
//
// The embedded server's config is derived from dns_config (Derive): no DNS
// or admin listener, the API on the given address, a control: block naming
// the control server with a read token and a map file in the control
// server's state directory, every record's maps pointed at that file, no
// query log of its own (empty), and paths made absolute. It is written into the state
// directory and removed when Run returns.
//
// The embedded server reports to the fleet as "control-api" and shows in
// steer fleet status like any server.
package controlapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"

	"go.yaml.in/yaml/v3"

	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/atomicfile"
)

// ServerName is the embedded server's name in the fleet.
const ServerName = "control-api"

// Options say how to run the embedded server.
type Options struct {
	Listen     netip.AddrPort // the steering API's address
	ControlURL string         // the control server's own URL, as the embedded server reaches it
	Token      string         // a token of the control server's (any role may read)
	DNSConfig  string         // the control server's dns_config
	StateDir   string         // where the derived config and the map file go
	Logger     *slog.Logger
	API        dnsserver.API // steerapi.New
}

// Files are the derived config's and the map file's paths in dir.
func Files(dir string) (cfg, mapFile string) {
	return filepath.Join(dir, "api-dns.yaml"), filepath.Join(dir, "api-map.json")
}

// Run writes the derived config and serves the API until ctx ends. ready,
// if not nil, is called once the API listens.
func Run(ctx context.Context, o Options, ready func(*dnsserver.Server)) error {
	if !o.Listen.IsValid() {
		return errors.New("controlapi: no API address")
	}
	if o.API == nil {
		return errors.New("controlapi: no API handler")
	}
	src, err := os.ReadFile(o.DNSConfig)
	if err != nil {
		return fmt.Errorf("controlapi: %w", err)
	}
	cfgPath, mapFile := Files(o.StateDir)
	derived, err := Derive(src, filepath.Dir(o.DNSConfig), o.Listen, o.ControlURL, o.Token, mapFile)
	if err != nil {
		return fmt.Errorf("controlapi: %s: %w", o.DNSConfig, err)
	}
	if err := atomicfile.Write(cfgPath, derived, 0o600); err != nil {
		return fmt.Errorf("controlapi: %w", err)
	}
	defer func() { _ = os.Remove(cfgPath) }()
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return dnsserver.Run(ctx, cfgPath, dnsserver.Options{Logger: log.With("component", "control-api"), API: o.API}, ready)
}

// Derive turns a DNS server config (YAML, its relative paths relative to
// dir) into the embedded server's: see the package doc.
func Derive(src []byte, dir string, api netip.AddrPort, controlURL, token, mapFile string) ([]byte, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(src, &doc); err != nil {
		return nil, err
	}
	if doc == nil {
		return nil, errors.New("empty config")
	}
	doc["listen"] = map[string]any{"dns": []string{}, "api": api.String()}
	doc["reload"] = map[string]any{"watch": false}
	// rum records need a query log; an API-only server answers no query,
	// so its log (beside the map file) stays empty.
	if _, ok := doc["query_log"]; ok {
		doc["query_log"] = filepath.Join(filepath.Dir(mapFile), "api-queries.ndjson")
	}
	doc["control"] = map[string]any{"url": controlURL, "token": token, "map_file": mapFile, "server": ServerName}
	abs := func(v any) any {
		if s, ok := v.(string); ok && s != "" && !filepath.IsAbs(s) {
			return filepath.Join(dir, s)
		}
		return v
	}
	if g, ok := doc["geoip"]; ok {
		doc["geoip"] = abs(g)
	}
	if t, ok := doc["api_tokens"].(map[string]any); ok {
		if k, ok := t["keys"]; ok {
			t["keys"] = abs(k)
		}
	}
	zones, _ := doc["zones"].([]any)
	for _, z := range zones {
		zm, _ := z.(map[string]any)
		records, _ := zm["records"].([]any)
		for _, r := range records {
			rm, _ := r.(map[string]any)
			for _, k := range []string{"ecs_map", "resolver_map"} {
				if _, ok := rm[k]; ok {
					rm[k] = mapFile
				}
			}
		}
	}
	return yaml.Marshal(doc)
}
