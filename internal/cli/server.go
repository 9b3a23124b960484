package cli

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/steer-gslb/steer/internal/version"
)

// serverFlags are the flags the data-plane binaries (steer-dns, steer-edge)
// share: --config, --log-level, --cpuprofile and --version.
type serverFlags struct {
	Config            *string
	level, cpuprofile *string
	showVersion       *bool
	fs                *FlagSet
}

// addServerFlags defines the shared server flags on fs, --config
// defaulting to config.
func addServerFlags(fs *FlagSet, config string) *serverFlags {
	return &serverFlags{
		fs:          fs,
		Config:      fs.String("config", config, "config file (YAML)"),
		level:       fs.String("log-level", "info", "log level: debug, info, warn, error"),
		cpuprofile:  fs.String("cpuprofile", "", "write a CPU profile to this file until exit (for benchmarks)"),
		showVersion: fs.Bool("version", false, "print the version and exit"),
	}
}

// start acts on the parsed flags: it rejects positional arguments, prints
// the version (--version), starts the CPU profile, and returns a text
// logger on stderr at --log-level and a context cancelled by SIGINT or
// SIGTERM. When ok is false the program exits with code at once;
// otherwise it calls stop before it exits.
func (f *serverFlags) start() (ctx context.Context, logger *slog.Logger, stop func(), code int, ok bool) {
	fs := f.fs
	if fs.NArg() > 0 {
		return nil, nil, nil, fs.Usagef("unexpected argument %q", fs.Arg(0)), false
	}
	if *f.showVersion {
		fmt.Fprintln(fs.stdout, version.Get().String(fs.Name()))
		return nil, nil, nil, 0, false
	}
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(*f.level)); err != nil {
		return nil, nil, nil, fs.Usagef("bad --log-level: %v", err), false
	}
	stopProfile := func() {}
	if *f.cpuprofile != "" {
		if err := startProfile(*f.cpuprofile); err != nil {
			fmt.Fprintf(fs.stderr, "%s: --cpuprofile: %v\n", fs.Name(), err)
			return nil, nil, nil, 2, false
		}
		stopProfile = pprof.StopCPUProfile
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	logger = slog.New(slog.NewTextHandler(fs.stderr, &slog.HandlerOptions{Level: lv}))
	return ctx, logger, func() { cancel(); stopProfile() }, 0, true
}

func startProfile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return err
	}
	return nil
}

// fail reports a server's error as "NAME: ERROR" on stderr and returns 1.
func (f *serverFlags) fail(err error) int {
	fmt.Fprintf(f.fs.stderr, "%s: %v\n", f.fs.Name(), err)
	return 1
}

// RunServer is a server main's whole body: it defines the shared server
// flags on fs (--config defaulting to config), parses args, starts (see
// start) and runs serve with the config path until it returns, and
// returns the exit code. steer dns, steer edge, steer-dns and steer-edge
// are this with their own serve.
func RunServer(fs *FlagSet, config string, args []string, serve func(ctx context.Context, config string, logger *slog.Logger) error) int {
	sf := addServerFlags(fs, config)
	if code, ok := fs.Parse(args); !ok {
		return code
	}
	ctx, logger, stop, code, ok := sf.start()
	if !ok {
		return code
	}
	defer stop()
	if err := serve(ctx, *sf.Config, logger); err != nil {
		return sf.fail(err)
	}
	return 0
}
