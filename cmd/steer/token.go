package main

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/steer-gslb/steer/internal/cli"
	"github.com/steer-gslb/steer/steertoken"
)

var tokenGroup = &cli.Group{
	Name: "steer token",
	Help: `usage: steer token sign --keys FILE --pop LABEL --network CIDR [--ttl D] [--key-id ID]
       steer token verify --keys FILE [--addr CLIENT_ADDR] [--at TIME] TOKEN
       steer token keygen --alg ed25519|hmac --id ID
       steer token public --keys FILE

Signed steering tokens: "this client network is steered to PoP X until T",
for an application to put in a URL or a cookie and a PoP to verify offline
(Ed25519 or HMAC-SHA256, keys rotated by id; package steertoken).`,
	Subs: []cli.Sub{
		{Name: "sign", Summary: "sign a token steering a client network to a PoP"},
		{Name: "verify", Summary: "verify a token: print its claims, or the reason it is rejected (exit 1)"},
		{Name: "keygen", Summary: "print a new key as a key-set file entry"},
		{Name: "public", Summary: "print a key set without its Ed25519 private keys: the PoPs' copy"},
	},
	Example: `steer token keygen --alg ed25519 --id k1
steer token sign --keys keys.json --pop fra --network 203.0.113.0/24 --ttl 1h`,
}

