package dnsserver

import (
	"context"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// ServerGCPercent is the GC percent Run gives a DNS server process unless
// GOGC is set. Between reloads the server allocates next to nothing; each
// reload allocates about twice its maps (a 1.2M-network map: the fetched
// or read file, the new runs, the direct /24 table) while the old ones
// still serve, then frees as much. With Go's default of 100 the heap goal
// after the reload's collection is twice the live heap, so the runtime
// hands the reload's memory back to the kernel between reloads and the
// next one faults it in again: on a VM that made a reload 4-6 times the
// CPU (a decode 76-92 ms instead of 11-19, the direct table 136-171 ms
// instead of 35-41), and ten servers sharing two cores took 2.2-2.4 s
// instead of 1.2-1.4 s to serve a new version (docs/BENCHMARKS.md). At 400
// the memory is kept: the peak RSS is the same (the reload's own peak,
// 202 MiB for that map), only what lies between reloads is higher (202
// instead of 157 MiB).
const ServerGCPercent = 400

// Run starts a server on the config at path, reloads on SIGHUP and serves
// until ctx ends. ready, if not nil, is called once the listeners are bound.
// It is for a process that is a DNS server: it sets the GC percent to
// ServerGCPercent unless the environment sets GOGC.
func Run(ctx context.Context, path string, opts Options, ready func(*Server)) error {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(ServerGCPercent)
	}
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
