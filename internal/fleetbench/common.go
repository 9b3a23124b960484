// Package fleetbench is the control-plane benchmark behind
// cmd/steer-fleetbench and bench/fleet.sh: it starts one `steer control`
// and N `steer-dns` processes on 127.0.0.1, times publishes and drains to
// every server (RunFleet), and measures the latency of one loaded server
// around PoP state changes and load moves (RunLoad). Both write a JSON
// file of every measurement and a markdown fragment for
// bench/results/fleet.md. It exports no metrics.
package fleetbench

import (
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/loadgen"
)

// common are the flags of both subcommands.
type common struct {
	steer, steerDNS, world, dir, jsonOut, mdOut string
	timeout                                     time.Duration
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.steer, "steer", "", "steer binary (runs `steer control`) (required)")
	fs.StringVar(&c.steerDNS, "steer-dns", "", "steer-dns binary (required)")
	fs.StringVar(&c.world, "world", "", "steer-dnsload synth directory: map.json, map-next.json, steer.yaml (required)")
	fs.StringVar(&c.dir, "dir", "", "work directory for configs, state and logs (required)")
	fs.StringVar(&c.jsonOut, "json", "", "write every measurement as JSON to this file")
	fs.StringVar(&c.mdOut, "md", "", "write the markdown result rows to this file")
	fs.DurationVar(&c.timeout, "timeout", 20*time.Minute, "give up after this long")
}

func (c *common) check() error {
	if c.steer == "" || c.steerDNS == "" || c.world == "" || c.dir == "" {
		return errors.New("--steer, --steer-dns, --world and --dir are required")
	}
	// The children run in their own directories.
	for _, p := range []*string{&c.steer, &c.steerDNS, &c.world, &c.dir} {
		abs, err := filepath.Abs(*p)
		if err != nil {
			return err
		}
		*p = abs
	}
	return os.MkdirAll(c.dir, 0o755)
}

// pops returns the world's PoPs.
func (c *common) pops() ([]config.PoP, error) {
	cfg, err := config.Load(filepath.Join(c.world, loadgen.SteerConfig))
	if err != nil {
		return nil, err
	}
	return cfg.PoPs, nil
}

// writeOutputs writes the JSON and markdown results when asked for.
func (c *common) writeOutputs(v any, md string) error {
	if c.jsonOut != "" {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(c.jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if c.mdOut != "" {
		return os.WriteFile(c.mdOut, []byte(md), 0o644)
	}
	return nil
}
