package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/steer-gslb/steer/control"
	"github.com/steer-gslb/steer/controlapi"
	"github.com/steer-gslb/steer/dnsserver"
	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/mapstore"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steerapi"
)

const controlUsage = `usage: steer control --config FILE

Runs the control server: the one source of truth for what a fleet of DNS
servers must agree on — PoP admin states, the fleet's combined health view,
load reports and moves, and the active map version (a map directory with the
held-out gate). DNS servers follow it with control: {url, token, map_file}.
API under /v1/ (bearer tokens with roles read, operate, publish); every
change is audited (STATE_DIR/audit.ndjson) and persisted (STATE_DIR/state.json).
`

const controlExample = `steer control --config control.yaml`

func runControl(args []string, stdout, stderr io.Writer) int {
	fs := cli.New("steer control", controlUsage, controlExample, stdout, stderr)
	cfgPath := fs.String("config", "", "control server config (YAML; required)")
	level := fs.String("log-level", "info", "log level: debug, info, warn, error")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if *cfgPath == "" || fs.NArg() > 0 {
		return fs.Usagef("--config FILE is required, and nothing else")
	}
	logger := newLogger(fs, *level, stderr)
	if logger == nil {
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := serveControl(ctx, *cfgPath, logger, stdout); err != nil {
		fmt.Fprintln(stderr, "steer control:", err)
		return 1
	}
	return 0
}

// serveControl runs the control server of the config at cfgPath, and its
// steering API when the config has api.listen, until ctx ends.
func serveControl(ctx context.Context, cfgPath string, logger *slog.Logger, stdout io.Writer) error {
	cfg, err := control.LoadConfigFile(cfgPath)
	if err != nil {
		return err
	}
	srv, err := control.New(cfg, control.Options{Logger: logger, Gate: lazyGate(cfg.GateStore)})
	if err != nil {
		return err
	}
	defer func() { _ = srv.Close() }()
	ln, err := net.Listen("tcp", cfg.Listen.String())
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "steer control: listening on http://%s (%d PoPs, map directory %s)\n", ln.Addr(), len(cfg.PoPs), cfg.MapDir)
	apiDone := make(chan error, 1)
	if cfg.SteeringAPI.IsValid() {
		self := ln.Addr().(*net.TCPAddr).AddrPort()
		if self.Addr().IsUnspecified() {
			self = netip.AddrPortFrom(netip.AddrFrom4([4]byte{127, 0, 0, 1}), self.Port())
		}
		go func() {
			err := controlapi.Run(ctx, controlapi.Options{
				Listen: cfg.SteeringAPI, ControlURL: "http://" + self.String(), Token: cfg.Tokens[0].Value,
				DNSConfig: cfg.DNSConfig, StateDir: cfg.StateDir, Logger: logger, API: steerapi.New,
			}, func(s *dnsserver.Server) {
				fmt.Fprintf(stdout, "steer control: steering API on http://%s (the fleet's snapshot)\n", s.APIAddr())
			})
			if err != nil {
				logger.Error("the steering API stopped", "err", err)
			}
			apiDone <- err
		}()
	} else {
		apiDone <- nil
	}
	if err := srv.Serve(ctx, ln); err != nil {
		return err
	}
	if err := <-apiDone; err != nil {
		return fmt.Errorf("steering API: %w", err)
	}
	return nil
}

// lazyGate opens the RUM store for each publish (the collector may hold
// it between publishes) and scores the candidate on its held-out samples.
func lazyGate(store string) mapstore.Gate {
	if store == "" {
		return nil
	}
	return func(cand, cur *popmap.Table) (mapstore.GateVerdict, error) {
		g, release, err := gateFor(store)
		if err != nil {
			return mapstore.GateVerdict{}, fmt.Errorf("store %s: %w", store, err)
		}
		defer func() { _ = release() }()
		if g == nil {
			return mapstore.GateVerdict{}, fmt.Errorf("store %s: no gate", store)
		}
		return g(cand, cur)
	}
}

