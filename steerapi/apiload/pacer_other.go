//go:build !linux

package apiload

import (
	"context"
	"time"
)

// pacer wakes every period from start on. Elsewhere than Linux it is a
// time.Ticker, whose wake-ups can come up to about a millisecond late;
// LagP99 shows by how much.
type pacer struct {
	period time.Duration
	t      *time.Ticker
}

func newPacer(period time.Duration) (*pacer, error) { return &pacer{period: period}, nil }

func (p *pacer) start() error {
	p.t = time.NewTicker(p.period)
	return nil
}

func (p *pacer) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-p.t.C:
		return nil
	}
}

func (p *pacer) close() {
	if p.t != nil {
		p.t.Stop()
	}
}
