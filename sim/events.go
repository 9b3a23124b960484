package sim

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/steer-gslb/steer/popmap"
)

// EventKind is what a scheduled event changes.
type EventKind string

// The kinds of scheduled events. Each takes effect at the start of its day
// (Options.Start + Day×24 h) and lasts until a later event undoes it.
const (
	// PeeringLost: the ISP stops peering with the PoP; its traffic to it
	// goes through the ISP's transit hub, and anycast moves if it went there.
	PeeringLost EventKind = "peering-lost"
	// PeeringAdded: the ISP starts peering with the PoP (the measured
	// direct path from then on).
	PeeringAdded EventKind = "peering-added"
	// Reroute: the ISP hands all its transit traffic to the hub in the
	// given measured city instead of the one it chose.
	Reroute EventKind = "reroute"
	// PoPOpen: the PoP is in the configuration from the start but serves
	// nothing before the day: no samples, no anycast or geo traffic, and
	// the truth gives it ClosedRTT.
	PoPOpen EventKind = "pop-open"
	// PoPDegraded: every path to the PoP takes Ms more milliseconds (0
	// restores it).
	PoPDegraded EventKind = "pop-degraded"
)

// ClosedRTT is the RTT, in ms, the truth gives every network to a PoP not
// open yet (with jitter 0): no map should choose it, and one that does
// pays for it.
const ClosedRTT = 10_000

// Event is one scheduled change to the world. Its compact form (String,
// ParseEvent) is comma-separated key=value pairs in any order:
//
//	day=5,kind=peering-lost,isp=AS3320,pop=fra
//	day=3,kind=peering-added,isp=AS3320,pop=ams
//	day=7,kind=reroute,isp=AS3320,hub=Amsterdam
//	day=2,kind=pop-open,pop=waw
//	day=9,kind=pop-degraded,pop=lhr,ms=25
type Event struct {
	Day  int
	Kind EventKind
	ASN  uint32       // isp: peering-lost, peering-added, reroute
	PoP  popmap.Label // pop: all but reroute
	Hub  string       // hub: reroute (a measured city, see steer sim --list-cities)
	Ms   float64      // ms: pop-degraded
}

// maxEventMs bounds pop-degraded's ms.
const maxEventMs = 5000

// fields are the keys each kind needs (beyond day and kind).
var eventFields = map[EventKind][]string{
	PeeringLost:  {"isp", "pop"},
	PeeringAdded: {"isp", "pop"},
	Reroute:      {"isp", "hub"},
	PoPOpen:      {"pop"},
	PoPDegraded:  {"pop", "ms"},
}

// ParseEvent parses an event's compact form. It checks the syntax and that
// the kind has exactly the fields it needs; Options.Validate and Plan check
// it against the world (day in range, PoP, ISP, hub).
func ParseEvent(s string) (Event, error) {
	var ev Event
	seen := map[string]string{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		k, v, ok := strings.Cut(item, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || v == "" {
			return ev, fmt.Errorf("event %q: %q is not key=value", s, item)
		}
		if _, dup := seen[k]; dup {
			return ev, fmt.Errorf("event %q: %s given twice", s, k)
		}
		seen[k] = v
	}
	day, ok := seen["day"]
	if !ok {
		return ev, fmt.Errorf("event %q: no day=N", s)
	}
	d, err := strconv.Atoi(day)
	if err != nil || d < 0 {
		return ev, fmt.Errorf("event %q: day %q is not a whole number of days >= 0", s, day)
	}
	ev.Day = d
	kind, ok := seen["kind"]
	if !ok {
		return ev, fmt.Errorf("event %q: no kind= (one of %s)", s, kindList())
	}
	ev.Kind = EventKind(kind)
	want, ok := eventFields[ev.Kind]
	if !ok {
		return ev, fmt.Errorf("event %q: unknown kind %q (one of %s)", s, kind, kindList())
	}
	for k := range seen {
		if k != "day" && k != "kind" && !slices.Contains(want, k) {
			return ev, fmt.Errorf("event %q: %s does not take %s= (it takes %s)", s, kind, k, strings.Join(want, ", "))
		}
	}
	for _, k := range want {
		v, ok := seen[k]
		if !ok {
			return ev, fmt.Errorf("event %q: %s needs %s=", s, kind, k)
		}
		switch k {
		case "isp":
			n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(v, "AS"), "as"), 10, 32)
			if err != nil || n == 0 {
				return ev, fmt.Errorf("event %q: isp %q is not an AS number (AS3320 or 3320)", s, v)
			}
			ev.ASN = uint32(n)
		case "pop":
			ev.PoP = popmap.Label(v)
		case "hub":
			ev.Hub = v
		case "ms":
			x, err := strconv.ParseFloat(v, 64)
			if err != nil || math.IsNaN(x) || x < 0 || x > maxEventMs {
				return ev, fmt.Errorf("event %q: ms %q is not a number of milliseconds in [0, %d]", s, v, maxEventMs)
			}
			ev.Ms = x
		}
	}
	return ev, nil
}

