//go:build !race

package hilbert

const raceEnabled = false
