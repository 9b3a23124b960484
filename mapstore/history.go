package mapstore

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"
)

// Action is what a history line records.
type Action string

// Actions of history lines.
const (
	ActionPublish  Action = "publish"
	ActionRollback Action = "rollback"
	ActionActivate Action = "activate"
)

// Record is one line of history.ndjson.
type Record struct {
	Version  int       `json:"version"`  // the version current after the action
	Action   Action    `json:"action"`   // publish or rollback
	Time     time.Time `json:"time"`     // UTC
	SHA256   string    `json:"sha256"`   // of the version file, lowercase hex
	Forced   bool      `json:"forced"`   // published only because the caller forced it
	Previous int       `json:"previous"` // the version current before (0: none)
	File     string    `json:"file"`     // the version file, relative to DIR
	// Source is the candidate file a publish read (absolute), for the audit.
	Source string `json:"source,omitempty"`
	// Gate is the gate's verdict, when one ran.
	Gate *GateRecord `json:"gate,omitempty"`
	// Score is the caller's free-form JSON (PublishOptions.Score).
	Score json.RawMessage `json:"score,omitempty"`
}

// GateRecord is a GateVerdict as recorded in history.
type GateRecord struct {
	Metric    string          `json:"metric"`
	Candidate float64         `json:"candidate"`
	Current   float64         `json:"current"`
	Worse     bool            `json:"worse"`
	Detail    json.RawMessage `json:"detail,omitempty"`
}

// ParseRecord decodes and checks one history line (without its newline).
// Unknown keys are ignored, so that an older steer can still read the
// history a newer one wrote; the keys it knows are checked strictly.
func ParseRecord(line []byte) (Record, error) {
	var r Record
	dec := json.NewDecoder(bytes.NewReader(line))
	if err := dec.Decode(&r); err != nil {
		return Record{}, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return Record{}, errors.New("data after the JSON object")
	}
	if err := r.check(); err != nil {
		return Record{}, err
	}
	r.Time = r.Time.UTC()
	var err error
	if r.Score, err = canonicalJSON(r.Score); err != nil {
		return Record{}, fmt.Errorf("score: %w", err)
	}
	if r.Gate != nil {
		if r.Gate.Detail, err = canonicalJSON(r.Gate.Detail); err != nil {
			return Record{}, fmt.Errorf("gate.detail: %w", err)
		}
	}
	return r, nil
}

// check reports the first invalid field of r.
func (r *Record) check() error {
	switch {
	case r.Version < 1:
		return fmt.Errorf("version %d: want ≥ 1", r.Version)
	case r.Action != ActionPublish && r.Action != ActionRollback && r.Action != ActionActivate:
		return fmt.Errorf("action %q: want %q, %q or %q", r.Action, ActionPublish, ActionRollback, ActionActivate)
	case r.Time.IsZero():
		return errors.New("time missing")
	case r.Previous < 0 || r.Previous == r.Version:
		return fmt.Errorf("previous %d: want ≥ 0 and not the version itself", r.Previous)
	case r.Action != ActionPublish && r.Previous == 0:
		return fmt.Errorf("%s without a previous version", r.Action)
	case r.File != versionFile(r.Version):
		return fmt.Errorf("file %q: want %q for version %d", r.File, versionFile(r.Version), r.Version)
	}
	if b, err := hex.DecodeString(r.SHA256); err != nil || len(b) != 32 || hex.EncodeToString(b) != r.SHA256 {
		return fmt.Errorf("sha256 %q: want 64 lowercase hex digits", r.SHA256)
	}
	if r.Gate != nil && (!finite(r.Gate.Candidate) || !finite(r.Gate.Current)) {
		return errors.New("gate: scores must be finite")
	}
	return nil
}

func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }

// canonicalJSON compacts raw JSON; empty and null become nil (absent).
func canonicalJSON(raw json.RawMessage) (json.RawMessage, error) {
	if len(raw) == 0 {
		return nil, nil
	}
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return nil, err
	}
	if b.String() == "null" {
		return nil, nil
	}
	return b.Bytes(), nil
}

// AppendRecord appends r as one JSON line, newline included. It checks r
// first, so that nothing ParseRecord would reject is ever written.
func AppendRecord(buf []byte, r Record) ([]byte, error) {
	if err := r.check(); err != nil {
		return buf, err
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return buf, err
	}
	return append(buf, b.Bytes()...), nil
}

// readHistory reads every complete line of the history file at path (none
// when it does not exist). A last line without its newline is a write that
// a crash cut short: it is ignored.
func readHistory(path string) ([]Record, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for n := 1; ; n++ {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return out, nil
		}
		line := data[:i]
		data = data[i+1:]
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		r, err := ParseRecord(line)
		if err != nil {
			return nil, fmt.Errorf("history %s line %d: %w", path, n, err)
		}
		out = append(out, r)
	}
}

// appendHistory appends r to the history file at path and fsyncs it. A
// torn last line (no newline) is cut off first. The caller holds the lock.
func appendHistory(ops fileOps, path string, r Record) (err error) {
	line, err := AppendRecord(nil, r)
	if err != nil {
		return fmt.Errorf("history record: %w", err)
	}
	f, err := ops.openFile(path, os.O_RDWR|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if size := st.Size(); size > 0 {
		if keep, err := completeLength(f, size); err != nil {
			return err
		} else if keep < size {
			if err := ops.truncate(f, keep); err != nil {
				return fmt.Errorf("cutting off a torn last line of %s: %w", path, err)
			}
		}
	}
	if _, err := ops.write(f, line); err != nil {
		return err
	}
	return ops.sync(f)
}

// completeLength returns the length of f up to and including its last
// newline (0 when it has none).
func completeLength(f *os.File, size int64) (int64, error) {
	buf := make([]byte, 4096)
	for end := size; end > 0; {
		start := max(end-int64(len(buf)), 0)
		n, err := f.ReadAt(buf[:end-start], start)
		if err != nil && !errors.Is(err, io.EOF) {
			return 0, err
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return start + int64(i) + 1, nil
		}
		end = start
	}
	return 0, nil
}
