package chstore

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/steer-gslb/steer/rum"
	"github.com/steer-gslb/steer/store"
)

// Defaults of Options.
const (
	DefaultGroupByMemory   = 2 << 30
	DefaultMutationTimeout = 10 * time.Minute
	DefaultScanPage        = 20_000
)

// Options configure Open. The zero value is the default.
type Options struct {
	// Now is the clock: Received of beacons without one (default
	// time.Now).
	Now func() time.Time
	// HTTPClient is the client of every request (default: one of the
	// store's own). Requests are bounded by their context only.
	HTTPClient *http.Client
	// GroupByMemory is Aggregate's max_bytes_before_external_group_by on
	// each shard: past it the server spills the aggregation to disk
	// (default 2 GiB; negative: never).
	GroupByMemory int64
	// MutationTimeout bounds DeleteBefore's wait for the servers'
	// deletes (mutations) to finish (default 10 min).
	MutationTimeout time.Duration
	// Settings are ClickHouse settings for Aggregate's and JoinDNS's
	// queries on every node (e.g. max_threads, max_memory_usage).
	Settings map[string]string
	// ScanPage is the beacons (or queries ×5) a scan reads per request
	// (default 20,000).
	ScanPage int
}

// Store is the RUM store on a ClickHouse server or cluster (package doc).
// It is safe for concurrent use; several processes (collectors) may write
// one database at the same time.
type Store struct {
	loc   *Location
	opt   Options
	c     *client
	ownHC bool
	nodes []node

	// Tables: reads and inserts go through beacons and queries (the
	// Distributed tables in a cluster) on the first node; Aggregate and
	// JoinDNS read each node's local table.
	beacons, queries, beaconsLocal, queriesLocal string

	closed atomic.Bool
}

// node is one server: a shard of the cluster (or the only server).
type node struct {
	addr  string // host:port of the HTTP interface
	shard int    // shard_num in system.clusters; 0 without a cluster
}

var _ store.Store = (*Store)(nil)

// errClosed is returned by the methods of a closed store.
var errClosed = errors.New("chstore: store is closed")

// Open connects to the servers of a store URL (ParseURL), checks the
// cluster and brings the schema to SchemaVersion on every node. Opening
// a store that is already current only reads.
func Open(ctx context.Context, rawURL string, opt Options) (*Store, error) {
	loc, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.GroupByMemory == 0 {
		opt.GroupByMemory = DefaultGroupByMemory
	}
	if opt.MutationTimeout <= 0 {
		opt.MutationTimeout = DefaultMutationTimeout
	}
	if opt.ScanPage <= 0 {
		opt.ScanPage = DefaultScanPage
	}
	for k := range opt.Settings {
		switch k {
		case "query", "query_id", "database", "user", "password", "quota_key", "wait_end_of_query", "buffer_size", "default_format":
			return nil, fmt.Errorf("chstore: Options.Settings: %q is a parameter of the store's requests, not a setting to change", k)
		}
		if !isIdent(k) {
			return nil, fmt.Errorf("chstore: Options.Settings: %q is not a setting name", k)
		}
	}
	s := &Store{loc: loc, opt: opt}
	hc := opt.HTTPClient
	if hc == nil {
		hc = &http.Client{Transport: &http.Transport{
			DialContext:         (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			MaxIdleConnsPerHost: 8,
			IdleConnTimeout:     2 * time.Second, // below the server's keep_alive_timeout (default 3 s)
		}}
		s.ownHC = true
	}
	s.c = &client{hc: hc, user: loc.User, password: loc.Password}
	for _, h := range loc.Hosts {
		s.nodes = append(s.nodes, node{addr: h})
	}
	db := loc.Database + "."
	s.beacons, s.queries = db+beaconsTable, db+queriesTable
	s.beaconsLocal, s.queriesLocal = s.beacons, s.queries
	if s.clustered() {
		s.beaconsLocal, s.queriesLocal = s.beacons+localSuffix, s.queries+localSuffix
	}
	if err := s.open(ctx); err != nil {
		s.closeIdle()
		return nil, fmt.Errorf("opening store %s: %w", loc, err)
	}
	return s, nil
}

func (s *Store) open(ctx context.Context) error {
	for _, n := range s.nodes {
		if err := s.c.query(ctx, n.addr, `SELECT version()`, func(r *rowReader) error {
			for r.more() {
				_ = r.str()
			}
			return nil
		}); err != nil {
			return fmt.Errorf("server unreachable or refusing: %w", err)
		}
	}
	if s.clustered() {
		if err := s.checkCluster(ctx); err != nil {
			return err
		}
	}
	return s.migrate(ctx)
}

func (s *Store) clustered() bool { return s.loc.Cluster != "" }

// first is the node that reads and inserts go to.
func (s *Store) first() string { return s.nodes[0].addr }

// URL is the store's URL without its password.
func (s *Store) URL() string { return s.loc.String() }

// Close implements store.Store. The data is on the servers; Close only
// releases connections.
func (s *Store) Close() error {
	s.closed.Store(true)
	s.closeIdle()
	return nil
}

func (s *Store) closeIdle() {
	if s.ownHC {
		s.c.hc.CloseIdleConnections()
	}
}

// readSettings are the settings of Aggregate's and JoinDNS's queries.
func (s *Store) readSettings() []setting {
	out := []setting{{"max_query_size", maxQuerySize}}
	if s.opt.GroupByMemory > 0 {
		out = append(out, setting{"max_bytes_before_external_group_by", strconv.FormatInt(s.opt.GroupByMemory, 10)})
	}
	keys := make([]string, 0, len(s.opt.Settings))
	for k := range s.opt.Settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, setting{k, s.opt.Settings[k]})
	}
	return out
}

