//go:build race

package hilbert

// raceEnabled: the race detector slows the exhaustive tests' 16M memory
// reads some twentyfold, so they take a stride instead.
const raceEnabled = true
