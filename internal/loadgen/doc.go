// Package loadgen is steer's DNS benchmark client: a batched UDP load
// generator (sendmmsg/recvmmsg through golang.org/x/net/ipv4, a fixed window
// of queries in flight, per-slot send timestamps, timeouts counted as lost)
// whose queries each carry their own EDNS0 client-subnet source drawn from a
// map, a checker that compares sampled replies (answer and ECS scope) with
// popmap.Table.LookupPrefix and the config's PoP addresses, a map-reload
// probe, a dnsperf -B input writer, and the synthetic benchmark world that
// steer-dns and gdnsd serve alike (World, Synth).
//
// miekg/dns builds the queries once and parses sampled replies; the hot loop
// only patches the 2-byte ID into precomputed wire queries and reads the ID
// of each reply, so the client costs little per query and a server's
// ceiling, not the client's, is what gets measured (Result.ServerCPUPercent
// says which one it was). The package exports no metrics.
package loadgen
