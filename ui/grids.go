package ui

import (
	"image/color"
	"net/http"
	"strconv"
	"strings"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/ui/hilbert"
)

// grids are the Hilbert views of the IPv4 space: one class per /24.
type grids struct {
	modes map[string]*gridMode
}

type gridMode struct {
	grid    *hilbert.Grid
	palette []color.RGBA
	names   []string // class → name ("" for 0)
}

// Change classes (hilbert.Diff) and their colours.
var changeNames = []string{"", "same", "changed", "only in the map", "only in the other map"}
var changeColors = []string{"", "#9e9e9e", "#e53935", "#1e88e5", "#43a047"}
var sourceColors = []string{"#2e7d32", "#1565c0", "#f9a825", "#ef6c00", "#8e24aa", "#607d8b"}

// buildGrids paints map a by PoP and by source, and a's change from b.
func buildGrids(a, b *popmap.Map, src *explain.Sources, pops []PoP, popIndex map[string]int) *grids {
	g := &grids{modes: map[string]*gridMode{}}
	byPoP := make([]hilbert.Entry, 0, 1024)
	bySrc := make([]hilbert.Entry, 0, 1024)
	for _, e := range a.Entries {
		c := popClass(e.Labels, popIndex)
		for _, n := range e.Networks {
			byPoP = append(byPoP, hilbert.Entry{Prefix: n, Class: c})
			s := uint8(srcMap)
			if src != nil {
				if _, name, ok := src.Lookup(n.Addr()); ok {
					if i := indexOf(sourceNames, name); i >= 0 {
						s = uint8(i)
					}
				}
			}
			bySrc = append(bySrc, hilbert.Entry{Prefix: n, Class: s + 1})
		}
	}
	pm := &gridMode{grid: hilbert.Build(byPoP), palette: make([]color.RGBA, 256), names: make([]string, 256)}
	for i, p := range pops {
		if i+1 < 256 {
			pm.palette[i+1], pm.names[i+1] = rgb(p.Color), p.Label
		}
	}
	g.modes["pop"] = pm
	sm := &gridMode{grid: hilbert.Build(bySrc), palette: make([]color.RGBA, 256), names: make([]string, 256)}
	for i, c := range sourceColors {
		sm.palette[i+1], sm.names[i+1] = rgb(c), sourceNames[i]
	}
	g.modes["source"] = sm
	if b != nil {
		other := make([]hilbert.Entry, 0, 1024)
		for _, e := range b.Entries {
			c := popClass(e.Labels, popIndex)
			for _, n := range e.Networks {
				other = append(other, hilbert.Entry{Prefix: n, Class: c})
			}
		}
		cm := &gridMode{grid: hilbert.Diff(pm.grid, hilbert.Build(other)), palette: make([]color.RGBA, 256), names: make([]string, 256)}
		for i := 1; i < len(changeNames); i++ {
			cm.palette[i], cm.names[i] = rgb(changeColors[i]), changeNames[i]
		}
		g.modes["change"] = cm
	}
	return g
}

// popClass is the grid class of an answer: its first PoP's index + 1 (0:
// none, or beyond 255 PoPs).
func popClass(ls []popmap.Label, popIndex map[string]int) uint8 {
	if len(ls) == 0 {
		return 0
	}
	i, ok := popIndex[string(ls[0])]
	if !ok || i+1 > 255 {
		return 0
	}
	return uint8(i + 1)
}

func indexOf(xs []string, s string) int {
	for i, x := range xs {
		if x == s {
			return i
		}
	}
	return -1
}

// rgb parses #rrggbb.
func rgb(s string) color.RGBA {
	v, _ := strconv.ParseUint(strings.TrimPrefix(s, "#"), 16, 32)
	return color.RGBA{uint8(v >> 16), uint8(v >> 8), uint8(v), 0xff}
}

// handler serves /tiles/MODE/Z/X/Y.png, /hilbert/at and /hilbert/where
// (package hilbert's handler: cached tiles, ETags).
func (g *grids) handler() http.Handler {
	return hilbert.NewHandler(func(mode string) (hilbert.Layer, bool) {
		m, ok := g.modes[mode]
		if !ok {
			return hilbert.Layer{}, false
		}
		return hilbert.Layer{Grid: m.grid, Palette: m.palette, Names: m.names}, true
	}, hilbert.Options{})
}
