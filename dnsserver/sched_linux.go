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

// mayRaise reports whether this process may raise a thread's scheduling
// priority, to nice 0 or out of SCHED_IDLE (sched(7)): with CAP_SYS_NICE,
// or an RLIMIT_NICE of 20 or more.
func mayRaise() bool {
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NICE, &rl) == nil && rl.Cur >= 20 {
		return true
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if unix.Capget(&hdr, &data[0]) != nil {
		return false
	}
	return data[0].Effective&(1<<unix.CAP_SYS_NICE) != 0
}
