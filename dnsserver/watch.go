package dnsserver

import (
	"context"
	"math/rand/v2"
	"path/filepath"
	"time"

	"github.com/fsnotify/fsnotify"
)

// pollEvery is the interval of the identity check that backs up fsnotify:
// it compares every watched file's (device, inode, size, mtime, ctime) with
// the snapshot's, so a replacement is never missed, even one carrying the
// same mtime second or happening while the watch was being re-armed.
const pollEvery = 2 * time.Second

// watched returns the files the snapshot depends on.
func (s *snapshot) watched() []string {
	files := []string{s.cfg.File}
	for p := range s.maps {
		files = append(files, p)
	}
	if s.cfg.GeoIP != "" {
		files = append(files, s.cfg.GeoIP)
	}
	return files
}

// changed reports whether any file the snapshot was built from differs now.
func (s *snapshot) changed(cfgID fileID) bool {
	if id, err := statID(s.cfg.File); err != nil || id != cfgID {
		return true
	}
	for p, m := range s.maps {
		if id, err := statID(p); err != nil || id != m.id {
			return true
		}
	}
	if s.cfg.GeoIP != "" {
		if id, err := statID(s.cfg.GeoIP); err != nil || id != s.geoFile {
			return true
		}
	}
	return false
}

// watch reloads on file events (debounced) and on the identity poll.
func (s *Server) watch(ctx context.Context) {
	w, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("file watch unavailable; polling only", "err", err)
	}
	dirs := map[string]bool{}
	arm := func(snap *snapshot) {
		if w == nil {
			return
		}
		for _, f := range snap.watched() {
			d := filepath.Dir(f)
			if !dirs[d] {
				if err := w.Add(d); err != nil {
					s.log.Warn("watching directory", "dir", d, "err", err)
					continue
				}
				dirs[d] = true
			}
		}
	}
	snap := s.snap.Load()
	arm(snap)
	cfgID, _ := statID(snap.cfg.File)
	// lastFailed is the identity set that last failed to load, so a bad
	// file is reported once, not at every poll.
	failedAt := map[string]fileID{}

	var events <-chan fsnotify.Event
	var errs <-chan error
	if w != nil {
		defer func() { _ = w.Close() }()
		events, errs = w.Events, w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	poll := time.NewTimer(jitter(pollEvery))
	defer poll.Stop()
	reason := ""
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			snap := s.snap.Load()
			for _, f := range snap.watched() {
				if filepath.Clean(ev.Name) == f {
					reason = "file " + ev.Op.String() + " " + f
					debounce.Reset(snap.cfg.Reload.Debounce)
				}
			}
			continue
		case err := <-errs:
			s.log.Warn("file watch", "err", err)
			continue
		case <-poll.C:
			poll.Reset(jitter(pollEvery))
			snap := s.snap.Load()
			if !snap.changed(cfgID) || sameAsFailed(snap, failedAt) {
				continue
			}
			reason = "file identity changed (poll)"
		case <-debounce.C:
		}
		err := s.Reload(reason)
		snap := s.snap.Load()
		if err != nil {
			failedAt = identities(snap)
		} else {
			failedAt = map[string]fileID{}
			cfgID, _ = statID(snap.cfg.File)
			arm(snap)
		}
	}
}

func identities(snap *snapshot) map[string]fileID {
	out := map[string]fileID{}
	for _, f := range snap.watched() {
		id, _ := statID(f)
		out[f] = id
	}
	return out
}

func sameAsFailed(snap *snapshot, failed map[string]fileID) bool {
	if len(failed) == 0 {
		return false
	}
	for _, f := range snap.watched() {
		id, _ := statID(f)
		if failed[f] != id {
			return false
		}
	}
	return true
}

// jitter spreads polls of many servers by ±20 %.
func jitter(d time.Duration) time.Duration {
	return d*4/5 + time.Duration(rand.Int64N(int64(d*2/5)))
}
