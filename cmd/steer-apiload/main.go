// Command steer-apiload drives the steering API with Resolve calls at a
// fixed, open-loop rate over HTTP/2 (h2c) connections and prints the
// completed rate and latency percentiles, counted from when each call was
// due (package steerapi/apiload; bench/api.sh).
//
//	steer-apiload --url http://127.0.0.1:8053 --rate 10000 --duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/steerapi/apiload"
)

func main() { os.Exit(run()) }

func run() int {
	var opt apiload.Options
	flag.StringVar(&opt.URL, "url", "http://127.0.0.1:8053", "steering API base URL")
	flag.IntVar(&opt.Rate, "rate", 10000, "Resolve calls per second")
	flag.DurationVar(&opt.Duration, "duration", 10*time.Second, "how long to send")
	flag.IntVar(&opt.Conns, "conns", 1, "HTTP/2 connections")
	flag.IntVar(&opt.Workers, "workers", 64, "goroutines making calls, spread over the connections")
	flag.IntVar(&opt.MaxInFlight, "max-in-flight", 4096, "calls due and not answered at most (more are counted as overload)")
	flag.Uint64Var(&opt.Seed, "seed", 1, "seed of the random client addresses")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the load generator to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "steer-apiload:", err)
			return 2
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "steer-apiload:", err)
			_ = f.Close()
			return 2
		}
		defer func() {
			pprof.StopCPUProfile()
			if err := f.Close(); err != nil {
				fmt.Fprintln(os.Stderr, "steer-apiload: cpu profile:", err)
			}
		}()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := apiload.Run(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "steer-apiload:", err)
		return 1
	}
	fmt.Printf("target %d/s %s %s cpu %.2fs\n", opt.Rate, res, res.Proto, apiload.ProcessCPU().Seconds())
	return 0
}
