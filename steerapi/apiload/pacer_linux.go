package apiload

import (
	"context"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

// pacer wakes every period from start on. On Linux it is a periodic
// timerfd read through Go's netpoller, which wakes within microseconds;
// a time.Timer on an otherwise idle Go process sleeps at least 1 ms
// (the netpoller's epoll_wait timeout is in milliseconds).
type pacer struct {
	f      *os.File
	period time.Duration
	buf    [8]byte
}

func newPacer(period time.Duration) (*pacer, error) {
	fd, err := unix.TimerfdCreate(unix.CLOCK_MONOTONIC, unix.TFD_NONBLOCK|unix.TFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("timerfd_create: %w", err)
	}
	return &pacer{f: os.NewFile(uintptr(fd), "timerfd"), period: period}, nil
}

// start arms the timer: the first wake-up is now (within a microsecond),
// then one every period.
func (p *pacer) start() error {
	spec := unix.ItimerSpec{Value: unix.NsecToTimespec(1), Interval: unix.NsecToTimespec(p.period.Nanoseconds())}
	raw, err := p.f.SyscallConn()
	if err != nil {
		return fmt.Errorf("timerfd: %w", err)
	}
	var serr error
	if err := raw.Control(func(fd uintptr) { serr = unix.TimerfdSettime(int(fd), 0, &spec, nil) }); err != nil {
		return fmt.Errorf("timerfd: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("timerfd_settime: %w", serr)
	}
	return nil
}

// wait blocks until the next wake-up (or returns at once if one or more
// passed since the last wait), or until ctx is done.
func (p *pacer) wait(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	// The 8 bytes read count the expirations; the caller looks at the
	// clock instead.
	if _, err := p.f.Read(p.buf[:]); err != nil {
		return fmt.Errorf("reading timerfd: %w", err)
	}
	return nil
}

func (p *pacer) close() { _ = p.f.Close() }
