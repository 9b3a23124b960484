package dnsserver

import (
	"time"

	"golang.org/x/sys/unix"
)

// The reload thread's scheduling (lowPriority in server.go) is Linux's.
const (
	schedIdle   = unix.SCHED_IDLE
	schedNormal = unix.SCHED_NORMAL
)

func gettid() int { return unix.Gettid() }

// setPolicy sets thread tid's scheduling policy and nice value.
func setPolicy(tid int, policy uint32, nice int32) error {
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: policy, Nice: nice}
	return unix.SchedSetAttr(tid, &attr, 0)
}

// threadCPU is the calling thread's user+system CPU time.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
