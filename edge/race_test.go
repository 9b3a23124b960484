//go:build race

package edge

// raceEnabled shrinks the streaming test under the race detector.
const raceEnabled = true
