package dnsserver

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

// threadSched reads a thread's policy and nice value from
// /proc/self/task/TID/stat (fields 41 and 19).
func threadSched(tid int) (policy uint32, nice int32, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/self/task/%d/stat", tid))
	if err != nil {
		return 0, 0, err
	}
	// The command name (field 2) may hold spaces; fields resume after ')'.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 39 {
		return 0, 0, fmt.Errorf("short stat line %q", b)
	}
	if _, err := fmt.Sscan(f[16]+" "+f[38], &nice, &policy); err != nil {
		return 0, 0, err
	}
	return policy, nice, nil
}

// The build thread starts SCHED_IDLE.
func TestLowPriorityStartsIdle(t *testing.T) {
	steps := []schedStep{{0, schedIdle, 0}, {time.Hour, schedNormal, 15}}
	// Threads inherit the nice value the test runs under (nice -n 5 make
	// test): SCHED_IDLE leaves it as it was.
	_, base, err := threadSched(gettid())
	if err != nil {
		t.Fatal(err)
	}
	var policy uint32
	var nice int32
	runStepped(func() { policy, nice, err = threadSched(gettid()) }, steps)
	if err != nil || policy != schedIdle || nice != base {
		t.Errorf("policy %d nice %d (%v), want SCHED_IDLE (%d) at nice %d", policy, nice, err, schedIdle, base)
	}
}

// A build that runs long is raised step by step, never back, to the last
// step; the thread that ran it does not outlive it.
func TestLowPriorityRaisesInSteps(t *testing.T) {
	steps := []schedStep{{0, schedIdle, 0}, {20 * time.Millisecond, schedNormal, 15}, {40 * time.Millisecond, schedNormal, 0}}
	var seen []int // indexes into steps, in the order observed
	var tid int
	var err error
	runStepped(func() {
		tid = gettid()
		// The thread may be starved at first (SCHED_IDLE on a busy
		// machine) and miss a step, but must end at the last one.
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
			var p uint32
			var n int32
			if p, n, err = threadSched(tid); err != nil {
				return
			}
			for i, st := range steps {
				if st.policy == p && st.nice == n && (len(seen) == 0 || seen[len(seen)-1] != i) {
					seen = append(seen, i)
				}
			}
			if len(seen) > 0 && seen[len(seen)-1] == len(steps)-1 {
				return
			}
		}
	}, steps)
	if err != nil {
		t.Fatal(err)
	}
	if len(seen) == 0 || seen[len(seen)-1] != len(steps)-1 || !slices.IsSorted(seen) {
		t.Fatalf("steps seen %v, want them in order up to the last (%d) within 10 s", seen, len(steps)-1)
	}
	// The runtime ends the thread just after the goroutine returns.
	deadline := time.After(5 * time.Second)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for {
		if _, err := os.Stat(fmt.Sprintf("/proc/self/task/%d", tid)); err != nil {
			break
		}
		select {
		case <-deadline:
			t.Fatalf("thread %d, SCHED_IDLE at first, still exists 5 s after runStepped returned", tid)
		case <-tick.C:
		}
	}
}

// A process that may not raise a thread's priority never puts the build on
// SCHED_IDLE, which it could not leave: it starts at the next step.
func TestLowPriorityUnprivileged(t *testing.T) {
	defer func(f func() bool) { mayRaiseFunc = f }(mayRaiseFunc)
	mayRaiseFunc = func() bool { return false }
	steps := []schedStep{{0, schedIdle, 0}, {time.Hour, schedNormal, 15}, {2 * time.Hour, schedNormal, 0}}
	var policy uint32
	var nice int32
	var err error
	runStepped(func() { policy, nice, err = threadSched(gettid()) }, steps)
	if err != nil || policy != schedNormal || nice != 15 {
		t.Errorf("policy %d nice %d (%v), want SCHED_NORMAL at nice 15", policy, nice, err)
	}
}
