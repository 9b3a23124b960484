package mapstore

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/steer-gslb/steer/internal/atomicfile"
	"github.com/steer-gslb/steer/popmap"
)

// Names inside DIR.
const (
	versionsDir = "versions"
	currentName = "current.json"
	historyName = "history.ndjson"
	lockName    = ".lock"
)

// ErrNoGate is returned by Publish when a version is current, no gate was
// given and the publish was not forced.
var ErrNoGate = errors.New("no gate to score the candidate against the current version")

// ErrWorse is returned (wrapped, naming both scores) by Publish when the
// gate says the candidate is worse and the publish was not forced.
var ErrWorse = errors.New("candidate scores worse than the current version")

// ErrNothingToRollBack is returned by Rollback when no earlier version
// precedes the current one.
var ErrNothingToRollBack = errors.New("nothing to roll back to")

// Dir is an opened map directory. Its methods may be called from several
// goroutines and processes at once: writers serialise on DIR/.lock.
type Dir struct {
	dir string  // absolute
	ops fileOps // osOps but in tests
}

// Gate scores a candidate against the current map, typically on held-out
// measurements the candidate's builder did not see. It runs with the
// directory locked, before anything is written.
type Gate func(candidate, current *popmap.Table) (GateVerdict, error)

// GateVerdict is a gate's judgement: a worse candidate is refused unless
// forced. The scores are recorded in history and named in errors.
type GateVerdict struct {
	Metric    string  // what Candidate and Current measure, e.g. "regret_ms"
	Candidate float64 // the candidate's score
	Current   float64 // the current map's score
	Worse     bool    // the candidate is worse: refused unless forced
	// Detail is optional JSON-encodable detail (other scores), recorded in
	// history with the verdict.
	Detail any
}

// String gives the scores as "regret_ms 3.1 (candidate) vs 3.4 (current)".
func (v GateVerdict) String() string {
	metric := v.Metric
	if metric == "" {
		metric = "score"
	}
	return fmt.Sprintf("%s %s (candidate) vs %s (current)", metric,
		strconv.FormatFloat(v.Candidate, 'g', 6, 64), strconv.FormatFloat(v.Current, 'g', 6, 64))
}

// PublishOptions tune Publish.
type PublishOptions struct {
	// Force publishes even when the gate says the candidate is worse, or
	// without a gate; the history line records it as forced.
	Force bool
	// Gate scores the candidate against the current version; it is not
	// called for the first version or for a candidate equal to the current.
	Gate Gate
	// Check, if set, is a further check of the parsed candidate (e.g. its
	// labels against a DNS config's PoPs); an error refuses the candidate.
	Check func(*popmap.Map) error
	// Score is free-form JSON-encodable data recorded in the history line.
	Score any
	// Now gives the time recorded in history; time.Now when nil.
	Now func() time.Time
}

// Result says what Publish or Rollback did.
type Result struct {
	Action    Action // publish or rollback; empty when Unchanged
	Unchanged bool   // the candidate equals the current version: nothing written
	Version   int    // the version current afterwards
	Previous  int    // the version current before (0: none)
	Path      string // DIR/versions/NNNNNN.json of Version
	SHA256    string // of that file
	// TableSHA256 is that of Version's compiled table (TablePath) when
	// this call wrote it; empty otherwise.
	TableSHA256 string
	Forced      bool         // published only because it was forced
	Gate        *GateVerdict // the gate's verdict, when it ran
}

// Version is one version file and the history lines that name it.
type Version struct {
	Version int
	Path    string
	Current bool
	History []Record // oldest first
}

