package data

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// FibreKmPerMs is the speed-of-light bound Clean applies: a round trip of
// one ms covers at most 100 km of great-circle distance (light in fibre
// goes about 200 km/ms, and the path is travelled twice).
const FibreKmPerMs = 100.0

// Matrix is the cleaned RTT matrix between measured cities. It is immutable
// once built by [Clean].
type Matrix struct {
	Servers []Server // kept servers; a server's index is its position

	rtt   []Ping // N×N, row = source
	known []bool // N×N
	index map[string]int
}

// N returns the number of servers.
func (m *Matrix) N() int { return len(m.Servers) }

// RTT returns the pings from server i to server j (indexes into Servers).
// ok is false if the pair is unknown after cleaning, or i or j is out of
// range. RTT(i, i) is the measured self ping when known.
func (m *Matrix) RTT(i, j int) (Ping, bool) {
	n := len(m.Servers)
	if i < 0 || j < 0 || i >= n || j >= n {
		return Ping{}, false
	}
	k := i*n + j
	return m.rtt[k], m.known[k]
}

// Index returns the index of the server with this Name or City, compared
// case-insensitively and ignoring spaces ("sao paulo", "SaoPaulo"); Name
// matches win over City matches. It returns -1 if there is none.
func (m *Matrix) Index(name string) int {
	if i, ok := m.index[nameKey(name)]; ok {
		return i
	}
	return -1
}

func nameKey(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, " ", ""))
}

// CleanReport says what [Clean] did. Every row read is counted in exactly
// one of SelfPairs, UnknownIDs, DroppedServer, Duplicates, FasterThanLight
// and Kept, checked in that order.
type CleanReport struct {
	Rows, SelfPairs, UnknownIDs int // rows read; self pairs dropped; rows naming ids missing from the server list
	DroppedServer               int // rows naming a server that a fix dropped
	Duplicates                  int // rows repeating an ordered pair already seen (the first is kept)
	FasterThanLight             int // ordered pairs dropped because min RTT < great-circle km / FibreKmPerMs
	Kept                        int // ordered pairs kept as measured
	Fixes                       []string
	Filled                      int // ordered pairs filled from the reverse direction
	Missing                     int // ordered pairs (i ≠ j) still unknown
}

// knownBad are the servers whose rows are wrong in the 2020 WonderProxy
// data; see the package comment for the evidence. A rule applies only to a
// server with both this id and this name.
var knownBad = []struct {
	id   int
	name string
	why  string
}{
	{220, "LaCeiba", "its host is not in La Ceiba"},
	{204, "Belfast", "its host is in south-east England, not Belfast"},
}

// swapped are pairs of servers that have each other's coordinates: the
// first is really north of the second, so the swap is done only when the
// data says otherwise and cleaning an already fixed list changes nothing.
var swapped = []struct{ north, south serverRef }{
	{serverRef{99, "Guatemala"}, serverRef{98, "Panama"}},
}

type serverRef struct {
	id   int
	name string
}

