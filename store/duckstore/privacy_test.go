package duckstore

import (
	"bytes"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/steer-gslb/steer/rum"

	"github.com/steer-gslb/steer/store"
)

// clientHosts are full client addresses in n distinct IPv4 /24s (host
// octets from 0x80 up, so that none is a network address) and n/10 IPv6
// /56s.
func clientHosts(n int) []netip.Addr {
	var out []netip.Addr
	for i := range n {
		out = append(out, netip.AddrFrom4([4]byte{100, byte(64 + i/256), byte(i), byte(0x80 + i%127)}))
	}
	for i := range n / 10 {
		out = append(out, netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0x5e, byte(i), 0xc3, 0x11, 0xaa, 0xbb, 0xcc, byte(i), 0xde, 0xad, 0xbe, 0xef}))
	}
	return out
}

var slash32 = regexp.MustCompile(`\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}/32|/128\b`)

// leaks lists where any of hosts appears in the files under dir or in
// texts: as text, as 4 or 16 bytes in network order (and, for IPv4, in
// little-endian order, as a UINTEGER column would hold it), and any
// "a.b.c.d/32" or "/128".
func leaks(t *testing.T, dir string, texts map[string][]byte, hosts []netip.Addr) []string {
	t.Helper()
	blobs := map[string][]byte{}
	for k, v := range texts {
		blobs[k] = v
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		blobs[p] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(blobs) == 0 {
		t.Fatal("nothing to scan")
	}
	var found []string
	for name, b := range blobs {
		for _, h := range hosts {
			pats := map[string][]byte{"text": []byte(h.String()), "binary": h.AsSlice()}
			if h.Is4() {
				a := h.As4()
				pats["binary LE"] = []byte{a[3], a[2], a[1], a[0]}
			}
			for kind, pat := range pats {
				if bytes.Contains(b, pat) {
					found = append(found, name+": "+h.String()+" as "+kind)
				}
			}
		}
		if m := slash32.Find(b); m != nil {
			found = append(found, name+": "+string(m))
		}
	}
	return found
}

// TestNoClientAddressInStore stores beacons from many networks, through
// AddBeacons (the collector truncates first) and through Import of lines
// whose client_subnet and ecs are full host addresses, and scans every
// file of the store, open (WAL) and closed, and every error message.
func TestNoClientAddressInStore(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	hosts := clientHosts(300)
	half := len(hosts) / 2
	bs := genBeacons(9, len(hosts), 3, time.Now())

	// The collector's way: truncate, then AddBeacons.
	var viaAdd []store.Beacon
	for i, h := range hosts[:half] {
		b := bs[i]
		b.ClientSubnet, _ = store.Truncate(netip.PrefixFrom(h, h.BitLen()))
		viaAdd = append(viaAdd, b)
	}
	if _, err := s.AddBeacons(ctx, viaAdd); err != nil {
		t.Fatal(err)
	}
	// A full address handed to AddBeacons is refused without naming it.
	bad := []store.Beacon{bs[half]}
	bad[0].ClientSubnet = netip.PrefixFrom(hosts[half], hosts[half].BitLen())
	_, addErr := s.AddBeacons(ctx, bad)
	if addErr == nil {
		t.Fatal("AddBeacons took a full client address")
	}

	// The bulk import's way: host addresses (with /32, /128 and bare) in
	// client_subnet, and as ECS in a DNS log; plus bad lines whose
	// errors are reported.
	var beacons, log bytes.Buffer
	for i, h := range hosts[half:] {
		b := &bs[half+i].Beacon
		sub := h.String()
		switch i % 3 {
		case 0:
			sub += "/" + itoa(uint64(h.BitLen()))
		case 1:
			sub += "/24"
		}
		beacons.WriteString(beaconLine(b, sub) + "\n")
		if i%5 == 0 { // a bad line carrying a host address
			beacons.WriteString(strings.Replace(beaconLine(b, sub), `"probe":"https"`, `"probe":"ftp"`, 1) + "\n")
		}
		e := rum.LogEntry{TS: testStart, QName: "q" + itoa(uint64(i)) + ".rum.example.net.", QType: "A",
			Resolver: netip.MustParseAddr("192.0.2.53"), ECS: netip.PrefixFrom(h, h.BitLen()), PoP: "fra", Source: rum.SourceECS}
		log.Write(rum.AppendLogEntry(nil, &e))
		log.WriteString("\n")
	}
	log.WriteString(`{"ts":"2026-11-21T10:00:00.101Z","qname":"a.rum.example.net.","qtype":"A","resolver":"192.0.2.53","ecs":"` + hosts[half].String() + `/33","source":"ecs"}` + "\n")
	texts := map[string][]byte{"AddBeacons error": []byte(addErr.Error())}
	for name, in := range map[string][]byte{"beacons": beacons.Bytes(), "log": log.Bytes()} {
		st, err := Import(ctx, s, bytes.NewReader(in), ImportOptions{MaxLineErrors: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if st.RejectedTotal() == 0 || st.Truncated == 0 {
			t.Fatalf("import of %s: %+v: want rejected and truncated lines", name, st)
		}
		var msgs []string
		for _, e := range st.LineErrors {
			msgs = append(msgs, e.Err)
		}
		texts[name+" line errors"] = []byte(strings.Join(msgs, "\n"))
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Beacons != int64(len(hosts)) || st.Queries != int64(len(hosts)-half) {
		t.Fatalf("stored %+v, want %d beacons and %d queries", st, len(hosts), len(hosts)-half)
	}
	if _, err := os.Stat(filepath.Join(dir, DBFile+".wal")); err != nil {
		t.Logf("no WAL while open (%v): scanning the database file only", err)
	}
	if found := leaks(t, dir, texts, hosts); len(found) > 0 {
		t.Errorf("client addresses found in the open store:\n%s", strings.Join(found, "\n"))
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if found := leaks(t, dir, nil, hosts); len(found) > 0 {
		t.Errorf("client addresses found in the closed store:\n%s", strings.Join(found, "\n"))
	}
	// The check itself finds an address where there is one.
	probe := map[string][]byte{"text": []byte("a " + hosts[7].String() + " b"), "binary": append([]byte{1}, hosts[8].AsSlice()...), "cidr": []byte("9.9.9.9/32")}
	if found := leaks(t, t.TempDir(), probe, hosts); len(found) != 3 {
		t.Errorf("the scan found %v in texts holding an address, its bytes and a /32; want 3 finds", found)
	}
}
