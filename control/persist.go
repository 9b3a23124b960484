package control

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/steer-gslb/steer/config"
	"github.com/steer-gslb/steer/popmap"
)

// persisted is state.json: what a restart must not lose. Health and load
// reports are not in it: the fleet re-reports them within seconds.
type persisted struct {
	Index uint64                    `json:"index"`
	Admin map[popmap.Label]adminRec `json:"admin"`
	// Moves are the load controller's moves on MovesVersion's map, in the
	// order they were made (undone in reverse); MovesGen counts changes of
	// the move set (the fleet's PatchID). They live in moves.json, written
	// only when the moves change, so that state.json stays small.
	Moves        []moveRec `json:"-"`
	MovesVersion int       `json:"-"`
	MovesGen     uint64    `json:"-"`
}

// movesFile is moves.json.
type movesFile struct {
	Version int       `json:"version"`
	Gen     uint64    `json:"gen"`
	Moves   []moveRec `json:"moves"`
}

func readMoves(path string, p *persisted) error {
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	var mf movesFile
	if err := json.Unmarshal(data, &mf); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	p.Moves, p.MovesVersion, p.MovesGen = mf.Moves, mf.Version, mf.Gen
	return nil
}

type adminRec struct {
	State   config.State            `json:"state"`
	Records map[string]config.State `json:"records,omitempty"`
}

// readPersisted loads state.json; a missing file is the empty state.
func readPersisted(path string) (*persisted, error) {
	p := &persisted{Admin: map[popmap.Label]adminRec{}}
	data, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, p); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if p.Admin == nil {
		p.Admin = map[popmap.Label]adminRec{}
	}
	return p, nil
}

// auditLog appends one fsynced NDJSON line per change.
type auditLog struct {
	f *os.File
}

func openAudit(path string) (*auditLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, err
	}
	return &auditLog{f: f}, nil
}

func (a *auditLog) append(e AuditEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if _, err := a.f.Write(append(b, '\n')); err != nil {
		return err
	}
	return a.f.Sync()
}

func (a *auditLog) close() error { return a.f.Close() }
