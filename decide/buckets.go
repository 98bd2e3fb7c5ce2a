package decide

import (
	"math"
	"sort"
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// A bucket is what one limit counter is charged to: the keys a `buckets:`
// entry names (provider, bucket, model), or a key on its own. Providers
// enforce most limits per organisation, project or workspace, so several
// keys and every replica drain one bucket; its truth is the latest
// observation by any member key.
type bucketKey struct {
	provider, name, model string
	// shared: name is a configured bucket, not a key label (a key may be
	// named like a bucket).
	shared bool
}

// bucket holds, per resource and window, the latest observation of any
// member key, and counts what this replica sent: calls started and ended
// and the output tokens they reserved. An observation keeps the counts as
// they were when it arrived, so "sent since" is a subtraction.
type bucket struct {
	started, ended, reserved uint64
	limits                   map[rw]*limitObs
	// blockedUntil: a 429's Retry-After, or the throttled window's reset,
	// runs until then (compliance.go).
	blockedUntil time.Time
	lastUse      time.Time
}

type rw struct{ resource, window string }

// limitObs is a bucket's latest observation of one limit.
type limitObs struct {
	limit, remaining       float64
	hasLimit, hasRemaining bool
	reset, observed        time.Time
	window                 time.Duration
	key                    string // the member key that reported it
	// base: the bucket's counts when the observation arrived.
	started, ended, reserved uint64
}

// bucketFor returns the bucket of a key (creating it with create); the
// caller holds mu. Keys and models are the collector's capped labels, so
// buckets are bounded as series are.
func (e *Engine) bucketFor(pi *providerInfo, provider, model, key string, create bool) *bucket {
	k := bucketKey{provider: provider, name: key, model: model}
	if n := pi.bucketOf[key]; n != "" {
		k.name, k.shared = n, true
	}
	b := e.bk[k]
	if b == nil && create {
		b = &bucket{limits: map[rw]*limitObs{}}
		e.bk[k] = b
	}
	return b
}

// observe keeps o when it is the bucket's newest word on its limit.
func (b *bucket) observe(o *parsers.Observation, received time.Time, key string) {
	k := rw{o.Resource, o.Window}
	lo := b.limits[k]
	if lo == nil {
		lo = &limitObs{}
		if d, err := parsers.ParseWindow(o.Window); err == nil {
			lo.window = d
		}
		b.limits[k] = lo
	} else if received.Before(lo.observed) {
		return
	}
	lo.limit, lo.hasLimit = o.Limit, o.HasLimit
	lo.remaining, lo.hasRemaining = o.Remaining, o.HasRemaining
	lo.reset, lo.observed, lo.key = o.Reset, received, key
	lo.started, lo.ended, lo.reserved = b.started, b.ended, b.reserved
	if received.After(b.lastUse) {
		b.lastUse = received
	}
}

// idle: no call in flight, nothing used or observed for longer than any
// of its limits lives.
func (b *bucket) idle(now time.Time, grace, concurrency time.Duration) bool {
	if b.started != b.ended || now.Before(b.blockedUntil) {
		return false
	}
	ttl := concurrency
	for _, lo := range b.limits {
		ttl = max(ttl, lo.window+grace)
	}
	return now.Sub(b.lastUse) > ttl
}

// Keys that look shared: same limit, resets within a second of each other,
// and remaining moving together — each key, observed after the other, shows
// at most what the other showed (one counter draining), in both orders.
// Keys that merely share a limit and fixed window (every key of a provider
// with minute windows aligned to the clock) drain their own counters and
// contradict that at once. Headroom reports such pairs
// (headroom_shared_keys_suspected_info, /api/v1/headroom/buckets) and never
// merges them on its own: a `buckets:` entry does.
const (
	// sharedResetSlack is how far apart two resets may be.
	sharedResetSlack = time.Second
	// sharedMinEach is how many consistent observations each order needs.
	sharedMinEach = 3
	// sharedGroupKeys bounds the keys compared per provider, model,
	// resource and window (the most recently seen ones).
	sharedGroupKeys = 32
	// MaxSuspectedPairs bounds the pairs reported per provider.
	MaxSuspectedPairs = 50
)

type groupKey struct{ provider, model, resource, window string }

type lastSeen struct {
	key              string
	limit, remaining float64
	reset, at        time.Time
}

// pairKey orders a pair's keys (a < b).
type pairKey struct{ provider, a, b string }

type pairScore struct {
	// ab: a observed after b consistently; ba: the other order.
	ab, ba, contradictions int
	seen                   time.Time
}

type sharedDetector struct {
	groups map[groupKey][]lastSeen
	pairs  map[pairKey]*pairScore
}

func newSharedDetector() sharedDetector {
	return sharedDetector{groups: map[groupKey][]lastSeen{}, pairs: map[pairKey]*pairScore{}}
}

// maxPairs bounds the pairs scored at once (all providers).
const maxPairs = 4096

// observe compares a key's observation with the other keys' latest of the
// same limit; the caller holds e.mu.
func (d *sharedDetector) observe(e *Engine, k seriesKey, o *parsers.Observation, at time.Time, window time.Duration) {
	g := groupKey{k.provider, k.model, k.resource, k.window}
	list := d.groups[g]
	self := -1
	for i := range list {
		p := &list[i]
		if p.key == k.key {
			self = i
			continue
		}
		if at.Before(p.at) || (window > 0 && at.Sub(p.at) > window) {
			continue
		}
		if e.providers[k.provider].bucketOf[p.key] != "" {
			continue
		}
		pk, later := orderPair(k.provider, k.key, p.key)
		sc := d.pairs[pk]
		if sc == nil {
			if len(d.pairs) >= maxPairs {
				continue
			}
			sc = &pairScore{}
			d.pairs[pk] = sc
		}
		sc.seen = at
		resets := p.reset.Sub(o.Reset)
		switch {
		case p.limit != o.Limit || math.Abs(resets.Seconds()) > sharedResetSlack.Seconds():
			sc.contradictions++
		case o.Remaining >= o.Limit && p.remaining >= p.limit:
			// Both full: says nothing.
		case o.Remaining <= p.remaining:
			if later {
				sc.ba++ // pk.b observed after pk.a
			} else {
				sc.ab++
			}
		default:
			sc.contradictions++
		}
		if sc.ab+sc.ba > 200 {
			// Old evidence fades.
			sc.ab, sc.ba, sc.contradictions = sc.ab/2, sc.ba/2, sc.contradictions/2
		}
	}
	ls := lastSeen{key: k.key, limit: o.Limit, remaining: o.Remaining, reset: o.Reset, at: at}
	switch {
	case self >= 0:
		list[self] = ls
	case len(list) < sharedGroupKeys:
		list = append(list, ls)
	default:
		oldest := 0
		for i := range list {
			if list[i].at.Before(list[oldest].at) {
				oldest = i
			}
		}
		list[oldest] = ls
	}
	d.groups[g] = list
}

// orderPair returns the pair of keys x (just observed) and y; later is true
// when x is the pair's b.
func orderPair(provider, x, y string) (pairKey, bool) {
	if x < y {
		return pairKey{provider, x, y}, false
	}
	return pairKey{provider, y, x}, true
}

// suspected reports whether a pair's evidence says "shared".
func (s *pairScore) suspected() bool {
	return s.ab >= sharedMinEach && s.ba >= sharedMinEach && s.contradictions*10 <= s.ab+s.ba
}

// expire forgets keys and pairs not seen for an hour.
func (d *sharedDetector) expire(now time.Time) {
	const keep = time.Hour
	for g, list := range d.groups {
		n := list[:0]
		for _, p := range list {
			if now.Sub(p.at) <= keep {
				n = append(n, p)
			}
		}
		if len(n) == 0 {
			delete(d.groups, g)
		} else {
			d.groups[g] = n
		}
	}
	for k, s := range d.pairs {
		if now.Sub(s.seen) > keep {
			delete(d.pairs, k)
		}
	}
}

// SuspectedPair is two keys of a provider that look like one bucket.
type SuspectedPair struct {
	Provider string `json:"provider"`
	Key      string `json:"key"`
	Peer     string `json:"peer"`
	// Consistent counts observations that drained one counter;
	// Contradicting those that could not have.
	Consistent    int `json:"consistent_observations"`
	Contradicting int `json:"contradicting_observations"`
}

// suspectedPairs lists the suspected pairs, at most MaxSuspectedPairs per
// provider, sorted; the caller holds mu.
func (e *Engine) suspectedPairs() []SuspectedPair {
	var out []SuspectedPair
	for k, s := range e.shared.pairs {
		if s.suspected() {
			out = append(out, SuspectedPair{Provider: k.provider, Key: k.a, Peer: k.b, Consistent: s.ab + s.ba, Contradicting: s.contradictions})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Provider != out[j].Provider {
			return out[i].Provider < out[j].Provider
		}
		if out[i].Key != out[j].Key {
			return out[i].Key < out[j].Key
		}
		return out[i].Peer < out[j].Peer
	})
	n, per := 0, map[string]int{}
	for _, p := range out {
		if per[p.Provider] < MaxSuspectedPairs {
			per[p.Provider]++
			out[n] = p
			n++
		}
	}
	return out[:n]
}

// BucketState is one configured bucket in /api/v1/headroom/buckets.
type BucketState struct {
	Provider string   `json:"provider"`
	Bucket   string   `json:"bucket"`
	Keys     []string `json:"keys"`
}

// Buckets returns the configured buckets and the key pairs that look shared.
func (e *Engine) Buckets() (configured []BucketState, suspected []SuspectedPair) {
	e.mu.Lock()
	defer e.mu.Unlock()
	configured = []BucketState{}
	for _, b := range e.buckets {
		configured = append(configured, BucketState{Provider: b.Provider, Bucket: b.Name, Keys: append([]string(nil), b.Keys...)})
	}
	suspected = e.suspectedPairs()
	if suspected == nil {
		suspected = []SuspectedPair{}
	}
	return configured, suspected
}
