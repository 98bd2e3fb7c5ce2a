package proxy

import (
	"net/http"

	"github.com/headroomhq/headroom/collector"
)

// The admission engine's view of a call (package decide): each call's
// start, with the output tokens it reserves, and its end; and, with
// HEADROOM_PACING_HEADERS, the RateLimit fields added to its answer. Both
// paths call these; Options.Decide nil (tests) makes them no-ops.

// decideStart reports a call's start to the engine. body is what the proxy
// read of a JSON request body (nil: none), where max_tokens is found.
func (p *Proxy) decideStart(st *callState, l collector.Labels, body []byte) {
	if p.decide == nil {
		return
	}
	st.dc = p.decide.Start(l, st.call.Start, maxTokensOf(body))
}

// maxTokensOf is the output reservation a request body names: OpenAI's
// max_completion_tokens, else max_tokens (Anthropic, older OpenAI), else
// max_output_tokens (OpenAI's Responses API); 0 when none.
func maxTokensOf(body []byte) int64 {
	if len(body) == 0 {
		return 0
	}
	for _, k := range [...]string{"max_completion_tokens", "max_tokens", "max_output_tokens"} {
		if v, ok := findTopLevelInt(body, k); ok {
			return v
		}
	}
	return 0
}

// decideEnd reports a call's end.
func (st *callState) decideEnd() {
	st.p.decide.End(st.dc)
}

// addPacing adds the pacing fields to an answer on net/http's path,
// unless the provider sends RateLimit fields of its own.
func (p *Proxy) addPacing(h http.Header, st *callState) {
	if p.decide == nil || h.Get("RateLimit") != "" || h.Get("RateLimit-Policy") != "" {
		return
	}
	policy, limit, ok := p.decide.PacingValues(st.dc)
	if ok {
		h["Ratelimit-Policy"] = []string{policy}
		h["Ratelimit"] = []string{limit}
	}
}

// appendPacing appends the pacing fields to a client head on the fast
// path (fs are the answer's fields in head), unless the provider sends
// RateLimit fields of its own.
func (rc *relayConn) appendPacing(out, head []byte, fs []field, st *callState) []byte {
	if rc.p.decide == nil {
		return out
	}
	for _, f := range fs {
		if n := f.name(head); is(n, "ratelimit") || is(n, "ratelimit-policy") {
			return out
		}
	}
	return rc.p.decide.AppendPacing(out, st.dc)
}
