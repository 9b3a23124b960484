//go:build cgo

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIngestUnreadableInput: a file that cannot be read (missing, a
// directory) is reported before the store is opened: nothing is created,
// nothing imported, no summary printed; with the files readable the same
// command imports them.
func TestIngestUnreadableInput(t *testing.T) {
	tmp := t.TempDir()
	good, _, _ := writeIngestFiles(t, tmp, ingestHosts(3))
	missing := filepath.Join(tmp, "nope.ndjson")
	for _, c := range []struct {
		files []string
		want  []string // stderr lines
	}{
		{[]string{missing}, []string{"steer ingest: open " + missing + ": no such file or directory"}},
		{[]string{good, missing, tmp}, []string{
			"steer ingest: open " + missing + ": no such file or directory",
			"steer ingest: " + tmp + " is a directory, not an NDJSON file",
		}},
	} {
		dir := filepath.Join(tmp, "s2")
		var out, errb bytes.Buffer
		code := run(append([]string{"ingest", "--store", dir}, c.files...), &out, &errb)
		if want := strings.Join(c.want, "\n") + "\n"; code != 1 || out.Len() != 0 || errb.String() != want {
			t.Errorf("ingest %v: exit %d, stdout %q, stderr %q; want exit 1, no output, stderr %q", c.files, code, out.String(), errb.String(), want)
		}
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("ingest %v created the store %s: %v", c.files, dir, err)
		}
	}

	dir := filepath.Join(tmp, "s3")
	var out, errb bytes.Buffer
	if code := run([]string{"ingest", "--store", dir, good}, &out, &errb); code != 0 || !strings.Contains(out.String(), "3 beacons added") {
		t.Fatalf("ingest of a readable file: exit %d, stdout %q, stderr %q", code, out.String(), errb.String())
	}
}
