package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/internal/loadgen"
	"github.com/steer-gslb/steer/popmap"
)

// window is one load window of a run.
type window struct {
	Index    int            `json:"index"`
	Change   string         `json:"change,omitempty"` // the state set in this window
	Applied  float64        `json:"applied_ms"`       // its call's start → the server answering accordingly (-1: not within the window)
	CallMs   float64        `json:"call_ms,omitempty"`
	GapMs    float64        `json:"gap_ms"` // since the previous window's end (no load meanwhile)
	Sent     uint64         `json:"sent"`
	Lost     uint64         `json:"lost"`
	QPS      float64        `json:"qps"`
	CPU      float64        `json:"server_cpu_pct"`
	Latency  loadgen.Latency `json:"latency"`
}

// loadRun is one run: its windows and their comparison.
type loadRun struct {
	Windows []window `json:"windows"`
	// Baseline: the windows without a change (the first, warm-up, left
	// out); Change: the windows with one. Per-window figures: median and
	// range over the windows of the group.
	BaseP50, BaseP99, BaseP999 spread `json:"-"`
	ChangeP50, ChangeP99       spread `json:"-"`
	ChangeP999                 spread `json:"-"`
	BaseLost, ChangeLost       uint64 `json:"-"`
	BaseSent, ChangeSent       uint64 `json:"-"`
}

type loadResult struct {
	Label    string     `json:"label"`
	Rate     int        `json:"rate"`
	WindowS  float64    `json:"window_s"`
	Changes  string     `json:"changes"`
	PoP      string     `json:"drain_pop"`
	ServerCPU string    `json:"server_cpu"`
	Runs     []*loadRun `json:"runs"`
	// Over the runs: median and range of each run's median baseline p99,
	// of each run's worst change-window p99, and likewise p50 and p99.9.
	BaseP99, WorstChangeP99   spread `json:"base_p99_ms"`
	BaseP50, WorstChangeP50   spread `json:"-"`
	BaseP999, WorstChangeP999 spread `json:"-"`
	Applied                   spread `json:"applied_ms"`
	Failures                  []string `json:"failures,omitempty"`
}

// change is a state set at the start (plus an offset) of a window.
type change struct {
	window int
	state  string
}

func parseChanges(s string) ([]change, error) {
	var out []change
	for _, f := range strings.Split(s, ",") {
		w, st, ok := strings.Cut(strings.TrimSpace(f), ":")
		i, err := strconv.Atoi(w)
		if !ok || err != nil || i < 1 || st == "" {
			return nil, fmt.Errorf("bad --changes element %q (want WINDOW:STATE, window ≥ 1)", f)
		}
		out = append(out, change{i, st})
	}
	return out, nil
}

func runLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var c common
	c.register(fs)
	rate := fs.Int("rate", 50000, "queries per second")
	windows := fs.Int("windows", 20, "load windows per run")
	width := fs.Duration("window", time.Second, "length of a window")
	changes := fs.String("changes", "5:drain,10:up,15:drain", "WINDOW:STATE,…: PoP state set in those windows")
	offset := fs.Duration("offset", 100*time.Millisecond, "a change is made this long into its window")
	repeat := fs.Int("repeat", 3, "runs")
	inflight := fs.Int("inflight", 1024, "the load generator's window of queries in flight")
	cpu := fs.String("server-cpu", "0", "pin steer-dns to this CPU list with taskset (\"\": no pinning)")
	label := fs.String("label", "", "the map's description in the table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
		return err
	}
	chs, err := parseChanges(*changes)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	ps := &procs{pidFile: filepath.Join(c.dir, "pids")}
	defer ps.stopAll()
	pops, err := c.pops()
	if err != nil {
		return err
	}
	mapPath := filepath.Join(c.world, loadgen.MapFile)
	m, err := popmap.ReadFile(mapPath)
	if err != nil {
		return err
	}
	f, err := startControl(ctx, ps, c.dir, c.steer, pops, 5*time.Second)
	if err != nil {
		return err
	}
	pub, err := f.publish.Publish(ctx, control.PublishRequest{Map: m, Source: "steer-fleetbench"})
	if err != nil {
		return fmt.Errorf("publishing version 1: %w", err)
	}
	var prefix []string
	if *cpu != "" {
		prefix = []string{"taskset", "-c", *cpu}
	}
	if err := f.startDNS(ctx, 1, c.steerDNS, prefix); err != nil {
		return err
	}
	d := f.dns[0]
	chk, err := loadgen.NewChecker(d.config, mapPath, loadgen.DefaultQName)
	if err != nil {
		return err
	}
	all := loadgen.ECSPrefixes(m, 1<<30, 13)
	wctx, wcancel := context.WithTimeout(ctx, 2*time.Minute)
	_, err = loadgen.Watch(wctx, d.addr, loadgen.DefaultQName, chk.Targets(all[:4]), 10*time.Millisecond)
	wcancel()
	if err != nil {
		return fmt.Errorf("%s not serving version %d: %w", d.name, pub.Version, err)
	}
	if err := f.settled(ctx, pub.Version, 0, time.Minute); err != nil {
		return err
	}
	pop, drained, up := drainTargets(chk.Table(), pops, all[:20000], 4)
	if pop == "" {
		return errors.New("no PoP to drain")
	}
	targets := map[string][]loadgen.Target{"drain": drained, "down": drained, "up": up}
	for _, ch := range chs {
		if targets[ch.state] == nil || ch.window >= *windows {
			return fmt.Errorf("--changes: %d:%s: state must be drain, down or up, window below %d", ch.window, ch.state, *windows)
		}
	}
	// One pool per window, each its own ECS /24s, so that no window
	// repeats the queries (and the cache lines) of the one before.
	per := int(float64(*rate)*width.Seconds()*1.05) + 1
	var pools []*loadgen.Pool
	for i := 0; i < *windows && (i+1)*per <= len(all); i++ {
		p, err := loadgen.NewPool(loadgen.DefaultQName, dns.TypeA, all[i*per:(i+1)*per])
		if err != nil {
			return err
		}
		pools = append(pools, p)
	}
	if len(pools) == 0 {
		return fmt.Errorf("the map has %d IPv4 /24s, fewer than one window's %d queries", len(all), per)
	}
	m, all = nil, nil
	runtime.GC()
	res := &loadResult{Label: *label, Rate: *rate, WindowS: width.Seconds(), Changes: *changes, PoP: string(pop), ServerCPU: *cpu}
	logf("%s on %s (CPU %q): %d runs of %d × %v windows at %d qps; %s drains of %s", d.name, d.addr, *cpu, *repeat, *windows, *width, *rate, *changes, pop)
	for r := range *repeat {
		run := &loadRun{}
		end := time.Now()
		state := "up"
		for w := range *windows {
			win := window{Index: w, Applied: -1, GapMs: msSince(end)}
			var wait func(*event)
			var callErr error
			var ev event
			for _, ch := range chs {
				if ch.window != w {
					continue
				}
				win.Change, state = ch.state, ch.state
				t := time.AfterFunc(*offset, func() {
					wctx, wcancel := context.WithTimeout(ctx, *width-*offset)
					start := time.Now()
					done := f.watch(wctx, start, targets[ch.state], 5*time.Millisecond)
					_, callErr = f.operate.SetState(ctx, string(pop), ch.state, "")
					ev.CallMs = msSince(start)
					done(&ev)
					wcancel()
				})
				wait = func(ev *event) {
					// The timer fired: the window is longer than the offset.
					for t.Stop() {
					}
				}
				_ = wait
			}
			lr, err := loadgen.Run(ctx, loadgen.Options{
				Server: d.addr, Pool: pools[w%len(pools)], Duration: *width, Window: *inflight, Rate: *rate,
				Timeout: time.Second, ServerPID: d.proc.cmd.Process.Pid,
			})
			if err != nil {
				return err
			}
			end = time.Now()
			win.Sent, win.Lost, win.QPS, win.CPU, win.Latency = lr.Sent, lr.Lost, lr.QPS, lr.ServerCPUPercent, lr.Latency
			run.Windows = append(run.Windows, win)
		}
		_ = state
		res.Runs = append(res.Runs, run)
	}
	return c.writeOutputs(res, "")
}