// distSettings are the settings of an insert through the Distributed
// table: it returns once every shard has the rows.
func (s *Store) distSettings() []setting {
	if s.clustered() {
		return []setting{{"insert_distributed_sync", "1"}}
	}
	return nil
}

// maxQuerySize is the max_query_size of statements with long IN lists.
const maxQuerySize = "4194304"

// AddBeacons implements store.Store. It validates every beacon first (a
// bad one is an error naming its index, and nothing is stored), looks up
// which of their IDs are stored already (counted as Duplicates, not sent
// again), and inserts the rest in one INSERT, which on a cluster returns
// once every shard has written its rows (insert_distributed_sync). What
// "stored" means on ClickHouse is in the package doc: written, not
// fsynced. Should the INSERT fail part-way on a cluster, some shards may
// have the rows: sending the batch again is safe (reads deduplicate).
func (s *Store) AddBeacons(ctx context.Context, bs []store.Beacon) (store.AddResult, error) {
	if s.closed.Load() {
		return store.AddResult{}, errClosed
	}
	type key struct{ net, id uint64 }
	keys := make([]key, len(bs))
	now := s.opt.Now()
	for i := range bs {
		k, err := validBeacon(&bs[i].Beacon)
		if err != nil {
			return store.AddResult{}, fmt.Errorf("beacons[%d]: %w", i, err)
		}
		keys[i] = key{k, store.BeaconID(&bs[i].Beacon)}
	}
	var res store.AddResult
	// duplicates within the batch, then against the store
	send := make([]bool, len(bs))
	seen := make(map[key]bool, len(bs))
	var ask []key
	for i, k := range keys {
		if seen[k] {
			res.Duplicates++
			continue
		}
		seen[k] = true
		send[i] = true
		ask = append(ask, k)
	}
	// one lookup for the batch, its keys sent as a temporary table
	stored := map[key]bool{}
	if len(ask) > 0 {
		ids := make([]byte, 0, 16*len(ask))
		for _, k := range ask {
			ids = appendU64(appendU64(ids, k.net), k.id)
		}
		err := s.explain(ctx, s.c.queryExt(ctx, s.first(), `SELECT DISTINCT network, id FROM `+s.beacons+
			` WHERE network IN (SELECT network FROM _batch) AND (network, id) IN (SELECT network, id FROM _batch)`,
			[]external{{name: "_batch", structure: "network UInt64, id UInt64", data: ids}}, func(r *rowReader) error {
				for r.more() {
					stored[key{r.u64(), r.u64()}] = true
				}
				return nil
			}))
		if err != nil {
			return store.AddResult{}, fmt.Errorf("looking up duplicate beacons: %w", err)
		}
	}
	est := 0
	for i := range bs {
		est += 64 + 48*len(bs[i].Samples)
	}
	data := make([]byte, 0, est)
	for i := range bs {
		if !send[i] {
			continue
		}
		if stored[keys[i]] {
			res.Duplicates++
			continue
		}
		recv := bs[i].Received
		if recv.IsZero() {
			recv = now
		}
		data = appendBeacon(data, &bs[i], keys[i].net, keys[i].id, recv.UnixMicro())
		res.Added++
	}
	if res.Added == 0 {
		return res, nil
	}
	if err := s.insert1(ctx, `INSERT INTO `+s.beacons+` (`+columnNames(beaconColumns)+`) FORMAT RowBinary`, data, s.distSettings()...); err != nil {
		return store.AddResult{}, fmt.Errorf("storing %d beacons: %w", res.Added, err)
	}
	return res, nil
}

