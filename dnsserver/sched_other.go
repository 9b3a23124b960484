//go:build !linux

package dnsserver

import (
	"errors"
	"time"
)

// Elsewhere the reload builds at normal priority: lowPriority's policy
// changes fail, which only loses the optimisation.
const (
	schedIdle   = 5
	schedNormal = 0
)

func gettid() int { return 0 }

func setPolicy(int, uint32, int32) error { return errors.ErrUnsupported }

func threadCPU() time.Duration { return 0 }

func mayRaise() bool { return false }
