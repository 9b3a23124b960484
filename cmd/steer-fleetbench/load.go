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
	Index   int             `json:"index"`
	Change  string          `json:"change,omitempty"` // the state set in this window
	Applied float64         `json:"applied_ms"`       // its call's start → the server answering accordingly (-1: not within the window)
	CallMs  float64         `json:"call_ms,omitempty"`
	GapMs   float64         `json:"gap_ms"` // since the previous window's end (no load meanwhile)
	Sent    uint64          `json:"sent"`
	Lost    uint64          `json:"lost"`
	QPS     float64         `json:"qps"`
	CPU     float64         `json:"server_cpu_pct"`
	Latency loadgen.Latency `json:"latency"`
}

// loadRun is one run: its windows and their comparison. Baseline: the
// windows without a change (the first, warm-up, left out); change: the
// windows with one. Each figure is the median and range over the windows of
// its group.
type loadRun struct {
	Windows    []window `json:"windows"`
	BaseP50    spread   `json:"base_p50_ms"`
	BaseP99    spread   `json:"base_p99_ms"`
	BaseP999   spread   `json:"base_p999_ms"`
	ChangeP50  spread   `json:"change_p50_ms"`
	ChangeP99  spread   `json:"change_p99_ms"`
	ChangeP999 spread   `json:"change_p999_ms"`
	BaseLost   uint64   `json:"base_lost"`
	BaseSent   uint64   `json:"base_sent"`
	ChangeLost uint64   `json:"change_lost"`
	ChangeSent uint64   `json:"change_sent"`
}

// loadResult is everything `load` measured. Over the runs: the median and
// range of each run's median baseline figure and of its worst change
// window, and of the time each change took to show in the answers.
type loadResult struct {
	Label           string     `json:"label"`
	Rate            int        `json:"rate"`
	WindowS         float64    `json:"window_s"`
	Changes         string     `json:"changes"`
	PoP             string     `json:"drain_pop"`
	ServerCPU       string     `json:"server_cpu"`
	Runs            []*loadRun `json:"runs"`
	BaseP50         spread     `json:"base_p50_ms"`
	BaseP99         spread     `json:"base_p99_ms"`
	BaseP999        spread     `json:"base_p999_ms"`
	WorstChangeP50  spread     `json:"worst_change_p50_ms"`
	WorstChangeP99  spread     `json:"worst_change_p99_ms"`
	WorstChangeP999 spread     `json:"worst_change_p999_ms"`
	Applied         spread     `json:"applied_ms"`
	Failures        []string   `json:"failures,omitempty"`
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
	logf("%s on %s (CPU %q): %d runs of %d × %v windows at %d qps; changes %s of PoP %s", d.name, d.addr, *cpu, *repeat, *windows, *width, *rate, *changes, pop)
	for r := range *repeat {
		run := &loadRun{}
		state := "up"
		end := time.Now()
		for w := range *windows {
			win := window{Index: w, Applied: -1, GapMs: msSince(end)}
			var ev event
			var done chan struct{}
			var callErr error
			if i := slices.IndexFunc(chs, func(ch change) bool { return ch.window == w }); i >= 0 {
				ch := chs[i]
				win.Change, state = ch.state, ch.state
				done = make(chan struct{})
				go func() {
					defer close(done)
					t := time.NewTimer(*offset)
					defer t.Stop()
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
					// Bounded by the window's end, so the next window starts on time.
					wctx, wcancel := context.WithTimeout(ctx, *width-*offset)
					defer wcancel()
					start := time.Now()
					wait := f.watch(wctx, start, targets[ch.state], 5*time.Millisecond)
					_, callErr = f.operate.SetState(ctx, string(pop), ch.state, "")
					ev.CallMs = msSince(start)
					wait(&ev)
				}()
			}
			lr, err := loadgen.Run(ctx, loadgen.Options{
				Server: d.addr, Pool: pools[w%len(pools)], Duration: *width, Window: *inflight, Rate: *rate,
				Timeout: time.Second, ServerPID: d.proc.cmd.Process.Pid,
			})
			if done != nil {
				<-done
				if callErr != nil {
					return fmt.Errorf("run %d window %d: %s: %w", r+1, w, win.Change, callErr)
				}
				win.Applied, win.CallMs = ev.P100, ev.CallMs
				if win.Applied < 0 {
					res.Failures = append(res.Failures, fmt.Sprintf("run %d window %d: %s not answered within the window", r+1, w, win.Change))
				}
			}
			if err != nil {
				return err
			}
			end = time.Now()
			win.Sent, win.Lost, win.QPS, win.CPU, win.Latency = lr.Sent, lr.Lost, lr.QPS, lr.ServerCPUPercent, lr.Latency
			run.Windows = append(run.Windows, win)
		}
		if state != "up" {
			// Back to up between runs (not timed), checked by the server's answers.
			st, err := f.operate.SetState(ctx, string(pop), "up", "")
			if err != nil {
				return err
			}
			if err := f.settled(ctx, 0, st.Index, 10*time.Second); err != nil {
				return err
			}
			wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
			_, err = loadgen.Watch(wctx, d.addr, loadgen.DefaultQName, up, 5*time.Millisecond)
			wcancel()
			if err != nil {
				return fmt.Errorf("undrain after run %d: %w", r+1, err)
			}
		}
		run.summarise()
		res.Runs = append(res.Runs, run)
		logf("run %d/%d: p99 baseline %s ms, change windows %s ms; p99.9 baseline %s ms, change %s ms; lost %d/%d, %d/%d",
			r+1, *repeat, run.BaseP99, run.ChangeP99, run.BaseP999, run.ChangeP999, run.BaseLost, run.BaseSent, run.ChangeLost, run.ChangeSent)
	}
	res.summarise()
	return c.writeOutputs(res, res.markdown())
}

