package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"time"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/internal/cli"
)

const explainHelp = `usage: steer explain --config FILE [--map MAP.json] [--sources FILE] [--geoip FILE] [--store DIR] [--record NAME] [--ecs CIDR] [--type A|AAAA] [--json] ADDR
       steer explain --server URL [--record NAME] [--ecs CIDR] [--type A|AAAA] [--json] ADDR

Explains why a client at ADDR gets the PoP it gets: the DNS server's
decision (the same steering chain over the same maps, GeoIP database and
PoP states) with the deciding step, the ECS scope, the matched entry of each
map and where the build got it (MAP.sources.tsv: measured, resolver,
extrapolate-as, extrapolate-prefix, extrapolate-geo), the GeoIP record and
its nearest PoP, and the PoPs passed over and why.

Offline it reads the config and the record's maps (or --map in their
place); --store adds the store's samples and p75 per PoP for the client's
network, as the builder reads them. With --server it asks a running
steer dns's steering API (listen.api) instead.

ADDR is the client: its /24 (/56) is the ECS subnet and ADDR the resolver.
--ecs gives the subnet explicitly (ADDR is then the resolver's address);
--ecs 0.0.0.0/0 explains ADDR as a resolver sending no client subnet.`

func runExplain(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer explain", explainHelp, `steer explain --config examples/steer.yaml 203.0.113.7
steer explain --config world/steer.yaml --map map.json --store rum 198.51.100.9
steer explain --server http://127.0.0.1:8053 --json 2001:db8:10::1`, stdout, stderr)
	var f explain.Files
	fs.StringVar(&f.Config, "config", "", "the DNS server's config (offline)")
	fs.StringVar(&f.Map, "map", "", "a map to explain in place of the record's ecs_map and resolver_map")
	fs.StringVar(&f.Sources, "sources", "", "the map's sources file (default: MAP.sources.tsv beside the map, when present)")
	fs.StringVar(&f.GeoIP, "geoip", "", "the GeoIP database (default: the config's geoip)")
	storeDir := fs.String("store", "", "a RUM store: add the samples and p75 per PoP of the client's network")
	fs.StringVar(&f.Record, "record", "", "the steered record (default: the config's first steered record)")
	ecsFlag := fs.String("ecs", "", "the client subnet (ADDR is then the resolver); 0.0.0.0/0: none")
	fs.StringVar(&f.Family, "type", "", "the answer type decided for: A or AAAA (default: ADDR's family)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	server := fs.String("server", "", "ask a running server's steering API (http://HOST:PORT of listen.api) instead")
	timeout := fs.Duration("timeout", 10*time.Second, "with --server: how long to wait for the answer")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 1 {
		return fs.Usagef("one ADDR is required")
	}
	addr, err := netip.ParseAddr(fs.Arg(0))
	if err != nil {
		return fs.Usagef("bad address %q: %v", fs.Arg(0), err)
	}
	var ecs netip.Prefix
	if *ecsFlag != "" {
		if ecs, err = netip.ParsePrefix(*ecsFlag); err != nil {
			return fs.Usagef("--ecs %q: %v", *ecsFlag, err)
		}
	}
	if f.Family != "" && f.Family != "A" && f.Family != "AAAA" {
		return fs.Usagef("--type %q: want A or AAAA", f.Family)
	}
	var r *explain.Report
	switch {
	case *server != "":
		if f.Config != "" || f.Map != "" || f.Sources != "" || f.GeoIP != "" || *storeDir != "" {
			return fs.Usagef("--server takes no --config, --map, --sources, --geoip or --store: the server explains from what it serves")
		}
		ctx, cancel := context.WithTimeout(context.Background(), *timeout)
		defer cancel()
		r, err = explain.Remote(ctx, &http.Client{}, *server, addr, ecs, f.Record, f.Family)
	case f.Config == "":
		return fs.Usagef("--config FILE (offline) or --server URL is required")
	default:
		r, err = explainOffline(f, *storeDir, addr, ecs)
	}
	if err != nil {
		fmt.Fprintln(stderr, "steer explain:", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintln(stderr, "steer explain:", err)
			return 1
		}
		return 0
	}
	fmt.Fprint(stdout, r)
	return 0
}

func explainOffline(f explain.Files, storeDir string, addr netip.Addr, ecs netip.Prefix) (*explain.Report, error) {
	in, err := explain.Load(f)
	if err != nil {
		return nil, err
	}
	if storeDir != "" {
		est, closeStore, err := storeEstimator(storeDir)
		if err != nil {
			return nil, err
		}
		defer func() { _ = closeStore() }()
		in.Estimator = est
	}
	return explain.Explain(in, addr, ecs)
}
