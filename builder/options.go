package builder

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/store"
)

// Rule names a cleaning or building rule; the report counts each.
type Rule = store.Rule

// The cleaning rules (docs/DESIGN.md, "Cleaning rules") and the builder's
// own, by the name the report and --skip use.
const (
	RuleDuplicateBeacon Rule = store.RuleDuplicateBeacon // a beacon stored twice (delivered again after the store's dedup window)
	RuleBadNetwork      Rule = store.RuleBadNetwork      // a beacon whose network key is not a client subnet
	RuleHTTPSOnly       Rule = store.RuleHTTPSOnly       // plain HTTP and TCP probes (hijacked in the wild): samples dropped
	RuleImpossibleRTT   Rule = store.RuleImpossibleRTT   // negative, sub-microsecond or above MaxRTT: samples dropped
	RuleBadClock        Rule = store.RuleBadClock        // sample time after received+MaxClockAhead or before received-MaxAge
	RuleTickTimer       Rule = store.RuleTickTimer       // beacons declaring a tick-counting timer: samples dropped
	RuleTickDetected    Rule = store.RuleTickDetected    // beacons whose values sit on 15.6/16 ms steps: samples dropped
	RuleEdgeOnly        Rule = "edge-only"               // with EdgeRTT: edge RTTs of networks that send no beacons, dropped (one PoP cannot rank PoPs)
	RuleDNSDuplicate    Rule = store.RuleDNSDuplicate    // repeated queries for one test name: first wins, the rest counted
	RuleDNSUnjoined     Rule = store.RuleDNSUnjoined     // beacons whose DNS test name never reached the server
	RuleSparsePooled    Rule = "sparse-pooled"           // (network, PoP) estimates under MinSamples, pooled with prefix/AS
	RuleStability       Rule = "stability-kept"          // networks that kept their previous PoP (within the margin)
	RuleRecentShift     Rule = "recent-shift"            // with Recent: networks re-estimated from their recent samples (a shift beyond noise)
	RuleRecentShiftAS   Rule = "recent-shift-as"         // with Recent: networks without recent samples given their AS's shift at a PoP
	RuleCapacity        Rule = "capacity-moved"          // networks moved to their next PoP by a capacity cap
	RuleExtrapolateAS   Rule = "extrapolate-as"          // announced prefixes mapped because their AS's networks agree
	RuleExtrapolatePfx  Rule = "extrapolate-prefix"      // announced prefixes mapped because their networks agree
	RuleExtrapolateGeo  Rule = "extrapolate-geo"         // GeoIP blocks mapped by the AS's (or the place's) measured preferences
)

// Rules lists every rule, in report order.
var Rules = []Rule{
	RuleDuplicateBeacon, RuleBadNetwork, RuleHTTPSOnly, RuleImpossibleRTT, RuleBadClock, RuleTickTimer,
	RuleTickDetected, RuleEdgeOnly, RuleDNSDuplicate, RuleDNSUnjoined, RuleSparsePooled, RuleRecentShift, RuleRecentShiftAS, RuleStability, RuleCapacity,
	RuleExtrapolateAS, RuleExtrapolatePfx, RuleExtrapolateGeo,
}

// Counts counts what each rule did.
type Counts map[Rule]int

func (c *Counts) add(r Rule, n int) {
	if *c == nil {
		*c = Counts{}
	}
	(*c)[r] += n
}

// countOnly are rules that only count: they cannot be switched off.
var countOnly = map[Rule]string{
	RuleBadNetwork:  "a beacon without a client subnet cannot be mapped",
	RuleDNSUnjoined: "it counts beacons whose DNS test found no query",
}

// ParseRules parses rule names (for --skip).
func ParseRules(s []string) (map[Rule]bool, error) {
	out := map[Rule]bool{}
	for _, name := range s {
		if why, ok := countOnly[name]; ok {
			return nil, fmt.Errorf("rule %q cannot be switched off: %s", name, why)
		}
		ok := false
		for _, r := range Rules {
			if r == name {
				out[r], ok = true, true
			}
		}
		if !ok {
			names := slices.Sorted(slices.Values(Rules))
			return nil, fmt.Errorf("unknown rule %q (rules: %v)", name, names)
		}
	}
	return out, nil
}

