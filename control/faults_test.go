package control

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestFaultCorruptState: a control server whose state.json or moves.json
// is damaged (they are replaced atomically, so this is the disk's doing)
// refuses to start and names the file, rather than serving an empty state
// that would undo every drain in the fleet.
func TestFaultCorruptState(t *testing.T) {
	for _, name := range []string{"state.json", "moves.json"} {
		for what, data := range map[string]string{"truncated": `{"index": 12, "admin": {"fra": {"sta`, "binary": "\x00\xff\x7fELF"} {
			dir := t.TempDir()
			cfg, err := LoadConfigFile(writeTestConfig(t, dir, ""))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.MkdirAll(filepath.Join(dir, "state"), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, "state", name), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := New(cfg, Options{})
			if err == nil {
				_ = s.Close()
				t.Errorf("%s %s: the control server started", what, name)
				continue
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("%s %s: error %q does not name the file", what, name, err)
			}
		}
	}
}