// Open opens the map directory dir, creating it and its layout when absent.
// An existing current.json that is not a symlink into versions/ is an error:
// the directory is not one steer publishes to.
func Open(dir string) (*Dir, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	d := &Dir{dir: abs, ops: osOps}
	if err := os.MkdirAll(d.path(versionsDir), 0o755); err != nil {
		return nil, fmt.Errorf("map directory %s: %w", abs, err)
	}
	f, err := os.OpenFile(d.path(lockName), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("map directory %s: %w", abs, err)
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	if err := atomicfile.SyncDir(abs); err != nil {
		return nil, err
	}
	if _, _, err := d.Current(); err != nil {
		return nil, err
	}
	return d, nil
}

// Path is the directory's absolute path.
func (d *Dir) Path() string { return d.dir }

// CurrentPath is DIR/current.json, the path a DNS config names.
func (d *Dir) CurrentPath() string { return d.path(currentName) }

func (d *Dir) path(name string) string { return filepath.Join(d.dir, name) }

// versionFile is the path of version n relative to DIR.
func versionFile(n int) string { return versionsDir + "/" + fmt.Sprintf("%06d.json", n) }

// tableFile is the path of version n's compiled table relative to DIR.
func tableFile(n int) string { return versionsDir + "/" + fmt.Sprintf("%06d.table", n) }

// TablePath is version n's compiled table (popmap.Table.MarshalBinary),
// written when it is published or first made current: what the control
// server hands its DNS servers so that each decodes the map instead of
// compiling it. It is derived from the version file and may be absent for
// versions older than it.
func (d *Dir) TablePath(n int) string { return d.path(tableFile(n)) }

// VersionPath is the file of version n in the directory (which may not
// exist): DIR/versions/NNNNNN.json.
func (d *Dir) VersionPath(n int) string { return d.path(versionFile(n)) }

// parseVersionName returns the version of a file name "NNNNNN.json" (at
// least six digits), or 0.
func parseVersionName(name string) int {
	stem, ok := strings.CutSuffix(name, ".json")
	if !ok || len(stem) < 6 || len(stem) > 9 {
		return 0
	}
	for _, c := range stem {
		if c < '0' || c > '9' {
			return 0
		}
	}
	n, _ := strconv.Atoi(stem)
	if fmt.Sprintf("%06d", n) != stem {
		return 0
	}
	return n
}

// Current returns the version current.json points at and that version
// file's path; 0 and "" before the first publish.
func (d *Dir) Current() (version int, path string, err error) {
	cur := d.path(currentName)
	target, err := os.Readlink(cur)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, "", nil
	}
	if err != nil {
		if fi, serr := os.Lstat(cur); serr == nil && fi.Mode()&fs.ModeSymlink == 0 {
			return 0, "", fmt.Errorf("%s is not a symlink into %s: not a directory steer publish manages", cur, versionsDir)
		}
		return 0, "", err
	}
	dir, name := filepath.Split(filepath.ToSlash(target))
	n := parseVersionName(name)
	if dir != versionsDir+"/" || n == 0 {
		return 0, "", fmt.Errorf("%s points at %q, not at %s/NNNNNN.json", cur, target, versionsDir)
	}
	path = d.VersionPath(n)
	if _, err := os.Stat(path); err != nil {
		return 0, "", fmt.Errorf("%s points at version %d: %w", cur, n, err)
	}
	return n, path, nil
}

// History returns every history line, oldest first.
func (d *Dir) History() ([]Record, error) { return readHistory(d.path(historyName)) }

// Versions lists the version files, oldest first, each with the history
// lines that name it (none for a version a crash left unpublished).
func (d *Dir) Versions() ([]Version, error) {
	cur, nums, hist, err := d.state()
	if err != nil {
		return nil, err
	}
	out := make([]Version, 0, len(nums))
	for _, n := range nums {
		v := Version{Version: n, Path: d.VersionPath(n), Current: n == cur}
		for _, r := range hist {
			if r.Version == n {
				v.History = append(v.History, r)
			}
		}
		out = append(out, v)
	}
	return out, nil
}

// state is the current version, the version files' numbers (ascending)
// and the history.
func (d *Dir) state() (cur int, nums []int, hist []Record, err error) {
	if cur, _, err = d.Current(); err != nil {
		return 0, nil, nil, err
	}
	if nums, err = d.versionNumbers(); err != nil {
		return 0, nil, nil, err
	}
	hist, err = d.History()
	return cur, nums, hist, err
}

