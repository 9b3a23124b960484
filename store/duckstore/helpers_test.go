package duckstore

import (
	"os"
	"strconv"
	"testing"

	"github.com/steer-gslb/steer/store/storetest"
)

var (
	testPoPs   = storetest.PoPs
	testStart  = storetest.Start
	genBeacons = storetest.GenBeacons
)

func openTest(t testing.TB, dir string) *DB {
	t.Helper()
	s, err := Open(dir, Options{Threads: testThreads})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// idArg passes a beacon ID to SQL: database/sql refuses uint64 arguments
// with the high bit set.
func idArg(id uint64) string { return strconv.FormatUint(id, 10) }

// testThreads is DuckDB's threads in tests (STEER_TEST_THREADS, default 2).
var testThreads = func() int {
	n, err := strconv.Atoi(os.Getenv("STEER_TEST_THREADS"))
	if err != nil {
		return 2
	}
	return n
}()

func itoa(v uint64) string { return strconv.FormatUint(v, 10) }
