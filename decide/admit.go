package decide

import (
	"math"
	"strconv"
	"time"

	"github.com/headroomhq/headroom/decide/client"
	"github.com/headroomhq/headroom/parsers"
)

// Request is what a caller asks the admission answer about.
type Request struct {
	Provider string
	// Model as the call will name it; Key a key alias or fingerprint.
	Model, Key string
	// Requests the call makes (usually 1).
	Requests int64
	// Tokens it will consume in all (prompt and completion). Charged
	// against tokens; against input_tokens less MaxTokens; against
	// output_tokens when MaxTokens is 0 (an upper bound: the split is
	// unknown).
	Tokens int64
	// MaxTokens it reserves for its output (Anthropic counts max_tokens
	// against the output-token limit at the start): charged against
	// output_tokens, and against tokens when Tokens is smaller.
	MaxTokens int64
}

// Reasons of an Answer.
const (
	// ReasonNoData: no observation for this bucket yet; admitted, since
	// Headroom never blocks on missing data.
	ReasonNoData = "no_data"
	// ReasonStale: every observation describes a window that has reset or
	// is older than itself; admitted.
	ReasonStale = "stale_data"
	// ReasonWithinLimits: every limit has room for the call.
	ReasonWithinLimits = "within_limits"
	// ReasonExhausted: a limit lacks room; wait_seconds until it resets.
	ReasonExhausted = "limit_exhausted"
	// ReasonRetryAfter: the provider's Retry-After (or the throttled
	// window's reset) after a 429 still runs.
	ReasonRetryAfter = "retry_after"
)

// Answer is the admission answer (GET /api/v1/admit); its fields are
// documented where callers read them, in package client.
type Answer = client.Answer

// Limiting is one limit as the answer sees it.
type Limiting = client.Limiting

// sent is what the bucket's calls since lo consumed of lo's resource, and
// the call's own demand of it.
func (b *bucket) sent(lo *limitObs, resource string) float64 {
	switch resource {
	case parsers.Requests:
		return float64(b.started - lo.started)
	case parsers.Tokens, parsers.OutputTokens:
		return float64(b.reserved - lo.reserved)
	case parsers.Concurrency:
		// Calls started since hold slots; calls that ended since freed
		// slots the observation counted (or ones started since).
		return float64(b.started-lo.started) - float64(b.ended-lo.ended)
	}
	return 0
}

func (r *Request) demand(resource string) float64 {
	switch resource {
	case parsers.Requests, parsers.Concurrency:
		return float64(r.Requests)
	case parsers.Tokens:
		return float64(max(r.Tokens, r.MaxTokens))
	case parsers.InputTokens:
		return float64(max(r.Tokens-r.MaxTokens, 0))
	case parsers.OutputTokens:
		if r.MaxTokens > 0 {
			return float64(r.MaxTokens)
		}
		return float64(r.Tokens)
	}
	return 0
}

// fresh reports whether lo still describes the current window at now.
func (e *Engine) fresh(lo *limitObs, now time.Time) bool {
	if !lo.hasRemaining {
		return false
	}
	if lo.window <= 0 {
		return now.Sub(lo.observed) <= e.opts.ConcurrencyStaleness
	}
	if !lo.reset.IsZero() && !now.Before(lo.reset) {
		return false
	}
	return now.Sub(lo.observed) <= lo.window
}

// capacityAt is when lo's capacity returns: its reset, or, without one,
// the end of the window the observation saw.
func capacityAt(lo *limitObs) time.Time {
	if !lo.reset.IsZero() {
		return lo.reset
	}
	return lo.observed.Add(lo.window)
}

// Admit answers whether a call may go now. It reads the engine's state
// only: unknown providers, models and keys create nothing.
func (e *Engine) Admit(r Request) Answer {
	now := e.opts.Now()
	a := Answer{Provider: r.Provider, Model: r.Model, Key: r.Key, Reason: ReasonNoData, Admit: true}
	e.mu.Lock()
	defer e.mu.Unlock()
	pi := e.providers[r.Provider]
	if pi == nil {
		return a
	}
	a.Key = pi.label(r.Key)
	a.Bucket = pi.bucketOf[a.Key]
	model := r.Model
	if pi.perKey {
		model = ""
	}
	b := e.bucketFor(pi, r.Provider, model, a.Key, false)
	if b == nil {
		return a
	}
	var deny, tight *limitObs
	var denyRes, tightRes rw
	var wait time.Duration
	tightRatio := math.Inf(1)
	stale := false
	for k, lo := range b.limits {
		if !e.fresh(lo, now) {
			stale = true
			continue
		}
		eff := lo.remaining - b.sent(lo, k.resource)
		need := r.demand(k.resource)
		if need == 0 && r.Requests > 0 && k.resource != parsers.Images {
			// Any call uses some of every token limit.
			need = 1
		}
		if need > 0 && eff < need {
			w := time.Duration(0)
			if lo.window > 0 {
				w = max(capacityAt(lo).Sub(now), 0)
			}
			if deny == nil || w > wait || (w == wait && less(k, denyRes)) {
				deny, denyRes, wait = lo, k, w
			}
			continue
		}
		ratio := eff
		if lo.hasLimit && lo.limit > 0 {
			ratio = eff / lo.limit
		}
		if tight == nil || ratio < tightRatio || (ratio == tightRatio && less(k, tightRes)) {
			tight, tightRes, tightRatio = lo, k, ratio
		}
	}
	switch {
	case deny != nil:
		a.Admit, a.Reason = false, ReasonExhausted
		setLimiting(&a, b, deny, denyRes, now)
	case tight != nil:
		a.Reason = ReasonWithinLimits
		setLimiting(&a, b, tight, tightRes, now)
	case stale:
		a.Reason = ReasonStale
	}
	if now.Before(b.blockedUntil) {
		if a.Admit {
			a.Admit, a.Reason = false, ReasonRetryAfter
		}
		wait = max(wait, b.blockedUntil.Sub(now))
	}
	if !a.Admit {
		a.WaitSeconds = wait.Seconds()
	}
	return a
}

