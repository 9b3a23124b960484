package dnsserver

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

// Run starts a server on the config at path, reloads on SIGHUP and serves
// until ctx ends. ready, if not nil, is called once the listeners are bound.
func Run(ctx context.Context, path string, opts Options, ready func(*Server)) error {
	// Catch SIGHUP before anything can send it: its default action would
	// end the process.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	s, err := New(path, opts)
	if err != nil {
		return err
	}
	if err := s.Start(); err != nil {
		return err
	}
	defer s.Close()
	if ready != nil {
		ready(s)
	}
	for {
		select {
		case <-ctx.Done():
			s.log.Info("shutting down")
			return nil
		case <-hup:
			_ = s.Reload("SIGHUP") // logged and counted by Reload
		}
	}
}
