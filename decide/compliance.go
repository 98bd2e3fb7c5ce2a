package decide

import (
	"time"

	"github.com/headroomhq/headroom/parsers"
)

// Retry-After compliance: a 429 blocks its bucket (the key's configured
// bucket, else the key; per limit model) until its Retry-After has passed
// or, without one, until the throttled window resets. Every call a source
// starts (Engine.Start) for that bucket before then is counted in
// headroom_retry_after_ignored_total under the key that sent it: a client
// whose retries ignore Retry-After, or several clients retrying in step.
// The block is this replica's: a 429 another replica received blocks only
// there.

// throttled records a 429; the caller holds mu.
func (e *Engine) throttled(b *bucket, r *parsers.Result, received time.Time) {
	var until time.Time
	switch {
	case r == nil:
	case r.HasRetryAfter:
		until = received.Add(r.RetryAfter)
	case r.ThrottledResource != "":
		for _, o := range r.Observations {
			if o.Resource == r.ThrottledResource && o.Reset.After(until) {
				until = o.Reset
			}
		}
	}
	if until.After(b.blockedUntil) {
		b.blockedUntil = until
	}
}
