package steertoken

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// Alg is a signature algorithm; its value is the layout's algorithm byte.
type Alg uint8

// The algorithms.
const (
	Ed25519    Alg = 1
	HMACSHA256 Alg = 2
)

// String is the algorithm's name in a key-set file.
func (a Alg) String() string {
	switch a {
	case Ed25519:
		return "ed25519"
	case HMACSHA256:
		return "hmac-sha256"
	}
	return fmt.Sprintf("Alg(%d)", uint8(a))
}

// ParseAlg reads an algorithm name: "ed25519", or "hmac-sha256" (also
// "hmac").
func ParseAlg(s string) (Alg, error) {
	switch s {
	case "ed25519":
		return Ed25519, nil
	case "hmac-sha256", "hmac":
		return HMACSHA256, nil
	}
	return 0, fmt.Errorf("unknown algorithm %q: want ed25519 or hmac-sha256", s)
}

func (a Alg) sigSize() int {
	switch a {
	case Ed25519:
		return ed25519.SignatureSize
	case HMACSHA256:
		return 32
	}
	return 0
}

// MinSecret is the shortest HMAC-SHA256 secret a key set accepts, in bytes.
const MinSecret = 32

// DefaultSkew is the clock-skew allowance LoadKeySet and ParseKeySet set.
const DefaultSkew = 30 * time.Second

// Key is one key of a key set.
type Key struct {
	ID  string
	Alg Alg
	// Public is an Ed25519 key's public key.
	Public ed25519.PublicKey
	// Private is an Ed25519 key's private key, nil in a verifier's set.
	Private ed25519.PrivateKey
	// Secret is an HMAC-SHA256 key's shared secret.
	Secret []byte
}

// CanSign reports whether k holds what signing needs.
func (k *Key) CanSign() bool {
	return k.Alg == Ed25519 && k.Private != nil || k.Alg == HMACSHA256 && len(k.Secret) > 0
}

// GenerateKey makes a new key with id from crypto/rand.
func GenerateKey(alg Alg, id string) (Key, error) {
	if !validKeyID(id) {
		return Key{}, fmt.Errorf("bad key id %q: want 1 to %d of A-Z a-z 0-9 . _ -", id, maxKeyID)
	}
	k := Key{ID: id, Alg: alg}
	switch alg {
	case Ed25519:
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return Key{}, fmt.Errorf("generate ed25519 key: %w", err)
		}
		k.Public, k.Private = pub, priv
	case HMACSHA256:
		k.Secret = make([]byte, MinSecret)
		if _, err := io.ReadFull(rand.Reader, k.Secret); err != nil {
			return Key{}, fmt.Errorf("generate hmac secret: %w", err)
		}
	default:
		return Key{}, fmt.Errorf("unknown algorithm %v", alg)
	}
	return k, nil
}

// KeySet is the keys a signer or a verifier knows, by id, and the one it
// signs with. It is safe for concurrent use once built; a new key set
// replaces it, it is never modified.
type KeySet struct {
	keys    map[string]*Key
	order   []string // ids in file order
	signing string
	// Skew is the clock-skew allowance: a token issued up to Skew in the
	// future is valid yet, and one stays valid up to Skew past its expiry.
	Skew time.Duration
}

// NewKeySet makes a key set of keys signing with the key signingID. An
// empty signingID picks the only key that can sign if there is exactly
// one, and leaves the set without a default signing key otherwise (a
// verifier's set; Sign then needs Claims.KeyID). Skew is DefaultSkew.
func NewKeySet(keys []Key, signingID string) (*KeySet, error) {
	ks := &KeySet{keys: make(map[string]*Key, len(keys)), Skew: DefaultSkew}
	if len(keys) == 0 {
		return nil, errors.New("keys: no keys")
	}
	var signers []string
	for i := range keys {
		k := keys[i]
		field := fmt.Sprintf("keys[%d]", i)
		if err := checkKey(&k); err != nil {
			return nil, fmt.Errorf("%s: %w", field, err)
		}
		if _, dup := ks.keys[k.ID]; dup {
			return nil, fmt.Errorf("%s.id: duplicate key id %q", field, k.ID)
		}
		ks.keys[k.ID] = &k
		ks.order = append(ks.order, k.ID)
		if k.CanSign() {
			signers = append(signers, k.ID)
		}
	}
	switch {
	case signingID != "":
		k := ks.keys[signingID]
		if k == nil {
			return nil, fmt.Errorf("signing_key: no key with id %q", signingID)
		}
		if !k.CanSign() {
			return nil, fmt.Errorf("signing_key: key %q has no private key", signingID)
		}
		ks.signing = signingID
	case len(signers) == 1:
		ks.signing = signers[0]
	}
	return ks, nil
}

