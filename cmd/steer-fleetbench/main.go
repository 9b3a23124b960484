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
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/steer-gslb/steer/internal/fleetbench"
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

func command(ctx context.Context, name string, args []string) error {
	switch name {
	case "fleet":
		return fleetbench.RunFleet(ctx, args)
	case "load":
		return fleetbench.RunLoad(ctx, args)
	default:
		return errUsage
	}
}
