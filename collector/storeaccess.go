package collector

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/steer-gslb/steer/store"
	"github.com/steer-gslb/steer/store/duckstore"
)

// This file is how a command reads a RUM store that a running collector
// may hold (DuckDB lets one process open a store for writing and then
// keeps every other process out, readers too): steer store stats asks the
// collector, and commands that need the store name its holder and the fix.

// StatsResult is a store's counts and where they came from.
type StatsResult struct {
	Stats store.Stats
	// Backlog is the bytes acknowledged in the collector's spool and not
	// yet in the store (0 when the store was read directly).
	Backlog int64
	// From says where the figures came from when a collector gave them
	// ("from the running collector, pid N"); "" when the store was read.
	From string
	// Store is the store directory a collector asked by URL reports.
	Store string
}

// ReadStoreStats returns the counts of the store in dir. It opens the
// store read-only; when a running collector holds it, it asks that
// collector, found through its announcement in dir. With collectorURL set
// it asks that collector directly (its admin listener).
func ReadStoreStats(ctx context.Context, dir, collectorURL string) (StatsResult, error) {
	if collectorURL != "" {
		st, err := fetchStats(ctx, collectorURL, "")
		if err != nil {
			return StatsResult{}, fmt.Errorf("asking the collector: %w", err)
		}
		return StatsResult{Stats: st.Stats, Backlog: st.SpoolBacklog, Store: st.Store,
			From: fmt.Sprintf("from the collector at %s, pid %d", collectorURL, st.PID)}, nil
	}
	st, err := duckstore.Open(dir, duckstore.Options{ReadOnly: true})
	if err == nil {
		s, err := st.Stats(ctx)
		if cerr := st.Close(); err == nil {
			err = cerr
		}
		return StatsResult{Stats: s}, err
	}
	a, herr := storeHolder(dir, err)
	if herr != nil {
		return StatsResult{}, herr
	}
	if a == nil {
		return StatsResult{}, errStoreLocked(dir, err, "stop it, or give --collector URL of the collector that holds it")
	}
	s, err := fetchStats(ctx, a.URL, a.TLSCert)
	if err == nil && s.PID != a.PID {
		err = fmt.Errorf("%s answers as pid %d", a.URL, s.PID)
	}
	if err != nil {
		return StatsResult{}, fmt.Errorf("store %s is held by the running collector (pid %d), but asking it failed: %w; check that collector, or give --collector URL of its admin listener", dir, a.PID, err)
	}
	return StatsResult{Stats: s.Stats, Backlog: s.SpoolBacklog, From: fmt.Sprintf("from the running collector, pid %d", a.PID)}, nil
}

// StoreBusyError is the error of a command (cmd: "ingest", "prune", ...)
// that needs the store in dir to itself and could not open it (openErr):
// when another process holds it, one line naming that process and the fix;
// otherwise openErr.
func StoreBusyError(dir string, openErr error, cmd string) error {
	a, err := storeHolder(dir, openErr)
	switch {
	case err != nil:
		return err
	case a == nil:
		return errStoreLocked(dir, openErr, "stop it first: "+cmd+" needs the store to itself")
	}
	fix := "stop the collector first"
	if cmd == "prune" {
		fix = "stop the collector first, or let it prune (steer collect --retention 720h)"
	}
	return fmt.Errorf("store %s is held by the running collector (pid %d, %s): %s needs the store to itself: %s", dir, a.PID, a.URL, cmd, fix)
}

// storeHolder tells who holds the store when opening it failed with
// openErr: the running collector announced in dir, or nil when the lock
// holder is another process (or a collector that did not announce
// itself). It returns openErr when the store is not locked.
func storeHolder(dir string, openErr error) (*Announcement, error) {
	var le *duckstore.LockedError
	if !errors.As(openErr, &le) {
		return nil, openErr
	}
	a, err := ReadAnnouncement(dir)
	if err != nil || !a.Alive() || (le.PID != 0 && le.PID != a.PID) {
		return nil, nil // no announcement, or a stale one (a killed collector, or one older than the lock's holder)
	}
	return &a, nil
}

// errStoreLocked is the one-line error for a store another process
// holds: store DIR is locked by another process (pid N, PROGRAM): FIX.
func errStoreLocked(dir string, openErr error, fix string) error {
	var le *duckstore.LockedError
	errors.As(openErr, &le)
	who := "another process"
	switch {
	case le != nil && le.PID > 0 && le.Program != "":
		who += fmt.Sprintf(" (pid %d, %s)", le.PID, le.Program)
	case le != nil && le.PID > 0:
		who += fmt.Sprintf(" (pid %d)", le.PID)
	}
	return fmt.Errorf("store %s is locked by %s: %s", dir, who, fix)
}

// fetchStats asks a collector, for at most 30 s.
func fetchStats(ctx context.Context, url, tlsCert string) (StoreStats, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return FetchStoreStats(ctx, url, tlsCert)
}
