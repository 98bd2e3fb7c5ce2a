// Package keyid turns credentials into label values. A credential never
// leaves this package: callers get a fingerprint (or the alias configured
// for it), which identifies a key across replicas and restarts without
// revealing it.
package keyid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
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

// Credential extracts the credential from a request's headers: the token of
// "Authorization: Bearer <token>" (or the whole Authorization value for
// other schemes), else the provider-specific keyHeader (canonical form).
func Credential(h http.Header, keyHeader string) string {
	if keyHeader != "" {
		if v := h.Get(keyHeader); v != "" {
			return strings.TrimSpace(v)
		}
	}
	if v := h.Get("Authorization"); v != "" {
		if len(v) > 7 && strings.EqualFold(v[:7], "bearer ") {
			return strings.TrimSpace(v[7:])
		}
		return strings.TrimSpace(v)
	}
	return ""
}

// Resolver maps credentials to label values with optional aliases
// (fingerprint → alias) from the config.
type Resolver struct {
	KeyHeader string
	Aliases   map[string]string
}

// Label returns the key label for a request.
func (r *Resolver) Label(h http.Header) string {
	c := Credential(h, r.KeyHeader)
	if c == "" {
		return None
	}
	fp := Fingerprint(c)
	if a, ok := r.Aliases[fp]; ok {
		return a
	}
	return fp
}

// LabelOf is Label for a credential already taken from its header (the
// proxy's fast path reads raw header bytes, not an http.Header).
func (r *Resolver) LabelOf(credential []byte) string {
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