func kindList() string {
	return strings.Join([]string{string(PeeringLost), string(PeeringAdded), string(Reroute), string(PoPOpen), string(PoPDegraded)}, ", ")
}

// String is the event's compact form; ParseEvent reads it back.
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "day=%d,kind=%s", e.Day, e.Kind)
	for _, k := range eventFields[e.Kind] {
		switch k {
		case "isp":
			fmt.Fprintf(&b, ",isp=AS%d", e.ASN)
		case "pop":
			fmt.Fprintf(&b, ",pop=%s", e.PoP)
		case "hub":
			fmt.Fprintf(&b, ",hub=%s", e.Hub)
		case "ms":
			b.WriteString(",ms=" + strconv.FormatFloat(e.Ms, 'g', -1, 64))
		}
	}
	return b.String()
}

// ReadEventsFile is ReadEvents of the file at path; errors name it.
func ReadEventsFile(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }() // read-only
	evs, err := ReadEvents(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return evs, nil
}

// ReadEvents reads events one per line in the compact form; blank lines
// and lines starting with '#' are skipped. Errors name the line.
func ReadEvents(r io.Reader) ([]Event, error) {
	var out []Event
	sc := bufio.NewScanner(r)
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" || s[0] == '#' {
			continue
		}
		ev, err := ParseEvent(s)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", line, err)
		}
		out = append(out, ev)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("line %d: %w", line+1, err)
	}
	return out, nil
}

// validateEvents checks the events against the options: a timed world,
// days in range, known PoPs, a PoP opened once and not changed before it
// opens.
func (o *Options) validateEvents() []error {
	var errs []error
	if len(o.Events) > 0 && o.Days == 0 {
		return []error{errors.New("events: scheduled events need a timed world (days > 0)")}
	}
	labels := map[popmap.Label]bool{}
	for _, p := range o.PoPs {
		labels[p.Label] = true
	}
	opens := map[popmap.Label]int{}
	for _, ev := range o.Events {
		if ev.Kind == PoPOpen {
			if d, dup := opens[ev.PoP]; dup {
				errs = append(errs, fmt.Errorf("events: %s: pop %s already opens on day %d", ev, ev.PoP, d))
			}
			opens[ev.PoP] = ev.Day
		}
	}
	if len(opens) > 0 && len(opens) >= len(o.PoPs) {
		errs = append(errs, errors.New("events: every PoP opens later: at least one must be open from the start"))
	}
	for _, ev := range o.Events {
		if ev.Day < 1 || ev.Day >= o.Days {
			errs = append(errs, fmt.Errorf("events: %s: day %d is not within the run (1 to %d)", ev, ev.Day, o.Days-1))
		}
		if ev.PoP != "" && !labels[ev.PoP] {
			errs = append(errs, fmt.Errorf("events: %s: no PoP %q in the world", ev, ev.PoP))
		}
		if d, ok := opens[ev.PoP]; ok && ev.Kind != PoPOpen && ev.Day < d {
			errs = append(errs, fmt.Errorf("events: %s: pop %s does not open before day %d", ev, ev.PoP, d))
		}
	}
	return errs
}