func less(a, b rw) bool {
	if a.resource != b.resource {
		return a.resource < b.resource
	}
	return a.window < b.window
}

func setLimiting(a *Answer, b *bucket, lo *limitObs, k rw, now time.Time) {
	sent := b.sent(lo, k.resource)
	l := &Limiting{Resource: k.resource, Window: k.window, Observed: lo.remaining, SentSince: sent,
		Remaining: lo.remaining - sent, ObservedKey: lo.key}
	if lo.hasLimit {
		v := lo.limit
		l.Limit = &v
	}
	if !lo.reset.IsZero() {
		s := lo.reset.UTC().Format(time.RFC3339Nano)
		in := max(lo.reset.Sub(now).Seconds(), 0)
		l.Reset, l.ResetInSeconds = &s, &in
	}
	age := now.Sub(lo.observed).Seconds()
	a.Limiting, a.AgeSeconds = l, &age
}

// pacing is the tightest limit of a call's bucket after the call.
type pacing struct {
	k      rw
	limit  float64
	window time.Duration
	left   float64       // the provider's last word minus what was sent since
	in     time.Duration // until capacity returns
}

// pacingOf finds the tightest fresh limit (lowest share left) of c's
// bucket; ok is false when pacing is off or nothing is known.
func (e *Engine) pacingOf(c Call) (p pacing, ok bool) {
	if e == nil || !e.opts.Pacing || c.b == nil {
		return p, false
	}
	now := e.opts.Now()
	ratio := math.Inf(1)
	e.mu.Lock()
	defer e.mu.Unlock()
	for k, lo := range c.b.limits {
		if !lo.hasLimit || lo.limit <= 0 || !e.fresh(lo, now) {
			continue
		}
		left := max(lo.remaining-c.b.sent(lo, k.resource), 0)
		if r := left / lo.limit; !ok || r < ratio || (r == ratio && less(k, p.k)) {
			p = pacing{k: k, limit: lo.limit, window: lo.window, left: left, in: max(capacityAt(lo).Sub(now), 0)}
			ratio, ok = r, true
		}
	}
	return p, ok
}

// PacingValues returns the values of the IETF RateLimit-Policy and
// RateLimit fields (draft-ietf-httpapi-ratelimit-headers) for the tightest
// limit of c's bucket after c, when pacing is on and the bucket has fresh
// data; ok is false otherwise.
//
//	RateLimit-Policy: "requests-1m";q=30;w=60
//	RateLimit: "requests-1m";r=12;t=41
func (e *Engine) PacingValues(c Call) (policy, limit string, ok bool) {
	p, ok := e.pacingOf(c)
	if !ok {
		return "", "", false
	}
	return string(p.appendPolicy(nil)), string(p.appendLimit(nil)), true
}

func (p *pacing) appendPolicy(dst []byte) []byte {
	dst = append(dst, '"')
	dst = appendPolicyName(dst, p.k)
	dst = append(dst, `";q=`...)
	dst = strconv.AppendInt(dst, int64(p.limit), 10)
	switch p.k.resource {
	case parsers.Concurrency:
		dst = append(dst, `;qu="concurrent-requests"`...)
	case parsers.Requests:
	default:
		dst = append(dst, `;qu="`...)
		dst = append(dst, p.k.resource...)
		dst = append(dst, '"')
	}
	if p.window > 0 {
		dst = append(dst, ";w="...)
		dst = strconv.AppendInt(dst, int64(math.Ceil(p.window.Seconds())), 10)
	}
	return dst
}

func (p *pacing) appendLimit(dst []byte) []byte {
	dst = append(dst, '"')
	dst = appendPolicyName(dst, p.k)
	dst = append(dst, `";r=`...)
	dst = strconv.AppendInt(dst, int64(math.Floor(p.left)), 10)
	if p.window > 0 {
		dst = append(dst, ";t="...)
		dst = strconv.AppendInt(dst, int64(math.Ceil(p.in.Seconds())), 10)
	}
	return dst
}

// appendPolicyName names a policy after its limit: "requests-1m".
func appendPolicyName(dst []byte, k rw) []byte {
	dst = append(dst, k.resource...)
	dst = append(dst, '-')
	return append(dst, k.window...)
}
