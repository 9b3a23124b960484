package planner

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/golang/geo/s2"

	"github.com/steer-gslb/steer/data"
	"github.com/steer-gslb/steer/sim"
)

// benchWorld is the shipped world: population cells, every level-7 cell
// (populated ones by population, the rest 1 person each, so that all
// count), the simulator's 20 default PoPs and the fitted TCP loss.
type benchWorld struct {
	populated, every []Cell
	pops             []Site
	loss             Loss
}

func loadBenchWorld(b *testing.B) *benchWorld { return loadBenchWorldT(b) }

func loadBenchWorldT(b testing.TB) *benchWorld {
	b.Helper()
	cities, err := data.Cities()
	if err != nil {
		b.Fatal(err)
	}
	m, _, err := data.LoadMatrix()
	if err != nil {
		b.Fatal(err)
	}
	g := NewGazetteer(cities)
	w := &benchWorld{}
	if w.populated, err = Cells(PopulationPoints(cities)); err != nil {
		b.Fatal(err)
	}
	if w.pops, err = ParsePoPs(sim.FormatPoPs(sim.DefaultPoPs), m, g); err != nil {
		b.Fatal(err)
	}
	fit, err := FitFibre(m)
	if err != nil {
		b.Fatal(err)
	}
	w.loss = Loss{Kind: TCP, Fibre: fit.Fibre, TCP: DefaultTCP}
	pts := PopulationPoints(cities)
	for id := s2.CellIDFromFace(0).ChildBeginAtLevel(Level); id != s2.CellIDFromFace(5).ChildEndAtLevel(Level); id = id.Next() {
		ll := id.LatLng()
		pts = append(pts, Point{Lat: ll.Lat.Degrees(), Lon: ll.Lng.Degrees(), Weight: 1})
	}
	if w.every, err = Cells(pts); err != nil {
		b.Fatal(err)
	}
	return w
}

// sample returns n of cells drawn at random (so that every size covers the
// world) in cell id order, as [Cells] returns them, or all of them when n
// is larger.
func sample(cells []Cell, n int) []Cell {
	if n >= len(cells) {
		return cells
	}
	rng := rand.New(rand.NewPCG(1, uint64(n)))
	idx := rng.Perm(len(cells))[:n]
	slices.Sort(idx)
	out := make([]Cell, n)
	for i, j := range idx {
		out[i] = cells[j]
	}
	return out
}

// BenchmarkStep times one exhaustive greedy step (Problem.Plan(1): set-up,
// every candidate × every cell on GOMAXPROCS goroutines, the update) with
// the 20 default PoPs and the TCP loss, and reports (candidate, cell)
// pairs evaluated per second. "populated" is what `steer plan` runs: the
// 8,791 populated cells as both demand and candidates. The cells=N runs
// keep 2,000 candidates (among the populated cells) and grow the demand
// from 1,000 cells to all 98,304 level-7 cells, to show how the inner loop
// scales once the cells outgrow the caches (32 bytes a cell).
func BenchmarkStep(b *testing.B) {
	w := loadBenchWorld(b)
	run := func(b *testing.B, cells []Cell, cands []Site) {
		p := &Problem{Cells: cells, Candidates: cands, Existing: w.pops, Loss: w.loss}
		b.ReportAllocs()
		var pairs int64
		for b.Loop() {
			pl, err := p.Plan(1)
			if err != nil || len(pl.Steps) != 1 {
				b.Fatal(err, pl.Stopped)
			}
			pairs += pl.Steps[0].Evaluations
		}
		b.ReportMetric(float64(pairs)/b.Elapsed().Seconds(), "pairs/s")
		b.ReportMetric(float64(len(cells)), "cells")
		b.ReportMetric(float64(len(cands)), "candidates")
	}
	b.Run("populated", func(b *testing.B) { run(b, w.populated, CellCandidates(w.populated, 0)) })
	cands := CellCandidates(sample(w.populated, 2000), 0)
	for _, n := range []int{1000, 4000, len(w.populated), 32000, len(w.every)} {
		cells := w.populated
		if n != len(w.populated) {
			cells = sample(w.every, n)
		}
		b.Run(fmt.Sprintf("cells=%d", n), func(b *testing.B) { run(b, cells, cands) })
	}
}
