// Package ui is steer's map explorer, `steer ui`: a web application served
// by the binary that shows a map on the world in h3 hexagons, the IPv4 space
// on a Hilbert curve, and, on a simulated world, the evaluation (the
// per-user gain distribution and p50/p75/p95 per continent and country for
// geo, anycast, the map and perfect steering).
//
// Everything is aggregated server side, once, when the explorer starts
// (Load): every client network is placed (by the simulator's truth, where
// its users are, weighted by their traffic; else by GeoIP, weighted by its
// size in /24s), given map A's first PoP, the source of that answer
// (MAP.sources.tsv), its samples (MAP.rtt.tsv) and its latency under map A
// and under the comparison (map B, or the geo baseline), then summed into
// h3 cells at a few resolutions (github.com/uber/h3-go, cgo). The page asks
// for one resolution's hexagons at a time (a few thousand polygons as JSON)
// and draws them on a Canvas 2D with d3-geo; a click asks the server for the
// hexagon under the pointer, its networks and, for one network, steer
// explain. Hilbert tiles are drawn by package ui/hilbert.
//
// Every front-end file is embedded (assets/): d3, topojson-client and
// Observable Plot from the npm registry at pinned versions and Natural
// Earth's 1:110m countries (world-atlas), vendored by scripts/vendor-ui.sh
// with their licences (assets/vendor/VERSIONS). The page works with no
// internet access.
//
// The package is analytics-side: steer-dns and steer-edge never import it.
package ui
