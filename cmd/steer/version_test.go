package main

import (
	"bytes"
	"runtime"
	"strings"
	"testing"
)

func TestVersionCommand(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 {
		t.Fatalf("steer version: exit %d, %s", code, errb.String())
	}
	if s := out.String(); !strings.HasPrefix(s, "steer ") || !strings.Contains(s, runtime.Version()) || !strings.Contains(s, runtime.GOOS+"/"+runtime.GOARCH) {
		t.Errorf("steer version printed %q", s)
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"version", "extra"}, &out, &errb); code != 2 || !strings.Contains(errb.String(), "steer version: takes no arguments") {
		t.Errorf("steer version extra: exit %d, %q", code, errb.String())
	}
}