// controlClient builds the API client of --control URL and --token (else
// STEER_TOKEN).
func controlClient(url, token string) (*control.Client, error) {
	if url == "" {
		return nil, errors.New("--control URL is required")
	}
	if token == "" {
		token = os.Getenv("STEER_TOKEN")
	}
	if token == "" {
		return nil, errors.New("no token: give --token or set STEER_TOKEN")
	}
	return &control.Client{URL: url, Token: token, HTTP: &http.Client{Timeout: 5 * time.Minute}}, nil
}

const popUsage = `usage: steer pop drain|undrain|down|up|anycast LABEL --control URL [--token T] [--record NAME]
       steer pop list --control URL [--token T] [--json]

Sets a PoP's admin state on the control server, which the fleet of DNS
servers applies within a round trip: drain and down send the PoP's networks
to their next-ranked PoP, anycast answers them with the record's anycast
addresses, up and undrain bring it back. --record limits the change to one
record. The token comes from --token or STEER_TOKEN (role operate; list
needs read).
`

const popExample = `steer pop drain fra --control http://127.0.0.1:8480
steer pop list --control http://127.0.0.1:8480`

var popGroup = &cli.Group{
	Name: "steer pop",
	Help: popUsage,
	Subs: []cli.Sub{
		{Name: "drain", Summary: "send the PoP's networks to their next-ranked PoP: drain LABEL"},
		{Name: "undrain", Summary: "bring a drained PoP back (same as up): undrain LABEL"},
		{Name: "down", Summary: "mark the PoP down (as a failed health check would): down LABEL"},
		{Name: "up", Summary: "bring the PoP back: up LABEL"},
		{Name: "anycast", Summary: "answer the PoP's networks with the record's anycast addresses: anycast LABEL"},
		{Name: "list", Summary: "every PoP's admin state, health, votes, load and moves"},
	},
	Example: popExample,
}

func runPoP(args []string, stdout, stderr io.Writer) int {
	verb, args, code, ok := popGroup.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	fs := cli.New("steer pop "+verb, popUsage, popExample, stdout, stderr)
	url := fs.String("control", "", "control server URL (required)")
	token := fs.String("token", "", "API token (default $STEER_TOKEN)")
	record := fs.String("record", "", "change only this record (e.g. www.example.net)")
	asJSON := fs.Bool("json", false, "list: print JSON")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	pos := fs.Args()
	if verb == "list" && len(pos) != 0 {
		return fs.Usagef("takes no arguments")
	}
	if verb != "list" && len(pos) != 1 {
		return fs.Usagef("one PoP LABEL is required")
	}
	c, err := controlClient(*url, *token)
	if err != nil {
		return fs.Usagef("%v", err)
	}
	ctx := context.Background()
	if verb == "list" {
		pops, err := c.PoPs(ctx)
		if err != nil {
			fmt.Fprintln(stderr, "steer pop list:", err)
			return 1
		}
		if *asJSON {
			return printJSON(stdout, pops)
		}
		tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "POP\tADMIN\tHEALTH\tVOTES(up/down)\tLOAD\tMOVED\tRECORDS")
		for _, p := range pops {
			load := "-"
			if p.LoadAge >= 0 {
				load = fmt.Sprintf("%.0f%% (%.0fs ago)", 100*p.Load, p.LoadAge)
			}
			moved := "-"
			if p.MovedNetworks > 0 {
				moved = fmt.Sprintf("%d nets, %.1f%%", p.MovedNetworks, 100*p.MovedShare)
			}
			var recs []string
			for r, s := range p.Records {
				recs = append(recs, r+"="+string(s))
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\n", p.Label, p.Admin, p.Health, p.VotesUp, p.VotesDown, load, moved, strings.Join(recs, ","))
		}
		_ = tw.Flush()
		return 0
	}
	state := map[string]string{"drain": "drain", "undrain": "up", "up": "up", "down": "down", "anycast": "anycast"}[verb]
	st, err := c.SetState(ctx, pos[0], state, *record)
	if err != nil {
		fmt.Fprintln(stderr, "steer pop:", err)
		return 1
	}
	what := pos[0]
	if *record != "" {
		what += " for " + *record
	}
	fmt.Fprintf(stdout, "%s: %s (state index %d)\n", what, state, st.Index)
	return 0
}

