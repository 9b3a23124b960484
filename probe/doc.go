// Package probe is the measuring side of steer's real-user measurement
// (docs/DESIGN.md, "Probe"): the endpoint every PoP serves at /rum/probe
// ([Handler]), and the desktop/CLI agent that times HTTPS requests to
// every PoP and to the anycast address, resolves one random name under the
// RUM zone and posts the result to the collector as one beacon
// ([Measure], [MeasureRound], [Post], [Run]). `steer probe` and
// `steer probe-target` are thin commands over it. The package exports no
// metrics: an agent runs on users' machines, and the endpoint is counted by
// the server that mounts it; [Round] carries the per-round counts.
//
// # What rtt_ms means
//
// For each target the agent opens a fresh connection (a new
// [net/http.Transport] per target and round, so no pooled connection from
// an earlier round, and no proxy: a proxied request measures the proxy)
// and sends two GET requests on it. The first pays for DNS, the TCP
// handshake and the TLS handshake; [Timing] reports each of them and that
// request's time to first byte. The sample's rtt_ms is the time to first
// byte of the second request: from the moment it has the connection in
// hand, just before writing (httptrace GotConn; Resource Timing's
// requestStart), until the first byte of the response arrives
// (GotFirstResponseByte; responseStart), read from Go's monotonic clock.
// On a warm connection to a handler that answers at once, that is one
// network round trip to the PoP, plus the microseconds it takes to write a
// request and the PoP's time to answer.
//
// Why that and not the alternatives:
//
//   - It is comparable across PoPs and agents. Handshake times mix the
//     round trip with things that differ per PoP and per client and say
//     nothing about the path: TLS 1.2 against 1.3, session resumption,
//     certificate chain size, the PoP's key-exchange CPU. One round trip on
//     an established connection is the quantity the map ranks PoPs by, and
//     it is what the JavaScript beacon gets from the Resource Timing API
//     (responseStart − requestStart) when it fetches the probe URL twice,
//     the second time on the connection the first one opened. Agents of
//     both kinds therefore land in the same column.
//   - It is authenticated. TCP connect time is also one round trip, but the
//     SYN-ACK may come from a middlebox: an L4 load balancer in front of the
//     PoP, a transparent proxy, a captive portal (the reason only HTTPS
//     samples count: docs/DESIGN.md, "Cleaning rules"). The response to a
//     request inside TLS comes from whoever holds the PoP's certificate.
//   - It is what production agents measure. Dropbox's desktop client timed
//     requests to each PoP over a connection of its own; NS1 Pulsar's
//     JavaScript tag reports the Resource Timing of a small object fetched
//     from each endpoint. A fresh connection per target, timed on its
//     second request, is both.
//
// The handler must answer without delay for this to hold; [Handler] does
// (it writes a 204 from precomputed headers, no allocation). A response
// that names a different PoP in X-Edge-PoP than the target's label is not
// a sample: the URL was routed somewhere else, and recording it under the
// wrong label would corrupt the map.
//
// # The agent's cost on the client
//
// A round makes two small requests per target (a TLS handshake, a few
// hundred bytes each way) and one DNS query. At most Config.Concurrency
// targets are measured at once (default 4), each bounded by Config.Timeout
// (default 5 s, covering DNS, connect, both requests and the body), so a
// PoP that never answers costs at most the timeout and one goroutine. [Run]
// repeats rounds at the given interval, each wait drawn uniformly from
// ±20 % of it, so that agents started together (an update, a fleet
// reboot) drift apart instead of probing in lockstep. A failed target
// leaves its sample out and is counted in [Round]; a round whose every
// target failed produces no beacon ([ErrNoSamples]): a beacon with no
// samples is invalid.
//
// # The random-name DNS test
//
// Each round resolves one name <12 random [a-z0-9]>.<Config.RUMZone>
// (36¹² names: no cache holds it, so the query reaches the authoritative
// server, which logs it with the resolver's address and ECS subnet). The
// name goes into the beacon's dns_test; joining beacons and the query log
// on it gives resolver ↔ client subnet. The query goes to Config.Resolver
// with miekg/dns (recursion desired, no ECS option: the agent must not
// choose what the resolver reveals), or through the system resolver when
// that is empty, which is what a real agent does, since the point is to
// learn which resolver the client uses. dns_test is set even when the
// lookup failed: the query may have reached the authoritative server before
// the answer was lost, and a name the log never saw joins nothing.
//
// # The PoP list
//
// [FetchTargets] reads the targets from a small JSON document that the
// collector serves at /rum/pops.json ([MarshalTargets] writes it):
//
//	{"pops": [{"label": "fra", "url": "https://fra.example.net/rum/probe"},
//	          {"label": "ams", "url": "https://ams.example.net/rum/probe"}],
//	 "anycast": "https://www.example.net/rum/probe"}
//
// Labels follow config.CheckLabel's rule (1..32 of [a-z0-9-], not
// "anycast") and are unique; URLs are absolute http or https URLs without
// user info or fragment; "anycast" is optional; at least one target, at
// most rum.MaxSamples. Unknown keys are ignored rather than rejected,
// unlike steer's config files: the document is read by agents already
// deployed on users' machines, which must keep working when a newer
// collector adds a field. The document is limited to [MaxTargetsSize].
//
// # The probe endpoint
//
// [Handler] answers GET and HEAD with 204 No Content and the headers
// browsers and agents need: Cache-Control: no-store (every probe must reach
// the PoP), Timing-Allow-Origin: * (without it Resource Timing hides the
// timings of cross-origin requests), Access-Control-Allow-Origin: * and
// Access-Control-Expose-Headers: X-Edge-PoP (so the page may read the
// response and the PoP that served it), and X-Edge-PoP. OPTIONS answers a
// CORS preflight; other methods get 405. It never logs: client addresses
// must not be written anywhere before truncation (docs/DESIGN.md, "Privacy").
// Servers that mount it should also discard net/http's own error log,
// which names client addresses in TLS handshake errors; `steer
// probe-target` does.
package probe
