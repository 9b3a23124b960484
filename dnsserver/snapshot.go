package dnsserver

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/explain"
	"github.com/steer-gslb/steer/geoip"
	"github.com/steer-gslb/steer/internal/hugemem"
	"github.com/steer-gslb/steer/popmap"
	"github.com/steer-gslb/steer/steering"
	"github.com/steer-gslb/steer/steertoken"
)

// snapshot is everything a query needs, built off the query path and then
// published with one atomic pointer store. It is never modified after
// publication.
type snapshot struct {
	cfg     *config.Config
	cfgID   fileID // identity of the config file, taken before it was read
	serial  uint64 // reload counter, 1 for the first load
	built   time.Time
	pops    *steering.PoPs
	popAddr [2][][][]byte // family → PoP index → addresses (4 or 16 bytes)
	names   map[string]*node
	zones   map[string]*zone
	rum     map[string]*node // RUM record names: every name below them matches
	maps    map[string]*loadedMap
	geoDB   *geoip.DB
	geoFile fileID
	cookie  *cookieJar
	// records are the steered records; chains[r.id] is record r's
	// decision chain under the overlay the snapshot was made with.
	records []*record
	chains  []*steering.Chain
	ov      *overlay
	// byName: the steered records by lowercase name, with and without the
	// final dot (the steering API's lookup); views[r.id] is what record
	// r's chain was compiled with.
	byName map[string]*record
	views  []recordView
	// tokenKeys sign the steering API's tokens (api_tokens; nil: none).
	tokenKeys *steertoken.KeySet
}

// node is an owner name the server knows.
type node struct {
	zone *zone
	rec  *record // nil for an empty non-terminal or a bare apex
	// glue holds in-zone name server addresses answered as plain A/AAAA.
	glue *config.NameServer
}

type zone struct {
	cfg    *config.Zone
	apex   string // lowercase wire form
	soa    *dns.SOA
	ns     []dns.RR
	extra  []dns.RR // glue for in-zone NS names
	negTTL uint32
}

type record struct {
	cfg      *config.Record
	id       int // index into snapshot.chains; -1 for a static record
	ecs, res *popmap.Table
	def      [2][][]byte
	cname    *cnames // nil for a record of addresses and TXT
	// mapVersion is the meta.version of the ECS map, else the resolver map.
	mapVersion int64
}

// cnames are the targets a CNAME record answers: one for a static record;
// one per PoP and the default step's for a steered one.
type cnames struct {
	static *target
	pop    []*target // by PoP index
	def    *target   // nil: no default step
}

// target is a CNAME target: its name for the answer, and its lowercase
// wire form to follow it in our zones.
type target struct {
	name string
	wire []byte
}

func newTarget(name string) *target { return &target{name: name, wire: []byte(wireName(name))} }

// newCNAMEs returns the targets of a CNAME record, or nil.
func newCNAMEs(rc *config.Record, pops []config.PoP) *cnames {
	switch {
	case rc.Static != nil && rc.Static.CNAME != "":
		return &cnames{static: newTarget(rc.Static.CNAME)}
	case rc.CNAMETemplate != "":
		c := &cnames{pop: make([]*target, len(pops))}
		for i := range pops {
			c.pop[i] = newTarget(rc.CNAMEFor(pops[i].Label))
		}
		if rc.DefaultCNAME != "" {
			c.def = newTarget(rc.DefaultCNAME)
		}
		return c
	}
	return nil
}

// loadedMap is a compiled map and the identity of the file it came from, so
// that an unchanged map is not recompiled when something else changed.
type loadedMap struct {
	table   *popmap.Table
	id      fileID
	loaded  time.Time
	version int64  // the map's meta.version (0 when absent), e.g. a mapstore version
	sha256  string // of the file, for the control map file only
	// sources is the map's MAP.sources.tsv, loaded by the first Explain
	// that needs it (nil: none or unreadable).
	sourcesOnce sync.Once
	sources     *explain.Sources
	rtts        *explain.RTTs // MAP.rtt.tsv, loaded with sources
}