// validBeacon checks a beacon as the DuckDB store does and returns its
// network key. Errors name the field but never the client address.
func validBeacon(bc *rum.Beacon) (uint64, error) {
	key, err := store.NetworkKey(bc.ClientSubnet)
	if err != nil {
		return 0, fmt.Errorf("client subnet: %w", err)
	}
	if len(bc.Samples) == 0 || len(bc.Samples) > rum.MaxSamples {
		return 0, fmt.Errorf("%d samples (want 1..%d)", len(bc.Samples), rum.MaxSamples)
	}
	if bc.Agent.Kind == "" {
		return 0, fmt.Errorf("agent.kind: empty")
	}
	for i := range bc.Samples {
		s := &bc.Samples[i]
		switch us := store.UnixMicro(s.TS); {
		case s.Target == "":
			return 0, fmt.Errorf("samples[%d].target: empty", i)
		case s.Probe < rum.ProbeHTTPS || s.Probe > rum.ProbeTCP:
			return 0, fmt.Errorf("samples[%d].probe: %v is not https, http or tcp", i, s.Probe)
		case math.IsNaN(s.RTTms) || math.IsInf(s.RTTms, 0):
			return 0, fmt.Errorf("samples[%d].rtt_ms: not finite", i)
		case us < store.MinTimeUS || us >= store.MaxTimeUS:
			return 0, fmt.Errorf("samples[%d].ts: year %d outside 0000..9999", i, s.TS.Year())
		}
	}
	return key, nil
}

// appendBeacon appends a beacons row in RowBinary (beaconColumns).
func appendBeacon(dst []byte, b *store.Beacon, net, id uint64, recv int64) []byte {
	dst = appendU64(dst, net)
	dst = appendU64(dst, id)
	dst = appendI64(dst, recv)
	// ver: the largest for the earliest receipt (wrapping arithmetic keeps
	// the order over all of int64)
	dst = appendU64(dst, uint64(math.MaxInt64)-uint64(recv))
	dst = appendString(dst, b.Agent.Kind)
	dst = appendString(dst, b.Agent.Platform)
	dst = appendString(dst, b.Agent.Timer)
	dst = appendString(dst, b.DNSTest)
	dst = appendString(dst, b.Source)
	ss := b.Samples
	dst = appendUvarint(dst, len(ss))
	for i := range ss {
		dst = appendI64(dst, store.UnixMicro(ss[i].TS))
	}
	dst = appendUvarint(dst, len(ss))
	for i := range ss {
		dst = appendString(dst, ss[i].Target)
	}
	dst = appendUvarint(dst, len(ss))
	for i := range ss {
		dst = append(dst, uint8(ss[i].Probe))
	}
	dst = appendUvarint(dst, len(ss))
	for i := range ss {
		dst = appendF64(dst, ss[i].RTTms)
	}
	dst = appendUvarint(dst, len(ss))
	for i := range ss {
		dst = appendString(dst, ss[i].ServedBy)
	}
	return dst
}

