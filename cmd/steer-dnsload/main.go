// Command steer-dnsload is a batched UDP DNS load generator for the steer
// benchmark (bench/dns-qps.sh): every query asks www.example.net A with its
// own ECS /24 drawn from a map, replies are matched by ID, timed, and a
// sample is checked against the map (answer and ECS scope).
//
//	steer-dnsload synth --out DIR [--v4 1000000 --v6 200000 --pops 20]
//	steer-dnsload run --server 127.0.0.1:PORT --config DIR/steer.yaml [--map DIR/map.json] --duration 10s
//	steer-dnsload dnsperf-input --map DIR/map.json --out FILE [--n 500000]
//	steer-dnsload wait --server 127.0.0.1:PORT [--timeout 60s] [--poll 20ms] [--since UNIX_NS]
//	steer-dnsload check --server 127.0.0.1:PORT --config DIR/steer.yaml [--n 2000]
//	steer-dnsload free-ports [N]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/internal/loadgen"
	"github.com/steer-gslb/steer/popmap"
)

func main() {
	if len(os.Args) < 2 {
		usage()
	}
	if err := command(os.Args[1], os.Args[2:]); err != nil {
		if errors.Is(err, errUsage) {
			usage()
		}
		fmt.Fprintln(os.Stderr, "steer-dnsload:", err)
		os.Exit(1)
	}
}

var errUsage = errors.New("unknown command")

// command runs one subcommand; SIGINT and SIGTERM cancel run and wait.
func command(name string, args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch name {
	case "synth":
		return synth(args)
	case "run":
		return run(ctx, args)
	case "dnsperf-input":
		return dnsperfInput(args)
	case "wait":
		return wait(ctx, args)
	case "check":
		return check(args)
	case "free-ports":
		return freePorts(args)
	default:
		return errUsage
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: steer-dnsload synth|run|dnsperf-input|wait|check [flags] (-h for flags)")
	os.Exit(2)
}

func synth(args []string) error {
	fs := flag.NewFlagSet("synth", flag.ExitOnError)
	out := fs.String("out", "", "output directory (required)")
	v4 := fs.Int("v4", 1000000, "IPv4 /24 networks")
	v6 := fs.Int("v6", 200000, "IPv6 /56 networks")
	pops := fs.Int("pops", 20, "PoPs (2..200)")
	seed := fs.Uint64("seed", 1, "map seed")
	steerPort := fs.Int("steer-port", 5353, "steer-dns port on 127.0.0.1")
	adminPort := fs.Int("admin-port", 9153, "steer-dns admin port on 127.0.0.1")
	gdnsdPort := fs.Int("gdnsd-port", 5354, "gdnsd port on 127.0.0.1")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("synth: --out is required")
	}
	skipped, err := loadgen.Synth(loadgen.World{Dir: *out, V4: *v4, V6: *v6, PoPs: *pops, Seed: *seed,
		SteerPort: *steerPort, AdminPort: *adminPort, GdnsdPort: *gdnsdPort})
	if err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d IPv4 + %d IPv6 networks, %d PoPs (%d IPv6 networks in v4-like spaces left out of gdnsd's nets)\n",
		*out, *v4, *v6, *pops, skipped)
	return nil
}

// parseRatio reads "1/1000" or "1000" as "every 1000th"; "0" = none.
func parseRatio(s string) (int, error) {
	s = strings.TrimPrefix(s, "1/")
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad --check %q (want 1/N)", s)
	}
	return n, nil
}

func loadPool(mapPath string, n int, seed uint64) (*loadgen.Pool, error) {
	m, err := popmap.ReadFile(mapPath)
	if err != nil {
		return nil, err
	}
	return loadgen.NewPool(loadgen.DefaultQName, dns.TypeA, loadgen.ECSPrefixes(m, n, seed))
}

