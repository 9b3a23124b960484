package cli

import (
	"fmt"
	"io"
	"strings"
)

// RunFunc runs a command line (without the program name) and returns the
// exit code.
type RunFunc func(args []string, stdout, stderr io.Writer) int

// Node is one command of a tree: its path from the program ("map lookup";
// "" for the program itself), its subcommands and its flags.
type Node struct {
	Path  string
	Subs  []string
	Flags []string
}

// Walk describes every command of run's tree by running each path with
// "--help" and a [Recorder] as stdout, from the program down through the
// subcommands. A command that does not describe itself (it ran instead) is
// an error naming it: every command must follow the convention.
func Walk(run RunFunc) ([]Node, error) {
	var nodes []Node
	var walk func(path []string) error
	walk = func(path []string) error {
		if len(path) > 4 {
			return fmt.Errorf("command %q: subcommands nested too deep", strings.Join(path, " "))
		}
		rec := &Recorder{}
		args := append(append([]string(nil), path...), "--help")
		if code := run(args, rec, io.Discard); code != 0 || !rec.Helped {
			return fmt.Errorf("command %q: --help exited %d without describing the command", strings.Join(path, " "), code)
		}
		nodes = append(nodes, Node{Path: strings.Join(path, " "), Subs: rec.Subs, Flags: rec.Flags})
		for _, s := range rec.Subs {
			if err := walk(append(append([]string(nil), path...), s)); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(nil); err != nil {
		return nil, err
	}
	return nodes, nil
}
