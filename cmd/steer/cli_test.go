package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/steer-gslb/steer/internal/cli"
)

// walkCommands is every command and subcommand of steer, from the command
// table down (cli.Walk runs each with --help and a Recorder).
func walkCommands(t *testing.T) []cli.Node {
	t.Helper()
	nodes, err := cli.Walk(run)
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) < len(commands())+1 {
		t.Fatalf("walked %d commands, the table has %d", len(nodes), len(commands()))
	}
	return nodes
}

// TestHelpEverywhere: `steer CMD --help` and `steer CMD SUB --help` exit 0
// and print a synopsis, the flags and an example on stdout, nothing on
// stderr; -h and --help after other arguments do the same.
func TestHelpEverywhere(t *testing.T) {
	for _, n := range walkCommands(t) {
		path := strings.Fields(n.Path)
		for _, h := range []string{"--help", "-h"} {
			var out, errb bytes.Buffer
			args := append(slices.Clone(path), h)
			if code := run(args, &out, &errb); code != 0 || errb.Len() > 0 {
				t.Errorf("steer %s: exit %d, stderr %q", strings.Join(args, " "), code, errb.String())
				continue
			}
			s := out.String()
			_, example, _ := strings.Cut(s, "\nexample:\n  ")
			if !strings.HasPrefix(s, "usage: steer") || !strings.Contains(example, "steer") {
				t.Errorf("steer %s: help lacks the synopsis or an example:\n%s", strings.Join(args, " "), s)
			}
			if len(n.Flags) > 1 && !strings.Contains(s, "\nflags:\n  --") {
				t.Errorf("steer %s: help lacks the flags:\n%s", strings.Join(args, " "), s)
			}
			if len(n.Subs) > 0 && !strings.Contains(s, "  "+n.Subs[0]+" ") && !strings.Contains(s, strings.TrimSpace("steer "+n.Path+" "+n.Subs[0])) {
				t.Errorf("steer %s: help does not list subcommand %s:\n%s", strings.Join(args, " "), n.Subs[0], s)
			}
		}
		if len(path) == 0 {
			continue
		}
		// Help anywhere: after a positional argument too.
		var out bytes.Buffer
		args := append(slices.Clone(path), "some-arg", "--help")
		if code := run(args, &out, &out); code != 0 || !strings.HasPrefix(out.String(), "usage: steer") {
			t.Errorf("steer %s: exit %d, %q", strings.Join(args, " "), code, out.String())
		}
	}
}

// TestWrongFlag: a flag a command does not have is one error line naming
// it and one hint, exit 2, whatever the command.
func TestWrongFlag(t *testing.T) {
	for _, n := range walkCommands(t) {
		path := strings.Fields(n.Path)
		if len(path) == 0 || len(n.Subs) > 0 && len(n.Flags) <= 1 {
			continue // groups: a flag in place of a subcommand is TestUnknownSubcommand's
		}
		var out, errb bytes.Buffer
		args := append(slices.Clone(path), "--no-such-flag")
		code := run(args, &out, &errb)
		name := "steer " + strings.Join(path, " ")
		want := name + ": flag provided but not defined: -no-such-flag\nRun '" + name + " --help' for usage.\n"
		if code != 2 || errb.String() != want || out.Len() > 0 {
			t.Errorf("%s --no-such-flag: exit %d, stdout %q, stderr %q, want %q", name, code, out.String(), errb.String(), want)
		}
	}
}

func TestUnknownSubcommand(t *testing.T) {
	for _, n := range walkCommands(t) {
		if len(n.Subs) == 0 || n.Path == "sim" || n.Path == "demo" {
			continue // sim and demo run without a subcommand
		}
		var out, errb bytes.Buffer
		args := append(strings.Fields(n.Path), "bogus")
		code := run(args, &out, &errb)
		lines := strings.Split(strings.TrimSuffix(errb.String(), "\n"), "\n")
		if code != 2 || len(lines) != 2 || !strings.Contains(lines[0], `unknown subcommand "bogus"`) || !strings.HasPrefix(lines[1], "Run '") {
			t.Errorf("steer %s bogus: exit %d, stderr %q", n.Path, code, errb.String())
		}
	}
}