// versionNumbers returns the numbers of the version files, ascending.
func (d *Dir) versionNumbers() ([]int, error) {
	ents, err := os.ReadDir(d.path(versionsDir))
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if n := parseVersionName(e.Name()); n > 0 && e.Type().IsRegular() {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out, nil
}

// Publish makes the map at candidatePath the current version, if it parses,
// compiles, passes opt.Check and, when a version is current, the gate (or
// is forced). Nothing is written unless all of that holds; a candidate equal
// to the current version is a no-op (Result.Unchanged).
func (d *Dir) Publish(candidatePath string, opt PublishOptions) (Result, error) {
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	score, err := encodeJSON(opt.Score)
	if err != nil {
		return Result{}, fmt.Errorf("score: %w", err)
	}
	data, err := os.ReadFile(candidatePath)
	if err != nil {
		return Result{}, fmt.Errorf("reading map: %w", err)
	}
	if popmap.IsTable(data) {
		return Result{}, fmt.Errorf("map %s is a compiled table: publish the JSON map it was compiled from", candidatePath)
	}
	// Parsed and compiled once (the compile finds duplicate networks),
	// without the direct /24 lookup table, which the gate and the table
	// file do not use.
	m, cand, err := popmap.LoadBytesWith(data, candidatePath, popmap.CompileOptions{NoDirect: true})
	if err != nil {
		return Result{}, err
	}
	if opt.Check != nil {
		if err := opt.Check(m); err != nil {
			return Result{}, fmt.Errorf("map %s: %w", candidatePath, err)
		}
	}
	source, err := filepath.Abs(candidatePath)
	if err != nil {
		return Result{}, err
	}
	// Encoded once, before the lock, with version 0: the version's file
	// and the comparison with the current one differ only in the header.
	enc0 := encodeVersion(m, 0, len(data))

	unlock, err := lock(d.path(lockName))
	if err != nil {
		return Result{}, fmt.Errorf("locking %s: %w", d.path(lockName), err)
	}
	defer func() { _ = unlock() }()
	d.removeStaleTemps()

	cur, curPath, err := d.Current()
	if err != nil {
		return Result{}, err
	}
	res := Result{Action: ActionPublish, Previous: cur}
	if cur > 0 {
		curData, err := os.ReadFile(curPath)
		if err != nil {
			return Result{}, fmt.Errorf("current version %d: %w", cur, err)
		}
		if bytes.Equal(data, curData) || sameBody(enc0, curData, cur) {
			return Result{Unchanged: true, Version: cur, Previous: cur, Path: curPath, SHA256: sha256Hex(curData)}, nil
		}
		switch {
		case opt.Gate != nil:
			curTable := d.loadTable(cur)
			if curTable == nil {
				var err error
				if _, curTable, err = popmap.LoadBytesWith(curData, curPath, popmap.CompileOptions{NoDirect: true}); err != nil {
					return Result{}, fmt.Errorf("current version %d: %w", cur, err)
				}
			}
			v, err := opt.Gate(cand, curTable)
			if err != nil {
				return Result{}, fmt.Errorf("scoring map %s against current version %d: %w", candidatePath, cur, err)
			}
			if !finite(v.Candidate) || !finite(v.Current) {
				return Result{}, fmt.Errorf("scoring map %s against current version %d: non-finite score: %s", candidatePath, cur, v)
			}
			res.Gate = &v
			if v.Worse {
				if !opt.Force {
					return Result{}, fmt.Errorf("map %s: %w %d: %s; not published (force to publish anyway)", candidatePath, ErrWorse, cur, v)
				}
				res.Forced = true
			}
		case opt.Force:
			res.Forced = true
		default:
			return Result{}, fmt.Errorf("map %s: version %d is current: %w (give a gate, or force)", candidatePath, cur, ErrNoGate)
		}
	}

	n, err := d.nextVersion()
	if err != nil {
		return Result{}, err
	}
	out := withVersion(enc0, n)
	rec := Record{
		Version: n, Action: ActionPublish, Time: now().UTC(), SHA256: sha256Hex(out),
		Forced: res.Forced, Previous: cur, File: versionFile(n), Source: source, Score: score,
	}
	if res.Gate != nil {
		detail, err := encodeJSON(res.Gate.Detail)
		if err != nil {
			return Result{}, fmt.Errorf("gate detail: %w", err)
		}
		rec.Gate = &GateRecord{Metric: res.Gate.Metric, Candidate: res.Gate.Candidate, Current: res.Gate.Current, Worse: res.Gate.Worse, Detail: detail}
	}
	if _, err := AppendRecord(nil, rec); err != nil { // checked before anything is written
		return Result{}, err
	}
	tableSum, err := d.writeTable(n, cand)
	if err != nil {
		return Result{}, err
	}
	if err := d.writeVersion(n, out); err != nil {
		return Result{}, err
	}
	if err := d.commit(rec); err != nil {
		return Result{}, err
	}
	res.Version, res.Path, res.SHA256, res.TableSHA256 = n, d.path(rec.File), rec.SHA256, tableSum
	return res, nil
}

// Rollback makes current the version that was current when the current
// one was published. Repeated rollbacks walk further back; it is an error
// (ErrNothingToRollBack) when the current version was the first.
func (d *Dir) Rollback() (Result, error) {
	return d.rollback(time.Now)
}

func (d *Dir) rollback(now func() time.Time) (Result, error) {
	return d.switchTo(ActionRollback, now, func(cur int, hist []Record) (int, error) {
		if cur == 0 {
			return 0, fmt.Errorf("map directory %s: no version published: %w", d.dir, ErrNothingToRollBack)
		}
		pub := lastPublish(hist, cur)
		if pub == nil {
			return 0, fmt.Errorf("map directory %s: history has no publish line for current version %d, so the version before it is unknown", d.dir, cur)
		}
		if pub.Previous == 0 {
			return 0, fmt.Errorf("map directory %s: version %d was the first published: %w", d.dir, cur, ErrNothingToRollBack)
		}
		return pub.Previous, nil
	})
}

// Activate makes an existing version current again (after its file is
// checked against its recorded SHA-256). A rollback from it then follows
// its publish line, as for any version. Activating the current version is
// a no-op (Result.Unchanged).
func (d *Dir) Activate(v int) (Result, error) {
	return d.switchTo(ActionActivate, time.Now, func(cur int, hist []Record) (int, error) {
		switch {
		case cur == 0:
			return 0, fmt.Errorf("map directory %s: no version current", d.dir)
		case lastPublish(hist, v) == nil:
			return 0, fmt.Errorf("version %d was never published", v)
		}
		return v, nil
	})
}

// switchTo makes current the version target picks from the current
// version and the history, with the directory locked, after checking its
// file against the SHA-256 that history recorded; a record of action is
// appended first. A target equal to the current version changes nothing.
func (d *Dir) switchTo(action Action, now func() time.Time, target func(cur int, hist []Record) (int, error)) (Result, error) {
	unlock, err := lock(d.path(lockName))
	if err != nil {
		return Result{}, fmt.Errorf("locking %s: %w", d.path(lockName), err)
	}
	defer func() { _ = unlock() }()

	cur, _, err := d.Current()
	if err != nil {
		return Result{}, err
	}
	hist, err := d.History()
	if err != nil {
		return Result{}, err
	}
	v, err := target(cur, hist)
	if err != nil {
		return Result{}, err
	}
	path := d.path(versionFile(v))
	if v == cur {
		return Result{Unchanged: true, Version: cur, Previous: cur, Path: path}, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Result{}, fmt.Errorf("version %d: %w", v, err)
	}
	sum := sha256Hex(data)
	for _, r := range hist {
		if r.Version == v && r.SHA256 != sum {
			what := map[Action]string{ActionRollback: "rolling back to", ActionActivate: "activating"}[action]
			return Result{}, fmt.Errorf("version %d: %s has sha256 %s, history says %s: not %s a changed file", v, path, sum, r.SHA256, what)
		}
	}
	var tableSum string
	if _, err := os.Stat(d.TablePath(v)); err != nil {
		// A version published before tables were written.
		_, t, err := popmap.LoadBytesWith(data, path, popmap.CompileOptions{NoDirect: true})
		if err != nil {
			return Result{}, fmt.Errorf("version %d: %w", v, err)
		}
		if tableSum, err = d.writeTable(v, t); err != nil {
			return Result{}, err
		}
	}
	rec := Record{Version: v, Action: action, Time: now().UTC(), SHA256: sum, Previous: cur, File: versionFile(v)}
	if err := d.commit(rec); err != nil {
		return Result{}, err
	}
	return Result{Action: action, Version: v, Previous: cur, Path: path, SHA256: sum, TableSHA256: tableSum}, nil
}

// lastPublish is the last publish line of version v in hist (nil if none):
// its Previous is where a rollback from v returns.
func lastPublish(hist []Record, v int) *Record {
	var pub *Record
	for i := range hist {
		if hist[i].Action == ActionPublish && hist[i].Version == v {
			pub = &hist[i]
		}
	}
	return pub
}

// commit records rec in history and then switches current.json to its
// version. The caller holds the lock and the version file is durable.
func (d *Dir) commit(rec Record) error {
	if err := appendHistory(d.ops, d.path(historyName), rec); err != nil {
		return fmt.Errorf("recording version %d in %s: %w", rec.Version, d.path(historyName), err)
	}
	if err := d.switchCurrent(rec.Version); err != nil {
		return fmt.Errorf("switching %s to version %d: %w", d.path(currentName), rec.Version, err)
	}
	return nil
}

// nextVersion is one above every version file and history line.
func (d *Dir) nextVersion() (int, error) {
	nums, err := d.versionNumbers()
	if err != nil {
		return 0, err
	}
	hist, err := d.History()
	if err != nil {
		return 0, err
	}
	n := 0
	if len(nums) > 0 {
		n = nums[len(nums)-1]
	}
	for _, r := range hist {
		n = max(n, r.Version)
	}
	return n + 1, nil
}

// writeVersion writes version n durably and read-only: temporary file,
// fsync, rename, fsync of versions/. An existing version is never replaced.
func (d *Dir) writeVersion(n int, data []byte) error {
	final := d.path(versionFile(n))
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("version %d: %s already exists", n, final)
	}
	return d.writeFile(n, final, data)
}

