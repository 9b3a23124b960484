// Package steerapi is the steering API (steer.v1.SteeringService,
// proto/steer/v1/steering.proto) served by `steer dns` on listen.api:
// Resolve and ResolveBatch return, for a client address and optional ECS
// subnet, the PoPs the DNS server answers it with at that moment — the same
// steering chain, snapshot (config, maps, GeoIP) and PoP state (drain,
// health, control-plane load moves), taken through dnsserver's Decide,
// which the DNS answers use too — with the deciding step, the ECS scope
// and the map version.
//
// The handler speaks Connect (JSON and binary), gRPC and gRPC-Web
// (connectrpc.com/connect); the server serves it over HTTP/1.1 and h2c.
// JSON responses include zero values ("scope": 0, "pops": []), so a curl
// user sees every field. A malformed request gets CodeInvalidArgument with
// a message naming the field ("ip: ...", "requests[3].ecs: ...").
//
// Explain answers CodeUnimplemented until package explain exists. The
// Resolve response's token is never set: signed steering tokens are not
// built yet. The package exports no metrics.
package steerapi
