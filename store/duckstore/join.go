package duckstore

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/steer-gslb/steer/store"
)

// JoinDNS implements store.Reader in SQL.
func (s *DB) JoinDNS(ctx context.Context, c store.Clean) (j *store.Join, err error) {
	err = s.Read(func() error {
		j, err = s.joinDNS(ctx, c)
		return err
	})
	return j, err
}

func (s *DB) joinDNS(ctx context.Context, c store.Clean) (*store.Join, error) {
	j := &store.Join{}
	if err := s.db.QueryRowContext(ctx,
		`SELECT count(*), count(DISTINCT lower(rtrim(qname, '.'))) FROM queries`).Scan(&j.Queries, &j.Names); err != nil {
		return nil, fmt.Errorf("duckstore: reading the query log: %w", err)
	}
	split := splitSQL(c)
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM beacons b WHERE b.dns_test IS NOT NULL AND `+
		split).Scan(&j.Tests); err != nil {
		return nil, fmt.Errorf("duckstore: reading beacons: %w", err)
	}
	// without the first-wins rule every query of a name counts
	first := `arg_min(resolver, ts) AS resolver, arg_min(ecs IS NOT NULL, ts) AS ecs`
	group := `GROUP BY 1`
	if c.Skip[store.RuleDNSDuplicate] {
		first, group = `resolver, ecs IS NOT NULL AS ecs`, ``
	}
	rows, err := s.db.QueryContext(ctx, `WITH q AS (SELECT lower(rtrim(qname, '.')) AS name, `+first+` FROM queries `+group+`)
		SELECT b.network, q.resolver, count(*), sum(CASE WHEN q.ecs THEN 1 ELSE 0 END)
		FROM beacons b JOIN q ON q.name = lower(b.dns_test)
		WHERE b.dns_test IS NOT NULL AND `+split+`
		GROUP BY b.network, q.resolver ORDER BY q.resolver, b.network`)
	if err != nil {
		return nil, fmt.Errorf("duckstore: joining DNS tests with the query log: %w", err)
	}
	defer func() { _ = rows.Close() }()
	for rows.Next() {
		var rc store.ResolverClients
		var resolver string
		if err := rows.Scan(&rc.Network, &resolver, &rc.N, &rc.ECS); err != nil {
			return nil, fmt.Errorf("duckstore: joining DNS tests: %w", err)
		}
		a, err := netip.ParseAddr(resolver)
		if err != nil {
			continue // the store keeps resolvers as parsed addresses: not expected
		}
		rc.Resolver = a.Unmap()
		j.Rows = append(j.Rows, rc)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("duckstore: joining DNS tests: %w", err)
	}
	return j, nil
}

// splitSQL is the SQL form of store.IsHeldOut, and of c.Since's window,
// for a beacons table aliased b.
func splitSQL(c store.Clean) string {
	share := max(c.HoldOut, 0) // <= 0: no beacon held out
	cond := fmt.Sprintf("CAST((b.id >> 7) %% 10000 AS DOUBLE) < %v", share*10000)
	window := ""
	if !c.Since.IsZero() {
		window = fmt.Sprintf(" AND epoch_us(b.received) >= %d", c.SinceUS())
	}
	switch c.Split {
	case store.TrainBeacons:
		return "NOT (" + cond + ")" + window
	case store.HoldoutBeacons:
		return cond + window
	}
	return "true" + window
}
