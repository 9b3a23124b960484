// Command steer-apiload drives the steering API with Resolve calls at a
// fixed rate over one HTTP/2 (h2c) connection and prints the completed
// rate and latency percentiles (package steerapi/apiload; bench/api.sh).
//
//	steer-apiload --url http://127.0.0.1:8053 --rate 10000 --duration 10s
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
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
	flag.IntVar(&opt.MaxInFlight, "max-in-flight", 4096, "calls outstanding at most (more are counted as overload)")
	flag.Uint64Var(&opt.Seed, "seed", 1, "seed of the random client addresses")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := apiload.Run(ctx, opt)
	if err != nil {
		fmt.Fprintln(os.Stderr, "steer-apiload:", err)
		return 1
	}
	fmt.Printf("target %d/s %s\n", opt.Rate, res)
	return 0
}