func checkKey(k *Key) error {
	if !validKeyID(k.ID) {
		return fmt.Errorf("id: %q: want 1 to %d of A-Z a-z 0-9 . _ -", k.ID, maxKeyID)
	}
	switch k.Alg {
	case Ed25519:
		if len(k.Secret) > 0 {
			return errors.New("secret: an ed25519 key has public and private, not secret")
		}
		if len(k.Public) != ed25519.PublicKeySize {
			return fmt.Errorf("public: %d bytes, want %d", len(k.Public), ed25519.PublicKeySize)
		}
		if k.Private != nil {
			if len(k.Private) != ed25519.PrivateKeySize {
				return fmt.Errorf("private: %d bytes, want a %d-byte seed", len(k.Private), ed25519.SeedSize)
			}
			if !bytes.Equal(k.Private.Public().(ed25519.PublicKey), k.Public) {
				return errors.New("private: does not match public")
			}
		}
	case HMACSHA256:
		if k.Public != nil || k.Private != nil {
			return errors.New("public, private: an hmac-sha256 key has a secret only")
		}
		if len(k.Secret) < MinSecret {
			return fmt.Errorf("secret: %d bytes, want at least %d", len(k.Secret), MinSecret)
		}
	default:
		return fmt.Errorf("alg: unknown algorithm %v", k.Alg)
	}
	return nil
}

// Keys are the key set's keys, in file order.
func (ks *KeySet) Keys() []*Key {
	out := make([]*Key, len(ks.order))
	for i, id := range ks.order {
		out[i] = ks.keys[id]
	}
	return out
}

// Key is the key with id, nil if none.
func (ks *KeySet) Key(id string) *Key { return ks.keys[id] }

// SigningKey is the id of the key Sign uses by default, "" if none.
func (ks *KeySet) SigningKey() string { return ks.signing }

// fileKey is a key in the file.
type fileKey struct {
	ID      string `json:"id"`
	Alg     string `json:"alg"`
	Public  string `json:"public,omitempty"`
	Private string `json:"private,omitempty"`
	Secret  string `json:"secret,omitempty"`
}

type file struct {
	SigningKey string    `json:"signing_key,omitempty"`
	Keys       []fileKey `json:"keys"`
}

// LoadKeySet reads a key-set file (see the package doc).
func LoadKeySet(path string) (*KeySet, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("steertoken: key set: %w", err)
	}
	ks, err := ParseKeySet(data)
	if err != nil {
		return nil, fmt.Errorf("steertoken: key set %s: %w", path, err)
	}
	return ks, nil
}

// maxKeySetFile bounds a key-set file: thousands of keys.
const maxKeySetFile = 1 << 20

