package cli

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		code     int
		ok       bool
		pos      []string
		json     bool
		out, err string
	}{
		{args: []string{"m.json", "1.2.3.4", "--json"}, ok: true, pos: []string{"m.json", "1.2.3.4"}, json: true},
		{args: []string{"--json", "m.json"}, ok: true, pos: []string{"m.json"}, json: true},
		{args: []string{"--", "--json", "-h"}, ok: true, pos: []string{"--json", "-h"}},
		{args: []string{"m.json", "--help"}, code: 0, out: "usage: t [--json] MAP\n\nflags:\n  --json\n      print JSON\n  --limit int\n      at most (default 50)\n  --name string\n      a name (default \"x\")\n\nexample:\n  t --json m.json\n"},
		{args: []string{"-h"}, code: 0, out: "usage: t"},
		{args: []string{"--nope"}, code: 2, err: "t: flag provided but not defined: -nope\nRun 't --help' for usage.\n"},
		{args: []string{"--limit", "x"}, code: 2, err: "t: invalid value \"x\" for flag -limit: parse error\nRun 't --help' for usage.\n"},
	} {
		var out, errb bytes.Buffer
		fs := New("t", "usage: t [--json] MAP\n", "t --json m.json", &out, &errb)
		js := fs.Bool("json", false, "print JSON")
		fs.Int("limit", 50, "at most")
		fs.String("name", "x", "a name")
		code, ok := fs.Parse(tc.args)
		if code != tc.code || ok != tc.ok {
			t.Errorf("%q: code %d ok %v, want %d %v", tc.args, code, ok, tc.code, tc.ok)
		}
		if ok && (!slices.Equal(fs.Args(), tc.pos) && len(tc.pos)+fs.NArg() > 0 || *js != tc.json) {
			t.Errorf("%q: args %q json %v, want %q %v", tc.args, fs.Args(), *js, tc.pos, tc.json)
		}
		if !strings.HasPrefix(out.String(), tc.out) || tc.out == "" && out.Len() > 0 {
			t.Errorf("%q: stdout %q, want %q", tc.args, out.String(), tc.out)
		}
		if errb.String() != tc.err {
			t.Errorf("%q: stderr %q, want %q", tc.args, errb.String(), tc.err)
		}
	}
}

func TestGroupDispatch(t *testing.T) {
	g := &Group{Name: "t", Help: "usage: t SUB", Subs: []Sub{{"a", "does a"}, {"bb", "does b"}}, Example: "t a"}
	for _, tc := range []struct {
		args      []string
		sub       string
		code      int
		ok        bool
		out, errb string
	}{
		{args: []string{"a", "x"}, sub: "a", ok: true},
		{args: []string{"a", "--help"}, sub: "a", ok: true}, // the subcommand's help
		{args: []string{"--help"}, out: "usage: t SUB\n\ncommands:\n  a   does a\n  bb  does b\n\nexample:\n  t a\n\nRun 't COMMAND --help' for a command's flags.\n"},
		{args: []string{"zz", "-h"}, out: "usage: t SUB"},
		{args: []string{}, code: 2, errb: "t: missing subcommand: one of a, bb\nRun 't --help' for usage.\n"},
		{args: []string{"zz"}, code: 2, errb: "t: unknown subcommand \"zz\": one of a, bb\nRun 't --help' for usage.\n"},
	} {
		var out, errb bytes.Buffer
		sub, _, code, ok := g.Dispatch(tc.args, &out, &errb)
		if sub != tc.sub || code != tc.code || ok != tc.ok || !strings.HasPrefix(out.String(), tc.out) || errb.String() != tc.errb {
			t.Errorf("%q: %q %d %v stdout %q stderr %q", tc.args, sub, code, ok, out.String(), errb.String())
		}
	}
	rec := &Recorder{}
	if _, _, code, ok := g.Dispatch([]string{"--help"}, rec, nil); code != 0 || ok || !rec.Helped || !slices.Equal(rec.Subs, []string{"a", "bb"}) {
		t.Errorf("recorder: %+v", rec)
	}
}
