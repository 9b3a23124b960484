package duckstore

import (
	"errors"
	"strconv"
	"strings"
)

// LockedError is Open's error (wrapped) when another process has the store
// open: DuckDB lets one process open a database for writing, or several
// processes for reading only, never both, and a reader (ReadOnly) is kept
// out by a writer as a writer is by a reader. Its text is DuckDB's.
//
//	var le *store.LockedError
//	if errors.As(err, &le) { ... le.PID ... }
type LockedError struct {
	// PID and Program are the process holding the lock and its executable,
	// as DuckDB names them: 0 and "" when its message does not say.
	PID     int
	Program string
	Err     error // DuckDB's error
}

func (e *LockedError) Error() string { return e.Err.Error() }
func (e *LockedError) Unwrap() error { return e.Err }

// lockedError returns err as a *LockedError when it is DuckDB's lock
// conflict, and nil otherwise.
func lockedError(err error) *LockedError {
	if err == nil {
		return nil
	}
	var le *LockedError
	if errors.As(err, &le) {
		return le
	}
	pid, program, ok := parseLockHolder(err.Error())
	if !ok {
		return nil
	}
	return &LockedError{PID: pid, Program: program, Err: err}
}

// parseLockHolder reads DuckDB's lock conflict message (duckdb's
// LocalFileSystem, on the file lock of the database file):
//
//	IO Error: Could not set lock on file "/x/steer.duckdb": Conflicting lock is held in /usr/bin/steer (PID 8329) by user root. See also https://duckdb.org/docs/stable/connect/concurrency
//
// ok is false when msg is not a lock conflict; pid is 0 and program ""
// when it names no holder (or one that does not parse).
func parseLockHolder(msg string) (pid int, program string, ok bool) {
	const conflict, held = "Could not set lock on file ", "Conflicting lock is held in "
	i := strings.Index(msg, conflict)
	if i < 0 {
		return 0, "", false
	}
	rest := msg[i+len(conflict):]
	j := strings.Index(rest, held)
	if j < 0 {
		return 0, "", true
	}
	rest = rest[j+len(held):]
	k := strings.Index(rest, " (PID ")
	if k < 0 {
		return 0, "", true
	}
	num, _, found := strings.Cut(rest[k+len(" (PID "):], ")")
	n, err := strconv.Atoi(num)
	if !found || err != nil || n <= 0 {
		return 0, "", true
	}
	return n, rest[:k], true
}
