package store

import (
	"context"
	"fmt"

	"github.com/steer-gslb/steer/rum"
)

// CopyStats counts what Copy read and what the destination did.
type CopyStats struct {
	Beacons AddResult
	Queries AddResult
}

// Copy copies every beacon (with its samples) and every query-log line of
// src into dst, batch rows at a time: `steer ingest` into a ClickHouse
// store (parsed into a temporary DuckDB store first, then copied) and
// `steer store export` of one (copied into a temporary DuckDB store) use
// it. A beacon's rows must come together from src.ScanSamples, as every
// engine's do; its Received and Source are kept, and its ID (the hash of
// its values) is the same in dst.
func Copy(ctx context.Context, dst, src Store, batch int) (CopyStats, error) {
	var st CopyStats
	if batch <= 0 {
		batch = 10000
	}
	var bs []Beacon
	var curID uint64
	flush := func() error {
		if len(bs) == 0 {
			return nil
		}
		r, err := dst.AddBeacons(ctx, bs)
		st.Beacons.Added += r.Added
		st.Beacons.Duplicates += r.Duplicates
		bs = bs[:0]
		return err
	}
	err := src.ScanSamples(ctx, func(r *SampleRow) error {
		if len(bs) == 0 || r.BeaconID != curID {
			if len(bs) == batch {
				if err := flush(); err != nil {
					return err
				}
			}
			bs = append(bs, Beacon{Beacon: rum.Beacon{V: 1, ClientSubnet: r.Network, Agent: r.Agent, DNSTest: r.DNSTest},
				Received: r.Received, Source: r.Source})
			curID = r.BeaconID
		}
		cur := &bs[len(bs)-1]
		cur.Samples = append(cur.Samples, r.Sample)
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return st, fmt.Errorf("copying beacons: %w", err)
	}
	var qs []rum.LogEntry
	add := func() error {
		r, err := dst.AddQueries(ctx, qs)
		st.Queries.Added += r.Added
		qs = qs[:0]
		return err
	}
	err = src.ScanQueries(ctx, func(e *rum.LogEntry) error {
		qs = append(qs, *e)
		if len(qs) == batch {
			return add()
		}
		return nil
	})
	if err == nil && len(qs) > 0 {
		err = add()
	}
	if err != nil {
		return st, fmt.Errorf("copying queries: %w", err)
	}
	return st, nil
}