// AddQueries implements store.Store.
func (s *Store) AddQueries(ctx context.Context, qs []rum.LogEntry) (store.AddResult, error) {
	if s.closed.Load() {
		return store.AddResult{}, errClosed
	}
	var data []byte
	for i := range qs {
		e := &qs[i]
		var key uint64
		if e.ECS.IsValid() {
			k, err := store.NetworkKey(e.ECS)
			if err != nil {
				return store.AddResult{}, fmt.Errorf("queries[%d]: ecs: %w", i, err)
			}
			key = k
		}
		switch us := store.UnixMicro(e.TS); {
		case e.QName == "":
			return store.AddResult{}, fmt.Errorf("queries[%d]: qname: empty", i)
		case !e.Resolver.IsValid():
			return store.AddResult{}, fmt.Errorf("queries[%d]: resolver: no address", i)
		case us < store.MinTimeUS || us >= store.MaxTimeUS:
			return store.AddResult{}, fmt.Errorf("queries[%d]: ts: year %d outside 0000..9999", i, e.TS.Year())
		}
		data = appendI64(data, e.TS.UnixMicro())
		data = appendString(data, e.QName)
		data = appendString(data, e.QType)
		data = appendString(data, e.Resolver.String())
		data = appendU64(data, key)
		hasECS := uint8(0)
		if e.ECS.IsValid() {
			hasECS = 1
		}
		data = append(data, hasECS)
		data = appendString(data, e.PoP)
		data = appendString(data, e.Source)
		data = appendU64(data, rand.Uint64())
	}
	if len(qs) == 0 {
		return store.AddResult{}, nil
	}
	if err := s.insert1(ctx, `INSERT INTO `+s.queries+` (`+columnNames(queryColumns)+`) FORMAT RowBinary`, data, s.distSettings()...); err != nil {
		return store.AddResult{}, fmt.Errorf("storing %d queries: %w", len(qs), err)
	}
	return store.AddResult{Added: len(qs)}, nil
}

// Stats implements store.Store: beacons stored twice count once.
func (s *Store) Stats(ctx context.Context) (store.Stats, error) {
	if s.closed.Load() {
		return store.Stats{}, errClosed
	}
	var st store.Stats
	var oldest, newest int64
	err := s.query1(ctx, `SELECT toInt64(count()), toInt64(sum(length(ts))),
		toInt64(min(arrayReduce('min', ts))), toInt64(max(arrayReduce('max', ts)))
		FROM `+s.beacons+` FINAL`, func(r *rowReader) error {
		for r.more() {
			st.Beacons, st.Samples, oldest, newest = r.i64(), r.i64(), r.i64(), r.i64()
		}
		return nil
	})
	if err != nil {
		return store.Stats{}, fmt.Errorf("counting beacons: %w", err)
	}
	if err := s.query1(ctx, `SELECT toInt64(count()) FROM `+s.queries, func(r *rowReader) error {
		for r.more() {
			st.Queries = r.i64()
		}
		return nil
	}); err != nil {
		return store.Stats{}, fmt.Errorf("counting queries: %w", err)
	}
	if st.Samples > 0 {
		st.Oldest = time.UnixMicro(oldest).UTC()
		st.Newest = time.UnixMicro(newest).UTC()
	}
	return st, nil
}