// writeTable writes version n's compiled table (t with version n) as
// writeVersion writes the version, and returns its SHA-256; one a crash
// left behind is replaced.
func (d *Dir) writeTable(n int, t *popmap.Table) (string, error) {
	b, err := t.WithVersion(int64(n)).MarshalBinary()
	if err != nil {
		return "", fmt.Errorf("version %d: table: %w", n, err)
	}
	if err := d.writeFile(n, d.TablePath(n), b); err != nil {
		return "", err
	}
	return sha256Hex(b), nil
}

// loadTable is version n's compiled table, or nil when it has none that
// decodes as version n (the caller then compiles the version's file).
func (d *Dir) loadTable(n int) *popmap.Table {
	b, err := os.ReadFile(d.TablePath(n))
	if err != nil {
		return nil
	}
	t, err := popmap.DecodeTableWith(b, popmap.CompileOptions{NoDirect: true})
	if err != nil || t.Meta().Version != int64(n) {
		return nil
	}
	return t
}

// writeFile writes final durably and read-only, through a temporary file.
func (d *Dir) writeFile(n int, final string, data []byte) (err error) {
	vdir := d.path(versionsDir)
	f, err := d.ops.createTemp(vdir, tmpPattern)
	if err != nil {
		return fmt.Errorf("version %d: %w", n, err)
	}
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			err = fmt.Errorf("version %d: writing %s: %w", n, final, err)
		}
	}()
	if _, err := d.ops.write(f, data); err != nil {
		return err
	}
	if err := f.Chmod(0o444); err != nil {
		return err
	}
	if err := d.ops.sync(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := d.ops.rename(f.Name(), final); err != nil {
		return err
	}
	return d.ops.syncDir(vdir)
}

