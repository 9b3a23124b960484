package duckstore

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// lockHelperEnv selects the lock helper mode of the test binary: the value
// is the store directory.
const lockHelperEnv = "STEER_STORE_LOCK_HELPER"

// lockHelper opens the store, prints "open" and keeps it open until its
// stdin is closed.
func lockHelper(dir string) int {
	s, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println("open")
	_, _ = io.Copy(io.Discard, os.Stdin)
	if err := s.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestOpenLockedByAnotherProcess: while another process has the store
// open, Open fails for writing and for reading with a *LockedError naming
// that process; once it is gone, Open succeeds.
func TestOpenLockedByAnotherProcess(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ready <- sc.Scan() && sc.Text() == "open"
		_, _ = io.Copy(io.Discard, out)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatalf("the helper did not open the store: %s", stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the helper did not open the store within 30 s: %s", stderr.String())
	}

	for _, ro := range []bool{false, true} {
		s, err := Open(dir, Options{ReadOnly: ro})
		if err == nil {
			_ = s.Close()
			t.Fatalf("ReadOnly=%v: opened a store another process holds", ro)
		}
		var le *LockedError
		if !errors.As(err, &le) {
			t.Fatalf("ReadOnly=%v: %v is not a *LockedError", ro, err)
		}
		if le.PID != cmd.Process.Pid || le.Program == "" {
			t.Errorf("ReadOnly=%v: holder pid %d program %q, want pid %d", ro, le.PID, le.Program, cmd.Process.Pid)
		}
		if !strings.Contains(err.Error(), "opening store "+dir+": ") || !strings.Contains(err.Error(), "Conflicting lock") {
			t.Errorf("ReadOnly=%v: error text %q (DuckDB's, wrapped)", ro, err)
		}
	}

	_ = stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v: %s", err, stderr.String())
	}
	s, err := Open(dir, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("after the holder exited: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

var lockMessages = []struct {
	msg     string
	ok      bool
	pid     int
	program string
}{
	{`IO Error: Could not set lock on file "/tmp/s/steer.duckdb": Conflicting lock is held in /usr/bin/steer (PID 8329) by user root. See also https://duckdb.org/docs/stable/connect/concurrency`, true, 8329, "/usr/bin/steer"},
	{`database/sql/driver: could not connect to database: IO Error: Could not set lock on file "/tmp/s/steer.duckdb": Conflicting lock is held in /tmp/steer-s/steer (PID 12). See also https://duckdb.org/docs/stable/connect/concurrency`, true, 12, "/tmp/steer-s/steer"},
	{`IO Error: Could not set lock on file "/a b/steer.duckdb": Conflicting lock is held in /opt/my tools/steer (PID 77) by user x`, true, 77, "/opt/my tools/steer"},
	{`IO Error: Could not set lock on file "/tmp/s/steer.duckdb": Resource temporarily unavailable`, true, 0, ""},
	{`IO Error: Could not set lock on file "x": Conflicting lock is held in /bin/x (PID -3)`, true, 0, ""},
	{`IO Error: Could not set lock on file "x": Conflicting lock is held in /bin/x (PID 99999999999999999999)`, true, 0, ""},
	{`IO Error: Could not set lock on file "x": Conflicting lock is held in /bin/x (PID 5`, true, 0, ""},
	{`IO Error: Cannot open file "/tmp/s/steer.duckdb": Permission denied`, false, 0, ""},
	{``, false, 0, ""},
}

func TestParseLockHolder(t *testing.T) {
	for _, c := range lockMessages {
		pid, program, ok := parseLockHolder(c.msg)
		if ok != c.ok || pid != c.pid || program != c.program {
			t.Errorf("parseLockHolder(%q) = %d %q %v, want %d %q %v", c.msg, pid, program, ok, c.pid, c.program, c.ok)
		}
	}
	if le := lockedError(errors.New(lockMessages[0].msg)); le == nil || le.PID != 8329 || le.Error() != lockMessages[0].msg {
		t.Errorf("lockedError: %+v", le)
	}
	if le := lockedError(errors.New("IO Error: something else")); le != nil {
		t.Errorf("lockedError of another error: %+v", le)
	}
}

func FuzzParseLockHolder(f *testing.F) {
	for _, c := range lockMessages {
		f.Add(c.msg)
	}
	f.Fuzz(func(t *testing.T, msg string) {
		pid, program, ok := parseLockHolder(msg)
		if !ok && (pid != 0 || program != "") {
			t.Fatalf("not a lock error but pid %d program %q", pid, program)
		}
		if pid < 0 || (pid == 0 && program != "") || (pid > 0 && !ok) {
			t.Fatalf("pid %d program %q ok %v", pid, program, ok)
		}
		if program != "" && !strings.Contains(msg, program+" (PID ") {
			t.Fatalf("program %q is not in the message", program)
		}
	})
}