// ScanSamples implements store.Store: every sample of every beacon
// (stored twice or not: once), in the order of (network, beacon ID). It
// reads ScanPage beacons per request, each after the last one's key, so
// that rows inserted meanwhile behind the scan's position are not seen
// and a page's error is an error, never a truncated result.
func (s *Store) ScanSamples(ctx context.Context, fn func(*store.SampleRow) error) error {
	if s.closed.Load() {
		return errClosed
	}
	var row store.SampleRow
	var lastNet, lastID uint64
	for first := true; ; first = false {
		where := ""
		if !first {
			where = fmt.Sprintf(`WHERE network > %d OR (network = %d AND id > %d)`, lastNet, lastNet, lastID)
		}
		n := 0
		var ferr error
		err := s.query1(ctx, `SELECT network, id, received, kind, platform, timer, dns_test, ts, target, probe, rtt, served, ver
			FROM `+s.beacons+` FINAL `+where+` ORDER BY network, id LIMIT `+strconv.Itoa(s.opt.ScanPage), func(r *rowReader) error {
			var ts []int64
			var targets, served []string
			var probes []uint8
			var rtts []float64
			for r.more() {
				lastNet, lastID = r.u64(), r.u64()
				n++
				row.BeaconID = lastID
				row.Network = store.NetworkPrefix(lastNet)
				row.Received = time.UnixMicro(r.i64()).UTC()
				row.Agent = rum.Agent{Kind: r.str(), Platform: r.str(), Timer: r.str()}
				row.DNSTest = r.str()
				ts = readArray(r, ts, r.i64)
				targets = readArray(r, targets, r.str)
				probes = readArray(r, probes, r.u8)
				rtts = readArray(r, rtts, r.f64)
				served = readArray(r, served, r.str)
				_ = r.u64() // ver: 18.16 wants it selected for FINAL through a Distributed table
				if r.err != nil {
					return nil
				}
				if len(targets) != len(ts) || len(probes) != len(ts) || len(rtts) != len(ts) || len(served) != len(ts) {
					return fmt.Errorf("scanning samples: beacon %d has arrays of different lengths", lastID)
				}
				for i := range ts {
					row.TS = time.UnixMicro(ts[i]).UTC()
					row.Target, row.Probe, row.RTTms, row.ServedBy = targets[i], rum.Probe(probes[i]), rtts[i], served[i]
					if ferr = fn(&row); ferr != nil {
						return ferr
					}
				}
			}
			return nil
		})
		if ferr != nil {
			return ferr
		}
		if err != nil {
			return fmt.Errorf("scanning samples: %w", err)
		}
		if n < s.opt.ScanPage {
			return nil
		}
	}
}

// ScanQueries implements store.Store, in the order of (qname, ts).
func (s *Store) ScanQueries(ctx context.Context, fn func(*rum.LogEntry) error) error {
	if s.closed.Load() {
		return errClosed
	}
	page := 5 * s.opt.ScanPage
	var e rum.LogEntry
	var lastName string
	var lastTS int64
	var lastUID uint64
	for first := true; ; first = false {
		where := ""
		if !first {
			n, t, u := quote(lastName), lastTS, lastUID
			where = fmt.Sprintf(`WHERE qname > %s OR (qname = %s AND (ts > %d OR (ts = %d AND uid > %d)))`, n, n, t, t, u)
		}
		got := 0
		var ferr error
		err := s.query1(ctx, `SELECT `+columnNames(queryColumns)+` FROM `+s.queries+` `+where+
			` ORDER BY qname, ts, uid LIMIT `+strconv.Itoa(page), func(r *rowReader) error {
			for r.more() {
				lastTS = readQuery(r, &e)
				lastName, lastUID = e.QName, r.u64()
				if r.err != nil {
					return nil
				}
				got++
				if ferr = fn(&e); ferr != nil {
					return ferr
				}
			}
			return nil
		}, setting{"max_query_size", maxQuerySize})
		if ferr != nil {
			return ferr
		}
		if err != nil {
			return fmt.Errorf("scanning queries: %w", err)
		}
		if got < page {
			return nil
		}
	}
}

