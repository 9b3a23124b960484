package chstore

import (
	"context"
	"fmt"
	"time"
)

// DeleteBefore implements store.Store, with the DuckDB store's meaning:
// it deletes the beacons received before t with all their samples (by
// Received, the server's clock, not by the samples' client clocks), and
// the queries logged before t, and returns the rows deleted: beacons
// (each once, however often stored), samples and queries. On every node
// it drops the months (partitions) that lie wholly before t and deletes
// the rest with a mutation (ALTER TABLE ... DELETE), waiting until the
// servers have finished it (Options.MutationTimeout).
func (s *Store) DeleteBefore(ctx context.Context, t time.Time) (int64, error) {
	if s.closed.Load() {
		return 0, errClosed
	}
	us := t.UnixMicro()
	var beacons, samples, queries int64
	err := s.query1(ctx, `SELECT toInt64(count()), toInt64(sum(length(ts))) FROM `+s.beacons+
		` FINAL WHERE received < `+int64SQL(us), func(r *rowReader) error {
		for r.more() {
			beacons, samples = r.i64(), r.i64()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting rows before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	err = s.query1(ctx, `SELECT toInt64(count()) FROM `+s.queries+` WHERE ts < `+int64SQL(us), func(r *rowReader) error {
		for r.more() {
			queries = r.i64()
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("deleting rows before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	err = s.eachNode(func(n node) error {
		if err := s.deleteLocal(ctx, n.addr, s.beaconsLocal, "received", us); err != nil {
			return err
		}
		return s.deleteLocal(ctx, n.addr, s.queriesLocal, "ts", us)
	})
	if err != nil {
		return 0, fmt.Errorf("deleting rows before %s: %w", t.UTC().Format(time.RFC3339), err)
	}
	return beacons + samples + queries, nil
}

// partitionSQL is the tables' partition key over a µs column: the month
// (UTC) as yyyymm.
func partitionSQL(col string) string {
	return `toYYYYMM(toDateTime(intDiv(` + col + `, 1000000), 'UTC'))`
}

// deleteLocal deletes the rows of one node's table whose col is below us.
func (s *Store) deleteLocal(ctx context.Context, node, table, col string, us int64) error {
	type part struct {
		month    uint32
		min, max int64
	}
	var parts []part
	err := s.c.query(ctx, node, `SELECT toUInt32(`+partitionSQL(col)+`) AS p, min(`+col+`), max(`+col+`) FROM `+table+
		` GROUP BY p HAVING min(`+col+`) < `+int64SQL(us), func(r *rowReader) error {
		for r.more() {
			parts = append(parts, part{r.u32(), r.i64(), r.i64()})
		}
		return nil
	})
	if err != nil {
		return err
	}
	mutate := false
	for _, p := range parts {
		// A month wholly before t goes whole: its end is not after t (so
		// rows added to it meanwhile are due too), and its rows are in it
		// (not a time outside DateTime's range that toDateTime wrapped).
		start := time.Date(int(p.month/100), time.Month(p.month%100), 1, 0, 0, 0, 0, time.UTC)
		end := start.AddDate(0, 1, 0)
		if p.max < us && end.UnixMicro() <= us && p.min >= start.UnixMicro() {
			if err := s.c.exec(ctx, node, fmt.Sprintf(`ALTER TABLE %s DROP PARTITION %d`, table, p.month)); err != nil {
				return err
			}
			continue
		}
		mutate = true
	}
	if !mutate {
		return nil
	}
	if err := s.c.exec(ctx, node, `ALTER TABLE `+table+` DELETE WHERE `+col+` < `+int64SQL(us)); err != nil {
		return err
	}
	return s.waitMutations(ctx, node, table)
}

// waitMutations polls system.mutations until the table has none left to
// do: ClickHouse 18.16 has no synchronous mutations.
func (s *Store) waitMutations(ctx context.Context, node, table string) error {
	db, name := s.loc.Database, table[len(s.loc.Database)+1:]
	mctx, cancel := context.WithTimeout(ctx, s.opt.MutationTimeout)
	defer cancel()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	var left uint64
	for {
		err := s.c.query(mctx, node, `SELECT toUInt64(count()) FROM system.mutations WHERE database = `+quote(db)+
			` AND table = `+quote(name)+` AND is_done = 0`, func(r *rowReader) error {
			for r.more() {
				left = r.u64()
			}
			return nil
		})
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case mctx.Err() != nil:
			return fmt.Errorf("%s on %s: the delete did not finish within %v (%d mutations left; see system.mutations)", table, node, s.opt.MutationTimeout, left)
		case err != nil:
			return err
		case left == 0:
			return nil
		}
		select {
		case <-mctx.Done():
		case <-tick.C:
		}
	}
}
