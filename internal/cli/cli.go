// Package cli is steer's command-line convention, shared by every command
// and subcommand of steer and steer-dns:
//
//   - -h, -help or --help anywhere before "--" prints the command's help on
//     stdout (synopsis and description, the flags with their defaults, an
//     example) and exits 0;
//   - a wrong flag, a bad value or a wrong argument prints one error line
//     naming the problem and a hint ("Run 'steer build --help' for usage.")
//     on stderr and exits 2;
//   - flags and positional arguments may be interspersed
//     (steer map lookup MAP ADDR --json); "--" ends the flags.
//
// A command built from a [FlagSet] (flags) or a [Group] (subcommands) also
// describes itself to a [Recorder], which is how shell completion
// ([Bash], [Zsh]) and the tests walk every command without running one.
package cli

import (
	"flag"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

// FlagSet is one command's flags. Its Arg, Args and NArg give the
// positional arguments found anywhere among the flags.
type FlagSet struct {
	*flag.FlagSet
	// Help is the synopsis ("usage: steer build --store DIR ...") and
	// description, printed before the flags.
	Help string
	// Example is one or more example command lines, printed after the
	// flags.
	Example string
	// Subcommands are subcommand names a command accepts before its flags
	// (steer sim report): listed for completion only, the command
	// dispatches them itself.
	Subcommands []string

	stdout, stderr io.Writer
	pos            []string
}

// New is the flag set of the command name ("steer build"): help goes to
// stdout, errors to stderr.
func New(name, help, example string, stdout, stderr io.Writer) *FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // Parse reports errors itself, in one line
	fs.Usage = func() {}
	return &FlagSet{FlagSet: fs, Help: help, Example: example, stdout: stdout, stderr: stderr}
}

// Parse parses args. When ok is false the command returns code at once:
// 0 after printing the help, 2 after reporting an error.
func (f *FlagSet) Parse(args []string) (code int, ok bool) {
	if WantsHelp(args) {
		if r, isRec := f.stdout.(*Recorder); isRec {
			r.record(f.Subcommands, f.FlagSet)
			return 0, false
		}
		f.PrintHelp(f.stdout)
		return 0, false
	}
	f.pos = f.pos[:0]
	for {
		if err := f.FlagSet.Parse(args); err != nil {
			return f.Usagef("%v", err), false
		}
		rest := f.FlagSet.Args()
		if len(rest) == 0 {
			return 0, true
		}
		// Parse stopped at a positional argument or after "--".
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			f.pos = append(f.pos, rest...)
			return 0, true
		}
		f.pos = append(f.pos, rest[0])
		args = rest[1:]
	}
}

// Args are the positional arguments.
func (f *FlagSet) Args() []string { return f.pos }

// NArg is the number of positional arguments.
func (f *FlagSet) NArg() int { return len(f.pos) }

// Arg is the i'th positional argument, "" when there is none.
func (f *FlagSet) Arg(i int) string {
	if i < 0 || i >= len(f.pos) {
		return ""
	}
	return f.pos[i]
}

// Usagef reports a usage error in one line, "NAME: MESSAGE", then the hint,
// and returns 2, the exit code for it.
func (f *FlagSet) Usagef(format string, a ...any) int {
	return usageError(f.stderr, f.Name(), format, a...)
}

func usageError(w io.Writer, name, format string, a ...any) int {
	fmt.Fprintf(w, "%s: %s\n", name, fmt.Sprintf(format, a...))
	fmt.Fprintf(w, "Run '%s --help' for usage.\n", name)
	return 2
}

// PrintHelp writes the help: Help, the flags with their defaults, Example.
func (f *FlagSet) PrintHelp(w io.Writer) {
	fmt.Fprint(w, strings.TrimRight(f.Help, "\n")+"\n")
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprint(w, "\nflags:\n")
		PrintFlags(w, f.FlagSet)
	}
	printExample(w, f.Example)
}

func printExample(w io.Writer, example string) {
	if example = strings.TrimSpace(example); example == "" {
		return
	}
	fmt.Fprint(w, "\nexample:\n")
	for line := range strings.SplitSeq(example, "\n") {
		fmt.Fprintf(w, "  %s\n", strings.TrimSpace(line))
	}
}