func (r *loadRun) summarise() {
	var b50, b99, b999, c50, c99, c999 []float64
	for _, w := range r.Windows {
		switch {
		case w.Change != "":
			c50, c99, c999 = append(c50, w.Latency.P50), append(c99, w.Latency.P99), append(c999, w.Latency.P999)
			r.ChangeLost += w.Lost
			r.ChangeSent += w.Sent
		case w.Index > 0:
			b50, b99, b999 = append(b50, w.Latency.P50), append(b99, w.Latency.P99), append(b999, w.Latency.P999)
			r.BaseLost += w.Lost
			r.BaseSent += w.Sent
		}
	}
	r.BaseP50, r.BaseP99, r.BaseP999 = spreadOf(b50), spreadOf(b99), spreadOf(b999)
	r.ChangeP50, r.ChangeP99, r.ChangeP999 = spreadOf(c50), spreadOf(c99), spreadOf(c999)
}

func (r *loadResult) summarise() {
	var b50, b99, b999, c50, c99, c999, applied []float64
	for _, run := range r.Runs {
		b50, b99, b999 = append(b50, run.BaseP50.Median), append(b99, run.BaseP99.Median), append(b999, run.BaseP999.Median)
		c50, c99, c999 = append(c50, run.ChangeP50.Max), append(c99, run.ChangeP99.Max), append(c999, run.ChangeP999.Max)
		for _, w := range run.Windows {
			if w.Change != "" {
				applied = append(applied, w.Applied)
			}
		}
	}
	r.BaseP50, r.BaseP99, r.BaseP999 = spreadOf(b50), spreadOf(b99), spreadOf(b999)
	r.WorstChangeP50, r.WorstChangeP99, r.WorstChangeP999 = spreadOf(c50), spreadOf(c99), spreadOf(c999)
	r.Applied = spreadOf(applied)
}

// markdown renders one row per run and a summary row, prefixed "load: ".
func (r *loadResult) markdown() string {
	var b strings.Builder
	ms3 := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	sp3 := func(s spread) string { return fmt.Sprintf("%s [%s–%s]", ms3(s.Median), ms3(s.Min), ms3(s.Max)) }
	for i, run := range r.Runs {
		var ch99, applied []string
		var cpu []float64
		for _, w := range run.Windows {
			if w.Change != "" {
				ch99 = append(ch99, w.Change+" "+ms3(w.Latency.P99))
				applied = append(applied, fmtMs(w.Applied))
			}
			if w.Index > 0 {
				cpu = append(cpu, w.CPU)
			}
		}
		fmt.Fprintf(&b, "load: | run %d | %s | %s | %s | %s | %s | %s | %d / %d | %d / %d | %s | %.0f %% |\n",
			i+1, sp3(run.BaseP99), strings.Join(ch99, ", "), sp3(run.BaseP50), sp3(run.ChangeP50), sp3(run.BaseP999), sp3(run.ChangeP999),
			run.BaseLost, run.BaseSent, run.ChangeLost, run.ChangeSent, strings.Join(applied, ", "), quantileMs(cpu, 0.5))
	}
	fmt.Fprintf(&b, "load: | **median [range] of %d runs** | %s | worst: %s | %s | worst: %s | %s | worst: %s | | | %s | |\n",
		len(r.Runs), sp3(r.BaseP99), sp3(r.WorstChangeP99), sp3(r.BaseP50), sp3(r.WorstChangeP50), sp3(r.BaseP999), sp3(r.WorstChangeP999), r.Applied)
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "note: under load: %s\n", f)
	}
	return b.String()
}