// tmpPattern names a version file being written (os.CreateTemp pattern).
const tmpPattern = ".tmp-*.json"

// removeStaleTemps removes the version files a writer killed before its
// rename left behind: with the lock held no other writer has one open.
func (d *Dir) removeStaleTemps() {
	stale, _ := filepath.Glob(filepath.Join(d.path(versionsDir), tmpPattern))
	for _, f := range stale {
		_ = d.ops.remove(f)
	}
}

// switchCurrent points current.json at version n: a new symlink under a
// temporary name renamed over it (atomic), then an fsync of DIR.
func (d *Dir) switchCurrent(n int) error {
	tmp := d.path("." + currentName + ".tmp")
	if err := d.ops.remove(tmp); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := d.ops.symlink(versionFile(n), tmp); err != nil {
		return err
	}
	if err := d.ops.rename(tmp, d.path(currentName)); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return d.ops.syncDir(d.dir)
}

// versionHeader is what Encode writes before the entries of a map of
// version n.
func versionHeader(n int) []byte { return fmt.Appendf(nil, `{"meta": {"version": %d}, "map": [`, n) }

// withVersion is encodeVersion(m, n) made from enc0 = encodeVersion(m, 0):
// Encode writes meta first, so only the header differs.
func withVersion(enc0 []byte, n int) []byte {
	h0, h := versionHeader(0), versionHeader(n)
	out := make([]byte, 0, len(enc0)-len(h0)+len(h))
	return append(append(out, h...), enc0[len(h0):]...)
}