const fleetUsage = `usage: steer fleet status --control URL [--token T] [--json]

Lists the DNS servers following the control server: the map version each
serves and its age, the state index each applied (behind = not yet), the
error of the last state or map it could not apply, when it last reported.
`

const fleetExample = `steer fleet status --control http://127.0.0.1:8480`

var fleetGroup = &cli.Group{
	Name:    "steer fleet",
	Help:    fleetUsage,
	Subs:    []cli.Sub{{Name: "status", Summary: "each DNS server's map version, state index, last report and error"}},
	Example: fleetExample,
}

func runFleet(args []string, stdout, stderr io.Writer) int {
	_, args, code, ok := fleetGroup.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	fs := cli.New("steer fleet status", fleetUsage, fleetExample, stdout, stderr)
	url := fs.String("control", "", "control server URL (required)")
	token := fs.String("token", "", "API token (default $STEER_TOKEN)")
	asJSON := fs.Bool("json", false, "print JSON")
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	if fs.NArg() != 0 {
		return fs.Usagef("takes no arguments")
	}
	c, err := controlClient(*url, *token)
	if err != nil {
		return fs.Usagef("%v", err)
	}
	f, err := c.Fleet(context.Background())
	if err != nil {
		fmt.Fprintln(stderr, "steer fleet status:", err)
		return 1
	}
	if *asJSON {
		return printJSON(stdout, f)
	}
	active := 0
	if f.Map != nil {
		active = f.Map.Version
	}
	fmt.Fprintf(stdout, "state index %d, active map version %d, %d servers\n", f.Index, active, len(f.Servers))
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVER\tVERSION\tMAP\tMAP AGE\tSTATE INDEX\tLAST REPORT\tERROR")
	for _, s := range f.Servers {
		idx := fmt.Sprint(s.StateIndex)
		if s.StateIndex != f.Index {
			idx += " (behind)"
		}
		seen := fmt.Sprintf("%.1fs ago", s.Age)
		if !s.Fresh {
			seen += " (stale)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%.0fs\t%s\t%s\t%s\n", s.Server, s.Version, s.MapVersion, s.MapAge, idx, seen, s.Error)
	}
	_ = tw.Flush()
	return 0
}

func printJSON(w io.Writer, v any) int {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return 1
	}
	return 0
}

// publishToControl is steer publish --control: the map and, when present,
// its RTT file (MAP.rtt.tsv, for load moves) go to the control server,
// which gates and publishes them.
func publishToControl(url, token, candidate string, force bool, stdout, stderr io.Writer) int {
	c, err := controlClient(url, token)
	if err != nil {
		fmt.Fprintln(stderr, "steer publish:", err)
		return 2
	}
	// Streamed as it is: the control server parses, checks and gates it.
	rtt := strings.TrimSuffix(candidate, ".json") + ".rtt.tsv"
	if _, err := os.Stat(rtt); err != nil {
		rtt = ""
	}
	res, err := c.PublishFile(context.Background(), candidate, rtt, force, candidate)
	if err != nil {
		fmt.Fprintln(stderr, "steer publish:", err)
		return 1
	}
	if res.Unchanged {
		fmt.Fprintf(stdout, "%s is identical to active version %d: nothing published\n", candidate, res.Version)
		return 0
	}
	gate := "not scored"
	if res.Gate != nil {
		gate = *res.Gate
	}
	withRTT := ""
	if rtt != "" {
		withRTT = " with " + rtt
	}
	fmt.Fprintf(stdout, "published version %d on %s from %s%s (replaces %d, forced %v, gate: %s)\n", res.Version, url, candidate, withRTT, res.Previous, res.Forced, gate)
	return 0
}