// ParseKeySet parses a key-set file's contents. An error names the field:
// "keys[1].public: 31 bytes, want 32".
func ParseKeySet(data []byte) (*KeySet, error) {
	if len(data) > maxKeySetFile {
		return nil, fmt.Errorf("%d bytes, larger than %d", len(data), maxKeySetFile)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f file
	if err := dec.Decode(&f); err != nil {
		return nil, jsonError(err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("data after the key set's JSON object")
	}
	keys := make([]Key, len(f.Keys))
	for i, fk := range f.Keys {
		field := fmt.Sprintf("keys[%d]", i)
		if fk.ID == "" {
			return nil, fmt.Errorf("%s.id: missing", field)
		}
		field = fmt.Sprintf("keys[%d] (%q)", i, fk.ID)
		if fk.Alg == "" {
			return nil, fmt.Errorf("%s.alg: missing: want ed25519 or hmac-sha256", field)
		}
		alg, err := ParseAlg(fk.Alg)
		if err != nil || fk.Alg == "hmac" {
			return nil, fmt.Errorf("%s.alg: unknown algorithm %q: want ed25519 or hmac-sha256", field, fk.Alg)
		}
		k := Key{ID: fk.ID, Alg: alg}
		switch alg {
		case Ed25519:
			if fk.Secret != "" {
				return nil, fmt.Errorf("%s.secret: an ed25519 key has public and private, not secret", field)
			}
			if fk.Public == "" {
				return nil, fmt.Errorf("%s.public: missing", field)
			}
			if k.Public, err = decodeKey(fk.Public); err != nil {
				return nil, fmt.Errorf("%s.public: %w", field, err)
			}
			if fk.Private != "" {
				seed, err := decodeKey(fk.Private)
				if err != nil {
					return nil, fmt.Errorf("%s.private: %w", field, err)
				}
				if len(seed) != ed25519.SeedSize {
					return nil, fmt.Errorf("%s.private: %d bytes, want a %d-byte seed", field, len(seed), ed25519.SeedSize)
				}
				k.Private = ed25519.NewKeyFromSeed(seed)
			}
		case HMACSHA256:
			if fk.Public != "" || fk.Private != "" {
				return nil, fmt.Errorf("%s: an hmac-sha256 key has a secret, not public or private", field)
			}
			if fk.Secret == "" {
				return nil, fmt.Errorf("%s.secret: missing", field)
			}
			if k.Secret, err = decodeKey(fk.Secret); err != nil {
				return nil, fmt.Errorf("%s.secret: %w", field, err)
			}
		}
		if err := checkKey(&k); err != nil {
			return nil, fmt.Errorf("%s.%w", field, err)
		}
		keys[i] = k
	}
	return NewKeySet(keys, f.SigningKey)
}

func decodeKey(s string) ([]byte, error) {
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("not standard base64: %w", err)
	}
	return b, nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			field = "the key set"
		}
		return fmt.Errorf("%s: want a JSON %s, got %s", field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Errorf("not JSON at byte %d: %w", se.Offset, err)
	}
	if errors.Is(err, io.EOF) {
		return errors.New("empty file: want {\"keys\":[...]}")
	}
	return fmt.Errorf("%w", err)
}

// Entry is k as a key-set file entry; withPrivate includes an Ed25519
// key's private key.
func (k *Key) Entry(withPrivate bool) json.RawMessage {
	fk := fileKey{ID: k.ID, Alg: k.Alg.String()}
	switch k.Alg {
	case Ed25519:
		fk.Public = base64.StdEncoding.EncodeToString(k.Public)
		if withPrivate && k.Private != nil {
			fk.Private = base64.StdEncoding.EncodeToString(k.Private.Seed())
		}
	case HMACSHA256:
		fk.Secret = base64.StdEncoding.EncodeToString(k.Secret)
	}
	b, _ := json.Marshal(fk)
	return b
}

// Marshal is the key-set file of ks, indented. withPrivate false leaves
// out Ed25519 private keys and signing_key: a verifier's set. HMAC secrets
// are always there: verifying needs them.
func (ks *KeySet) Marshal(withPrivate bool) []byte {
	f := struct {
		SigningKey string            `json:"signing_key,omitempty"`
		Keys       []json.RawMessage `json:"keys"`
	}{}
	for _, k := range ks.Keys() {
		f.Keys = append(f.Keys, k.Entry(withPrivate))
	}
	if withPrivate {
		f.SigningKey = ks.signing
	}
	b, _ := json.MarshalIndent(f, "", "  ")
	return append(b, '\n')
}
