package chstore

import (
	"slices"
	"strings"
	"testing"
)

var urlTests = []struct {
	in      string
	hosts   []string
	db      string
	cluster string
	user    string
	err     string // substring of the error; "" for none
}{
	{in: "clickhouse://127.0.0.1:8123/steer", hosts: []string{"127.0.0.1:8123"}, db: "steer"},
	{in: "clickhouse://ch1/steer", hosts: []string{"ch1:8123"}, db: "steer"},
	{in: "clickhouse://ch1:8124,ch2:8125/rum_1?cluster=steer", hosts: []string{"ch1:8124", "ch2:8125"}, db: "rum_1", cluster: "steer"},
	{in: "clickhouse://[::1]:9000/db?cluster=a-b.c", hosts: []string{"[::1]:9000"}, db: "db", cluster: "a-b.c"},
	{in: "clickhouse://[::1]/db", hosts: []string{"[::1]:8123"}, db: "db"},
	{in: "clickhouse://h:1/db?user=steer&password=p%40ss", hosts: []string{"h:1"}, db: "db", user: "steer"},
	{in: "http://h:8123/db", err: "want clickhouse://"},
	{in: "clickhouse://", err: "no host"},
	{in: "clickhouse:///db", err: "no host"},
	{in: "clickhouse://h:8123", err: "no database"},
	{in: "clickhouse://h:8123/", err: "no database"},
	{in: "clickhouse://h:8123/a-b", err: `database "a-b"`},
	{in: "clickhouse://h:8123/db/x", err: `database "db/x"`},
	{in: "clickhouse://h:8123/1db", err: `database "1db"`},
	{in: "clickhouse://h:0/db", err: `port "0"`},
	{in: "clickhouse://h:70000/db", err: `port "70000"`},
	{in: "clickhouse://h:08123/db", err: `port "08123"`},
	{in: "clickhouse://h:/db", err: `port ""`},
	{in: "clickhouse://::1/db", err: "brackets"},
	{in: "clickhouse://h:1,,h:2/db?cluster=c", err: `host "": empty`},
	{in: "clickhouse://h:1,h:1/db?cluster=c", err: "listed twice"},
	{in: "clickhouse://h:1,h:2/db", err: "without ?cluster=NAME"},
	{in: "clickhouse://bad host:1/db", err: "host name"},
	{in: "clickhouse://u:p@h:1/db", err: "credentials go in"},
	{in: "clickhouse://h:1/db?clustr=x", err: `unknown parameter "clustr"`},
	{in: "clickhouse://h:1/db?cluster=a&cluster=b", err: "given 2 times"},
	{in: "clickhouse://h:1/db?cluster=a%20b", err: `cluster "a b"`},
	{in: "clickhouse://h:1/db?cluster=", err: `cluster ""`},
	{in: "clickhouse://h:1/db?password=secret", err: "password without user"},
	{in: "clickhouse://h:1/db?user=u&password=%zzsecret", err: "invalid %-escape"},
	{in: "clickhouse://h:1/db#frag", err: "fragment"},
	{in: "clickhouse://[fe80::1%25eth0]:1/db", err: "zone"},
}

func TestParseURL(t *testing.T) {
	for _, tc := range urlTests {
		loc, err := ParseURL(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: error %v, want one containing %q", tc.in, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret") {
				t.Errorf("%s: the error quotes the password: %v", tc.in, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !slices.Equal(loc.Hosts, tc.hosts) || loc.Database != tc.db || loc.Cluster != tc.cluster || loc.User != tc.user {
			t.Errorf("%s: %+v", tc.in, loc)
		}
		// String round-trips but for the password
		again, err := ParseURL(loc.String())
		if err != nil {
			t.Errorf("%s: String %s: %v", tc.in, loc.String(), err)
		} else if !slices.Equal(again.Hosts, loc.Hosts) || again.Database != loc.Database || again.Cluster != loc.Cluster {
			t.Errorf("%s: String %s parses to %+v", tc.in, loc.String(), again)
		}
		if loc.Password != "" && strings.Contains(loc.String(), loc.Password) {
			t.Errorf("%s: String shows the password", tc.in)
		}
	}
}

// FuzzParseURL: no panic; what parses has the properties the store
// relies on (identifiers safe to write unquoted, a host list that
// matches the cluster parameter).
func FuzzParseURL(f *testing.F) {
	for _, tc := range urlTests {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		loc, err := ParseURL(in)
		if err != nil {
			if loc != nil {
				t.Fatal("a Location with an error")
			}
			return
		}
		if !isIdent(loc.Database) {
			t.Fatalf("database %q", loc.Database)
		}
		if loc.Cluster != "" && !isClusterName(loc.Cluster) {
			t.Fatalf("cluster %q", loc.Cluster)
		}
		if len(loc.Hosts) == 0 || len(loc.Hosts) > 1 && loc.Cluster == "" {
			t.Fatalf("hosts %v, cluster %q", loc.Hosts, loc.Cluster)
		}
		for _, h := range loc.Hosts {
			if _, err := parseHost(h); err != nil {
				t.Fatalf("host %q does not parse again: %v", h, err)
			}
		}
		if _, err := ParseURL(loc.String()); err != nil {
			t.Fatalf("String %q: %v", loc.String(), err)
		}
	})
}