// PrintFlags writes fs's flags in the convention's format: "--name VALUE",
// then the description and the default on the next line.
func PrintFlags(w io.Writer, fs *flag.FlagSet) {
	fs.VisitAll(func(fl *flag.Flag) {
		name, usage := flag.UnquoteUsage(fl)
		head := "  --" + fl.Name
		if name != "" {
			head += " " + name
		}
		fmt.Fprintf(w, "%s\n      %s", head, strings.ReplaceAll(usage, "\n", "\n      "))
		if def := fl.DefValue; def != "" && def != "false" && def != "0" && def != "0s" && def != "[]" {
			if reflect.TypeOf(fl.Value).String() == "*flag.stringValue" {
				def = strconv.Quote(def)
			}
			fmt.Fprintf(w, " (default %s)", def)
		}
		fmt.Fprintln(w)
	})
}

// WantsHelp reports whether args ask for help: -h, -help or --help before
// a "--".
func WantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--help", "--h":
			return true
		}
	}
	return false
}

// Sub is one subcommand of a [Group].
type Sub struct {
	Name, Summary string
}

// Group is a command made of subcommands (steer map validate|lookup|...).
type Group struct {
	Name    string // "steer map"
	Help    string // synopsis and description, printed before the list
	Subs    []Sub
	Example string
}

// Dispatch finds the subcommand in args. When ok is false the command
// returns code at once: 0 after the help, 2 after an error (no or an
// unknown subcommand). Help asked after a subcommand (steer map lookup
// --help) is left to the subcommand; help after anything else is the
// group's.
func (g *Group) Dispatch(args []string, stdout, stderr io.Writer) (sub string, rest []string, code int, ok bool) {
	if len(args) == 0 {
		return "", nil, usageError(stderr, g.Name, "missing subcommand: one of %s", g.names()), false
	}
	if args[0] == "help" || WantsHelp(args[:1]) || !slices.Contains(g.namesList(), args[0]) && WantsHelp(args) {
		if r, isRec := stdout.(*Recorder); isRec {
			r.record(g.namesList(), nil)
			return "", nil, 0, false
		}
		g.PrintHelp(stdout)
		return "", nil, 0, false
	}
	if !slices.Contains(g.namesList(), args[0]) {
		return "", nil, usageError(stderr, g.Name, "unknown subcommand %q: one of %s", args[0], g.names()), false
	}
	return args[0], args[1:], 0, true
}

// PrintHelp writes the group's help: Help, the subcommands, Example.
func (g *Group) PrintHelp(w io.Writer) {
	// The program's own group lists commands, the others subcommands.
	noun := "subcommand"
	if !strings.Contains(g.Name, " ") {
		noun = "command"
	}
	fmt.Fprint(w, strings.TrimRight(g.Help, "\n")+"\n\n"+noun+"s:\n")
	width := 0
	for _, s := range g.Subs {
		width = max(width, len(s.Name))
	}
	for _, s := range g.Subs {
		fmt.Fprintf(w, "  %-*s  %s\n", width, s.Name, s.Summary)
	}
	printExample(w, g.Example)
	fmt.Fprintf(w, "\nRun '%s %s --help' for a %s's flags.\n", g.Name, strings.ToUpper(noun), noun)
}

func (g *Group) namesList() []string {
	out := make([]string, len(g.Subs))
	for i, s := range g.Subs {
		out[i] = s.Name
	}
	return out
}

func (g *Group) names() string { return strings.Join(g.namesList(), ", ") }

// Recorder is a stdout that collects what a command accepts instead of
// printing its help: a command run with "--help" and a *Recorder as stdout
// records its subcommands and flags and returns. Shell completion and the
// tests walk the command tree this way.
type Recorder struct {
	// Helped is set once a FlagSet or Group handled the help.
	Helped bool
	Subs   []string
	Flags  []string // with their dashes: "--store"
}

// Write discards what a command prints around its help.
func (r *Recorder) Write(p []byte) (int, error) { return len(p), nil }

func (r *Recorder) record(subs []string, fs *flag.FlagSet) {
	r.Helped = true
	r.Subs = append(r.Subs, subs...)
	if fs != nil {
		fs.VisitAll(func(fl *flag.Flag) { r.Flags = append(r.Flags, "--"+fl.Name) })
	}
	r.Flags = append(r.Flags, "--help")
}
