// Package debugmap fills a debug report's map section (web.DebugMap): what
// the map gives the report's network and its resolver, decided by package
// explain as the DNS server decides. It is apart from package web so that
// the edge, which serves the debug page, does not link the DNS server's
// decision code. It exports no metrics.
package debugmap

import (
	"fmt"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/web"
)

// noECS is the client subnet that means "none": the resolver's address
// decides.
var noECS = netip.MustParsePrefix("0.0.0.0/0")

// Fill sets r.Map from in: the decision for r.Network (as an ECS client
// subnet) and, when r.Resolver is known, for the resolver's address alone.
// r.Network must be valid.
func Fill(r *web.DebugReport, in explain.Inputs) error {
	if !r.Network.IsValid() {
		return fmt.Errorf("debug report %s: no network", r.ID)
	}
	net, err := explain.Explain(in, r.Network.Addr(), r.Network)
	if err != nil {
		return fmt.Errorf("explaining %s: %w", r.Network, err)
	}
	m := &web.DebugMap{Record: net.Record, Version: net.MapVersion, NetworkPoP: first(net), NetworkSource: net.Source}
	if r.Resolver != nil && r.Resolver.Addr.IsValid() {
		res, err := explain.Explain(in, r.Resolver.Addr, noECS)
		if err != nil {
			return fmt.Errorf("explaining resolver %s: %w", r.Resolver.Addr, err)
		}
		m.Resolver, m.ResolverPoP, m.ResolverSource = r.Resolver.Addr, first(res), res.Source
	}
	r.Map = m
	return nil
}

// first is the PoP answered, "" for the default (anycast) addresses.
func first(rep *explain.Report) string {
	if rep.Anycast || len(rep.PoPs) == 0 {
		return ""
	}
	return rep.PoPs[0]
}

// Loader keeps explain.Inputs loaded from Files, reloading them when the
// config or map file changes (checked at most every second); a reload that
// fails keeps the inputs loaded before.
type Loader struct {
	files explain.Files

	mu      sync.Mutex
	in      explain.Inputs
	loaded  bool
	stamp   [2]time.Time // modification times of config and map
	checked time.Time
	err     error // the last load's error
}

// NewLoader loads files once; the error is the first load's.
func NewLoader(files explain.Files) (*Loader, error) {
	l := &Loader{files: files}
	_, err := l.Inputs()
	return l, err
}

// Inputs returns the current inputs, reloading them when a file changed.
// It fails only while no load has succeeded; the error of a failed reload
// (the old inputs kept) is Err's.
func (l *Loader) Inputs() (explain.Inputs, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.loaded && now.Sub(l.checked) < time.Second {
		return l.in, nil
	}
	l.checked = now
	stamp := [2]time.Time{mtime(l.files.Config), mtime(l.files.Map)}
	if l.loaded && stamp == l.stamp {
		return l.in, nil
	}
	in, err := explain.Load(l.files)
	l.err = err
	if err == nil {
		l.in, l.loaded, l.stamp = in, true, stamp
	}
	if !l.loaded {
		return explain.Inputs{}, err
	}
	return l.in, nil
}

// Err is the last load's error (nil when it succeeded).
func (l *Loader) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.err
}

func mtime(path string) time.Time {
	if path == "" {
		return time.Time{}
	}
	fi, err := os.Stat(path)
	if err != nil {
		return time.Time{}
	}
	return fi.ModTime()
}
