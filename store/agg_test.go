package store

import (
	"slices"
	"testing"
)

func TestNetworkCells(t *testing.T) {
	a := &Aggregate{Cells: []Cell{
		{Network: 1, PoP: 0}, {Network: 1, PoP: 2},
		{Network: 4, PoP: 1}, {Network: 4, PoP: AnycastPoP},
		{Network: 9, PoP: 0},
	}}
	for _, tc := range []struct {
		network uint64
		pops    []uint16
	}{{0, nil}, {1, []uint16{0, 2}}, {3, nil}, {4, []uint16{1, AnycastPoP}}, {9, []uint16{0}}, {10, nil}} {
		var got []uint16
		for _, c := range a.NetworkCells(tc.network) {
			if c.Network != tc.network {
				t.Errorf("network %d: a cell of network %d", tc.network, c.Network)
			}
			got = append(got, c.PoP)
		}
		if !slices.Equal(got, tc.pops) {
			t.Errorf("network %d: PoPs %v, want %v", tc.network, got, tc.pops)
		}
	}
	if cs := (&Aggregate{}).NetworkCells(1); len(cs) != 0 {
		t.Errorf("empty aggregate: %v", cs)
	}
}