// TestCompletionBash sources `steer completion bash` in a real bash and
// completes a few command lines.
func TestCompletionBash(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash not installed")
	}
	file := completionScript(t, "bash")
	for _, tc := range []struct {
		line string // the words typed; the last one is being completed
		want []string
		not  []string
	}{
		{"steer ma", []string{"map"}, []string{"demo"}},
		{"steer map ", []string{"validate", "lookup", "diff", "stats"}, []string{"--help"}},
		{"steer map lookup --", []string{"--json", "--help"}, []string{"--limit"}},
		{"steer build --st", []string{"--store"}, nil},
		{"steer build --store rum --o", []string{"--out"}, nil},
		{"steer pop d", []string{"drain", "down"}, []string{"list"}},
		{"steer completion ", []string{"bash", "zsh"}, nil},
		{"steer sim ", []string{"report"}, nil},
		{"steer map lookup x", nil, []string{"validate"}}, // a file name: no words offered
	} {
		words := strings.Split(tc.line, " ")
		prog := `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _steer; printf '%s\n' "${COMPREPLY[@]}"`
		out, err := exec.Command(bash, append([]string{"--norc", "-c", prog, "bash", file}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: completions %q lack %q", tc.line, got, w)
			}
		}
		for _, w := range tc.not {
			if slices.Contains(got, w) {
				t.Errorf("%q: completions %q include %q", tc.line, got, w)
			}
		}
		if tc.want == nil && len(got) > 0 {
			t.Errorf("%q: want no words (file names), got %q", tc.line, got)
		}
	}
}

// TestCompletionZsh runs the zsh completion function in a real zsh, with
// compadd and _files standing in for the completion system's builtins
// (they exist only inside a completion widget).
func TestCompletionZsh(t *testing.T) {
	zsh, err := exec.LookPath("zsh")
	if err != nil {
		t.Skip("zsh not installed (make test-deps installs it as root on Debian)")
	}
	file := completionScript(t, "zsh")
	if out, err := exec.Command(zsh, "-n", file).CombinedOutput(); err != nil {
		t.Fatalf("zsh -n: %v: %s", err, out)
	}
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"steer ", []string{"demo", "map", "completion"}},
		{"steer map ", []string{"validate", "lookup"}},
		{"steer map lookup --", []string{"--json"}},
		{"steer store stats --store rum --", []string{"--store"}},
		{"steer map lookup x", []string{"FILES"}},
	} {
		words := strings.Split(tc.line, " ")
		prog := `compdef() { :; }
compadd() { [[ $1 == -a ]] && print -l -- ${(P)2}; }
_files() { print FILES; }
source "$1"; shift
words=("$@"); CURRENT=$#; PREFIX=${words[CURRENT]}
_steer`
		out, err := exec.Command(zsh, append([]string{"-f", "-c", prog, "zsh", file}, words...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("%q: %v: %s", tc.line, err, out)
		}
		got := strings.Fields(string(out))
		for _, w := range tc.want {
			if !slices.Contains(got, w) {
				t.Errorf("%q: completions %q lack %q", tc.line, got, w)
			}
		}
	}
}

// completionScript writes `steer completion SHELL` to a file and returns
// its path.
func completionScript(t *testing.T, shell string) string {
	t.Helper()
	var script, errb bytes.Buffer
	if code := run([]string{"completion", shell}, &script, &errb); code != 0 {
		t.Fatalf("steer completion %s: exit %d: %s", shell, code, errb.String())
	}
	file := filepath.Join(t.TempDir(), "steer."+shell)
	if err := os.WriteFile(file, script.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return file
}
