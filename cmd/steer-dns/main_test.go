package main

import (
	"bytes"
	"strings"
	"testing"
)

// TestCommandLine: steer-dns follows the command-line convention of steer
// (internal/cli): help on stdout with exit 0, one error line and a hint
// with exit 2, the version.
func TestCommandLine(t *testing.T) {
	for _, tc := range []struct {
		args      []string
		code      int
		out, errb string
	}{
		{[]string{"--help"}, 0, "usage: steer-dns --config FILE", ""},
		{[]string{"-h"}, 0, "\nexample:\n  steer-dns --config", ""},
		{[]string{"--bogus"}, 2, "", "steer-dns: flag provided but not defined: -bogus\nRun 'steer-dns --help' for usage.\n"},
		{[]string{"extra"}, 2, "", "steer-dns: unexpected argument \"extra\"\n"},
		{[]string{"--log-level", "loud"}, 2, "", "steer-dns: bad --log-level"},
		{[]string{"--version"}, 0, "steer-dns ", ""},
	} {
		var out, errb bytes.Buffer
		code := run(tc.args, &out, &errb)
		if code != tc.code || !strings.Contains(out.String(), tc.out) || !strings.Contains(errb.String(), tc.errb) || (tc.errb == "") != (errb.Len() == 0) {
			t.Errorf("steer-dns %q: exit %d, stdout %q, stderr %q", tc.args, code, out.String(), errb.String())
		}
	}
}
