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
// the identity the snapshot was built from, so a replacement is never
// missed, even one carrying the same mtime second or happening while the
// watch was being armed.
const pollEvery = 2 * time.Second

// watched returns the files the snapshot depends on, as absolute paths
// (fsnotify names events by the directory path it was first given, which
// for a relative config path is not the maps' absolute one).
func (s *snapshot) watched() []string {
	files := []string{absPath(s.cfg.File)}
	for p := range s.maps {
		files = append(files, absPath(p))
	}
	if s.cfg.GeoIP != "" {
		files = append(files, absPath(s.cfg.GeoIP))
	}
	return files
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// identities returns the current identity of every watched file.
func (s *snapshot) identities() map[string]fileID {
	out := map[string]fileID{}
	for _, f := range s.watched() {
		id, _ := statID(f)
		out[f] = id
	}
	return out
}

// changed reports whether any file the snapshot was built from differs now.
func (s *snapshot) changed() bool {
	if id, err := statID(s.cfg.File); err != nil || id != s.cfgID {
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

// watcher reloads the server on file events (debounced) and on the poll.
type watcher struct {
	s    *Server
	w    *fsnotify.Watcher // nil when unavailable: polling only
	dirs map[string]bool
}

func (s *Server) newWatcher() *watcher {
	w := &watcher{s: s, dirs: map[string]bool{}}
	fw, err := fsnotify.NewWatcher()
	if err != nil {
		s.log.Warn("file watch unavailable; polling only", "err", err)
	} else {
		w.w = fw
	}
	w.arm(s.snap.Load())
	return w
}

// arm watches the directories of the snapshot's files (a rename over a
// file is an event in its directory, not on the old inode). The directory
// is that of the path as configured, never of a symlink's target: `steer
// publish` switches DIR/current.json by renaming a new symlink over it,
// which fsnotify reports as a CREATE of DIR/current.json, and the poll's
// os.Stat follows the link, so the target's identity changes too.
func (w *watcher) arm(snap *snapshot) {
	if w.w == nil {
		return
	}
	for _, f := range snap.watched() {
		d := filepath.Dir(f)
		if w.dirs[d] {
			continue
		}
		if err := w.w.Add(d); err != nil {
			w.s.log.Warn("watching directory", "dir", d, "err", err)
			continue
		}
		w.dirs[d] = true
	}
}

func (w *watcher) run(ctx context.Context) {
	var events <-chan fsnotify.Event
	var errs <-chan error
	if w.w != nil {
		defer func() { _ = w.w.Close() }()
		events, errs = w.w.Events, w.w.Errors
	}
	debounce := time.NewTimer(time.Hour)
	debounce.Stop()
	// The first check runs at once: a file may have changed between the
	// snapshot's build and the watch being armed.
	poll := time.NewTimer(0)
	defer poll.Stop()
	// failed holds the identities that last failed to load, so a bad file
	// is reported once, not at every poll.
	var failed map[string]fileID
	reason := ""
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-events:
			snap := w.s.snap.Load()
			for _, f := range snap.watched() {
				if absPath(ev.Name) == f {
					reason = "file " + ev.Op.String() + " " + f
					debounce.Reset(snap.cfg.Reload.Debounce)
				}
			}
			continue
		case err := <-errs:
			w.s.log.Warn("file watch", "err", err)
			continue
		case <-poll.C:
			poll.Reset(jitter(pollEvery))
			snap := w.s.snap.Load()
			if !snap.changed() || (failed != nil && equalIDs(failed, snap.identities())) {
				continue
			}
			reason = "file identity changed (poll)"
		case <-debounce.C:
		}
		if err := w.s.Reload(reason); err != nil {
			failed = w.s.snap.Load().identities()
			continue
		}
		failed = nil
		w.arm(w.s.snap.Load())
	}
}

func equalIDs(a, b map[string]fileID) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// jitter spreads polls of many servers by ±20 %.
func jitter(d time.Duration) time.Duration {
	return d*4/5 + time.Duration(rand.Int64N(int64(d*2/5)))
}
