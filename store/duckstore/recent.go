package duckstore

import "time"

// recentIDs remembers the IDs of the beacons received within a window (by
// their Received time), to recognize a beacon delivered again. One map of
// ID → hour of receipt: a lookup is one probe, and expiry sweeps the map
// once an hour (amortized: a few ns per beacon). It is guarded by
// DuckDB.mu.
type recentIDs struct {
	m      map[uint64]int32 // ID → hours since the epoch of its Received time
	window time.Duration
	max    int   // IDs kept at most; hours before the newest are dropped first
	oldest int32 // no entry is older than this hour
	newest int32 // no entry is newer than this hour
	swept  int32 // the horizon of the last sweep
}

func newRecentIDs(window time.Duration, maxIDs int) *recentIDs {
	return &recentIDs{m: make(map[uint64]int32), window: window, max: maxIDs}
}

func hourOf(us int64) int32 { return int32(us / int64(time.Hour/time.Microsecond)) }

// insert records id as received at µs since the epoch and reports true,
// or reports false if id is already known. Unlike add, it keeps an id
// received before the window (until the next sweep): a transaction must
// not store a beacon twice whatever its Received time.
func (r *recentIDs) insert(id uint64, us int64) bool {
	n := len(r.m)
	h := hourOf(us)
	// One map operation: a known ID's hour becomes the later delivery's,
	// which keeps a beacon that keeps coming back remembered.
	if old, ok := r.m[id]; ok {
		if h > old {
			r.m[id] = h
		}
		return false
	}
	r.m[id] = h
	if n == 0 {
		r.oldest, r.newest = h, h
	}
	r.oldest, r.newest = min(r.oldest, h), max(r.newest, h)
	return true
}

func (r *recentIDs) contains(id uint64) bool {
	_, ok := r.m[id]
	return ok
}

// add records id as received at µs since the epoch; ids older than the
// window (relative to now) are not kept.
func (r *recentIDs) add(id uint64, us int64, now time.Time) {
	h := hourOf(us)
	if h < r.horizon(now) {
		return
	}
	if old, ok := r.m[id]; ok && old >= h {
		return
	}
	r.m[id] = h
	if len(r.m) == 1 {
		r.oldest, r.newest = h, h
	}
	r.oldest, r.newest = min(r.oldest, h), max(r.newest, h)
}

// horizon is the first hour still in the window.
func (r *recentIDs) horizon(now time.Time) int32 {
	return hourOf(now.Add(-r.window).UnixMicro())
}

// expire drops the IDs received before the window, and then the oldest
// hours while more than max IDs are kept (never the newest hour: a bulk
// import stamps all its beacons with one Received time). It sweeps the map
// at most once an hour unless over max.
func (r *recentIDs) expire(now time.Time) {
	h := r.horizon(now)
	if h != r.swept && r.oldest < h && len(r.m) > 0 {
		r.dropBefore(h)
	}
	r.swept = h
	for len(r.m) > r.max && r.oldest < r.newest {
		r.dropBefore(r.oldest + 1)
	}
}

// dropBefore deletes the entries of hours before h.
func (r *recentIDs) dropBefore(h int32) {
	oldest := int32(1<<31 - 1)
	for id, t := range r.m {
		if t < h {
			delete(r.m, id)
		} else if t < oldest {
			oldest = t
		}
	}
	r.oldest = oldest
	if len(r.m) == 0 {
		r.oldest, r.newest = 0, 0
	}
}
