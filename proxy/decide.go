package proxy

import (
	"strings"

	"github.com/tidwall/gjson"
)

// The admission engine's view of a call (package decide): each call's
// start, with the output tokens it reserves, and its end; and, with
// HEADROOM_PACING_HEADERS, the RateLimit fields added to its answer.
// Options.Decide nil (tests) makes them no-ops.

// decideStart reports a call's start to the engine; body is the head of a
// JSON request body (nil: none), where the output reservation is read.
func (c *call) decideStart(body []byte) {
	if c.p.decide == nil {
		return
	}
	c.dc = c.p.decide.Start(c.info.Labels, c.info.Start, maxTokensOf(body))
}

// maxTokensOf is the output reservation a request body names: OpenAI's
// max_completion_tokens, else max_tokens (Anthropic, older OpenAI), else
// max_output_tokens (OpenAI's Responses API); 0 when none.
func maxTokensOf(body []byte) int64 {
	if len(body) == 0 {
		return 0
	}
	doc := gjson.Parse(b2s(body))
	for _, k := range [...]string{"max_completion_tokens", "max_tokens", "max_output_tokens"} {
		if n := count(doc.Get(k)); n > 0 {
			return n
		}
	}
	return 0
}

// decideEnd reports the call's end.
func (c *call) decideEnd() {
	if c.p.decide != nil {
		c.p.decide.End(c.dc)
	}
}

// addPacing adds the pacing fields to the client's answer, unless the
// provider sends RateLimit fields of its own.
func (c *call) addPacing() {
	if c.p.decide == nil {
		return
	}
	for _, f := range c.fields {
		if strings.EqualFold(f.Name, "RateLimit") || strings.EqualFold(f.Name, "RateLimit-Policy") {
			return
		}
	}
	if policy, limit, ok := c.p.decide.PacingValues(c.dc); ok {
		h := &c.ctx.Response.Header
		h.Set("RateLimit-Policy", policy)
		h.Set("RateLimit", limit)
	}
}
