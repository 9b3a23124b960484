package fleetbench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/internal/loadgen"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/rttfile"
)

// window is one load window of a run.
type window struct {
	Index int `json:"index"`
	// Change is what the bench did 100 ms into the window; States, the
	// state indexes the DNS server applied during the window (its /healthz,
	// polled every 10 ms): a PoP state, or the load controller's moves;
	// Moves, the networks moved in each (-1: not a load-moves state).
	Change string   `json:"change,omitempty"`
	States []uint64 `json:"states,omitempty"`
	Moves  []int    `json:"moves,omitempty"`
	// Applied: for each of States, its commit (the control server's log,
	// ms resolution) → the server's /healthz showing it (10 ms polls); -1:
	// no commit time.
	Applied []float64 `json:"applied_ms,omitempty"`
	// For a PoP state set in this window: the call's duration, and its
	// start → the server answering accordingly (5 ms probes; -1: not
	// within 10 s), however many windows later.
	CallMs   float64 `json:"call_ms,omitempty"`
	Answered float64 `json:"answered_ms,omitempty"`
	GapMs    float64 `json:"gap_ms"` // since the previous window's load ended
	Sent     uint64  `json:"sent"`
	Lost     uint64  `json:"lost"`
	QPS      float64 `json:"qps"`
	CPU      float64 `json:"server_cpu_pct"`
	// Others is the CPU time of every process but the server, the control
	// server and this bench during the window, in % of one core: the
	// machine's neighbours.
	Others     float64         `json:"others_cpu_pct"`
	ControlCPU float64         `json:"control_cpu_pct"`
	Latency    loadgen.Latency `json:"latency"`
	// SeriesP99 is the p99 of each 100 ms of the window, by send time:
	// where in the window a slow spell was.
	SeriesP99 []float64   `json:"series_p99_ms"`
	appliedAt []time.Time // when the server applied each of States
}

func (w *window) changed() bool { return len(w.States) > 0 }

// loadRun is one run: its windows and their comparison. Baseline: the
// windows in which the fleet's state did not change (the first, warm-up,
// left out); change: those in which it did. Each figure is the median and
// range over the windows of its group.
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
	// The same, over the windows in which the machine's other work used
	// less than quietCPU % of a core.
	QuietBaseP99   spread `json:"quiet_base_p99_ms"`
	QuietChangeP99 spread `json:"quiet_change_p99_ms"`
}

// quietCPU is the neighbours' CPU (% of one core) under which a window
// counts as quiet.
const quietCPU = 10

// loadResult is everything `load` measured. Over the runs: the median and
// range of each run's median baseline figure and of its worst change
// window, and of the time each change took to reach the server.
type loadResult struct {
	Label           string     `json:"label"`
	Networks        int        `json:"networks"`
	Rate            int        `json:"rate"`
	WindowS         float64    `json:"window_s"`
	Changes         string     `json:"changes"`
	PoP             string     `json:"pop"`
	ServerCPU       string     `json:"server_cpu"`
	Runs            []*loadRun `json:"runs"`
	BaseP50         spread     `json:"base_p50_ms"`
	BaseP99         spread     `json:"base_p99_ms"`
	BaseP999        spread     `json:"base_p999_ms"`
	WorstChangeP50  spread     `json:"worst_change_p50_ms"`
	WorstChangeP99  spread     `json:"worst_change_p99_ms"`
	WorstChangeP999 spread     `json:"worst_change_p999_ms"`
	Applied         spread     `json:"applied_ms"`
	Answered        spread     `json:"answered_ms"`
	// Over the runs: each run's quiet baseline median, and the p99 of every
	// quiet change window.
	QuietBaseP99   spread   `json:"quiet_base_p99_ms"`
	QuietChangeP99 spread   `json:"quiet_change_p99_ms"`
	ChangeWindows  int      `json:"change_windows"`
	MaxMoved       int      `json:"max_moved_networks"`
	Failures       []string `json:"failures,omitempty"`
}

// change is what the bench does at the start (plus an offset) of a window:
// a PoP admin state (drain, down, anycast, up), or the PoP's reported
// load (overload, normal) from then on.
type change struct {
	window int
	what   string
}

// Reported utilization of the PoP for overload and normal; the load
// controller moves networks off a PoP above its target (0.8).
var loadLevels = map[string]float64{"overload": 0.95, "normal": 0.5}