// sameBody reports whether data, a version file of version n, holds the
// map enc0 = encodeVersion(m, 0) holds.
func sameBody(enc0, data []byte, n int) bool {
	h0, h := versionHeader(0), versionHeader(n)
	return bytes.HasPrefix(data, h) && bytes.Equal(data[len(h):], enc0[len(h0):])
}

// encodeVersion is m in NS1 JSON form with meta.version set to n; m is
// not modified. size is the expected length (the file m was read from):
// a 24 MB map's buffer grown by doubling cost a publish some 50 ms.
func encodeVersion(m *popmap.Map, n, size int) []byte {
	c := *m
	c.Meta.Version = int64(n)
	var b bytes.Buffer
	b.Grow(size + 64)
	_ = c.Encode(&b) // a bytes.Buffer does not fail
	return b.Bytes()
}

func sha256Hex(data []byte) string {
	s := sha256.Sum256(data)
	return hex.EncodeToString(s[:])
}

// encodeJSON marshals v (nil stays nil).
func encodeJSON(v any) (json.RawMessage, error) {
	if v == nil {
		return nil, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return canonicalJSON(b)
}

// Prune removes old version files, keeping the newest keep versions, the
// current one and the versions keep rollbacks in a row would return to
// (Rollback walks back through publish lines). History keeps the lines of
// removed versions, so their numbers are never reused and the audit trail
// stays whole. It returns the versions removed, oldest first.
func (d *Dir) Prune(keep int) (removed []int, err error) {
	if keep < 1 {
		return nil, fmt.Errorf("prune: keep %d versions: at least 1", keep)
	}
	unlock, err := lock(d.path(lockName))
	if err != nil {
		return nil, fmt.Errorf("locking %s: %w", d.path(lockName), err)
	}
	defer func() { _ = unlock() }()
	cur, nums, hist, err := d.state()
	if err != nil {
		return nil, err
	}
	kept := map[int]bool{cur: true}
	for _, n := range nums[max(0, len(nums)-keep):] {
		kept[n] = true
	}
	// the rollback chain: each version's last publish line names the one
	// it replaced
	for v, i := cur, 0; v != 0 && i < keep; i++ {
		pub := lastPublish(hist, v)
		if pub == nil {
			break
		}
		v = pub.Previous
		kept[v] = true
	}
	for _, n := range nums {
		if kept[n] {
			continue
		}
		if err := d.ops.remove(d.path(versionFile(n))); err != nil {
			return removed, fmt.Errorf("prune: %w", err)
		}
		if err := d.ops.remove(d.TablePath(n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return removed, fmt.Errorf("prune: %w", err)
		}
		removed = append(removed, n)
	}
	if len(removed) > 0 {
		if err := d.ops.syncDir(d.path(versionsDir)); err != nil {
			return removed, err
		}
	}
	return removed, nil
}
