// Package mapstore is steer's versioned map directory: what `steer publish`
// and `steer rollback` write and what DNS servers follow. A DNS config points
// ecs_map/resolver_map at DIR/current.json; publishing or rolling back
// switches that symlink, and the server's file watch reloads.
//
// Layout of DIR:
//
//	versions/000001.json  every published map, immutable (mode 0444),
//	versions/000002.json  encoded by popmap (Map.Encode) with meta.version
//	…                     set to the version number N, so that a server
//	                      can report which version it serves
//	current.json          symlink to versions/NNNNNN.json (relative target)
//	history.ndjson        append-only log, one JSON line per publish/rollback
//	.lock                 flock(2) taken by every writer
//
// A history line (Record) names the version, the action (publish or
// rollback), the time, the SHA-256 of the version file, whether the publish
// was forced past the gate, the gate's verdict, a free-form score object from
// the caller, and the version that was current before:
//
//	{"version":2,"action":"publish","time":"2026-11-25T17:00:00Z","sha256":"…","forced":false,
//	 "previous":1,"file":"versions/000002.json","source":"/tmp/map.json",
//	 "gate":{"metric":"regret_ms","candidate":3.1,"current":3.4,"worse":false}}
//
// Guarantees:
//
//   - A candidate is read, parsed and compiled (popmap.Parse, popmap.Compile)
//     and, when a version is current, scored by the caller's Gate against it
//     before anything is written: a bad map, a failing gate or a worse
//     verdict (unless forced) changes nothing. With a version current and no
//     gate, Publish refuses unless forced (ErrNoGate), so nothing reaches the
//     servers unscored by accident. A candidate equal to the current version
//     (byte for byte, or after setting its meta.version) is a no-op.
//   - Crash safety: a version file is written to a temporary name, fsynced,
//     made read-only, renamed into versions/ and the directory fsynced; then
//     the history line is appended and fsynced; only then is current.json
//     switched by renaming a new symlink over it and fsyncing DIR. A crash at
//     any point leaves current.json pointing at a complete, fsynced version
//     (or absent, before the first publish). The symlink is the truth of what
//     is current: a history line whose switch a crash prevented describes a
//     switch that did not happen, and is harmless because rollback follows
//     the publish line of the version actually current. A line torn by a
//     crash (no final newline) is ignored on read and cut off before the
//     next append.
//   - Versions are never rewritten or reused: the next number is one above
//     every version file and history line, even one a crash left unpublished.
//   - Writers (Publish, Rollback) hold an exclusive flock on DIR/.lock for
//     the whole operation, gate included, so two publishers on one machine
//     (or on a file system with working flock) are serialised and each
//     scores its candidate against the version it will replace. Readers
//     (Current, Versions, History, a DNS server) take no lock: readlink and
//     rename are atomic.
//   - Rollback switches to the version that was current when the current one
//     was published (its publish line's "previous"); repeated rollbacks walk
//     further back along that chain, and a rollback from the first version
//     is an error. A rollback target is checked against its recorded SHA-256
//     first.
//
// The package is pure Go with no cgo and no analytics engine, so a data-plane
// program may import it. Gates that score maps on held-out measurements live
// with the caller (cmd/steer), which may link the RUM store.
package mapstore