func parseChanges(s string) ([]change, error) {
	var out []change
	for _, f := range strings.Split(s, ",") {
		w, what, ok := strings.Cut(strings.TrimSpace(f), ":")
		i, err := strconv.Atoi(w)
		if !ok || err != nil || i < 1 {
			return nil, fmt.Errorf("bad --changes element %q (want WINDOW:WHAT, window ≥ 1)", f)
		}
		switch what {
		case "drain", "down", "anycast", "up", "overload", "normal":
		default:
			return nil, fmt.Errorf("--changes %q: %q is not drain, down, anycast, up, overload or normal", f, what)
		}
		out = append(out, change{i, what})
	}
	return out, nil
}

// RunLoad is `steer-fleetbench load ARGS`: latency around state changes under load.
func RunLoad(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("load", flag.ExitOnError)
	var c common
	c.register(fs)
	rate := fs.Int("rate", 50000, "queries per second")
	windows := fs.Int("windows", 20, "load windows per run")
	width := fs.Duration("window", time.Second, "length of a window")
	changes := fs.String("changes", "5:drain,10:up,15:drain", "WINDOW:WHAT,…: a PoP state (drain, down, anycast, up) or its reported load (overload, normal) set in those windows")
	offset := fs.Duration("offset", 100*time.Millisecond, "a change is made this long into its window")
	repeat := fs.Int("repeat", 3, "runs")
	inflight := fs.Int("inflight", 1024, "the load generator's window of queries in flight")
	cpu := fs.String("server-cpu", "0", "pin steer-dns to this CPU list with taskset (\"\": no pinning)")
	ctlNice := fs.Int("control-nice", 19, "run the control server at this nice level (0: not niced)")
	ctlIdle := fs.Bool("control-idle", false, "run the control server under SCHED_IDLE (chrt --idle 0) instead of a nice level: "+
		"a niced task keeps the core for its slice when the load generator wakes, a SCHED_IDLE one is preempted at once")
	ctlCPU := fs.String("control-cpu", "", "pin the control server to this CPU list (\"\": the bench's own)")
	period := fs.Duration("load-period", 5*time.Second, "the control server's load-controller period")
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
	moves := slices.ContainsFunc(chs, func(ch change) bool { return loadLevels[ch.what] > 0 })
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
	res := &loadResult{Label: *label, Rate: *rate, WindowS: width.Seconds(), Changes: *changes, ServerCPU: *cpu}
	for _, e := range m.Entries {
		res.Networks += len(e.Networks)
	}
	// bench/fleet.sh puts the control server on the load generator's core
	// under SCHED_IDLE, so that its work (the load controller's above all)
	// delays itself rather than the load generator's timestamps or the
	// server. At nice 19 the windows in which its load periods ran (the
	// windows with a new move set) had 100 ms buckets of 9-33 ms: a niced
	// task runs out its slice when the generator wakes (as the DNS server's
	// reload build did, issue #14).
	var ctlPrefix []string
	if *ctlCPU != "" {
		ctlPrefix = append(ctlPrefix, "taskset", "-c", *ctlCPU)
	}
	switch {
	case *ctlIdle:
		ctlPrefix = append(ctlPrefix, "chrt", "--idle", "0")
	case *ctlNice != 0:
		ctlPrefix = append(ctlPrefix, "nice", "-n", strconv.Itoa(*ctlNice))
	}
	f, err := startControl(ctx, ps, c.dir, c.steer, pops, *period, ctlPrefix)
	if err != nil {
		return err
	}
	rtt := ""
	if moves {
		// The load controller needs the builder's RTT file: every network
		// weighs 1, 10 ms to its first PoP and 20 ms to its second.
		rtt = filepath.Join(c.dir, "map.rtt.tsv")
		if err := writeSyntheticRTT(rtt, m); err != nil {
			return err
		}
	}
	pub, err := f.publish.PublishFile(ctx, mapPath, rtt, false, "steer-fleetbench")
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
	res.PoP = string(pop)
	targets := map[string][]loadgen.Target{"drain": drained, "down": drained, "up": up}
	for _, ch := range chs {
		if ch.window >= *windows {
			return fmt.Errorf("--changes: %d:%s: the window must be below %d", ch.window, ch.what, *windows)
		}
		if ch.what == "anycast" {
			return errors.New("--changes: anycast is not timed (its answer is the record's default)")
		}
	}
	// One pool per window, each the next ECS /24s of the map (wrapping
	// around), so that a window does not replay the queries (and the cache
	// lines) of the one before when the map has enough networks.
	per := int(float64(*rate)*width.Seconds()*1.05) + 1
	pools := make([]*loadgen.Pool, *windows)
	for i := range pools {
		ecs := make([]netip.Prefix, min(per, len(all)))
		for k := range ecs {
			ecs[k] = all[(i*per+k)%len(all)]
		}
		if pools[i], err = loadgen.NewPool(loadgen.DefaultQName, dns.TypeA, ecs); err != nil {
			return err
		}
	}
	m, all = nil, nil
	runtime.GC()

	tk := &track{admin: d.admin}
	go tk.run(ctx)
	if err := tk.quiet(ctx, f, false, time.Minute); err != nil {
		return err
	}
	// The control server loads the version's load controller (a parse of
	// the map and its RTT file) after the publish, on the load generator's
	// core: windows measured meanwhile had p99s of 1.2-6.8 ms against
	// 0.4-1.4 ms after it (per-window control_cpu_pct ~45 %, then 2-4 %).
	waited, err := f.waitIdle(ctx, 250*time.Millisecond, time.Minute)
	if err != nil {
		return err
	}
	logf("control server and %s idle after %s ms", d.name, fmtMs(float64(waited)/1e6))
	var rep *reporter
	if moves {
		rep = &reporter{f: f, pop: string(pop), level: loadLevels["normal"]}
		go rep.run(ctx)
	}
	logf("%s on %s (CPU %q): %d runs of %d × %v windows at %d qps; changes %s of PoP %s", d.name, d.addr, *cpu, *repeat, *windows, *width, *rate, *changes, pop)
	for r := range *repeat {
		run := &loadRun{}
		state := "up"
		end := time.Now()
		// A PoP state's call and the wait for the server's answers run on
		// past their window (the next windows start on time); the run
		// waits for them at its end.
		var calls sync.WaitGroup
		var callMu sync.Mutex
		var callErr error // guarded by callMu
		answered := map[int]*event{}
		for w := range *windows {
			win := window{Index: w, GapMs: msSince(end)}
			start := time.Now()
			cpu0 := f.cpu(d)
			ctl0, _ := loadgen.ProcCPU(f.ctl.cmd.Process.Pid)
			if i := slices.IndexFunc(chs, func(ch change) bool { return ch.window == w }); i >= 0 {
				ch := chs[i]
				win.Change = ch.what
				ev := &event{Kind: ch.what, P100: -1}
				if _, ok := loadLevels[ch.what]; !ok {
					answered[w] = ev
					state = ch.what
				}
				calls.Go(func() {
					t := time.NewTimer(*offset)
					defer t.Stop()
					select {
					case <-ctx.Done():
						return
					case <-t.C:
					}
					if lv, ok := loadLevels[ch.what]; ok {
						rep.set(lv)
						return
					}
					wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
					defer wcancel()
					start := time.Now()
					wait := f.watch(wctx, start, targets[ch.what], 5*time.Millisecond)
					st, err := f.operate.SetState(ctx, string(pop), ch.what, "")
					ev.CallMs = msSince(start)
					if err != nil {
						callMu.Lock()
						callErr = fmt.Errorf("run %d window %d: %s: %w", r+1, w, ch.what, err)
						callMu.Unlock()
					} else {
						ev.Index = st.Index
					}
					wait(ev)
				})
			}
			lr, err := loadgen.Run(ctx, loadgen.Options{
				Server: d.addr, Pool: pools[w], Duration: *width, Window: *inflight, Rate: *rate,
				Timeout: time.Second, ServerPID: d.proc.cmd.Process.Pid,
			})
			if err != nil {
				return err
			}
			end = time.Now()
			win.Others = cpuPct(f.cpu(d)-cpu0, end.Sub(start))
			ctl1, _ := loadgen.ProcCPU(f.ctl.cmd.Process.Pid)
			win.ControlCPU = cpuPct(ctl1-ctl0, end.Sub(start))
			for _, pt := range lr.Series {
				win.SeriesP99 = append(win.SeriesP99, pt.P99)
			}
			win.Sent, win.Lost, win.QPS, win.CPU, win.Latency = lr.Sent, lr.Lost, lr.QPS, lr.ServerCPUPercent, lr.Latency
			for _, c := range tk.between(start, end) {
				win.States = append(win.States, c.index)
				win.appliedAt = append(win.appliedAt, c.at)
			}
			run.Windows = append(run.Windows, win)
		}
		calls.Wait()
		if callErr != nil {
			return callErr
		}
		for w, ev := range answered {
			run.Windows[w].Answered = ev.P100
			run.Windows[w].CallMs = ev.CallMs
			if ev.P100 < 0 {
				res.Failures = append(res.Failures, fmt.Sprintf("run %d window %d: %s (index %d) not in the server's answers within 10 s", r+1, w, ev.Kind, ev.Index))
			}
		}
		// Back to the starting point between runs (not timed).
		if rep != nil {
			rep.set(loadLevels["normal"])
		}
		if state != "up" {
			if _, err := f.operate.SetState(ctx, string(pop), "up", ""); err != nil {
				return err
			}
		}
		if err := tk.quiet(ctx, f, moves, time.Minute); err != nil {
			return fmt.Errorf("after run %d: %w", r+1, err)
		}
		cm := commits(filepath.Join(f.dir, "control", "control.log"))
		for i := range run.Windows {
			w := &run.Windows[i]
			for j, idx := range w.States {
				c, ok := cm[idx]
				applied := -1.0
				if ok {
					applied = float64(w.appliedAt[j].Sub(c.at)) / 1e6
				}
				w.Applied = append(w.Applied, applied)
				w.Moves = append(w.Moves, c.moved)
				res.MaxMoved = max(res.MaxMoved, c.moved)
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

// writeSyntheticRTT writes an RTT file for m to path: every network weighs
// 1, with 10 ms to its first ranked PoP, 20 ms to the second, and so on.
func writeSyntheticRTT(path string, m *popmap.Map) error {
	var es []rttfile.Entry
	for _, e := range m.Entries {
		ranked := make([]rttfile.Choice, len(e.Labels))
		for i, l := range e.Labels {
			ranked[i] = rttfile.Choice{Label: l, RTT: float64(10 * (i + 1))}
		}
		for _, p := range e.Networks {
			es = append(es, rttfile.Entry{Network: p, Weight: 1, Ranked: ranked})
		}
	}
	var b bytes.Buffer
	if err := rttfile.Write(&b, es); err != nil {
		return err
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// reporter posts every PoP's load every 500 ms, as the load controller
// needs it (a PoP without a report neither sheds nor receives): the bench's
// PoP at level × capacity × (1 − the share moved off it), so that the
// controller's loop closes as in production, every other PoP at 30 % of its
// capacity (receivers with room).
type reporter struct {
	f   *fleet
	pop string

	mu    sync.Mutex
	level float64 // guarded by mu
}

const receiverLevel = 0.3

func (r *reporter) set(level float64) {
	r.mu.Lock()
	r.level = level
	r.mu.Unlock()
}

func (r *reporter) run(ctx context.Context) {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		r.mu.Lock()
		level := r.level
		r.mu.Unlock()
		moved := 0.0
		if ps, err := r.f.operate.PoPs(ctx); err == nil {
			for _, p := range ps {
				if string(p.Label) == r.pop {
					moved = p.MovedShare
				}
			}
		}
		for _, p := range r.f.pops {
			l := receiverLevel
			if string(p.Label) == r.pop {
				l = level * (1 - min(moved, 1))
			}
			// Capacity 0: the PoP's configured one (100), so load = utilization × 100.
			_ = r.f.operate.ReportLoad(ctx, string(p.Label), 100*l, 0) // a lost report: the next comes in 500 ms
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// track polls the DNS server's /healthz every 10 ms and records every
// change of the state index it has applied: when the server itself did the
// work, free of the control server's delays.
type track struct {
	admin string

	mu      sync.Mutex
	changes []indexAt // guarded by mu
}

type indexAt struct {
	index uint64
	at    time.Time
}

var stateIndexField = regexp.MustCompile(`state_index=(\d+)`)

func (t *track) run(ctx context.Context) {
	hc := &http.Client{Timeout: time.Second}
	var last uint64
	for ctx.Err() == nil {
		if idx, ok := t.fetch(ctx, hc); ok && idx != last {
			last = idx
			t.mu.Lock()
			t.changes = append(t.changes, indexAt{idx, time.Now()})
			t.mu.Unlock()
		}
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond): // the poll interval: the resolution of the times
		}
	}
}

func (t *track) fetch(ctx context.Context, hc *http.Client) (uint64, bool) {
	rq, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.admin+"/healthz", nil)
	if err != nil {
		return 0, false
	}
	resp, err := hc.Do(rq)
	if err != nil {
		return 0, false
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4096))
	m := stateIndexField.FindSubmatch(b)
	if err != nil || m == nil {
		return 0, false
	}
	idx, err := strconv.ParseUint(string(m[1]), 10, 64)
	return idx, err == nil
}

// last is the server's latest index and when it got it.
func (t *track) last() indexAt {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.changes) == 0 {
		return indexAt{}
	}
	return t.changes[len(t.changes)-1]
}

// between returns the changes in [from, to).
func (t *track) between(from, to time.Time) []indexAt {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []indexAt
	for _, c := range t.changes {
		if !c.at.Before(from) && c.at.Before(to) {
			out = append(out, c)
		}
	}
	return out
}

// quiet waits until the server has applied the control server's current
// state and held it for three seconds (moves: a state without moves).
func (t *track) quiet(ctx context.Context, f *fleet, moves bool, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		cur, err := f.state(ctx)
		if err != nil {
			return fmt.Errorf("waiting for a quiet state: %w", err)
		}
		last := t.last()
		if last.index == cur.Index && time.Since(last.at) > 3*time.Second && (!moves || cur.PatchSHA256 == "") {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("state still changing after %v (control index %d, server %d, moves %v)", within, cur.Index, last.index, cur.PatchSHA256 != "")
		case <-time.After(50 * time.Millisecond): // poll interval, bounded by the deadline above
		}
	}
}

// state is GET /v1/state: the control server's current state.
func (f *fleet) state(ctx context.Context) (*control.State, error) {
	rq, err := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v1/state", nil)
	if err != nil {
		return nil, err
	}
	rq.Header.Set("Authorization", "Bearer "+f.read)
	resp, err := http.DefaultClient.Do(rq)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /v1/state: %s", resp.Status)
	}
	var st control.State
	return &st, json.NewDecoder(resp.Body).Decode(&st)
}

// commit is a state index as the control server's log has it.
type commit struct {
	at    time.Time
	moved int // networks moved (load moves), -1 when the line says nothing
}

var (
	logTime  = regexp.MustCompile(`^time=(\S+)`)
	logIndex = regexp.MustCompile(` index=(\d+)`)
	logMoves = regexp.MustCompile(`msg="load moves" .*\bmoves=(\d+)`)
)

// commits reads when the control server committed each state index
// ("pop state" and "load moves" lines, millisecond times).
func commits(path string) map[uint64]commit {
	out := map[uint64]commit{}
	b, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(b), "\n") {
		tm, im := logTime.FindStringSubmatch(line), logIndex.FindStringSubmatch(line)
		if tm == nil || im == nil {
			continue
		}
		at, err1 := time.Parse(time.RFC3339Nano, tm[1])
		idx, err2 := strconv.ParseUint(im[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		c := commit{at: at, moved: -1}
		if mm := logMoves.FindStringSubmatch(line); mm != nil {
			c.moved, _ = strconv.Atoi(mm[1])
		}
		out[idx] = c
	}
	return out
}

func (r *loadRun) summarise() {
	var b50, b99, b999, c50, c99, c999, qb99, qc99 []float64
	for _, w := range r.Windows {
		switch {
		case w.changed():
			c50, c99, c999 = append(c50, w.Latency.P50), append(c99, w.Latency.P99), append(c999, w.Latency.P999)
			r.ChangeLost += w.Lost
			r.ChangeSent += w.Sent
			if w.Others < quietCPU {
				qc99 = append(qc99, w.Latency.P99)
			}
		case w.Index > 0:
			b50, b99, b999 = append(b50, w.Latency.P50), append(b99, w.Latency.P99), append(b999, w.Latency.P999)
			r.BaseLost += w.Lost
			r.BaseSent += w.Sent
			if w.Others < quietCPU {
				qb99 = append(qb99, w.Latency.P99)
			}
		}
	}
	r.BaseP50, r.BaseP99, r.BaseP999 = spreadOf(b50), spreadOf(b99), spreadOf(b999)
	r.ChangeP50, r.ChangeP99, r.ChangeP999 = spreadOf(c50), spreadOf(c99), spreadOf(c999)
	r.QuietBaseP99, r.QuietChangeP99 = spreadOf(qb99), spreadOf(qc99)
}

func (r *loadResult) summarise() {
	var b50, b99, b999, c50, c99, c999, applied, answered, qb99, qc99 []float64
	for _, run := range r.Runs {
		b50, b99, b999 = append(b50, run.BaseP50.Median), append(b99, run.BaseP99.Median), append(b999, run.BaseP999.Median)
		c50, c99, c999 = append(c50, run.ChangeP50.Max), append(c99, run.ChangeP99.Max), append(c999, run.ChangeP999.Max)
		if run.QuietBaseP99.N > 0 {
			qb99 = append(qb99, run.QuietBaseP99.Median)
		}
		for _, w := range run.Windows {
			applied = append(applied, w.Applied...)
			if w.CallMs != 0 {
				answered = append(answered, w.Answered)
			}
			if w.changed() {
				r.ChangeWindows++
				if w.Others < quietCPU {
					qc99 = append(qc99, w.Latency.P99)
				}
			}
		}
	}
	r.QuietBaseP99, r.QuietChangeP99 = spreadOf(qb99), spreadOf(qc99)
	r.BaseP50, r.BaseP99, r.BaseP999 = spreadOf(b50), spreadOf(b99), spreadOf(b999)
	r.WorstChangeP50, r.WorstChangeP99, r.WorstChangeP999 = spreadOf(c50), spreadOf(c99), spreadOf(c999)
	r.Applied, r.Answered = spreadOf(applied), spreadOf(answered)
}

// markdown renders one row per run and a summary row, prefixed "load: ".
func (r *loadResult) markdown() string {
	var b strings.Builder
	ms3 := func(v float64) string { return strconv.FormatFloat(v, 'f', 3, 64) }
	sp3 := func(s spread) string { return fmt.Sprintf("%s [%s–%s]", ms3(s.Median), ms3(s.Min), ms3(s.Max)) }
	quiet := func(s spread) string {
		if s.N == 0 {
			return "none quiet"
		}
		return fmt.Sprintf("%s (%d)", sp3(s), s.N)
	}
	what := r.Label + ": " + r.Changes
	if r.MaxMoved > 0 {
		what += fmt.Sprintf(" (up to %d networks moved)", r.MaxMoved)
	}
	for i, run := range r.Runs {
		var ch99, applied, answered []string
		var cpu, ctl, othersBase, othersChange []float64
		for _, w := range run.Windows {
			switch {
			case w.changed():
				othersChange = append(othersChange, w.Others)
			case w.Index > 0:
				othersBase = append(othersBase, w.Others)
			}
			if w.changed() {
				ch99 = append(ch99, fmt.Sprintf("w%d %s (%.0f %%)", w.Index, ms3(w.Latency.P99), w.Others))
				for _, a := range w.Applied {
					applied = append(applied, fmtMs(a))
				}
			}
			if w.Index > 0 {
				cpu, ctl = append(cpu, w.CPU), append(ctl, w.ControlCPU)
			}
			if w.CallMs != 0 {
				answered = append(answered, fmt.Sprintf("%s %s", w.Change, fmtMs(w.Answered)))
			}
		}
		fmt.Fprintf(&b, "load: | %s | run %d | %s | %s | %s | %s | %s | %s | %s | %d / %d | %d / %d | %s | %s | %.0f %% / %.0f %% | %.0f %% / %.0f %% |\n",
			what, i+1, sp3(run.BaseP99), strings.Join(ch99, ", "), quiet(run.QuietBaseP99), sp3(run.BaseP50), sp3(run.ChangeP50), sp3(run.BaseP999), sp3(run.ChangeP999),
			run.BaseLost, run.BaseSent, run.ChangeLost, run.ChangeSent, strings.Join(applied, ", "), strings.Join(answered, ", "), quantileMs(cpu, 0.5), quantileMs(ctl, 0.5),
			quantileMs(othersBase, 0.5), quantileMs(othersChange, 0.5))
	}
	fmt.Fprintf(&b, "load: | %s | **median [range] of %d runs** | **%s** | worst per run: **%s**; quiet ones: %s | %s | %s | worst: %s | %s | worst: %s | | | %s | %s | | |\n",
		what, len(r.Runs), sp3(r.BaseP99), sp3(r.WorstChangeP99), quiet(r.QuietChangeP99), quiet(r.QuietBaseP99), sp3(r.BaseP50), sp3(r.WorstChangeP50), sp3(r.BaseP999), sp3(r.WorstChangeP999), r.Applied, r.Answered)
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "note: under load (%s): %s\n", r.Changes, f)
	}
	return b.String()
}