// fileID identifies a file's content cheaply: a replacement by rename has a
// new inode, an in-place write a new mtime (nanoseconds), size or ctime.
// Comparing all of them catches a replacement even within the same mtime
// second, which a seconds-resolution check (gdnsd 3.8) misses.
type fileID struct {
	dev, ino     uint64
	size         int64
	mtime, ctime int64
}

func statID(path string) (fileID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	id := fileID{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	id.dev, id.ino, id.ctime = sysFileID(fi) // fileid_*.go: the stat fields differ per system
	return id, nil
}

// preloaded is a map file's content already in memory (the control map
// just fetched), which build uses instead of reading path; the file is
// written afterwards (Server.adoptMapFile).
type preloaded struct {
	path   string
	data   []byte
	sha256 string // of data, checked by the caller
}

// build loads cfg's maps and GeoIP database (reusing prev's when their files
// are unchanged) and compiles a snapshot. It never touches prev. The map
// file pre names (nil: none) is taken from memory.
func build(cfg *config.Config, cfgID fileID, prev *snapshot, serial uint64, ov *overlay, pre *preloaded) (*snapshot, error) {
	s := &snapshot{
		cfg:    cfg,
		cfgID:  cfgID,
		serial: serial,
		built:  time.Now(),
		names:  map[string]*node{},
		zones:  map[string]*zone{},
		rum:    map[string]*node{},
		maps:   map[string]*loadedMap{},
		byName: map[string]*record{},
	}
	for f := range 2 {
		s.popAddr[f] = make([][][]byte, len(cfg.PoPs))
	}
	for i, p := range cfg.PoPs {
		s.popAddr[0][i] = addrBytes(p.IPv4)
		s.popAddr[1][i] = addrBytes(p.IPv6)
	}

	// Maps, each file once.
	labelOK := func(l popmap.Label) bool { _, ok := cfg.PoP(l); return ok }
	for _, path := range cfg.MapFiles() {
		// A preloaded map has no file identity yet: adoptMapFile sets it
		// once the file is written.
		var id fileID
		var data []byte // the file's content when read whole (inMemory)
		var sum string
		inMemory := pre != nil && path == pre.path
		if inMemory {
			data, sum = pre.data, pre.sha256
		} else {
			var err error
			id, err = statID(path)
			if err != nil && cfg.Control != nil && path == cfg.Control.MapFile && errors.Is(err, fs.ErrNotExist) {
				// A new server of a fleet: no map yet; it serves the rest of
				// the chain until the control server's map arrives.
				t, _ := popmap.Compile(&popmap.Map{})
				s.maps[path] = &loadedMap{table: t, loaded: time.Now()}
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("map %s: %w", path, err)
			}
			if prev != nil {
				if old := prev.maps[path]; old != nil && old.id == id {
					s.maps[path] = old
					continue
				}
			}
			if cfg.Control != nil && path == cfg.Control.MapFile {
				// The control map is checked against the state's digest.
				if data, err = hugemem.ReadFile(path); err != nil {
					return nil, fmt.Errorf("reading map: %w", err)
				}
				sum, inMemory = sha256Hex(data), true
			}
		}
		var t *popmap.Table
		var err error
		// The direct /24 table of a large map is built after the swap
		// (Server.buildDirect): the new map answers sooner (issue #13's
		// publish → fleet, #14's start and reload).
		o := popmap.CompileOptions{DeferDirect: true}
		if inMemory {
			t, err = popmap.LoadTableBytesWith(data, path, o)
		} else {
			// Straight from JSON to the table, without a Map: about half
			// the allocations, none of them with pointers (issue #14).
			t, err = popmap.LoadTableWith(path, o)
		}
		if err != nil {
			return nil, err
		}
		if err := t.CheckLabels(labelOK); err != nil {
			return nil, fmt.Errorf("map %s: %w", path, err)
		}
		// The file may have changed while we read it; the next event
		// triggers another reload, so the identity taken before is right.
		s.maps[path] = &loadedMap{table: t, id: id, loaded: time.Now(), version: t.Meta().Version, sha256: sum}
	}

	if t := cfg.APITokens; t != nil {
		ks, err := steertoken.LoadKeySet(t.Keys)
		if err != nil {
			return nil, fmt.Errorf("api_tokens.keys: %w", err)
		}
		if ks.SigningKey() == "" {
			return nil, fmt.Errorf("api_tokens.keys %s: no signing key (set signing_key, or keep one key with its private part)", t.Keys)
		}
		s.tokenKeys = ks
	}
	if cfg.GeoIP != "" {
		id, err := statID(cfg.GeoIP)
		if err != nil {
			return nil, fmt.Errorf("geoip %s: %w", cfg.GeoIP, err)
		}
		if prev != nil && prev.geoDB != nil && prev.cfg.GeoIP == cfg.GeoIP && prev.geoFile == id {
			s.geoDB, s.geoFile = prev.geoDB, id
		} else {
			db, err := geoip.Open(cfg.GeoIP)
			if err != nil {
				return nil, err
			}
			s.geoDB, s.geoFile = db, id
		}
	}
	for zi := range cfg.Zones {
		zc := &cfg.Zones[zi]
		z := &zone{cfg: zc, apex: wireName(zc.Name)}
		z.negTTL = min(zc.TTL, zc.SOA.Minimum)
		z.soa = &dns.SOA{
			Hdr:     dns.RR_Header{Name: zc.Name, Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: zc.TTL},
			Ns:      zc.SOA.MName,
			Mbox:    zc.SOA.RName,
			Serial:  zc.SOA.Serial,
			Refresh: zc.SOA.Refresh,
			Retry:   zc.SOA.Retry,
			Expire:  zc.SOA.Expire,
			Minttl:  zc.SOA.Minimum,
		}
		for ni := range zc.NS {
			ns := &zc.NS[ni]
			z.ns = append(z.ns, &dns.NS{Hdr: dns.RR_Header{Name: zc.Name, Rrtype: dns.TypeNS, Class: dns.ClassINET, Ttl: zc.TTL}, Ns: ns.Name})
			if dns.IsSubDomain(zc.Name, ns.Name) {
				z.extra = append(z.extra, addrRRs(ns.Name, zc.TTL, ns.IPv4, ns.IPv6)...)
				s.addNode(ns.Name, z).glue = ns
			}
		}
		s.zones[z.apex] = z
		s.addNode(zc.Name, z)
		for ri := range zc.Records {
			rc := &zc.Records[ri]
			r := &record{cfg: rc, id: -1, cname: newCNAMEs(rc, cfg.PoPs)}
			r.def[0], r.def[1] = addrBytes(rc.Default.IPv4), addrBytes(rc.Default.IPv6)
			if rc.Steered() {
				if rc.ResolverMap != "" {
					r.res = s.maps[rc.ResolverMap].table
					r.mapVersion = s.maps[rc.ResolverMap].version
				}
				if rc.ECSMap != "" {
					r.ecs = s.maps[rc.ECSMap].table
					r.mapVersion = s.maps[rc.ECSMap].version
				}
				r.id = len(s.records)
				s.records = append(s.records, r)
				lower := strings.ToLower(rc.Name)
				s.byName[lower] = r
				s.byName[strings.TrimSuffix(lower, ".")] = r
			}
			n := s.addNode(rc.Name, z)
			n.rec = r
			if rc.RUM {
				s.rum[wireName(rc.Name)] = n
			}
		}
	}
	s.applyOverlay(ov)
	if prev != nil {
		s.cookie = prev.cookie.with(cfg.Server.CookieSecret)
	} else {
		s.cookie = newCookieJar(cfg.Server.CookieSecret)
	}
	return s, nil
}

// mapVersions returns the meta.version of every map the snapshot serves,
// by path as configured (resolved against the config's directory, symlinks
// such as a map directory's current.json kept as named).
func (s *snapshot) mapVersions() map[string]int64 {
	out := make(map[string]int64, len(s.maps))
	for p, m := range s.maps {
		out[p] = m.version
	}
	return out
}

// MapVersions returns the meta.version (0 when absent) of every map being
// served, by path as configured: with ecs_map pointing at a map
// directory's current.json, the version `steer publish` made current.
func (s *Server) MapVersions() map[string]int64 { return s.snap.Load().mapVersions() }

// addNode returns the node for name, creating it and its empty non-terminal
// ancestors up to the zone apex.
func (s *snapshot) addNode(name string, z *zone) *node {
	key := wireName(name)
	n := s.names[key]
	if n == nil {
		n = &node{zone: z}
		s.names[key] = n
	}
	// Empty non-terminals between name and the apex exist (NODATA, not NXDOMAIN).
	for parent := name; ; {
		i := strings.IndexByte(parent, '.')
		if i < 0 || i+1 >= len(parent) {
			break
		}
		parent = parent[i+1:]
		if !dns.IsSubDomain(z.cfg.Name, parent) || parent == z.cfg.Name {
			break
		}
		if s.names[wireName(parent)] == nil {
			s.names[wireName(parent)] = &node{zone: z}
		}
	}
	return n
}

// find returns the node for a lowercase wire name and its zone. A name below
// a RUM record returns that record's node. A name that does not exist
// returns (nil, zone) with the deepest zone containing it, or (nil, nil)
// when no zone does (REFUSED).
func (s *snapshot) find(lname []byte) (*node, *zone) {
	if n := s.names[string(lname)]; n != nil {
		return n, n.zone
	}
	for i := 0; lname[i] != 0; {
		i += 1 + int(lname[i])
		suffix := lname[i:]
		if n := s.rum[string(suffix)]; n != nil {
			return n, n.zone
		}
		if z := s.zones[string(suffix)]; z != nil {
			return nil, z
		}
	}
	return nil, nil
}

func addrBytes(as []netip.Addr) [][]byte {
	out := make([][]byte, len(as))
	for i, a := range as {
		out[i] = a.AsSlice()
	}
	return out
}

func addrRRs(name string, ttl uint32, v4, v6 []netip.Addr) []dns.RR {
	var rrs []dns.RR
	for _, a := range v4 {
		rrs = append(rrs, &dns.A{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: ttl}, A: a.AsSlice()})
	}
	for _, a := range v6 {
		rrs = append(rrs, &dns.AAAA{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeAAAA, Class: dns.ClassINET, Ttl: ttl}, AAAA: a.AsSlice()})
	}
	return rrs
}

// wireName converts an absolute lowercase presentation name to its
// lowercase wire form, the key of the name maps.
func wireName(name string) string {
	buf := make([]byte, 0, len(name)+1)
	if name != "." {
		for _, l := range dns.SplitDomainName(name) {
			buf = append(buf, byte(len(l)))
			buf = append(buf, strings.ToLower(l)...)
		}
	}
	return string(append(buf, 0))
}

// textName converts a wire name to presentation form with the escapes of
// RFC 1035 §5.1, for logs and miekg/dns messages.
func textName(w []byte) string {
	var b strings.Builder
	for i := 0; i < len(w) && w[i] != 0; {
		l := int(w[i])
		for _, c := range w[i+1 : i+1+l] {
			switch {
			case c == '.' || c == '\\' || c == '"' || c == '(' || c == ')' || c == ';' || c == '@' || c == '$':
				b.WriteByte('\\')
				b.WriteByte(c)
			case c < '!' || c > '~':
				fmt.Fprintf(&b, "\\%03d", c)
			default:
				b.WriteByte(c)
			}
		}
		b.WriteByte('.')
		i += 1 + l
	}
	if b.Len() == 0 {
		return "."
	}
	return b.String()
}

func sha256Hex(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}