func runToken(args []string, stdout, stderr io.Writer) int {
	sub, args, code, ok := tokenGroup.Dispatch(args, stdout, stderr)
	if !ok {
		return code
	}
	help := map[string][2]string{
		"sign": {`usage: steer token sign --keys FILE --pop LABEL --network CIDR [--ttl D] [--key-id ID]

Prints a token steering the client network CIDR (IPv4 at most /24, IPv6 at
most /56; an address is cut to its /24 or /56) to PoP LABEL from now for
--ttl, signed with the key set's signing key or --key-id.`,
			"steer token sign --keys keys.json --pop fra --network 203.0.113.0/24 --ttl 1h"},
		"verify": {`usage: steer token verify --keys FILE [--addr CLIENT_ADDR] [--at TIME] TOKEN

Verifies TOKEN as a PoP does: key id, algorithm, signature, validity window
(with the key set's clock-skew allowance) and, with --addr, that the client
address is in the token's network. Prints the claims and exits 0, or prints
the reason it is rejected (malformed, unsupported version, unknown key id,
wrong algorithm for the key, bad signature, not yet valid, expired, wrong
network) and exits 1.`,
			"steer token verify --keys keys.json --addr 203.0.113.9 AQEC..."},
		"keygen": {`usage: steer token keygen --alg ed25519|hmac --id ID

Prints a new random key as one entry of a key-set file's "keys" list. An
Ed25519 entry holds the private key: the PoPs get the output of 'steer token
public' instead. An HMAC-SHA256 secret is shared by the signer and every PoP.`,
			"steer token keygen --alg ed25519 --id 2026-12"},
		"public": {`usage: steer token public --keys FILE

Prints the key set FILE without its Ed25519 private keys and signing_key:
the file to give the PoPs that verify tokens. HMAC secrets stay (verifying
needs them).`,
			"steer token public --keys keys.json > pop-keys.json"},
	}[sub]
	fs := cli.New("steer token "+sub, help[0], help[1], stdout, stderr)
	name := "steer token " + sub
	switch sub {
	case "sign":
		keys := fs.String("keys", "", "the key-set `FILE` (JSON; see package steertoken)")
		pop := fs.String("pop", "", "the PoP `LABEL` the client network is steered to")
		network := fs.String("network", "", "the client network `CIDR` (IPv4 at most /24, IPv6 at most /56), or an address to cut to its /24 or /56")
		ttl := fs.Duration("ttl", time.Hour, "how long the token is valid, from now")
		keyID := fs.String("key-id", "", "sign with the key `ID` instead of the key set's signing_key")
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() > 0 {
			return fs.Usagef("takes no arguments, got %q", fs.Arg(0))
		}
		if *keys == "" || *pop == "" || *network == "" {
			return fs.Usagef("--keys, --pop and --network are required")
		}
		if *ttl < time.Second {
			return fs.Usagef("--ttl %v: want at least 1s", *ttl)
		}
		p, err := parseNetwork(*network)
		if err != nil {
			return fs.Usagef("--network: %v", err)
		}
		ks, err := steertoken.LoadKeySet(*keys)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		now := time.Now().Truncate(time.Second)
		tok, err := steertoken.Sign(ks, steertoken.Claims{KeyID: *keyID, PoP: *pop, Network: p, IssuedAt: now, Expires: now.Add(*ttl)})
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		fmt.Fprintln(stdout, tok)
		return 0
	case "verify":
		keys := fs.String("keys", "", "the key-set `FILE` (JSON; see package steertoken)")
		addr := fs.String("addr", "", "the client `ADDR`ess the token is presented from: check it is in the token's network")
		at := fs.String("at", "", "verify as of this `TIME` (RFC 3339) instead of now")
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() != 1 {
			return fs.Usagef("one TOKEN is required")
		}
		if *keys == "" {
			return fs.Usagef("--keys is required")
		}
		var client netip.Addr
		if *addr != "" {
			a, err := netip.ParseAddr(*addr)
			if err != nil {
				return fs.Usagef("--addr: bad address %q", *addr)
			}
			client = a
		}
		now := time.Now()
		if *at != "" {
			t, err := time.Parse(time.RFC3339, *at)
			if err != nil {
				return fs.Usagef("--at: %q is not an RFC 3339 time (2026-12-08T12:00:00Z)", *at)
			}
			now = t
		}
		ks, err := steertoken.LoadKeySet(*keys)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		c, err := steertoken.Verify(ks, strings.TrimSpace(fs.Arg(0)), now, client)
		if err != nil {
			var te *steertoken.Error
			if errors.As(err, &te) {
				msg := te.Reason.String()
				if te.Detail != "" {
					msg += ": " + te.Detail
				}
				fmt.Fprintf(stdout, "rejected: %s\n", msg)
				return 1
			}
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		fmt.Fprintf(stdout, "valid: %s\n", c)
		return 0
	case "keygen":
		algName := fs.String("alg", "ed25519", "the algorithm: ed25519 or hmac (HMAC-SHA256)")
		id := fs.String("id", "", "the key `ID` (1 to 32 of A-Z a-z 0-9 . _ -), a date for instance")
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() > 0 {
			return fs.Usagef("takes no arguments, got %q", fs.Arg(0))
		}
		if *id == "" {
			return fs.Usagef("--id is required")
		}
		alg, err := steertoken.ParseAlg(*algName)
		if err != nil {
			return fs.Usagef("--alg: %v", err)
		}
		k, err := steertoken.GenerateKey(alg, *id)
		if err != nil {
			return fs.Usagef("%v", err)
		}
		fmt.Fprintf(stdout, "%s\n", k.Entry(true))
		return 0
	case "public":
		keys := fs.String("keys", "", "the key-set `FILE` (JSON; see package steertoken)")
		if code, ok := fs.Parse(args); !ok {
			return code
		}
		if fs.NArg() > 0 {
			return fs.Usagef("takes no arguments, got %q", fs.Arg(0))
		}
		if *keys == "" {
			return fs.Usagef("--keys is required")
		}
		ks, err := steertoken.LoadKeySet(*keys)
		if err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 1
		}
		_, _ = stdout.Write(ks.Marshal(false))
		return 0
	}
	panic("unreachable: Dispatch returned an unknown subcommand " + sub)
}

// parseNetwork reads --network: a CIDR, or an address cut to the network a
// token may name.
func parseNetwork(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, fmt.Errorf("bad CIDR %q", s)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither a CIDR nor an address", s)
	}
	return steertoken.ClientNetwork(a), nil
}
