package fleetbench

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/internal/loadgen"
	"github.com/steer-gslb/steer/popmap"
)

// event is one timed change: an API call, then every server's DNS answers.
type event struct {
	Kind    string `json:"kind"` // publish, drain, up
	Version int    `json:"version,omitempty"`
	Index   uint64 `json:"index,omitempty"`
	// CallMs is the API call's own duration; ServerMs, per server, the time
	// from the call's start to the reply that showed the change (-1: not
	// within the deadline). P50 and P100 are over ServerMs.
	CallMs   float64   `json:"call_ms"`
	ServerMs []float64 `json:"server_ms"`
	P50      float64   `json:"p50_ms"`
	P100     float64   `json:"p100_ms"`
	// ReloadMs is, per server, how long its map reload took by its own log
	// ("snapshot loaded … took="), for publishes; -1 when not found.
	ReloadMs []float64 `json:"reload_ms,omitempty"`
	Rounds   int       `json:"probe_rounds"`
	Errors   int       `json:"probe_errors"`
}

// timed starts a Watch per server for targets, then runs call, and returns
// the event: every time is from just before call.
func (f *fleet) timed(ctx context.Context, kind string, targets []loadgen.Target, poll, within time.Duration, call func(context.Context) error) (*event, error) {
	ev := &event{Kind: kind}
	wctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	start := time.Now()
	wait := f.watch(wctx, start, targets, poll)
	err := call(ctx)
	ev.CallMs = msSince(start)
	if err != nil {
		cancel()
		wait(ev)
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	wait(ev)
	return ev, nil
}

// watch starts a Watch of every server; the function it returns waits for
// them and fills ev's server times (from start), P50, P100 and probe counts.
func (f *fleet) watch(ctx context.Context, start time.Time, targets []loadgen.Target, poll time.Duration) func(ev *event) {
	done := make([]loadgen.WatchResult, len(f.dns))
	var wg sync.WaitGroup
	for i, d := range f.dns {
		wg.Go(func() { done[i], _ = loadgen.Watch(ctx, d.addr, loadgen.DefaultQName, targets, poll) })
	}
	return func(ev *event) {
		wg.Wait()
		ev.ServerMs = make([]float64, len(done))
		for i, r := range done {
			ev.ServerMs[i] = -1
			if !r.Done.IsZero() {
				ev.ServerMs[i] = float64(r.Done.Sub(start)) / 1e6
			}
			ev.Rounds += r.Rounds
			ev.Errors += r.Errors
		}
		ev.P50, ev.P100 = quantileMs(ev.ServerMs, 0.5), quantileMs(ev.ServerMs, 1)
	}
}

func msSince(t time.Time) float64 { return float64(time.Since(t)) / 1e6 }

// quantileMs is the q-quantile of the times (nearest rank); a -1 (never)
// ranks above every time and makes the result -1.
func quantileMs(ms []float64, q float64) float64 {
	if len(ms) == 0 {
		return 0
	}
	s := slices.Clone(ms)
	slices.SortFunc(s, func(a, b float64) int {
		switch {
		case a == b:
			return 0
		case a < 0:
			return 1
		case b < 0:
			return -1
		case a < b:
			return -1
		}
		return 1
	})
	i := int(q*float64(len(s)-1) + 0.5)
	return s[i]
}

// spread is the median and range of a series of measurements.
type spread struct {
	N      int     `json:"n"`
	Median float64 `json:"median"`
	Min    float64 `json:"min"`
	Max    float64 `json:"max"`
}

func spreadOf(v []float64) spread {
	if len(v) == 0 {
		return spread{}
	}
	return spread{N: len(v), Median: quantileMs(v, 0.5), Min: quantileMs(v, 0), Max: quantileMs(v, 1)}
}

// String is "median [min–max]" in milliseconds.
func (s spread) String() string {
	return fmt.Sprintf("%s [%s–%s]", fmtMs(s.Median), fmtMs(s.Min), fmtMs(s.Max))
}

// fmtMs formats milliseconds ("never" for -1).
func fmtMs(v float64) string {
	switch {
	case v < 0:
		return "never"
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	default:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
}

// fleetResult is everything `fleet` measured.
type fleetResult struct {
	Label       string    `json:"label"`
	Networks    int       `json:"networks"`
	MapBytes    int64     `json:"map_bytes"`
	Servers     int       `json:"servers"`
	Probes      int       `json:"probes_per_server"`
	PollMs      float64   `json:"poll_ms"`
	Idle        bool      `json:"idle"`     // each publish waited for an idle fleet (--idle)
	StartMs     []float64 `json:"start_ms"` // process start → serving version 1, per server
	Publishes   []*event  `json:"publishes"`
	Drains      []*event  `json:"drains"`
	PublishP100 spread    `json:"publish_p100_ms"`
	PublishP50  spread    `json:"publish_p50_ms"`
	PublishCall spread    `json:"publish_call_ms"`
	Reload      spread    `json:"reload_ms"` // every server's map reload of every publish
	DrainP100   spread    `json:"drain_p100_ms"`
	DrainP50    spread    `json:"drain_p50_ms"`
	UpP100      spread    `json:"up_p100_ms"`
	UpP50       spread    `json:"up_p50_ms"`
	StateCall   spread    `json:"state_call_ms"`
	DrainPoP    string    `json:"drain_pop"`
	Failures    []string  `json:"failures,omitempty"`
}

// RunFleet is `steer-fleetbench fleet ARGS`: publish and drain timings.
func RunFleet(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("fleet", flag.ExitOnError)
	var c common
	c.register(fs)
	servers := fs.Int("servers", 10, "DNS servers")
	publishes := fs.Int("publishes", 5, "timed publishes (alternating map-next.json and map.json)")
	drains := fs.Int("drains", 10, "timed drains, each followed by a timed undrain (up)")
	probes := fs.Int("probes", 4, "tracked ECS prefixes per server")
	poll := fs.Duration("poll", 5*time.Millisecond, "probe interval")
	publishWithin := fs.Duration("publish-within", 60*time.Second, "deadline for a publish to reach every server")
	stateWithin := fs.Duration("state-within", 10*time.Second, "deadline for a drain or undrain to reach every server")
	label := fs.String("label", "", "the map's description in the table")
	idle := fs.Bool("idle", false, "before each timed publish, wait until the fleet has finished with the previous one: "+
		"the control server and every DNS server together under 5 % of a core over 250 ms (up to 15 s); "+
		"without it a publish starts as soon as every server reports the previous version, while they still write it and build its direct /24 table")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := c.check(); err != nil {
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
	res := &fleetResult{Label: *label, Servers: *servers, Probes: *probes, PollMs: float64(*poll) / 1e6, Idle: *idle}
	paths := [2]string{filepath.Join(c.world, loadgen.MapFile), filepath.Join(c.world, loadgen.NextMapFile)}
	var mp [2]*popmap.Map
	for i, p := range paths {
		if mp[i], err = popmap.ReadFile(p); err != nil {
			return err
		}
	}
	if st, err := os.Stat(paths[0]); err == nil {
		res.MapBytes = st.Size()
	}
	for _, e := range mp[0].Entries {
		res.Networks += len(e.Networks)
	}

	f, err := startControl(ctx, ps, c.dir, c.steer, pops, 5*time.Second, nil)
	if err != nil {
		return err
	}
	pub, err := f.publish.PublishFile(ctx, paths[0], "", false, "steer-fleetbench")
	if err != nil {
		return fmt.Errorf("publishing version 1: %w", err)
	}
	logf("control %s: version %d published (%d networks, %d bytes); starting %d steer-dns", f.url, pub.Version, res.Networks, res.MapBytes, *servers)
	start := time.Now()
	if err := f.startDNS(ctx, *servers, c.steerDNS, nil); err != nil {
		return err
	}
	var chk [2]*loadgen.Checker
	if chk[0], err = loadgen.NewChecker(f.dns[0].config, paths[0], loadgen.DefaultQName); err != nil {
		return err
	}
	if chk[1], err = chk[0].WithMap(paths[1]); err != nil {
		return err
	}
	var targets [2][]loadgen.Target
	for _, p := range loadgen.ECSPrefixes(mp[0], 1000, 5) {
		a, _ := chk[0].Expect(p)
		b, _ := chk[1].Expect(p)
		if !slices.Equal(a, b) && len(targets[0]) < *probes {
			targets[0] = append(targets[0], chk[0].Targets([]netip.Prefix{p})...)
			targets[1] = append(targets[1], chk[1].Targets([]netip.Prefix{p})...)
		}
	}
	if len(targets[0]) == 0 {
		return errors.New("map-next.json answers no probe differently from map.json")
	}
	wctx, wcancel := context.WithTimeout(ctx, 2**publishWithin)
	first := &event{}
	f.watch(wctx, start, targets[0], *poll)(first)
	wcancel()
	res.StartMs = first.ServerMs
	if err := f.settled(ctx, pub.Version, 0, *publishWithin); err != nil {
		return err
	}
	logf("all %d servers serve version %d (slowest %s ms after their start)", *servers, pub.Version, fmtMs(quantileMs(res.StartMs, 1)))

	active := 0
	for i := range *publishes {
		next := 1 - active
		var version int
		if *idle {
			waited, err := f.waitIdle(ctx, 250*time.Millisecond, 15*time.Second)
			if err != nil {
				return err
			}
			logf("publish %d/%d: the fleet was idle after %s ms", i+1, *publishes, fmtMs(float64(waited)/1e6))
		}
		ev, err := f.timed(ctx, "publish", targets[next], *poll, *publishWithin, func(ctx context.Context) error {
			// What `steer publish --control` does: the file streamed.
			r, err := f.publish.PublishFile(ctx, paths[next], "", true, "steer-fleetbench")
			if err == nil {
				version = r.Version
			}
			return err
		})
		if err != nil {
			return err
		}
		ev.Version = version
		res.Publishes = append(res.Publishes, ev)
		if ev.P100 < 0 {
			res.Failures = append(res.Failures, fmt.Sprintf("publish %d (version %d): some server did not answer from it within %v", i+1, version, *publishWithin))
		}
		if err := f.settled(ctx, version, 0, *publishWithin); err != nil {
			return err
		}
		active = next
		logf("publish %d/%d: version %d, call %s ms, every server %s ms (p50 %s ms)", i+1, *publishes, version, fmtMs(ev.CallMs), fmtMs(ev.P100), fmtMs(ev.P50))
	}
	f.readReloads(res.Publishes)

	pop, drained, up := drainTargets(chk[active].Table(), pops, loadgen.ECSPrefixes(mp[active], 20000, 9), *probes)
	if pop == "" {
		return errors.New("no PoP to drain: no prefix with two ranked PoPs")
	}
	res.DrainPoP = string(pop)
	for i := range *drains {
		for _, step := range []struct {
			state   string
			targets []loadgen.Target
		}{{"drain", drained}, {"up", up}} {
			var index uint64
			ev, err := f.timed(ctx, step.state, step.targets, *poll, *stateWithin, func(ctx context.Context) error {
				st, err := f.operate.SetState(ctx, string(pop), step.state, "")
				if err == nil {
					index = st.Index
				}
				return err
			})
			if err != nil {
				return err
			}
			ev.Index = index
			res.Drains = append(res.Drains, ev)
			if ev.P100 < 0 {
				res.Failures = append(res.Failures, fmt.Sprintf("%s %d (index %d): some server did not apply it within %v", step.state, i+1, index, *stateWithin))
			}
			if err := f.settled(ctx, 0, index, *stateWithin); err != nil {
				return err
			}
			logf("%s %s %d/%d: index %d, call %s ms, every server %s ms (p50 %s ms)", step.state, pop, i+1, *drains, index, fmtMs(ev.CallMs), fmtMs(ev.P100), fmtMs(ev.P50))
		}
	}
	res.summarise()
	return c.writeOutputs(res, res.markdown())
}

func (r *fleetResult) summarise() {
	var p100, p50, call, reload []float64
	for _, e := range r.Publishes {
		p100, p50, call = append(p100, e.P100), append(p50, e.P50), append(call, e.CallMs)
		for _, v := range e.ReloadMs {
			if v >= 0 {
				reload = append(reload, v)
			}
		}
	}
	r.PublishP100, r.PublishP50, r.PublishCall, r.Reload = spreadOf(p100), spreadOf(p50), spreadOf(call), spreadOf(reload)
	var d100, d50, u100, u50, scall []float64
	for _, e := range r.Drains {
		scall = append(scall, e.CallMs)
		if e.Kind == "drain" {
			d100, d50 = append(d100, e.P100), append(d50, e.P50)
		} else {
			u100, u50 = append(u100, e.P100), append(u50, e.P50)
		}
	}
	r.DrainP100, r.DrainP50, r.UpP100, r.UpP50, r.StateCall = spreadOf(d100), spreadOf(d50), spreadOf(u100), spreadOf(u50), spreadOf(scall)
}

// markdown renders the rows bench/fleet.sh puts in its tables, each line
// prefixed by its table ("publish: ", "drain: ").
func (r *fleetResult) markdown() string {
	bar := func(s spread, limit float64) string {
		if s.Max >= 0 && s.Max < limit {
			return "met"
		}
		return "**missed**"
	}
	var b strings.Builder
	publishes := strconv.Itoa(r.PublishP100.N)
	if r.Idle {
		publishes += ", each on an idle fleet"
	}
	fmt.Fprintf(&b, "publish: | %s (%d networks, %.0f MB) | %d | %s | **%s** | %s | %s | %s | %s ms | %s |\n",
		r.Label, r.Networks, float64(r.MapBytes)/1e6, r.Servers, publishes, r.PublishP100, r.PublishP50, r.PublishCall, r.Reload,
		fmtMs(quantileMs(r.StartMs, 1)), bar(r.PublishP100, 2000))
	fmt.Fprintf(&b, "drain: | %s | %d | %s | %d | **%s** | %s | %s | %s | %s | %s |\n",
		r.Label, r.Servers, r.DrainPoP, r.DrainP100.N, r.DrainP100, r.DrainP50, r.UpP100, r.UpP50, r.StateCall, bar(r.DrainP100, 1000))
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "note: %s: %s\n", r.Label, f)
	}
	return b.String()
}

// drainTargets picks the PoP that is the first choice of most of ecs and
// up to n of those prefixes: the answers wanted while it is drained (its
// next-ranked PoP's addresses) and once it is up again (its own).
func drainTargets(tb *popmap.Table, pops []config.PoP, ecs []netip.Prefix, n int) (popmap.Label, []loadgen.Target, []loadgen.Target) {
	addrs := map[popmap.Label][]netip.Addr{}
	for _, p := range pops {
		addrs[p.Label] = p.IPv4
	}
	count := map[popmap.Label]int{}
	for _, p := range ecs {
		if l, _ := tb.LookupPrefix(p); len(l) >= 2 {
			count[l[0]]++
		}
	}
	var pop popmap.Label
	for _, l := range slices.Sorted(maps.Keys(count)) {
		if count[l] > count[pop] {
			pop = l
		}
	}
	var drained, up []loadgen.Target
	for _, p := range ecs {
		if len(up) == n {
			break
		}
		if l, _ := tb.LookupPrefix(p); len(l) >= 2 && l[0] == pop && l[1] != pop {
			drained = append(drained, loadgen.Target{ECS: p, Want: addrs[l[1]]})
			up = append(up, loadgen.Target{ECS: p, Want: addrs[l[0]]})
		}
	}
	return pop, drained, up
}

var reloadLine = regexp.MustCompile(`msg="snapshot loaded".* took=(\S+) .* version=(\d+) `)

// readReloads fills each publish's ReloadMs from the servers' logs.
func (f *fleet) readReloads(evs []*event) {
	took := make([]map[int]float64, len(f.dns)) // per server: version → ms
	for i, d := range f.dns {
		took[i] = map[int]float64{}
		fh, err := os.Open(filepath.Join(d.dir, "steer-dns.log"))
		if err != nil {
			continue
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			m := reloadLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			dur, err1 := time.ParseDuration(m[1])
			v, err2 := strconv.Atoi(m[2])
			if err1 == nil && err2 == nil {
				took[i][v] = float64(dur) / 1e6
			}
		}
		_ = fh.Close()
	}
	for _, e := range evs {
		e.ReloadMs = make([]float64, len(f.dns))
		for i := range f.dns {
			e.ReloadMs[i] = -1
			if v, ok := took[i][e.Version]; ok {
				e.ReloadMs[i] = v
			}
		}
	}
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "fleetbench: "+format+"\n", args...)
}
