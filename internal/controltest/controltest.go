// Package controltest starts a real control server (package control) on
// a loopback httptest server for other packages' tests: the DNS server
// following it, the map explorer reading it, the edge reporting load.
package controltest

import (
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/steer-gslb/steer/control"
)

// The tokens Start's control server accepts, one per role.
const (
	ReadToken    = "read-token-0123456789"
	OperateToken = "operate-token-0123456789"
	PublishToken = "publish-token-0123456789"
)

// Start writes dir/control.yaml — state and maps under dir, the DNS
// config dnsConfig (a path, relative to dir or absolute), a token of each
// role, then extra (more YAML keys) — and serves that control server until
// t ends. It returns the server and its URL.
func Start(t testing.TB, dir, dnsConfig, extra string) (*control.Server, string) {
	t.Helper()
	yml := "listen: 127.0.0.1:0\nstate_dir: state\nmap_dir: maps\ndns_config: " + dnsConfig + "\ntokens:\n" +
		"  - {name: fleet, role: read, token: " + ReadToken + "}\n" +
		"  - {name: ops, role: operate, token: " + OperateToken + "}\n" +
		"  - {name: ci, role: publish, token: " + PublishToken + "}\n" + extra
	path := filepath.Join(dir, "control.yaml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := control.LoadConfigFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := control.New(cfg, control.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		_ = s.Close()
	})
	return s, hs.URL
}
