package control

import (
	"encoding/json"
	"time"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// State is what the fleet must agree on, as GET /v1/state delivers it.
// Index grows by one with every change; a follower long-polls with the
// index it has and gets the next State as soon as it exists.
type State struct {
	Index uint64    `json:"index"`
	Time  time.Time `json:"time"` // when Index was reached
	// PoPs holds every PoP of the fleet's DNS config, by label.
	PoPs map[popmap.Label]*PoPState `json:"pops"`
	// Map is the active map version (nil before the first publish).
	Map *MapRef `json:"map,omitempty"`
	// PatchSHA256 names the load moves: an override map applied over Map
	// by longest prefix, compiled (popmap.Table.MarshalBinary), which a
	// server fetches with GET /v1/patches/{PatchID} when it does not have
	// a patch of this digest; empty = no moves. The state names the patch
	// instead of carrying it: a state goes to every server on every change
	// of health or state, and a patch of 8,000 networks inline cost each
	// server 10–20 ms of JSON on its query core every time. PatchVersion
	// is the map version the moves were computed on: a server serving
	// another version ignores them. PatchID changes whenever the moves do.
	PatchSHA256  string `json:"patch_sha256,omitempty"`
	PatchVersion int    `json:"patch_version,omitempty"`
	PatchID      uint64 `json:"patch_id,omitempty"`
}

// PoPState is one PoP's agreed state.
type PoPState struct {
	// Admin is the operator's state (up, drain, down, anycast).
	Admin config.State `json:"admin"`
	// Records overrides Admin for single records (absolute lowercase name).
	Records map[string]config.State `json:"records,omitempty"`
	// Health is the fleet's combined view: "up", "down", or "unknown" (no
	// fresh report from any server with a check), which counts as up.
	Health string `json:"health"`
	// Votes are the fresh views behind Health.
	VotesUp   int `json:"votes_up"`
	VotesDown int `json:"votes_down"`
	// Load is the last reported utilization (load/capacity), 0 when none;
	// LoadAge is its age in seconds (-1: never reported).
	Load    float64 `json:"load"`
	LoadAge float64 `json:"load_age_s"`
	// Moved is the traffic weight the load controller moved off this PoP
	// (networks and their share of the PoP's mapped weight).
	MovedNetworks int     `json:"moved_networks"`
	MovedShare    float64 `json:"moved_share"`
}

// Healthy reports whether the PoP counts as healthy (up or unknown).
func (p *PoPState) Healthy() bool { return p.Health != HealthDown }

// State for record name rec: its override, else the PoP's admin state.
func (p *PoPState) State(rec string) config.State {
	if s, ok := p.Records[rec]; ok {
		return s
	}
	return p.Admin
}

// Health views.
const (
	HealthUp      = "up"
	HealthDown    = "down"
	HealthUnknown = "unknown"
)

// MapRef names a published map version and its file's SHA-256.
type MapRef struct {
	Version int    `json:"version"`
	SHA256  string `json:"sha256"`
	// TableSHA256 is that of the version's compiled table (GET
	// /v1/maps/N/table), which a DNS server decodes instead of compiling
	// the JSON; empty when the version has none (published before tables).
	TableSHA256 string `json:"table_sha256,omitempty"`
}

// Report is what a DNS server tells the control server about itself
// (POST /v1/fleet/report), every few seconds and on every change.
type Report struct {
	Server  string `json:"server"`  // a name unique in the fleet
	Version string `json:"version"` // the steer build
	// MapVersion and MapSHA256 identify the map served from the control
	// map file (0 and "" when none); MapAge is the seconds since it loaded.
	MapVersion int     `json:"map_version"`
	MapSHA256  string  `json:"map_sha256,omitempty"`
	MapAge     float64 `json:"map_age_s"`
	// StateIndex is the last State applied; Error is why the last map or
	// state could not be applied ("" = all applied: an ACK, else a NACK).
	StateIndex uint64 `json:"state_index"`
	Error      string `json:"error,omitempty"`
	// Health is the server's own check results by PoP label (PoPs without
	// a check are absent).
	Health map[popmap.Label]bool `json:"health,omitempty"`
}

// Member is a DNS server as the control server sees it (GET /v1/fleet).
type Member struct {
	Report
	Addr     string    `json:"addr"`      // the address the report came from
	LastSeen time.Time `json:"last_seen"` // when the last report arrived
	Age      float64   `json:"age_s"`     // seconds since then
	Fresh    bool      `json:"fresh"`     // within the report TTL: its health counts
}

// Fleet is GET /v1/fleet.
type Fleet struct {
	Index   uint64   `json:"index"`
	Map     *MapRef  `json:"map,omitempty"`
	Servers []Member `json:"servers"`
}

// LoadReport is POST /v1/load: a PoP's current load against its capacity,
// in any unit both share (requests/s, Gbit/s, CPU). Capacity defaults to
// the PoP's configured capacity.
type LoadReport struct {
	PoP      popmap.Label `json:"pop"`
	Load     *float64     `json:"load"`
	Capacity float64      `json:"capacity,omitempty"`
}

// StateChange is POST /v1/pops/{label}/state.
type StateChange struct {
	State  config.State `json:"state"`
	Record string       `json:"record,omitempty"` // only this record; "" = the whole PoP
}

// PublishRequest is POST /v1/maps: a candidate map, optionally with the
// builder's RTT file (MAP.rtt.tsv) that load moves rank networks by. On the
// wire: {"map": {NS1 map}, "rtt": "…", "force": false, "source": "…"}.
type PublishRequest struct {
	Map *popmap.Map
	// MapJSON is the map's NS1 JSON as it is (a map file's bytes), sent
	// instead of Map when set: the control server parses it once.
	MapJSON json.RawMessage
	RTT     string
	Force   bool
	Source  string // where the candidate came from, for history
}

type publishWire struct {
	Map    json.RawMessage `json:"map"`
	RTT    string          `json:"rtt,omitempty"`
	Force  bool            `json:"force,omitempty"`
	Source string          `json:"source,omitempty"`
}

// MarshalJSON encodes the request in its wire form.
func (r PublishRequest) MarshalJSON() ([]byte, error) {
	w := publishWire{Map: r.MapJSON, RTT: r.RTT, Force: r.Force, Source: r.Source}
	if w.Map == nil && r.Map != nil {
		b, err := r.Map.MarshalJSON()
		if err != nil {
			return nil, err
		}
		w.Map = b
	}
	return json.Marshal(w)
}

// PublishResult answers POST /v1/maps, /v1/maps/activate and /v1/maps/rollback.
type PublishResult struct {
	Action    string  `json:"action,omitempty"`
	Unchanged bool    `json:"unchanged,omitempty"`
	Version   int     `json:"version"`
	Previous  int     `json:"previous"`
	SHA256    string  `json:"sha256"`
	Forced    bool    `json:"forced,omitempty"`
	Gate      *string `json:"gate,omitempty"`
}

// AuditEntry is one line of the audit log (NDJSON).
type AuditEntry struct {
	Time   time.Time `json:"time"`
	Token  string    `json:"token"` // the token's name ("controller" for load moves)
	Call   string    `json:"call"`  // e.g. "POST /v1/pops/fra/state"
	Before any       `json:"before"`
	After  any       `json:"after"`
}

// APIError is the body of every error answer.
type APIError struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
}
