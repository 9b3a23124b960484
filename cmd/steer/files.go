package main

import (
	"io"
	"log/slog"
	"strings"

	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/internal/cli"
)

// writeFileAtomic writes path through a temporary file in its directory:
// written, fsynced, then renamed over path (and the directory fsynced), so
// readers see the old file or the new one, never half of it, also after a
// kill -9 (test/faults_files_test.go).
func writeFileAtomic(path string, write func(io.Writer) error) error {
	return atomicfile.WriteFunc(path, 0o644, write)
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

// newLogger is the text logger on stderr of a server command at
// --log-level; a bad level is reported as a usage error of fs and gives nil.
func newLogger(fs *cli.FlagSet, level string, stderr io.Writer) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		fs.Usagef("bad --log-level: %v", err)
		return nil
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: lv}))
}
