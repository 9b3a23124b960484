package duckstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/steer-gslb/steer/store"
)

// tx is an open write transaction on the writer's connection: batches are
// appended as they come (the bulk import streams its workers' batches into
// one), and commit makes them durable. It holds DuckDB.mu from begin to
// commit or rollback, and undoes its changes to the in-memory state (IDs,
// labels, sequence numbers) if the transaction does not commit.
type tx struct {
	s       *DB
	ctx     context.Context
	beacons *chunkWriter
	samples *chunkWriter
	queries *chunkWriter
	res     store.AddResult
	rows    int // samples and queries appended
	// Appended: beacons, their samples, queries.
	nBeacons, nSamples, nQueries int
	begun                        bool

	// Undo state.
	added     []uint64
	newLabels []string
	seq0      uint64
	label0    uint32
}

// write stores batches in one transaction (see tx.add) and commits it.
func (s *DB) write(ctx context.Context, bs []*batch) (store.AddResult, error) {
	t, err := s.begin(ctx)
	if err != nil {
		return store.AddResult{}, err
	}
	for _, b := range bs {
		if err := t.add(b); err != nil {
			t.rollback()
			return store.AddResult{}, err
		}
	}
	return t.commit()
}

func (s *DB) begin(ctx context.Context) (*tx, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil, errClosed
	}
	if err := ctx.Err(); err != nil {
		s.mu.Unlock()
		return nil, err
	}
	s.recent.expire(s.opt.Now())
	return &tx{s: s, ctx: ctx, seq0: s.nextSeq, label0: s.nextLabel}, nil
}

// open starts the DuckDB transaction and the appenders on first use, so
// that a call whose beacons are all duplicates writes nothing.
func (t *tx) open() error {
	if t.begun {
		return nil
	}
	if err := t.s.exec("BEGIN TRANSACTION"); err != nil {
		return err
	}
	t.begun = true
	var err error
	t.beacons, err = newChunkWriter(t.s.conn, "beacons", tUBigInt, tUBigInt, tUBigInt, tTimestamp, tUInteger, tUInteger, tUInteger, tVarchar, tUSmallInt, tUInteger)
	if err == nil {
		t.samples, err = newChunkWriter(t.s.conn, "samples", tUBigInt, tTimestamp, tUInteger, tUTinyInt, tDouble, tUInteger)
	}
	if err == nil {
		t.queries, err = newChunkWriter(t.s.conn, "queries", tTimestamp, tVarchar, tVarchar, tVarchar, tUBigInt, tVarchar, tVarchar)
	}
	return err
}

// add appends b: its beacons not already stored (nor earlier in this
// transaction), with their samples, and its queries. Duplicates are
// counted in the result and their samples in b.dupSamples.
func (t *tx) add(b *batch) error {
	s := t.s
	if err := t.ctx.Err(); err != nil {
		return err
	}
	keep := make([]bool, b.beacons())
	b.dupSamples = 0
	n := 0
	for j, id := range b.ids {
		if !s.recent.insert(id, b.recv[j]) {
			t.res.Duplicates++
			b.dupSamples += b.beaconSamples(j)
			continue
		}
		keep[j] = true
		t.added = append(t.added, id)
		n++
	}
	if n == 0 && b.queries() == 0 {
		return nil
	}
	if err := t.open(); err != nil {
		return err
	}
	lm, err := t.labelIDs(b)
	if err != nil {
		return err
	}
	if err := t.appendBeacons(b, keep, lm); err != nil {
		return err
	}
	if err := t.appendQueries(b); err != nil {
		return err
	}
	t.res.Added += n + b.queries()
	t.rows += b.samples() - b.dupSamples + b.queries()
	t.nBeacons += n
	t.nSamples += b.samples() - b.dupSamples
	t.nQueries += b.queries()
	return nil
}

// labelIDs maps b's codes to the ids of the store's dict table, adding
// new strings to it: m[i+1] is the id of b.labels[i], and m[0] = 0 stands
// for "" (NULL in the views).
func (t *tx) labelIDs(b *batch) ([]uint32, error) {
	s := t.s
	m := make([]uint32, len(b.labels)+1)
	var fresh []string
	for k, l := range b.labels {
		k++
		id, ok := s.labels[l]
		if !ok {
			id = s.nextLabel
			s.nextLabel++
			s.labels[l] = id
			t.newLabels = append(t.newLabels, l)
			fresh = append(fresh, l)
		}
		m[k] = id
	}
	if len(fresh) == 0 {
		return m, nil
	}
	w, err := newChunkWriter(s.conn, "dict", tUInteger, tVarchar)
	if err != nil {
		return nil, err
	}
	for _, l := range fresh {
		if w.room() == 0 {
			if err := w.emit(); err != nil {
				_ = w.close()
				return nil, err
			}
		}
		col[uint32](w, 0)[w.n] = s.labels[l]
		w.setString(1, w.n, l, false)
		w.n++
	}
	return m, w.close()
}

