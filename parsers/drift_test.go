package parsers

import (
	"fmt"
	"reflect"
	"sort"
	"testing"
)

func TestLooksLikeRateLimit(t *testing.T) {
	for name, want := range map[string]bool{
		"x-ratelimit-limit-requests": true, "X-RateLimit-Foo": true, "x-rate-limit-reset": true,
		"Retry-After": true, "retry-after-ms": true, "x-quota-remaining": true, "X-Goog-Quota-User": true,
		"anthropic-ratelimit-unified-7d_oi-utilization": true, "x-litellm-key-remaining-requests": false,
		"content-type": false, "x-request-id": false, "date": false, "x-rate": false, "quot": false, "": false,
		"x-tokenlimit-limit": false, "RATELIMIT": true, "x-my-quota": true,
	} {
		if got := LooksLikeRateLimit(name); got != want {
			t.Errorf("LooksLikeRateLimit(%q) = %v, want %v", name, got, want)
		}
	}
}

// Unread names come lower case, once each, for both header forms; at most
// maxUnread of them per response.
func TestUnreadHeaders(t *testing.T) {
	in := dlInput(200, "",
		"x-ratelimit-limit-requests", "10", "x-ratelimit-remaining-requests", "9", // read by openai
		"X-RateLimit-Limit-Tokens_Usage_Based", "5", "x-ratelimit-limit-tokens_usage_based", "6", // one name, twice
		"X-Quota-Remaining", "3", "Content-Type", "application/json", "Retry-After", "1")
	d, _ := Lookup("openai")
	r := dlParse(t, d, in)
	got := r.UnreadNames()
	sort.Strings(got)
	if want := []string{"x-quota-remaining", "x-ratelimit-limit-tokens_usage_based"}; !reflect.DeepEqual(got, want) {
		t.Errorf("unread %v, want %v", got, want)
	}
	fs, _ := fieldsOf(in.Header, true)
	var rf Result
	d.Parse(&Input{Status: 200, Fields: fs, Received: in.Received}, &rf)
	gotf := rf.UnreadNames()
	sort.Strings(gotf)
	if !reflect.DeepEqual(gotf, got) {
		t.Errorf("from fields: %v, want %v", gotf, got)
	}
	r.Reset()
	if r.UnreadHeaders() != 0 {
		t.Error("Reset kept unread names")
	}

	var kv []string
	for i := 0; i < 40; i++ {
		kv = append(kv, fmt.Sprintf("x-quota-%02d", i), "1")
	}
	r = dlParse(t, d, dlInput(200, "", kv...))
	if r.UnreadHeaders() != maxUnread {
		t.Errorf("%d unread names, want the cap of %d", r.UnreadHeaders(), maxUnread)
	}
}

// Every dialect reads the names it documents: a clean golden capture has
// no unread header (Known lists what a dialect leaves out on purpose).
func TestKnownNamesAreNotUnread(t *testing.T) {
	in := dlInput(200, "",
		"anthropic-ratelimit-unified-status", "allowed", "anthropic-ratelimit-unified-7d_opus-utilization", "0.1",
		"anthropic-ratelimit-unified-overage-status", "rejected", "anthropic-priority-input-tokens-limit", "10",
		"anthropic-ratelimit-unified-1d-utilization", "0.3")
	r := dlParse(t, Anthropic, in)
	if got := r.UnreadNames(); !reflect.DeepEqual(got, []string{"anthropic-ratelimit-unified-1d-utilization"}) {
		t.Errorf("unread %v, want only the new window", got)
	}
}

// Families: a bit per steady triple that arrived; conditional ones never.
func TestFamilies(t *testing.T) {
	r := dlParse(t, Anthropic, dlInput(200, "",
		"anthropic-ratelimit-requests-limit", "50", "anthropic-ratelimit-input-tokens-remaining", "bad",
		"anthropic-priority-input-tokens-limit", "10", "anthropic-ratelimit-unified-5h-utilization", "0.5"))
	if r.Families != 1<<0|1<<2 {
		t.Errorf("families %b, want requests and input tokens (a bad value still arrived)", r.Families)
	}
	want := []string{"anthropic-ratelimit-requests-*", "anthropic-ratelimit-tokens-*", "anthropic-ratelimit-input-tokens-*", "anthropic-ratelimit-output-tokens-*"}
	if !reflect.DeepEqual(r.FamilyNames, want) {
		t.Errorf("family names %v, want %v", r.FamilyNames, want)
	}
	c, _ := Lookup("cerebras")
	r = dlParse(t, c, dlInput(200, "", "x-ratelimit-reset-tokens-hour", "12.5"))
	if r.Families != 1<<4 || r.FamilyNames[4] != "x-ratelimit-*-tokens-hour" {
		t.Errorf("a reset alone: families %b %v", r.Families, r.FamilyNames)
	}
	r = dlParse(t, c, dlInput(200, "", "content-type", "x"))
	if r.Families != 0 || r.FamilyNames != nil {
		t.Errorf("no family: %b %v", r.Families, r.FamilyNames)
	}
	tg := dlParse(t, Together, dlInput(429, "", "x-ratelimit-limit-dynamic", "1", "x-tokenlimit-limit", "5"))
	if tg.Families != 1<<1 || !reflect.DeepEqual(tg.FamilyNames, []string{"x-ratelimit-*", "x-tokenlimit-*"}) {
		t.Errorf("together: %b %v", tg.Families, tg.FamilyNames)
	}
}

func TestFamilyName(t *testing.T) {
	for _, tc := range []struct {
		l, rem, reset, util, want string
	}{
		{"x-ratelimit-limit-requests-day", "x-ratelimit-remaining-requests-day", "x-ratelimit-reset-requests-day", "", "x-ratelimit-*-requests-day"},
		{"x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset", "", "x-ratelimit-*"},
		{"x-ratelimit-limit-dynamic", "x-ratelimit-remaining-dynamic", "x-ratelimit-reset", "", "x-ratelimit-*-dynamic"},
		{"", "", "x-ratelimit-reset-tokens", "", "x-ratelimit-reset-tokens"},
		{"", "", "anthropic-ratelimit-unified-5h-reset", "anthropic-ratelimit-unified-5h-utilization", "anthropic-ratelimit-unified-5h-utilization"},
		{"X-RateLimit-Limit", "X-RateLimit-Remaining", "", "", "x-ratelimit-*"},
	} {
		if got := familyName(tc.l, tc.rem, tc.reset, tc.util); got != tc.want {
			t.Errorf("familyName(%q, %q, %q, %q) = %q, want %q", tc.l, tc.rem, tc.reset, tc.util, got, tc.want)
		}
	}
}