// Options configure a build. The zero value is usable: defaults fill in.
type Options struct {
	Percentile float64 // of RTT per (network, PoP), in (0, 100); default 75
	MinSamples int     // samples per (network, PoP) to trust alone; default 3
	Prior      float64 // pooling strength in samples (shrinkage toward prefix/AS); default 0.5; negative disables
	Labels     int     // ranked labels per entry; default 3

	MaxRTT        time.Duration // impossible-rtt ceiling; default 30 s
	MaxClockAhead time.Duration // bad-clock: sample time after received by more; default 24 h
	MaxAge        time.Duration // bad-clock: sample time before received by more; default 30 days
	HoldOut       float64       // share of beacons held out for steer eval; default 0.1; negative: none

	MarginMs  float64 // stability: a new PoP must be better by this many ms...
	MarginPct float64 // ... and this share of the current PoP's latency; defaults 2 ms, 3 %

	// Capacity caps the share of (measured) traffic a PoP is given, 0..1;
	// PoPs not listed are uncapped.
	Capacity map[popmap.Label]float64

	Skip map[Rule]bool // rules switched off (to measure what each is worth)

	// EdgeRTT uses the edge access logs' TCP RTTs (`steer ingest` of an
	// edge log: beacons of kind store.EdgeKind) as additional samples of
	// the PoP that served each connection, and only of that PoP, for
	// networks that also send beacons. A network with edge RTTs alone is
	// dropped (RuleEdgeOnly): its one PoP cannot rank PoPs, and mapping it
	// by that PoP pins it to where DNS sends it today and corrupts the
	// pooled profiles (docs/BENCHMARKS.md, "Edge RTT as a latency signal").
	// Off, edge RTTs are not read at all. They are never held out: steer
	// eval scores beacons only.
	EdgeRTT bool

	// Extrapolation switches; all on unless Skip names the rule.
	MinAgree int // measured networks an AS/prefix needs for the agreement rules; default 2

	// Continuous builds (recent.go). Now is the build's time (zero: the
	// clock); Window reads only the beacons received in the Window before
	// Now (0: the whole store); Recent > 0 turns on change detection: a
	// network whose samples of the last Recent shifted beyond noise
	// (ShiftTest: ShiftZ standard errors and ShiftMs, with at least
	// MinRecent recent samples of a PoP; defaults 3, 2 ms and MinSamples)
	// is re-estimated from them.
	Now             time.Time
	Window, Recent  time.Duration
	ShiftZ, ShiftMs float64
	MinRecent       int
}

func (o *Options) defaults() {
	if o.Percentile == 0 {
		o.Percentile = 75
	}
	if o.MinSamples == 0 {
		o.MinSamples = 3
	}
	if o.Prior == 0 {
		o.Prior = 0.5
	}
	if o.Prior < 0 {
		o.Prior = 0
	}
	if o.Labels == 0 {
		o.Labels = 3
	}
	c := store.Clean{MaxRTT: o.MaxRTT, MaxClockAhead: o.MaxClockAhead, MaxAge: o.MaxAge}
	c.Defaults() // the cleaning rules' defaults are the store's
	o.MaxRTT, o.MaxClockAhead, o.MaxAge = c.MaxRTT, c.MaxClockAhead, c.MaxAge
	if o.HoldOut == 0 {
		o.HoldOut = 0.1 // negative: none (kept negative, so that defaults stays idempotent)
	}
	if o.MarginMs == 0 {
		o.MarginMs = 2
	}
	if o.MarginPct == 0 {
		o.MarginPct = 3
	}
	if o.MinAgree == 0 {
		o.MinAgree = 2
	}
	if o.ShiftZ == 0 {
		o.ShiftZ = 3
	}
	if o.ShiftMs == 0 {
		o.ShiftMs = 2
	}
	if o.MinRecent == 0 {
		o.MinRecent = o.MinSamples
	}
}

// Validate reports bad options.
func (o *Options) Validate() error {
	c := *o
	c.defaults()
	switch {
	case !(c.Percentile > 0 && c.Percentile < 100):
		return fmt.Errorf("percentile %v not in (0, 100)", c.Percentile)
	case c.MinSamples < 1:
		return fmt.Errorf("min-samples %d < 1", c.MinSamples)
	case c.Labels < 1 || c.Labels > 64:
		return fmt.Errorf("labels %d not in [1, 64]", c.Labels)
	case c.HoldOut >= 1:
		return fmt.Errorf("holdout %v: must be below 1", c.HoldOut)
	case c.MaxRTT <= 0:
		return fmt.Errorf("max-rtt %v must be positive", c.MaxRTT)
	case c.Window < 0 || c.Recent < 0:
		return fmt.Errorf("window %v and recent %v must not be negative", c.Window, c.Recent)
	case c.Window > 0 && c.Recent >= c.Window:
		return fmt.Errorf("recent %v must be shorter than the window %v", c.Recent, c.Window)
	case !(c.ShiftZ > 0) || !(c.ShiftMs >= 0) || c.MinRecent < 1:
		return fmt.Errorf("shift test: z %v must be positive, ms %v not negative, min-recent %d at least 1", c.ShiftZ, c.ShiftMs, c.MinRecent)
	}
	for l, v := range c.Capacity {
		if !(v > 0 && v <= 1) {
			return fmt.Errorf("capacity %s=%v: a share in (0, 1]", l, v)
		}
	}
	return nil
}

// ParseCapacity parses --capacity items, "LABEL=SHARE" with SHARE in (0, 1]:
// the largest share of measured traffic the PoP LABEL may be given.
func ParseCapacity(items []string) (map[popmap.Label]float64, error) {
	out := map[popmap.Label]float64{}
	for i, it := range items {
		l, v, ok := strings.Cut(it, "=")
		if !ok {
			return nil, fmt.Errorf("item %d %q: not LABEL=SHARE", i+1, it)
		}
		label := popmap.Label(strings.TrimSpace(l))
		if err := config.CheckLabel(label); err != nil {
			return nil, fmt.Errorf("item %d %q: label: %w", i+1, it, err)
		}
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || !(f > 0 && f <= 1) {
			return nil, fmt.Errorf("item %d %q: share %q is not a number in (0, 1]", i+1, it, v)
		}
		if _, dup := out[label]; dup {
			return nil, fmt.Errorf("item %d %q: %s given twice", i+1, it, label)
		}
		out[label] = f
	}
	return out, nil
}
