package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/probe"
	"github.com/steer-gslb/steer/rum"
)

const probeUsage = `usage: steer probe (--pops URL | --target LABEL=URL ...) [--anycast URL]
                   [--collector URL [--token T] | --print] [flags]

Measures HTTPS latency to every PoP's probe endpoint (and to the anycast
URL, recording which PoP answered), resolves one random name under
--rum-zone, and posts one beacon to the collector (or prints it with
--print). rtt_ms is the time to first byte of a second request on a fresh
connection: one round trip (see the probe package). Per-target details
(DNS, connect, TLS, first byte) go to stderr with --verbose.

--interval 0 (the default) runs one round; otherwise rounds repeat every
interval ±20 % until --count rounds or SIGINT/SIGTERM. The token is read
from $STEER_PROBE_TOKEN when --token is not given.

`

func runProbe(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return probeMain(ctx, args, stdout, stderr)
}

// probeMain is runProbe with the context given (tests).
func probeMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer probe", probeUsage, probeExample, stdout, stderr)
	var cfg probe.Config
	var targets []probe.Target
	fs.StringVar(&cfg.TargetsURL, "pops", "", "URL of the PoP list (the collector's /rum/pops.json), fetched every round")
	fs.Func("target", "a target as LABEL=URL (repeatable)", func(s string) error {
		label, url, ok := strings.Cut(s, "=")
		if !ok || label == "" || url == "" {
			return fmt.Errorf("%q is not LABEL=URL", s)
		}
		targets = append(targets, probe.Target{Label: label, URL: url})
		return nil
	})
	anycast := fs.String("anycast", "", "the anycast probe URL (its sample records the PoP that answered)")
	fs.StringVar(&cfg.Collector, "collector", "", "URL to POST beacons to")
	fs.StringVar(&cfg.Token, "token", os.Getenv("STEER_PROBE_TOKEN"), "bearer token for the collector (default $STEER_PROBE_TOKEN)")
	fs.StringVar(&cfg.RUMZone, "rum-zone", "", "zone for the random-name DNS test, e.g. rum.example.net (\"\" = no DNS test)")
	fs.StringVar(&cfg.Resolver, "resolver", "", "host:port to send the DNS test to (\"\" = the system resolver)")
	interval := fs.Duration("interval", 0, "time between rounds, ±20 % (0 = one round)")
	count := fs.Int("count", 0, "stop after this many rounds (0 = until interrupted; needs --interval)")
	fs.DurationVar(&cfg.Timeout, "timeout", probe.DefaultTimeout, "per-target timeout (also for the DNS test, the PoP list and the post)")
	fs.IntVar(&cfg.Concurrency, "concurrency", probe.DefaultConcurrency, "targets measured at once")
	kind := fs.String("kind", rum.KindCLI, "agent kind in the beacon: cli or desktop")
	insecure := fs.Bool("insecure-tls", false, "do not verify TLS certificates (self-signed test targets only)")
	printBeacon := fs.Bool("print", false, "print each beacon (one JSON line) to stdout; without --collector, nothing is posted")
	verbose := fs.Bool("verbose", false, "print each target's timings to stderr")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	usageErr := fs.Usagef
	switch {
	case fs.NArg() > 0:
		return usageErr("unexpected argument %q", fs.Arg(0))
	case len(targets) == 0 && *anycast == "" && cfg.TargetsURL == "":
		return usageErr("no targets: give --pops URL, or --target LABEL=URL and/or --anycast URL")
	case cfg.Collector == "" && !*printBeacon:
		return usageErr("nothing to do with the beacon: give --collector URL or --print")
	case *interval < 0:
		return usageErr("--interval %v: must be ≥ 0", *interval)
	case *count < 0:
		return usageErr("--count %d: must be ≥ 0", *count)
	case *count > 1 && *interval == 0:
		return usageErr("--count %d needs --interval", *count)
	}
	if *anycast != "" {
		targets = append(targets, probe.Target{Label: rum.Anycast, URL: *anycast})
	}
	cfg.Targets = targets
	cfg.Kind = *kind
	if *insecure {
		fmt.Fprintln(stderr, "steer probe: warning: --insecure-tls: TLS certificates are not verified")
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} // asked for: self-signed test targets
		cfg.HTTPClient = &http.Client{Transport: tr}
	}

	rounds, failures := 0, 0
	report := func(r *probe.Round, err error) {
		rounds++
		if r != nil {
			printRound(stdout, stderr, r, *printBeacon, *verbose)
		}
		if err != nil {
			failures++
			fmt.Fprintf(stderr, "steer probe: round %d: %v\n", rounds, err)
		}
	}
	if *interval == 0 {
		r, err := probe.MeasureRound(ctx, cfg)
		if err == nil && cfg.Collector != "" {
			err = probe.Post(ctx, cfg, r.Beacon)
		}
		if r == nil {
			fmt.Fprintf(stderr, "steer probe: %v\n", err)
			return 1
		}
		report(r, err)
		if err != nil {
			return 1
		}
		return 0
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg.OnRound = func(r *probe.Round, err error) {
		report(r, err)
		if *count > 0 && rounds >= *count {
			cancel()
		}
	}
	if err := probe.Run(ctx, cfg, *interval); err != nil {
		fmt.Fprintf(stderr, "steer probe: %v\n", err)
		return 1
	}
	if rounds > 0 && failures == rounds {
		return 1
	}
	return 0
}

// printRound prints a round: the beacon line to stdout (with --print), a
// summary line to stderr, and each target's timings (with --verbose).
func printRound(stdout, stderr io.Writer, r *probe.Round, printBeacon, verbose bool) {
	if printBeacon && r.Beacon != nil {
		line := rum.AppendBeacon(nil, r.Beacon)
		fmt.Fprintf(stdout, "%s\n", line)
	}
	samples := 0
	if r.Beacon != nil {
		samples = len(r.Beacon.Samples)
	}
	fmt.Fprintf(stderr, "steer probe: %d samples, %d targets failed", samples, r.Failed)
	if r.DNSTest != "" {
		fmt.Fprintf(stderr, ", dns test %s", r.DNSTest)
		if r.DNSErr != nil {
			fmt.Fprintf(stderr, " (%v)", r.DNSErr)
		}
	}
	fmt.Fprintln(stderr)
	if !verbose {
		return
	}
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/1e6) }
	for _, res := range r.Results {
		if res.Err != nil {
			fmt.Fprintf(stderr, "  %-10s failed: %v\n", res.Target.Label, res.Err)
			continue
		}
		tm := res.Timing
		fmt.Fprintf(stderr, "  %-10s rtt %s ms  (dns %s, connect %s, tls %s, first byte %s)", res.Target.Label,
			ms(tm.RTT), ms(tm.DNS), ms(tm.Connect), ms(tm.TLS), ms(tm.FirstByte))
		if res.ServedBy != "" {
			fmt.Fprintf(stderr, "  served by %s", res.ServedBy)
		}
		fmt.Fprintln(stderr)
	}
}

const probeExample = `steer probe --pops https://rum.example.net/rum/pops.json --collector https://rum.example.net/beacon --token T`
