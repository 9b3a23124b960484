package loadctl

import "net/netip"

// Restore reinstates moves made before a restart (state.json keeps them),
// oldest first, so that a restarted control server neither drops them —
// sending their traffic back onto a hot PoP at once — nor makes them
// again. Moves of networks or PoPs the controller does not know, from or
// to unmanaged PoPs, or of a network already moved are skipped. The load
// each move shifted is not known after a restart; it is estimated as the
// move's share of its source at target (target × capacity × weight / the
// weight that ranks the source first), which is what the move was made to
// bring it down to. It returns the number of moves restored.
func (c *Controller) Restore(moves []Move) int {
	byPrefix := make(map[netip.Prefix]int32, len(c.nets))
	first := make([]float64, len(c.pops))
	for i := range c.nets {
		n := &c.nets[i]
		byPrefix[n.prefix] = int32(i)
		if len(n.ranked) > 0 {
			first[n.ranked[0]] += n.weight
		}
	}
	restored := 0
	for _, m := range moves {
		i, ok := byPrefix[m.Prefix]
		if !ok || c.movedBy[i] >= 0 {
			continue
		}
		from, okF := c.byName[m.From]
		to, okT := c.byName[m.To]
		if !okF || !okT || from == to || !c.pops[from].managed || !c.pops[to].managed {
			continue
		}
		est := 0.0
		if w := first[from]; w > 0 {
			est = c.capOf(from) * c.nets[i].weight / w
		}
		c.movedBy[i] = int32(len(c.moves))
		c.moves = append(c.moves, move{net: i, from: from, to: to, at: m.At, est: est})
		restored++
	}
	return restored
}
