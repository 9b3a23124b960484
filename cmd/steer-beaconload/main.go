// Command steer-beaconload is the load generator of the collector
// benchmark (bench/collect.sh), run as a separate process from the server
// it loads:
//
//	steer-beaconload run --url http://127.0.0.1:8080/beacon --token T [--duration 10s] [--conns 64] [--samples 20]
//	steer-beaconload sink --listen 127.0.0.1:0
//
// run posts distinct beacons (each with its own samples, so a collector
// cannot answer them as duplicates) over keep-alive connections, each from
// its own client address in X-Forwarded-For (the collector under test
// trusts 127.0.0.0/8 as a proxy), and prints one line of JSON: beacons/s,
// samples/s, latency percentiles, errors. sink is the ceiling to compare
// with: a bare net/http handler that reads and discards each body and
// answers 200.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/rum"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: steer-beaconload run|sink [flags]")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "run":
		os.Exit(run(os.Args[2:]))
	case "sink":
		os.Exit(sink(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "steer-beaconload: unknown command %q\n", os.Args[1])
		os.Exit(2)
	}
}

func sink(args []string) int {
	fs := flag.NewFlagSet("sink", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address")
	if fs.Parse(args) != nil {
		return 2
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("listening on %s\n", l.Addr())
	srv := &http.Server{ReadHeaderTimeout: 10 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"accepted":1}`+"\n")
	})}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() { <-ctx.Done(); _ = srv.Close() }()
	if err := srv.Serve(l); err != nil && err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// Result is what run prints.
type Result struct {
	Target     string  `json:"target"`
	Seconds    float64 `json:"seconds"`
	Beacons    int64   `json:"beacons"`
	Samples    int64   `json:"samples"`
	Errors     int64   `json:"errors"`
	BeaconsPS  float64 `json:"beacons_per_s"`
	SamplesPS  float64 `json:"samples_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
	BodyBytes  int     `json:"body_bytes"`
	Conns      int     `json:"conns"`
	FirstError string  `json:"first_error,omitempty"`
}

func run(args []string) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	url := fs.String("url", "", "beacon endpoint")
	token := fs.String("token", "", "agent token (Authorization: Bearer)")
	dur := fs.Duration("duration", 10*time.Second, "how long to load")
	conns := fs.Int("conns", 64, "concurrent connections (one request in flight each)")
	nsamples := fs.Int("samples", 20, "samples per beacon")
	seed := fs.Uint64("seed", 1, "seed (runs with different seeds send different beacons)")
	if fs.Parse(args) != nil {
		return 2
	}
	if *url == "" {
		fmt.Fprintln(os.Stderr, "steer-beaconload run: --url is required")
		return 2
	}
	tr := &http.Transport{MaxIdleConnsPerHost: *conns, MaxConnsPerHost: *conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		beacons, errs atomic.Int64
		firstErr      sync.Once
		firstErrMsg   string
		lat           = make([][]time.Duration, *conns)
	)
	ctx, cancel := context.WithTimeout(context.Background(), *dur)
	defer cancel()
	start := time.Now()
	var bodyLen atomic.Int64
	var wg sync.WaitGroup
	for c := range *conns {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(*seed, uint64(c)))
			var b rum.Beacon
			var buf []byte
			ls := make([]time.Duration, 0, 1<<16)
			for i := 0; ctx.Err() == nil; i++ {
				buf = beacon(buf[:0], &b, r, *nsamples)
				bodyLen.Store(int64(len(buf)))
				req, err := http.NewRequestWithContext(ctx, http.MethodPost, *url, bytes.NewReader(buf))
				if err != nil {
					errs.Add(1)
					return
				}
				req.Header.Set("Content-Type", "application/json")
				if *token != "" {
					req.Header.Set("Authorization", "Bearer "+*token)
				}
				// a global address (the collector refuses private ones from a proxy's header)
				req.Header.Set("X-Forwarded-For", fmt.Sprintf("11.%d.%d.%d", c&0xff, (i>>8)&0xff, i&0xff))
				t0 := time.Now()
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						errs.Add(1)
						firstErr.Do(func() { firstErrMsg = err.Error() })
					}
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode/100 != 2 {
					errs.Add(1)
					firstErr.Do(func() { firstErrMsg = resp.Status })
					continue
				}
				ls = append(ls, time.Since(t0))
				beacons.Add(1)
			}
			lat[c] = ls
		})
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	slices.Sort(all)
	pct := func(q float64) float64 {
		if len(all) == 0 {
			return 0
		}
		return float64(all[int(q*float64(len(all)-1))].Microseconds()) / 1000
	}
	res := Result{
		Target: *url, Seconds: secs, Beacons: beacons.Load(), Samples: beacons.Load() * int64(*nsamples), Errors: errs.Load(),
		BeaconsPS: float64(beacons.Load()) / secs, SamplesPS: float64(beacons.Load()*int64(*nsamples)) / secs,
		P50ms: pct(0.5), P99ms: pct(0.99), BodyBytes: int(bodyLen.Load()), Conns: *conns, FirstError: firstErrMsg,
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	return 0
}

var labels = []string{"lhr", "ams", "fra", "cdg", "osl", "mad", "waw", "mxp", "iad", "lga", "ord", "dfw", "lax", "sea", "mia", "gru", "nrt", "hkg", "sin", "syd"}

// beacon appends a distinct desktop beacon of n samples.
func beacon(dst []byte, b *rum.Beacon, r *rand.Rand, n int) []byte {
	*b = rum.Beacon{V: 1, Agent: rum.Agent{Kind: rum.KindDesktop, Platform: "linux", Timer: "monotonic"}, Samples: b.Samples[:0]}
	b.DNSTest = strconv.FormatUint(r.Uint64(), 36) + ".rum.example.net"
	// within the last hour: inside the collector's sample window
	ts := time.Now().UTC().Add(-time.Duration(r.Int64N(int64(time.Hour))))
	for i := range n {
		b.Samples = append(b.Samples, rum.Sample{
			TS: ts.Add(time.Duration(i) * 50 * time.Millisecond), Target: labels[i%len(labels)], Probe: rum.ProbeHTTPS,
			RTTms: float64(r.IntN(300_000)) / 1000,
		})
	}
	return rum.AppendBeacon(dst, b)
}