// Clean builds the RTT matrix from servers and ping rows. It does not modify
// its arguments. In order:
//
//  1. fixes the known-bad servers (see the package comment): drops LaCeiba
//     and Belfast, swaps the coordinates of Guatemala and Panama;
//  2. drops self pairs, rows naming unknown servers, rows naming a dropped
//     server and repeated ordered pairs;
//  3. drops an ordered pair whose min RTT is below the great-circle distance
//     / FibreKmPerMs (faster than light in fibre);
//  4. fills an unknown ordered pair from its reverse direction when known.
//
// Every fix is described in CleanReport.Fixes.
func Clean(servers []Server, rows []PingRow) (*Matrix, CleanReport) {
	var rep CleanReport
	srv := slices.Clone(servers)

	// 1. Fixes.
	pos := map[int]int{} // id → index in srv
	for i, s := range srv {
		if _, dup := pos[s.ID]; !dup {
			pos[s.ID] = i
		}
	}
	find := func(id int, name string) int {
		if i, ok := pos[id]; ok && srv[i].Name == name {
			return i
		}
		return -1
	}
	for _, sw := range swapped {
		a, b := find(sw.north.id, sw.north.name), find(sw.south.id, sw.south.name)
		if a < 0 || b < 0 || srv[a].Lat >= srv[b].Lat {
			continue
		}
		rep.Fixes = append(rep.Fixes, fmt.Sprintf(
			"swapped the coordinates of %s (id %d) and %s (id %d): each had the other's (%s had %.4g, %.4g)",
			srv[a].Name, srv[a].ID, srv[b].Name, srv[b].ID, srv[a].Name, srv[a].Lat, srv[a].Lon))
		srv[a].Lat, srv[a].Lon, srv[b].Lat, srv[b].Lon = srv[b].Lat, srv[b].Lon, srv[a].Lat, srv[a].Lon
	}
	dropped := map[int]bool{}
	for _, kb := range knownBad {
		if i := find(kb.id, kb.name); i >= 0 {
			dropped[kb.id] = true
			rep.Fixes = append(rep.Fixes, fmt.Sprintf("dropped server %s (id %d, %s, %s): %s%s",
				srv[i].Name, kb.id, srv[i].City, srv[i].Country, evidence(srv, pos, rows, i), kb.why))
		}
	}

	// The kept servers, in input order, first of each id.
	m := &Matrix{index: map[string]int{}}
	idx := map[int]int{} // id → index in m.Servers
	for i, s := range srv {
		if pos[s.ID] != i {
			rep.Fixes = append(rep.Fixes, fmt.Sprintf("dropped server %s: id %d already used by %s", s.Name, s.ID, srv[pos[s.ID]].Name))
			continue
		}
		if dropped[s.ID] {
			continue
		}
		idx[s.ID] = len(m.Servers)
		m.Servers = append(m.Servers, s)
	}
	n := len(m.Servers)
	m.rtt = make([]Ping, n*n)
	m.known = make([]bool, n*n)
	for i, s := range m.Servers {
		if k := nameKey(s.Name); k != "" {
			if _, ok := m.index[k]; !ok {
				m.index[k] = i
			}
		}
	}
	for i, s := range m.Servers {
		if k := nameKey(s.City); k != "" {
			if _, ok := m.index[k]; !ok {
				m.index[k] = i
			}
		}
	}

	// 2 and 3: filter rows.
	droppedRows := map[int]int{}
	for _, r := range rows {
		rep.Rows++
		if r.Src == r.Dst {
			rep.SelfPairs++
			continue
		}
		i, okI := idx[r.Src]
		j, okJ := idx[r.Dst]
		if !okI || !okJ {
			if (okI || dropped[r.Src]) && (okJ || dropped[r.Dst]) {
				rep.DroppedServer++
				if dropped[r.Src] {
					droppedRows[r.Src]++
				}
				if dropped[r.Dst] && r.Dst != r.Src {
					droppedRows[r.Dst]++
				}
			} else {
				rep.UnknownIDs++
			}
			continue
		}
		k := i*n + j
		if m.known[k] {
			rep.Duplicates++
			continue
		}
		a, b := m.Servers[i], m.Servers[j]
		if r.Min < Distance(a.Lat, a.Lon, b.Lat, b.Lon)/FibreKmPerMs {
			rep.FasterThanLight++
			continue
		}
		m.rtt[k], m.known[k] = r.Ping, true
		rep.Kept++
	}
	for i, f := range rep.Fixes {
		for _, kb := range knownBad {
			if c := droppedRows[kb.id]; c > 0 && strings.HasPrefix(f, "dropped server "+kb.name+" ") {
				rep.Fixes[i] = fmt.Sprintf("%s (%d ping rows dropped)", f, c)
			}
		}
	}

	// 4. Fill from the reverse direction.
	for i := range n {
		for j := range n {
			if i == j || m.known[i*n+j] {
				continue
			}
			// (j, i) was measured: a filled pair never serves as a source,
			// since filling (i, j) needs (j, i) known already.
			if m.known[j*n+i] {
				m.rtt[i*n+j], m.known[i*n+j] = m.rtt[j*n+i], true
				rep.Filled++
			}
		}
	}
	for i := range n {
		for j := range n {
			if i != j && !m.known[i*n+j] {
				rep.Missing++
			}
		}
	}
	return m, rep
}

// evidence describes the fastest ping involving srv[i] with its distance,
// e.g. "fastest ping 3.7 ms with Secaucus, 3,040 km away: ".
func evidence(srv []Server, pos map[int]int, rows []PingRow, i int) string {
	id := srv[i].ID
	best, other := math.Inf(1), -1
	for _, r := range rows {
		if r.Src == r.Dst || (r.Src != id && r.Dst != id) {
			continue
		}
		o := r.Src
		if o == id {
			o = r.Dst
		}
		j, ok := pos[o]
		if ok && r.Min < best {
			best, other = r.Min, j
		}
	}
	if other < 0 {
		return ""
	}
	o := srv[other]
	km := Distance(srv[i].Lat, srv[i].Lon, o.Lat, o.Lon)
	return fmt.Sprintf("fastest ping %.1f ms with %s, %.0f km away (light in fibre needs %.1f ms); ", best, o.Name, km, km/FibreKmPerMs)
}
