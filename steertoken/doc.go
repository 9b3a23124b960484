// Package steertoken signs and verifies steering tokens: compact, URL-safe
// strings saying "this client network is steered to PoP X until T" that an
// application embeds in a URL or a cookie and a PoP verifies offline, with
// no call home.
//
// A token carries a format version, the signing algorithm, the key id, the
// PoP label, the client network (an IPv4 prefix of at most /24 or an IPv6
// prefix of at most /56: never a full address), when it was issued and when
// it expires (unix seconds), and the signature. Two algorithms are
// supported: Ed25519 (the signer holds the private key, PoPs only the
// public one) and HMAC-SHA256 (a secret shared by the signer and the PoPs).
//
// # Keys
//
// A [KeySet] holds keys by id; keys rotate by id: a new key is added to
// every verifier's set first, then the signer switches to it
// (signing_key), and the old key is removed once its last token expired.
// [LoadKeySet] reads the JSON file an operator manages:
//
//	{
//	  "signing_key": "k2",
//	  "keys": [
//	    {"id": "k1", "alg": "ed25519", "public": "BASE64"},
//	    {"id": "k2", "alg": "ed25519", "public": "BASE64", "private": "BASE64"},
//	    {"id": "h1", "alg": "hmac-sha256", "secret": "BASE64"}
//	  ]
//	}
//
// Keys and secrets are standard base64 (RFC 4648 §4, padded). An Ed25519
// "private" is the 32-byte seed; a verifier's set leaves it out. An
// HMAC-SHA256 "secret" has at least 32 bytes. signing_key may be left out
// when exactly one key can sign.
//
// # Binary layout (version 1)
//
// The token is the base64url encoding (RFC 4648 §5, no padding) of:
//
//	size  field
//	1     version: 1
//	1     algorithm: 1 Ed25519, 2 HMAC-SHA256
//	1     key id length K (1..32)
//	K     key id (A-Z a-z 0-9 . _ -)
//	1     PoP label length L (1..63)
//	L     PoP label (a-z 0-9 - _, not starting or ending with -)
//	1     network: bit 7 set for IPv6; bits 0-6 the prefix length
//	      (IPv4 0..24, IPv6 0..56)
//	N     the network's first ceil(length/8) bytes; bits past the
//	      prefix length are zero
//	4     issued-at, unix seconds, big-endian uint32
//	4     expiry, unix seconds, big-endian uint32, after issued-at
//	S     signature over every byte before it: 64 bytes (Ed25519) or
//	      32 bytes (HMAC-SHA256)
//
// Nothing may follow the signature. With key id "k1", PoP "fra" and a /24,
// an Ed25519 token is 85 bytes, 114 characters; an HMAC-SHA256 one 53
// bytes, 71 characters. The longest possible token is 239 characters.
//
// # Verification
//
// [Verify] checks, in this order: the encoding and layout (malformed), the
// version, the key id (unknown key), the key's algorithm against the
// token's, the signature (HMAC compared in constant time), then the time
// window (not yet valid, expired, both with the key set's clock-skew
// allowance) and last the client's address against the network. Every
// rejection is an [*Error] whose [Reason] callers switch on; the claims of
// a token are trusted only after its signature verified.
//
// The package is small and free of cgo so that the data plane (steer-dns,
// the edge proxy) can link it.
package steertoken
