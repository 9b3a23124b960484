package explain

import (
	"fmt"
	"strings"
)

// String renders the report for a terminal, one fact a line:
//
//	203.0.113.9: fra (www.example.net. A: source ecs, scope /24, map version 3)
//	  client:       subnet 203.0.113.0/24, resolver 203.0.113.9
//	  ecs map:      203.0.113.0/24 → fra ams (measured)
//	  ...
func (r *Report) String() string {
	var b strings.Builder
	head := "no PoP"
	switch {
	case r.Anycast:
		head = "anycast"
		if r.AnycastPoP != "" {
			head += " (" + r.AnycastPoP + " is in anycast state)"
		}
	case len(r.PoPs) > 0:
		head = r.PoPs[0]
	case r.Source == "default":
		head = "default"
	}
	what := strings.TrimSpace(r.Record + " " + r.Family)
	fmt.Fprintf(&b, "%s: %s (%s: source %s, scope /%d, map version %d)\n", r.Addr, head, what, r.Source, r.Scope, r.MapVersion)
	if r.ECS.IsValid() {
		fmt.Fprintf(&b, "  client:       subnet %s, resolver %s\n", r.ECS, r.Resolver)
	} else {
		fmt.Fprintf(&b, "  client:       no client subnet, resolver %s\n", r.Resolver)
	}
	if len(r.Answer) > 0 {
		fmt.Fprintf(&b, "  answer:       %s\n", strings.Join(r.Answer, " "))
	}
	if len(r.PoPs) > 0 {
		fmt.Fprintf(&b, "  ranked:       %s\n", strings.Join(r.PoPs, " "))
	}
	fmt.Fprintf(&b, "  ecs map:      %s\n", r.ECSEntry.text())
	fmt.Fprintf(&b, "  resolver map: %s\n", r.ResolverEntry.text())
	if r.Moved != nil {
		fmt.Fprintf(&b, "  load moves:   %s\n", strings.Join(r.Moved.Labels, " "))
	}
	if g := r.Geo; g != nil {
		switch {
		case g.Nearest != "":
			fmt.Fprintf(&b, "  geoip:        %s %s %.2f,%.2f → nearest %s (%.0f km)\n", prefixText(g.Prefix), orDash(g.Country), g.Lat, g.Lon, g.Nearest, g.DistanceKm)
		case g.Country != "" || g.Lat != 0 || g.Lon != 0:
			fmt.Fprintf(&b, "  geoip:        %s %s %.2f,%.2f → no usable PoP\n", prefixText(g.Prefix), orDash(g.Country), g.Lat, g.Lon)
		default:
			fmt.Fprintf(&b, "  geoip:        no location (%s)\n", prefixText(g.Prefix))
		}
	}
	for _, s := range r.Skipped {
		fmt.Fprintf(&b, "  skipped:      %s: %s\n", s.PoP, s.Reason)
	}
	if len(r.Estimates) > 0 {
		fmt.Fprintf(&b, "  estimates:    network %s (store, build's cleaning rules)\n", prefixText(r.EstimateNetwork))
		for _, e := range r.Estimates {
			fmt.Fprintf(&b, "    %-10s %5d samples  p75 %7.1f ms\n", e.PoP, e.Samples, e.P75Ms)
		}
	} else if r.EstimateNetwork.IsValid() {
		fmt.Fprintf(&b, "  estimates:    network %s has no samples\n", r.EstimateNetwork)
	}
	return b.String()
}

func (e *Entry) text() string {
	if e == nil {
		return "no entry"
	}
	s := prefixText(e.Prefix) + " → " + strings.Join(e.Labels, " ")
	if e.Origin != "" {
		s += " (" + e.Origin + ")"
	}
	if len(e.Expected) > 0 {
		var ex []string
		for _, x := range e.Expected {
			ex = append(ex, fmt.Sprintf("%s %.1f ms", x.PoP, x.RTTMs))
		}
		s += "; the build expects " + strings.Join(ex, ", ")
	}
	return s
}

func prefixText(p interface {
	IsValid() bool
	String() string
}) string {
	if !p.IsValid() {
		return "?"
	}
	return p.String()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
