// Package control is steer's control plane: one control server that owns
// what a fleet of DNS servers must agree on, and the follower each DNS
// server runs to stay in step with it.
//
// The control server (Server, `steer control --config FILE`) keeps each
// PoP's operator state (up, drain, down, anycast; per PoP and optionally
// per record), the published map versions (a mapstore directory: publish
// through the held-out gate, activate, rollback, list), the fleet's health
// views (each DNS server runs its own checks and reports them; a PoP is
// down when a strict majority of the fresh views says so), PoP load
// reports and the load controller's moves (package loadctl). Its HTTP/JSON
// API lives under /v1/; every call needs a bearer token whose role (read,
// operate, publish) allows it (401 without a valid token, 403 for a wrong
// role, 400 naming the field of a malformed body, 404 for an unknown PoP).
// Every change is appended to an fsynced NDJSON audit log (time, token
// name, call, before, after) and state.json is rewritten atomically before
// the call is answered, so kill -9 loses nothing acknowledged.
//
// The fleet follows with Consul-style blocking queries: GET
// /v1/state?index=N&wait=30s answers as soon as the state's index differs
// from N (X-Steer-Index on every answer), so a drain reaches every server
// in one round trip. The state names the active map by version and
// SHA-256; a server fetches GET /v1/maps/N, checks the digest, loads it,
// and reports (POST /v1/fleet/report) its map version, the state index it
// applied, its health view and the error of the last map or state it could
// not apply — an ACK or NACK per version, as in Envoy's xDS. A server that
// loses the control server keeps serving its last state and map.
//
// Metrics of the control server:
//
//	steer_control_state_index, steer_control_map_version
//	steer_control_api_requests_total{route,code}
//	steer_control_pop_admin_state{pop,state}, steer_control_pop_health_up{pop}
//	steer_control_pop_health_votes{pop,view}, steer_control_pop_load_ratio{pop}
//	steer_control_pop_moved_networks{pop}, steer_control_pop_moved_ratio{pop}
//	steer_control_fleet_servers, steer_control_load_periods_total{outcome}
package control
