package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// protocVersion is the generated header line naming the protoc release,
// which differs between machines without changing the code.
var protocVersion = regexp.MustCompile(`(?m)^// \tprotoc +v.*\n`)

// TestProtoGenerated: regenerating the steering API's code (proto/gen.sh,
// `make proto`) with the plugins pinned in tools/go.mod gives the
// committed files, byte for byte but for the protoc version line.
func TestProtoGenerated(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		t.Skip("protoc not installed (apt-get install protobuf-compiler; make test-deps): cannot check gen/ is up to date")
	}
	out := t.TempDir()
	cmd := exec.Command("bash", filepath.Join("..", "proto", "gen.sh"), out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("proto/gen.sh: %v\n%s", err, b)
	}
	var n int
	err := filepath.WalkDir(out, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(out, path)
		n++
		fresh, _ := os.ReadFile(path)
		committed, err := os.ReadFile(filepath.Join("..", "gen", rel))
		if err != nil {
			t.Errorf("gen/%s: %v; run make proto", rel, err)
			return nil
		}
		if protocVersion.ReplaceAllString(string(fresh), "") != protocVersion.ReplaceAllString(string(committed), "") {
			t.Errorf("gen/%s differs from what proto/gen.sh generates; run make proto", rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 2 {
		t.Fatalf("proto/gen.sh generated %d files, want the messages and the Connect code", n)
	}
}
