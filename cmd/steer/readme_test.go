package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDocsCommands: every steer command line in the README and docs/ —
// in code blocks and in `inline code` — names a command (and subcommand)
// that exists, its --help works, and every --flag it uses is one of that
// command's flags.
func TestDocsCommands(t *testing.T) {
	nodes := walkCommands(t)
	byPath := map[string][]string{}
	group := map[string]bool{} // commands that are only their subcommands
	for _, n := range nodes {
		byPath[n.Path] = append(slices.Clone(n.Subs), n.Flags...)
		group[n.Path] = len(n.Subs) > 0 && len(n.Flags) == 1
	}
	files := []string{"../../README.md", "../../examples/README.md"}
	docs, _ := filepath.Glob("../../docs/*.md")
	files = append(files, docs...)
	// A command line: "steer" (or bin/steer, go run ./cmd/steer) at the start
	// of a line in a code block or after a "$ " prompt there, or at the
	// start of `inline code` in the prose.
	codeRe := regexp.MustCompile(`^\s*(?:\$ )?(?:bin/|\./)?(?:go run \./cmd/)?steer ([a-z][^|;&#]*)`)
	inlineRe := regexp.MustCompile("`(?:bin/|\\./)?(?:go run \\./cmd/)?steer ([a-z][^`]*)`")
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var matches [][]string
		inCode := false
		for line := range strings.SplitSeq(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(line), "```") {
				inCode = !inCode
				continue
			}
			if inCode {
				if m := codeRe.FindStringSubmatch(line); m != nil {
					matches = append(matches, m)
				}
				continue
			}
			matches = append(matches, inlineRe.FindAllStringSubmatch(line, -1)...)
		}
		for _, m := range matches {
			words := strings.Fields(m[1])
			if len(words) == 0 {
				continue
			}
			if _, ok := byPath[words[0]]; !ok {
				if strings.HasSuffix(words[0], ":") || strings.HasPrefix(words[0], "v0") {
					continue // output: "steer build: …" errors, steer version's line
				}
				t.Errorf("%s: %q: no command %q", f, m[0], words[0])
				continue
			}
			path := words[0]
			if len(words) > 1 && slices.Contains(byPath[path], words[1]) && !strings.HasPrefix(words[1], "-") {
				path += " " + words[1]
			}
			if group[path] && len(words) > 1 && path == words[0] && !strings.HasPrefix(words[1], "-") && !strings.HasSuffix(words[1], ":") {
				t.Errorf("%s: %q: steer %s has no subcommand %q", f, strings.TrimSpace(m[0]), path, words[1])
			}
			var out, errb bytes.Buffer
			if code := run(append(strings.Fields(path), "--help"), &out, &errb); code != 0 {
				t.Errorf("%s: steer %s --help: exit %d: %s", f, path, code, errb.String())
			}
			for _, w := range words[1:] {
				if !strings.HasPrefix(w, "--") || w == "--" || w == "--stor" { // --stor: the README shows its error
					continue
				}
				flag, _, _ := strings.Cut(w, "=")
				if !slices.Contains(byPath[path], flag) {
					t.Errorf("%s: %q: steer %s has no flag %s", f, strings.TrimSpace(m[0]), path, flag)
				}
			}
			checked++
		}
	}
	if checked < 30 {
		t.Errorf("checked only %d command lines in the docs", checked)
	}
	t.Logf("%d command lines checked", checked)
}
