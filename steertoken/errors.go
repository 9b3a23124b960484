package steertoken

import (
	"errors"
	"fmt"
)

// Reason is why a token was rejected.
type Reason uint8

// The reasons Verify rejects a token for.
const (
	// Malformed: not base64url, truncated, trailing bytes, a field out of
	// range; the error's Detail names what.
	Malformed Reason = iota + 1
	// UnsupportedVersion: a format version this package does not read.
	UnsupportedVersion
	// UnknownKey: no key with the token's key id in the key set (a key
	// rotated out, or a token from another signer).
	UnknownKey
	// WrongAlgorithm: the token's algorithm is not its key's.
	WrongAlgorithm
	// BadSignature: the signature does not verify: a tampered token or one
	// signed with another key of the same id.
	BadSignature
	// NotYetValid: issued later than now plus the clock-skew allowance.
	NotYetValid
	// Expired: now is past the expiry plus the clock-skew allowance.
	Expired
	// WrongNetwork: the client's address is not in the token's network.
	WrongNetwork
)

var reasonNames = [...]string{
	Malformed:          "malformed",
	UnsupportedVersion: "unsupported version",
	UnknownKey:         "unknown key id",
	WrongAlgorithm:     "wrong algorithm for the key",
	BadSignature:       "bad signature",
	NotYetValid:        "not yet valid",
	Expired:            "expired",
	WrongNetwork:       "wrong network",
}

// String is the reason in words ("expired").
func (r Reason) String() string {
	if int(r) < len(reasonNames) && reasonNames[r] != "" {
		return reasonNames[r]
	}
	return fmt.Sprintf("Reason(%d)", uint8(r))
}

// Error is a rejected token: the Reason and, for some reasons, a Detail
// naming what was wrong.
type Error struct {
	Reason Reason
	Detail string
}

// Error is "steertoken: REASON: DETAIL".
func (e *Error) Error() string {
	if e.Detail == "" {
		return "steertoken: " + e.Reason.String()
	}
	return "steertoken: " + e.Reason.String() + ": " + e.Detail
}

// Is matches a sentinel of the same Reason (ErrExpired and the like).
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Detail == "" && t.Reason == e.Reason
}

// Sentinels for errors.Is, one per Reason.
var (
	ErrMalformed          = &Error{Reason: Malformed}
	ErrUnsupportedVersion = &Error{Reason: UnsupportedVersion}
	ErrUnknownKey         = &Error{Reason: UnknownKey}
	ErrWrongAlgorithm     = &Error{Reason: WrongAlgorithm}
	ErrBadSignature       = &Error{Reason: BadSignature}
	ErrNotYetValid        = &Error{Reason: NotYetValid}
	ErrExpired            = &Error{Reason: Expired}
	ErrWrongNetwork       = &Error{Reason: WrongNetwork}
)

// ReasonOf is err's Reason, 0 when err is not a rejection.
func ReasonOf(err error) Reason {
	if e, ok := err.(*Error); ok { //nolint:errorlint // the unwrapped case without an allocation; errors.As below
		return e.Reason
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return 0
}

func malformed(detail string) *Error { return &Error{Reason: Malformed, Detail: detail} }
