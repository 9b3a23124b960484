package duckstore

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/store"
)

// crashHelperEnv selects the crash helper mode of the test binary: the
// value is the store directory.
const crashHelperEnv = "STEER_STORE_CRASH_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashHelperEnv); dir != "" {
		os.Exit(crashHelper(dir))
	}
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(lockHelper(dir))
	}
	os.Exit(m.Run())
}

// crashHelper adds beacons in a loop until killed and prints, after each
// AddBeacons returns, one line "ack N ID ID ... end": the batch's IDs. Every
// fourth batch is large (140k samples) so that both of DuckDB's commit
// paths are killed in: small transactions go through the WAL, large ones
// write row groups to the database file before the commit.
func crashHelper(dir string) int {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	w := bufio.NewWriter(os.Stdout)
	for i := uint64(1); ; i++ {
		n := 50
		if i%4 == 0 {
			n = 7000
		}
		bs := genBeacons(i, n, 20, time.Now())
		if _, err := s.AddBeacons(ctx, bs); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		fmt.Fprintf(w, "ack %d", i)
		for j := range bs {
			fmt.Fprintf(w, " %x", store.BeaconID(&bs[j].Beacon))
		}
		_, _ = w.WriteString(" end\n")
		if err := w.Flush(); err != nil {
			return 1
		}
	}
}

// TestKillDuringWritesLosesNothingAcknowledged kills (SIGKILL) a process
// that is adding beacons, reopens the store and checks that every beacon
// whose AddBeacons had returned is there with all its samples.
func TestKillDuringWritesLosesNothingAcknowledged(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashHelperEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	const killAfter = 14 // batches, so that ~3 large ones are acknowledged
	acked := map[uint64]bool{}
	batches := 0
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 0, 1<<20), 1<<20)
	killed := false
	deadline := time.Now().Add(2 * time.Minute)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 3 || f[0] != "ack" || f[len(f)-1] != "end" {
			if killed {
				break // the line the kill cut
			}
			t.Fatalf("helper printed %q", sc.Text())
		}
		for _, h := range f[2 : len(f)-1] {
			id, err := strconv.ParseUint(h, 16, 64)
			if err != nil {
				t.Fatalf("helper printed %q", sc.Text())
			}
			acked[id] = true
		}
		batches++
		if !killed && (batches >= killAfter || time.Now().After(deadline)) {
			if err := cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			killed = true
		}
	}
	werr := cmd.Wait()
	if !killed {
		t.Fatalf("the helper stopped before it was killed: %v\n%s", werr, stderr.String())
	}
	if batches < killAfter {
		t.Fatalf("only %d batches acknowledged", batches)
	}

	s := openTest(t, dir)
	stored := map[uint64]int{}
	rows, err := s.Query(ctx, `SELECT b.id::VARCHAR, count(s.seq) FROM beacons b LEFT JOIN samples s USING (seq) GROUP BY ALL`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			t.Fatal(err)
		}
		v, err := strconv.ParseUint(id, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		stored[v] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id := range acked {
		if n, ok := stored[id]; !ok || n != 20 {
			missing++
		}
	}
	if missing > 0 {
		t.Errorf("%d of %d acknowledged beacons are missing or incomplete after kill -9", missing, len(acked))
	}
	for id, n := range stored {
		if n != 20 {
			t.Errorf("beacon %x has %d samples, want 20 (a torn transaction)", id, n)
		}
	}
	t.Logf("%d batches (%d beacons) acknowledged before the kill; %d beacons in the store", batches, len(acked), len(stored))
}