// readQuery reads the columns of queryColumns but uid into e and returns
// the time in µs.
func readQuery(r *rowReader, e *rum.LogEntry) int64 {
	ts := r.i64()
	e.TS = time.UnixMicro(ts).UTC()
	e.QName, e.QType = r.str(), r.str()
	e.Resolver, _ = netip.ParseAddr(string(r.bytes()))
	ecs, has := r.u64(), r.u8()
	e.ECS = netip.Prefix{}
	if has != 0 {
		e.ECS = store.NetworkPrefix(ecs)
	}
	e.PoP, e.Source = r.str(), r.str()
	return ts
}

// FirstQuery implements store.Store: the first query (by time) whose
// qname is exactly qname.
func (s *Store) FirstQuery(ctx context.Context, qname string) (*rum.LogEntry, error) {
	if s.closed.Load() {
		return nil, errClosed
	}
	var first *rum.LogEntry
	err := s.query1(ctx, `SELECT `+columnNames(queryColumns)+` FROM `+s.queries+
		` WHERE qname = `+quote(qname)+` ORDER BY ts, uid LIMIT 1`, func(r *rowReader) error {
		for r.more() {
			var e rum.LogEntry
			readQuery(r, &e)
			_ = r.u64()
			first = &e
		}
		return nil
	}, setting{"max_query_size", maxQuerySize})
	if err != nil {
		return nil, fmt.Errorf("looking up query %q: %w", qname, err)
	}
	return first, nil
}

// query1 runs a query on the first node (through the Distributed tables
// in a cluster).
func (s *Store) query1(ctx context.Context, sql string, read func(*rowReader) error, settings ...setting) error {
	return s.explain(ctx, s.c.query(ctx, s.first(), sql, read, settings...))
}

// insert1 inserts through the first node.
func (s *Store) insert1(ctx context.Context, sql string, data []byte, settings ...setting) error {
	return s.explain(ctx, s.c.insert(ctx, s.first(), sql, data, settings...))
}

// ClickHouse's codes of a remote server that did not answer.
const (
	codeSocketTimeout      = 209
	codeNetworkError       = 210
	codeAllConnectionTries = 279
	codeAllReplicasLost    = 285
)

// explain adds to a Distributed query's failure to reach a shard which
// nodes of the URL do not answer /ping: the first node's error does not
// say.
func (s *Store) explain(ctx context.Context, err error) error {
	var ce *Error
	if !errors.As(err, &ce) || len(s.nodes) < 2 {
		return err
	}
	switch ce.Code {
	case codeSocketTimeout, codeNetworkError, codeAllConnectionTries, codeAllReplicasLost:
	default:
		return err
	}
	var down []string
	for _, n := range s.nodes[1:] {
		pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		req, rerr := http.NewRequestWithContext(pctx, http.MethodGet, "http://"+n.addr+"/ping", nil)
		if rerr == nil {
			resp, perr := s.c.hc.Do(req)
			if perr == nil {
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					cancel()
					continue
				}
			}
		}
		cancel()
		down = append(down, n.addr)
	}
	if len(down) == 0 {
		return err
	}
	return fmt.Errorf("%w (not answering: %s)", err, strings.Join(down, ", "))
}

// eachNode runs fn on every node at once and returns the errors joined.
func (s *Store) eachNode(fn func(n node) error) error {
	if len(s.nodes) == 1 {
		return fn(s.nodes[0])
	}
	errs := make([]error, len(s.nodes))
	var wg sync.WaitGroup
	for i, n := range s.nodes {
		wg.Go(func() { errs[i] = fn(n) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// readArray reads a RowBinary array (its length, then each element by
// elem) into dst[:0].
func readArray[T any](r *rowReader, dst []T, elem func() T) []T {
	dst = dst[:0]
	for range r.uvarint() {
		dst = append(dst, elem())
	}
	return dst
}
