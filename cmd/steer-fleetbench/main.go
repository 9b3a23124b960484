// Command steer-fleetbench measures steer's control plane end to end with
// real processes on 127.0.0.1 (bench/fleet.sh runs it): one `steer control`
// and N `steer-dns` servers following it, each in its own directory.
//
//	steer-fleetbench fleet --steer BIN --steer-dns BIN --world DIR --dir WORK [--servers 10 --publishes 5 --drains 10]
//	steer-fleetbench load  --steer BIN --steer-dns BIN --world DIR --dir WORK [--rate 50000 --windows 20 --repeat 3]
//
// fleet: publish → every server answering from the new version, and drain
// or undrain → every server answering accordingly, timed from the start of
// the API call to the reply of each server's DNS probe (every 5 ms). load:
// one server pinned with --server-cpu, a rate-controlled load in 1 s
// windows, PoP drains at fixed windows; latency of the windows with a state
// change against the others of the same run. Both write a JSON file of
// every measurement and a markdown fragment for bench/results/fleet.md.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/loadgen"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := command(ctx, os.Args[1], os.Args[2:])
	stop()
	if errors.Is(err, errUsage) {
		usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "steer-fleetbench:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("unknown command")

func usage() {
	fmt.Fprintln(os.Stderr, "usage: steer-fleetbench fleet|load [flags] (-h for flags)")
	os.Exit(2)
}

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

func command(ctx context.Context, name string, args []string) error {
	switch name {
	case "fleet":
		return runFleet(ctx, args)
	case "load":
		return runLoad(ctx, args)
	default:
		return errUsage
	}
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
