// Package keyid turns credentials into label values. A credential never
// leaves this package: callers get a fingerprint (or the alias configured
// for it), which identifies a key across replicas and restarts without
// revealing it.
package keyid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// None is the key label of requests without a credential.
const None = "none"

// Fingerprint is "k-" and the first 12 hex digits of the credential's
// SHA-256: 48 bits, enough to tell a team's keys apart, far too few to
// confirm a guess of a high-entropy API key offline at scale.
func Fingerprint(credential string) string {
	return fingerprint([]byte(credential))
}

func fingerprint(credential []byte) string {
	sum := sha256.Sum256(credential)
	var b [2 + 12]byte
	b[0], b[1] = 'k', '-'
	hex.Encode(b[2:], sum[:6])
	return string(b[:])
}

// Token is the credential an Authorization value carries: the token of
// "Bearer <token>" (the scheme in any case), the whole value for other
// schemes, trimmed.
func Token(authorization []byte) []byte {
	v := authorization
	if len(v) > 7 && strings.EqualFold(string(v[:7]), "bearer ") {
		v = v[7:]
	}
	return bytes.TrimSpace(v)
}

// Resolver maps credentials to label values with optional aliases
// (fingerprint → alias) from the config.
type Resolver struct {
	Aliases map[string]string
}

// Label returns the key label of a credential (None for none).
func (r *Resolver) Label(credential []byte) string {
	c := bytes.TrimSpace(credential)
	if len(c) == 0 {
		return None
	}
	fp := fingerprint(c)
	if a, ok := r.Aliases[fp]; ok {
		return a
	}
	return fp
}
