package chstore

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// Scheme is the URL scheme of a ClickHouse store.
const Scheme = "clickhouse"

// DefaultPort is the HTTP port of a host given without one.
const DefaultPort = 8123

// Location is a parsed store URL:
//
//	clickhouse://host:8123[,host2:8123...]/db[?cluster=NAME&user=U&password=P]
type Location struct {
	// Hosts are the nodes' HTTP addresses (host:port), one per shard of
	// the cluster; exactly one without a cluster.
	Hosts    []string
	Database string
	// Cluster is a remote_servers cluster defined in every node's server
	// config; "" for a single node with plain tables.
	Cluster  string
	User     string // "" for the server's default user
	Password string
}

// maxHosts bounds the nodes of a URL.
const maxHosts = 256

// ParseURL parses a store URL. Errors name what is wrong and never
// contain the password.
func ParseURL(raw string) (*Location, error) {
	rest, ok := strings.CutPrefix(raw, Scheme+"://")
	if !ok {
		return nil, errors.New("clickhouse store URL: want clickhouse://host:8123/db[?cluster=NAME]")
	}
	rest, query, _ := strings.Cut(rest, "?")
	if i := strings.IndexByte(rest, '#'); i >= 0 || strings.Contains(query, "#") {
		return nil, errors.New("clickhouse store URL: a fragment (#...) is not allowed")
	}
	authority, path, _ := strings.Cut(rest, "/")
	if strings.Contains(authority, "@") {
		return nil, errors.New("clickhouse store URL: credentials go in ?user=...&password=..., not before the host")
	}
	loc := &Location{}
	if authority == "" {
		return nil, errors.New("clickhouse store URL: no host (clickhouse://host:8123/db)")
	}
	seen := map[string]bool{}
	for h := range strings.SplitSeq(authority, ",") {
		hp, err := parseHost(h)
		if err != nil {
			return nil, fmt.Errorf("clickhouse store URL: host %q: %w", h, err)
		}
		if seen[hp] {
			return nil, fmt.Errorf("clickhouse store URL: host %s listed twice", hp)
		}
		seen[hp] = true
		loc.Hosts = append(loc.Hosts, hp)
		if len(loc.Hosts) > maxHosts {
			return nil, fmt.Errorf("clickhouse store URL: more than %d hosts", maxHosts)
		}
	}
	db, err := url.PathUnescape(path)
	if err != nil {
		return nil, fmt.Errorf("clickhouse store URL: database: %w", err)
	}
	if db == "" {
		return nil, errors.New("clickhouse store URL: no database (clickhouse://host:8123/db)")
	}
	if !isIdent(db) {
		return nil, fmt.Errorf("clickhouse store URL: database %q: want letters, digits and _ (not starting with a digit), at most 64", db)
	}
	loc.Database = db
	vals, err := url.ParseQuery(query)
	if err != nil {
		return nil, fmt.Errorf("clickhouse store URL: parameters: %v", redactErr(err))
	}
	for k, v := range vals {
		if len(v) != 1 {
			return nil, fmt.Errorf("clickhouse store URL: parameter %q given %d times", k, len(v))
		}
		switch k {
		case "cluster":
			if !isClusterName(v[0]) {
				return nil, fmt.Errorf("clickhouse store URL: cluster %q: want letters, digits, _, - and . (at most 64)", v[0])
			}
			loc.Cluster = v[0]
		case "user":
			if v[0] == "" || len(v[0]) > 256 {
				return nil, errors.New("clickhouse store URL: user: empty or longer than 256 bytes")
			}
			loc.User = v[0]
		case "password":
			if len(v[0]) > 1024 {
				return nil, errors.New("clickhouse store URL: password: longer than 1024 bytes")
			}
			loc.Password = v[0]
		default:
			return nil, fmt.Errorf("clickhouse store URL: unknown parameter %q (want cluster, user, password)", k)
		}
	}
	if loc.Password != "" && loc.User == "" {
		return nil, errors.New("clickhouse store URL: password without user")
	}
	if loc.Cluster == "" && len(loc.Hosts) > 1 {
		return nil, fmt.Errorf("clickhouse store URL: %d hosts without ?cluster=NAME (several hosts are the shards of a cluster)", len(loc.Hosts))
	}
	return loc, nil
}

// redactErr keeps a query-parsing error from quoting a password.
func redactErr(err error) string {
	var e url.EscapeError
	if errors.As(err, &e) {
		return "invalid %-escape"
	}
	return "malformed"
}

// parseHost checks one host[:port] and returns host:port.
func parseHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("empty")
	}
	host, port := h, strconv.Itoa(DefaultPort)
	if strings.HasPrefix(h, "[") || strings.Count(h, ":") == 1 {
		var err error
		host, port, err = net.SplitHostPort(h)
		if err != nil {
			if strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]") {
				host, port = h[1:len(h)-1], strconv.Itoa(DefaultPort)
			} else {
				return "", errors.New("want host or host:port ([v6]:port)")
			}
		}
	} else if strings.Contains(h, ":") {
		return "", errors.New("an IPv6 address goes in brackets: [::1]:8123")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 || port != strconv.Itoa(p) {
		return "", fmt.Errorf("port %q: want 1..65535", port)
	}
	if host == "" {
		return "", errors.New("no host name")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if a.Zone() != "" {
			return "", errors.New("an address with a zone is not supported")
		}
	} else {
		for _, c := range []byte(host) {
			if !hostByte(c) {
				return "", errors.New("host name: want letters, digits, '-', '.', '_' or an IP address")
			}
		}
		if len(host) > 253 {
			return "", errors.New("host name longer than 253")
		}
	}
	return net.JoinHostPort(host, strconv.Itoa(p)), nil
}

// isIdent reports whether s is a plain SQL identifier, safe to write
// unquoted in any ClickHouse version.
func isIdent(s string) bool {
	if s == "" || len(s) > 64 || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range []byte(s) {
		if !alnum(c) && c != '_' {
			return false
		}
	}
	return true
}

// isClusterName reports whether s can be a remote_servers element name
// (the store only writes it in string literals).
func isClusterName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range []byte(s) {
		if !hostByte(c) {
			return false
		}
	}
	return true
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }

// hostByte: letters, digits, '-', '.', '_'.
func hostByte(c byte) bool { return alnum(c) || c == '-' || c == '.' || c == '_' }

// String is the URL without the password.
func (l *Location) String() string {
	var b strings.Builder
	b.WriteString(Scheme + "://")
	b.WriteString(strings.Join(l.Hosts, ","))
	b.WriteString("/" + l.Database)
	v := url.Values{}
	if l.Cluster != "" {
		v.Set("cluster", l.Cluster)
	}
	if l.User != "" {
		v.Set("user", l.User)
	}
	if l.Password != "" {
		v.Set("password", "xxxxx")
	}
	if len(v) > 0 {
		b.WriteString("?" + v.Encode())
	}
	return b.String()
}
