package config

import (
	"fmt"
	"sort"
	"strings"
)

// BucketConfig is one entry of the providers file's top-level `buckets:`
// list: keys of one provider that drain one shared limit (an organisation,
// project or workspace limit), named by alias or fingerprint.
type BucketConfig struct {
	// Name is the bucket label value.
	Name string `yaml:"name"`
	// Provider is the configured provider instance the keys belong to.
	Provider string `yaml:"provider"`
	// Keys are key aliases (key_aliases values of that provider) or key
	// fingerprints (k- and 12 hex digits); never the keys themselves.
	Keys []string `yaml:"keys"`
}

// Bucket is a resolved, validated bucket.
type Bucket struct {
	Name, Provider string
	// Keys are the key label values of the members: the alias where the
	// provider configures one for a fingerprint, else the fingerprint.
	Keys []string
}

// maxBucketName bounds bucket names (they become label values).
const maxBucketName = 64

// resolveBuckets validates the buckets section against the resolved
// providers. A key's entry is never echoed in an error: a raw key pasted
// there by mistake must not reach a log.
func resolveBuckets(bs []BucketConfig, c *Config) ([]Bucket, error) {
	names := map[[2]string]bool{}
	member := map[[2]string]string{} // provider, key label -> bucket
	out := make([]Bucket, 0, len(bs))
	for i, bc := range bs {
		at := fmt.Sprintf("buckets[%d]%s", i, nameSuffix(bc.Name))
		if err := checkBucketName(bc.Name); err != nil {
			return nil, fmt.Errorf("%s: .name: %w", at, err)
		}
		p, ok := c.Lookup(bc.Provider)
		if !ok {
			return nil, fmt.Errorf("%s: .provider: %q is not a configured provider (configured: %s)", at, bc.Provider, providerNames(c))
		}
		if names[[2]string{p.Name, bc.Name}] {
			return nil, fmt.Errorf("%s: .name: %q is used twice for provider %s", at, bc.Name, p.Name)
		}
		names[[2]string{p.Name, bc.Name}] = true
		if len(bc.Keys) == 0 {
			return nil, fmt.Errorf("%s: .keys: at least one key alias or fingerprint is required", at)
		}
		b := Bucket{Name: bc.Name, Provider: p.Name}
		for j, k := range bc.Keys {
			label, ok := bucketKeyLabel(p, k)
			if !ok {
				return nil, fmt.Errorf("%s: .keys[%d]: not a key alias of provider %s (aliases: %s) nor a key fingerprint (k- and 12 lower-case hex digits)",
					at, j, p.Name, aliasNames(p))
			}
			if other, dup := member[[2]string{p.Name, label}]; dup {
				return nil, fmt.Errorf("%s: .keys[%d]: key %s is already in bucket %q: a key drains one bucket", at, j, label, other)
			}
			member[[2]string{p.Name, label}] = bc.Name
			b.Keys = append(b.Keys, label)
		}
		out = append(out, b)
	}
	return out, nil
}

// checkBucketName keeps bucket names to what reads well as a label value.
func checkBucketName(n string) error {
	if n == "" {
		return fmt.Errorf("required")
	}
	if len(n) > maxBucketName {
		return fmt.Errorf("longer than %d bytes", maxBucketName)
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("%q may hold only letters, digits, '-', '_' and '.'", n)
		}
	}
	return nil
}

// bucketKeyLabel is the key label of a bucket entry: an alias of p, or a
// fingerprint (shown as its alias when p has one).
func bucketKeyLabel(p *Provider, k string) (string, bool) {
	if IsFingerprint(k) {
		if a, ok := p.KeyAlias[k]; ok {
			return a, true
		}
		return k, true
	}
	for _, a := range p.KeyAlias {
		if a == k {
			return k, true
		}
	}
	return "", false
}

// IsFingerprint reports whether s has the form of a key fingerprint: "k-"
// and 12 lower-case hex digits (package keyid).
func IsFingerprint(s string) bool {
	if len(s) != 14 || !strings.HasPrefix(s, "k-") {
		return false
	}
	for _, c := range s[2:] {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func aliasNames(p *Provider) string {
	if len(p.KeyAlias) == 0 {
		return "none configured"
	}
	var n []string
	for _, a := range p.KeyAlias {
		n = append(n, a)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}