// appendBeacons appends the kept beacons of b and their samples, giving
// each beacon the next sequence number. The sample columns are copied in
// runs (a beacon's samples are contiguous in b).
func (t *tx) appendBeacons(b *batch, keep []bool, lm []uint32) error {
	bw, sw := t.beacons, t.samples
	start := int32(0)
	for j := range b.ids {
		end := b.sampleEnd[j]
		if !keep[j] {
			start = end
			continue
		}
		seq := t.s.nextSeq
		t.s.nextSeq++
		if bw.room() == 0 {
			if err := bw.emit(); err != nil {
				return err
			}
		}
		r := bw.n
		col[uint64](bw, 0)[r] = seq
		col[uint64](bw, 1)[r] = b.ids[j]
		col[uint64](bw, 2)[r] = b.nets[j]
		col[int64](bw, 3)[r] = b.recv[j]
		col[uint32](bw, 4)[r] = lm[b.kinds[j]]
		col[uint32](bw, 5)[r] = lm[b.platforms[j]]
		col[uint32](bw, 6)[r] = lm[b.timers[j]]
		bw.setString(7, r, b.dnsTests[j], true)
		col[uint16](bw, 8)[r] = uint16(end - start)
		col[uint32](bw, 9)[r] = lm[b.sources[j]]
		bw.n++

		for k := int(start); k < int(end); {
			if sw.room() == 0 {
				if err := sw.emit(); err != nil {
					return err
				}
			}
			m := min(int(end)-k, sw.room())
			r := sw.n
			fill(col[uint64](sw, 0)[r:r+m], seq)
			copy(col[int64](sw, 1)[r:r+m], b.ts[k:k+m])
			tg := col[uint32](sw, 2)[r : r+m]
			for x, v := range b.target[k : k+m] {
				tg[x] = lm[v]
			}
			copy(col[uint8](sw, 3)[r:r+m], b.probe[k:k+m])
			copy(col[float64](sw, 4)[r:r+m], b.rtt[k:k+m])
			sb := col[uint32](sw, 5)[r : r+m]
			for x, v := range b.servedBy[k : k+m] {
				sb[x] = lm[v]
			}
			sw.n += m
			k += m
		}
		start = end
	}
	return nil
}

func fill[T any](s []T, v T) {
	for i := range s {
		s[i] = v
	}
}

func (t *tx) appendQueries(b *batch) error {
	w := t.queries
	for j := range b.qts {
		if w.room() == 0 {
			if err := w.emit(); err != nil {
				return err
			}
		}
		r := w.n
		col[int64](w, 0)[r] = b.qts[j]
		w.setString(1, r, b.qnames[j], false)
		w.setString(2, r, b.qtypes[j], false)
		w.setString(3, r, b.resolvers[j], false)
		if b.hasECS[j] {
			col[uint64](w, 4)[r] = b.ecs[j]
		} else {
			w.setNull(4, r)
		}
		w.setString(5, r, b.pops[j], true)
		w.setString(6, r, b.qsources[j], false)
		w.n++
	}
	return nil
}

// closeWriters flushes and frees the appenders.
func (t *tx) closeWriters() error {
	var errs []error
	for _, w := range []*chunkWriter{t.beacons, t.samples, t.queries} {
		if w != nil {
			errs = append(errs, w.close())
		}
	}
	t.beacons, t.samples, t.queries = nil, nil, nil
	return errors.Join(errs...)
}

// commit makes the transaction durable: it returns after DuckDB has
// committed and fsynced its WAL (and the directory, for a new WAL file).
func (t *tx) commit() (store.AddResult, error) {
	s := t.s
	defer s.mu.Unlock()
	if !t.begun { // nothing to write
		return t.res, nil
	}
	err := t.closeWriters()
	if err == nil {
		err = t.ctx.Err()
	}
	if err != nil {
		t.abort()
		return store.AddResult{}, err
	}
	if err := s.exec("COMMIT"); err != nil {
		t.abort()
		return store.AddResult{}, fmt.Errorf("committing: %w", err)
	}
	if err := s.syncWALDir(); err != nil {
		return store.AddResult{}, err
	}
	return t.res, nil
}

// rollback abandons the transaction.
func (t *tx) rollback() {
	defer t.s.mu.Unlock()
	_ = t.closeWriters()
	t.abort()
}

// abort rolls the DuckDB transaction back and undoes the in-memory state.
func (t *tx) abort() {
	s := t.s
	if t.begun {
		_ = s.exec("ROLLBACK")
		t.begun = false
	}
	for _, id := range t.added {
		delete(s.recent.m, id)
	}
	for _, l := range t.newLabels {
		delete(s.labels, l)
	}
	s.nextSeq, s.nextLabel = t.seq0, t.label0
}
