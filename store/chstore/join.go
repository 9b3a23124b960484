package chstore

import (
	"cmp"
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/steer-gslb/steer/store"
)

// normName is a query name as the join compares it: lowercased, without
// trailing dots (18.16 has no trimRight).
const normName = `lowerUTF8(replaceRegexpOne(qname, '\\.+$', ''))`

// JoinDNS implements store.Reader, pushed down like Aggregate: each node
// joins its own beacons' DNS test names with the query log's first query
// per name (argMin by time; every query when RuleDNSDuplicate is
// skipped), read from the whole log (the Distributed table), and groups
// per (network, resolver); networks live on one shard, so the shards'
// rows are disjoint and are concatenated here.
func (s *Store) JoinDNS(ctx context.Context, c store.Clean) (*store.Join, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	j := &store.Join{}
	err := s.query1(ctx, `SELECT toInt64(count()), toInt64(uniqExact(`+normName+`)) FROM `+s.queries, func(r *rowReader) error {
		for r.more() {
			j.Queries, j.Names = r.i64(), r.i64()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading the query log: %w", err)
	}
	split := splitSQL(c)
	err = s.query1(ctx, `SELECT toInt64(count()) FROM `+s.beacons+` FINAL WHERE dns_test != '' AND `+split, func(r *rowReader) error {
		for r.more() {
			j.Tests = r.i64()
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading beacons: %w", err)
	}
	// the first query of each name (its resolver and ECS from one row)
	first := `SELECT name, tupleElement(f, 1) AS resolver, tupleElement(f, 2) AS e
		FROM (SELECT ` + normName + ` AS name, argMin(tuple(resolver, has_ecs), ts) AS f FROM ` + s.queries + ` GROUP BY name)`
	if c.Skip[store.RuleDNSDuplicate] {
		first = `SELECT ` + normName + ` AS name, resolver, has_ecs AS e FROM ` + s.queries
	}
	query := `SELECT network, resolver, toInt64(count()), toInt64(sum(e))
		FROM (SELECT network, lowerUTF8(dns_test) AS name FROM ` + s.beaconsLocal + ` FINAL WHERE dns_test != '' AND ` + split + `)
		ALL INNER JOIN (` + first + `) USING name
		GROUP BY network, resolver`
	type row struct {
		text string
		rc   store.ResolverClients
	}
	var rows []row
	var mu sync.Mutex
	err = s.eachNode(func(n node) error {
		return s.c.query(ctx, n.addr, query, func(r *rowReader) error {
			mu.Lock()
			defer mu.Unlock()
			for r.more() {
				var x row
				x.rc.Network = r.u64()
				x.text = r.str()
				x.rc.N, x.rc.ECS = r.i64(), r.i64()
				if r.err != nil {
					return nil
				}
				a, err := netip.ParseAddr(x.text)
				if err != nil {
					continue // AddQueries stores parsed addresses: not expected
				}
				x.rc.Resolver = a.Unmap()
				rows = append(rows, x)
			}
			return nil
		}, s.readSettings()...)
	})
	if err != nil {
		return nil, fmt.Errorf("joining DNS tests with the query log: %w", err)
	}
	slices.SortFunc(rows, func(a, b row) int {
		if c := strings.Compare(a.text, b.text); c != 0 {
			return c
		}
		return cmp.Compare(a.rc.Network, b.rc.Network)
	})
	for _, x := range rows {
		j.Rows = append(j.Rows, x.rc)
	}
	return j, nil
}

// splitSQL is the SQL of store.IsHeldOut for the beacons table, and of
// c.Since's window, as the
// join uses it (edge beacons have no DNS test).
func splitSQL(c store.Clean) string {
	held := `0`
	if c.HoldOut > 0 {
		held = `(intDiv(id, 128) % 10000 < ` + float64SQL(c.HoldOut*10000) + `)`
	}
	window := ``
	if !c.Since.IsZero() {
		window = ` AND received >= ` + int64SQL(c.SinceUS())
	}
	switch c.Split {
	case store.TrainBeacons:
		return `NOT ` + held + window
	case store.HoldoutBeacons:
		return held + window
	}
	return `1` + window
}