func run(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("run", flag.ExitOnError)
	server := fs.String("server", "", "server address, 127.0.0.1:PORT (required)")
	cfgPath := fs.String("config", "", "steer config (PoP addresses, default answer, map path) (required)")
	mapPath := fs.String("map", "", "map the queries are drawn from and checked against (default: the config's ecs_map)")
	duration := fs.Duration("duration", 10*time.Second, "sending time")
	window := fs.Int("window", 256, "queries in flight (power of two)")
	batch := fs.Int("batch", 64, "messages per sendmmsg/recvmmsg")
	timeout := fs.Duration("timeout", time.Second, "a query unanswered this long is lost")
	rate := fs.Int("rate", 0, "queries per second, 0 = max")
	checkS := fs.String("check", "1/1000", "check every N-th reply (1/N, 0 = none)")
	nq := fs.Int("queries", 300000, "distinct queries (ECS /24s) in the pool")
	seed := fs.Uint64("seed", 7, "query selection seed")
	jsonOut := fs.String("json", "", "also write the result as JSON to this file")
	series := fs.Bool("series", false, "include the time series in the JSON")
	interval := fs.Duration("interval", 100*time.Millisecond, "width of the time series buckets (and the reload window's granularity)")
	envOut := fs.String("env", "", "also write the headline figures as shell KEY=VALUE lines to this file")
	pid := fs.Int("server-pid", 0, "server process: report its CPU time during the load")
	reloadFrom := fs.String("reload-from", "", "reload test: file renamed over --reload-to during the run")
	reloadTo := fs.String("reload-to", "", "reload test: the file the server watches")
	reloadMap := fs.String("reload-map", "", "reload test: the map the server answers from after the reload")
	reloadAfter := fs.Duration("reload-after", 3*time.Second, "reload test: rename this long after the start")
	reloadStop := fs.Bool("reload-stop", false, "reload test: stop sending once the reload window is complete (--duration then bounds a reload that never completes)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ap, err := loopbackServer("run", *server)
	if err != nil {
		return err
	}
	if *cfgPath == "" {
		return errors.New("run: --config is required")
	}
	every, err := parseRatio(*checkS)
	if err != nil {
		return err
	}
	chk, err := loadgen.NewChecker(*cfgPath, *mapPath, loadgen.DefaultQName)
	if err != nil {
		return err
	}
	pool, err := loadPool(chk.MapPath, *nq, *seed)
	if err != nil {
		return err
	}
	o := loadgen.Options{
		Server: ap, Pool: pool, Duration: *duration, Window: *window, Batch: *batch, Timeout: *timeout,
		Rate: *rate, CheckEvery: every, Checker: chk, ServerPID: *pid, Interval: *interval,
		Logf: func(f string, a ...any) { fmt.Fprintf(os.Stderr, f+"\n", a...) },
	}
	if *reloadFrom != "" {
		if *reloadTo == "" || *reloadMap == "" {
			return errors.New("run: --reload-from needs --reload-to and --reload-map")
		}
		next, err := chk.WithMap(*reloadMap)
		if err != nil {
			return err
		}
		o.Reload = &loadgen.ReloadPlan{After: *reloadAfter, From: *reloadFrom, To: *reloadTo, Next: next, Stop: *reloadStop}
		if o.CheckEvery == 0 {
			o.CheckEvery = 1000
		}
	}
	res, err := loadgen.Run(ctx, o)
	if err != nil {
		return err
	}
	printResult(res)
	if *jsonOut != "" {
		if !*series {
			res.Series = nil
		}
		b, err := json.MarshalIndent(res, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the result: %w", err)
		}
		if err := os.WriteFile(*jsonOut, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	if *envOut != "" {
		if err := os.WriteFile(*envOut, []byte(envLines(res)), 0o644); err != nil {
			return err
		}
	}
	if res.WrongAnswer+res.WrongScope+res.Malformed > 0 {
		return fmt.Errorf("%d of %d checked replies were wrong", res.WrongAnswer+res.WrongScope+res.Malformed, res.Checked)
	}
	return nil
}

// envLines renders the headline figures for a shell script to source.
func envLines(r *loadgen.Result) string {
	var b strings.Builder
	kv := func(k string, format string, v any) { fmt.Fprintf(&b, "%s="+format+"\n", k, v) }
	kv("SENT", "%d", r.Sent)
	kv("RECEIVED", "%d", r.Received)
	kv("LOST", "%d", r.Lost)
	kv("QPS", "%.0f", r.QPS)
	kv("P50_MS", "%.3f", r.Latency.P50)
	kv("P99_MS", "%.3f", r.Latency.P99)
	kv("P999_MS", "%.3f", r.Latency.P999)
	kv("MAX_MS", "%.3f", r.Latency.Max)
	kv("CHECKED", "%d", r.Checked)
	kv("WRONG", "%d", r.WrongAnswer+r.WrongScope+r.Malformed)
	kv("SERVER_CPU_PCT", "%.0f", r.ServerCPUPercent)
	if rl := r.Reload; rl != nil {
		kv("RELOAD_FIRST_MS", "%.0f", rl.FirstNewMs)
		kv("RELOAD_ALL_MS", "%.0f", rl.AllNewMs)
		kv("RELOAD_WINDOW_S", "%.1f", rl.WindowSeconds)
		kv("RELOAD_SENT", "%d", rl.Sent)
		kv("RELOAD_LOST", "%d", rl.Lost)
		kv("RELOAD_P99_MS", "%.3f", rl.Latency.P99)
		kv("RELOAD_P999_MS", "%.3f", rl.Latency.P999)
		kv("RELOAD_MAX_MS", "%.3f", rl.Latency.Max)
		kv("BASE_S", "%.1f", rl.BaselineSeconds)
		kv("BASE_SENT", "%d", rl.BaselineSent)
		kv("BASE_LOST", "%d", rl.BaselineLost)
		kv("BASE_P99_MS", "%.3f", rl.Baseline.P99)
		kv("BASE_P999_MS", "%.3f", rl.Baseline.P999)
		kv("BASE_MAX_MS", "%.3f", rl.Baseline.Max)
		kv("RELOAD_STALE", "%d", rl.StaleAfterSwap)
	}
	return b.String()
}

func printResult(r *loadgen.Result) {
	fmt.Printf("server %s window %d batch %d rate %d: %.1f s\n", r.Server, r.Window, r.Batch, r.Rate, r.Seconds)
	fmt.Printf("  sent %d received %d lost %d late %d rcode-errors %d\n", r.Sent, r.Received, r.Lost, r.Late, r.Rcode)
	fmt.Printf("  qps %.0f\n", r.QPS)
	l := r.Latency
	fmt.Printf("  latency ms p50 %.3f p90 %.3f p99 %.3f p99.9 %.3f max %.3f\n", l.P50, l.P90, l.P99, l.P999, l.Max)
	if r.ServerCPUPercent >= 0 {
		fmt.Printf("  server cpu %.2f s = %.0f%% of one core\n", r.ServerCPUSeconds, r.ServerCPUPercent)
	}
	fmt.Printf("  checked %d wrong-answer %d wrong-scope %d malformed %d\n", r.Checked, r.WrongAnswer, r.WrongScope, r.Malformed)
	if rl := r.Reload; rl != nil {
		fmt.Printf("  reload at %.2f s: first new answer %.0f ms, all probes new %.0f ms (-1 = never)\n", rl.RenameAt, rl.FirstNewMs, rl.AllNewMs)
		fmt.Printf("  reload window %.1f s: sent %d received %d lost %d p99 %.3f ms p99.9 %.3f ms max %.3f ms; stale after swap %d\n",
			rl.WindowSeconds, rl.Sent, rl.Received, rl.Lost, rl.Latency.P99, rl.Latency.P999, rl.Latency.Max, rl.StaleAfterSwap)
		b := rl.Baseline
		fmt.Printf("  baseline (before the rename) %.1f s: sent %d lost %d p99 %.3f ms p99.9 %.3f ms max %.3f ms\n",
			rl.BaselineSeconds, rl.BaselineSent, rl.BaselineLost, b.P99, b.P999, b.Max)
	}
}

func dnsperfInput(args []string) error {
	fs := flag.NewFlagSet("dnsperf-input", flag.ExitOnError)
	mapPath := fs.String("map", "", "map the ECS /24s are drawn from (required)")
	out := fs.String("out", "", "output file (required)")
	n := fs.Int("n", 500000, "queries")
	seed := fs.Uint64("seed", 11, "selection seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *mapPath == "" || *out == "" {
		return errors.New("dnsperf-input: --map and --out are required")
	}
	pool, err := loadPool(*mapPath, *n, *seed)
	if err != nil {
		return err
	}
	if err := pool.WriteDnsperfFile(*out); err != nil {
		return err
	}
	fmt.Printf("wrote %s: %d queries\n", *out, pool.Len())
	return nil
}

// wait polls the server until it answers www.example.net A (any ECS) or the
// deadline passes.
func wait(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("wait", flag.ExitOnError)
	server := fs.String("server", "", "server address, 127.0.0.1:PORT (required)")
	timeout := fs.Duration("timeout", 60*time.Second, "give up after")
	poll := fs.Duration("poll", 20*time.Millisecond, "pause between queries")
	since := fs.Int64("since", 0, "report the time since this Unix time in nanoseconds (e.g. the server's start, `date +%s%N`) instead of since the first query")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ap, err := loopbackServer("wait", *server)
	if err != nil {
		return err
	}
	start := time.Now()
	deadline := start.Add(*timeout)
	if *since > 0 {
		start = time.Unix(0, *since)
	}
	c := &dns.Client{Timeout: 100 * time.Millisecond}
	q := new(dns.Msg).SetQuestion(loadgen.DefaultQName, dns.TypeA)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if r, _, err := c.Exchange(q, ap.String()); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
			fmt.Printf("%s answers after %.3f s\n", ap, time.Since(start).Seconds())
			return nil
		}
		time.Sleep(*poll) // poll interval (bounded by the deadline above)
	}
	return fmt.Errorf("%s did not answer within %v", ap, *timeout)
}

// check queries n distinct ECS prefixes one by one and compares answer and
// scope with the map: the parity test between servers.
func check(args []string) error {
	fs := flag.NewFlagSet("check", flag.ExitOnError)
	server := fs.String("server", "", "server address, 127.0.0.1:PORT (required)")
	cfgPath := fs.String("config", "", "steer config (required)")
	mapPath := fs.String("map", "", "map (default: the config's ecs_map)")
	n := fs.Int("n", 2000, "prefixes to check")
	seed := fs.Uint64("seed", 3, "selection seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ap, err := loopbackServer("check", *server)
	if err != nil {
		return err
	}
	chk, err := loadgen.NewChecker(*cfgPath, *mapPath, loadgen.DefaultQName)
	if err != nil {
		return err
	}
	m, err := popmap.ReadFile(chk.MapPath)
	if err != nil {
		return err
	}
	prefixes := loadgen.ECSPrefixes(m, *n, *seed)
	// A few addresses outside the map, too: the default answer and its scope.
	for _, s := range []string{"10.1.2.0/24", "0.0.0.0/24", "255.255.255.0/24"} {
		prefixes = append(prefixes, netip.MustParsePrefix(s))
	}
	c := &dns.Client{Timeout: time.Second, UDPSize: 1232}
	bad := 0
	scopes := map[int]int{}
	for _, p := range prefixes {
		wire, err := loadgen.BuildQuery(dns.Id(), loadgen.DefaultQName, dns.TypeA, p)
		if err != nil {
			return err
		}
		q := new(dns.Msg)
		if err := q.Unpack(wire); err != nil {
			return err
		}
		r, _, err := c.Exchange(q, ap.String())
		if err != nil {
			return fmt.Errorf("querying %v for %v: %w", ap, p, err)
		}
		if v, why := chk.CheckMsg(r, p); v != loadgen.OK {
			bad++
			if bad <= 10 {
				fmt.Println("  MISMATCH", why)
			}
		}
		_, sc := chk.Expect(p)
		scopes[sc]++
	}
	fmt.Printf("%s: %d ECS prefixes checked, %d mismatches (expected scopes: %v)\n", ap, len(prefixes), bad, scopes)
	if bad > 0 {
		return fmt.Errorf("%d mismatches", bad)
	}
	return nil
}

// freePorts prints n distinct 127.0.0.1 ports free for both UDP and TCP at
// the time of the call.
func freePorts(args []string) error {
	n := 1
	if len(args) > 0 {
		var err error
		if n, err = strconv.Atoi(args[0]); err != nil || n < 1 {
			return fmt.Errorf("free-ports: bad count %q", args[0])
		}
	}
	var held []io.Closer
	defer func() {
		for _, c := range held {
			_ = c.Close() // idle listeners: closing them only frees the ports
		}
	}()
	for len(held) < 2*n {
		u, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		t, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			_ = u.Close()
			continue
		}
		held = append(held, u, t)
		fmt.Println(port)
	}
	return nil
}

// loopbackServer parses a subcommand's --server, which must be a loopback
// address: this tool only ever loads servers on this machine.
func loopbackServer(cmd, s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return ap, fmt.Errorf("--server: %w", err)
	}
	if !ap.Addr().IsLoopback() {
		return ap, fmt.Errorf("%s: only loopback servers", cmd)
	}
	return ap, nil
}
