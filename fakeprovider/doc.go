// Package fakeprovider is a local fake inference server with real rate-limit
// accounting. It speaks the rate-limit dialect of one provider (the headers,
// their casing and formats, the 429 bodies and Retry-After) so Headroom's
// integration tests, benchmarks and users can watch limits drain, refill and
// trip without spending money on a real provider.
//
//	h := fakeprovider.New(fakeprovider.Options{Provider: "heroku-us"})
//	srv := httptest.NewServer(h)
//
// # Endpoints
//
// Routes match on the path suffix, so any base path works (/v1/…, /heroku/v1/…,
// /openai/deployments/gpt-4o/chat/completions):
//
//   - POST …/chat/completions: OpenAI-style; JSON with model and usage, or with
//     "stream": true an SSE stream (role chunk, content chunks, a finish chunk,
//     a final chunk with "choices": [] and usage, then data: [DONE]), one event
//     per flush, Options.StreamDelay apart.
//   - POST …/messages: Anthropic-style; usage with input_tokens/output_tokens;
//     the stream carries input usage in message_start and output usage in
//     message_delta.
//   - POST …/predictions: the predictions API of seed 002; 201 with a
//     succeeded prediction. It counts against concurrency limits from creation
//     until its response is sent.
//   - POST …/models/<model>:generateContent: Gemini's native route; the
//     model is the path's, completion tokens come from
//     generationConfig.maxOutputTokens, usage is in usageMetadata.
//   - GET …/models: the provider's catalog models; not rate limited.
//
// Every response carries a Date header from Options.Now. Requests without a
// credential (Authorization: Bearer … or Token …, or the catalog's KeyHeader
// such as x-api-key or api-key) get 401 with the dialect's JSON error. The
// anthropic dialect, like Anthropic's API, then answers …/messages and
// …/models with 400 invalid_request_error when the anthropic-version header
// is missing or not a date; its …/chat/completions (OpenAI-compatible) does
// not need it.
//
// The request header X-Fake-Delay (a Go duration, e.g. "300ms", at most
// MaxFakeDelay) holds the response that long after the request was admitted,
// keeping it in flight so tests can create concurrency. Delays run on the
// real clock; only accounting uses Options.Now.
//
// # Accounting
//
// Limits are counted per (API key, model, resource, window). Limits the
// catalog lists as key-level (key_limits, model "") are shared by every model
// of a key. The window discipline is the dialect's:
//
//   - sliding (heroku, azure-openai, fireworks, generic-hyphenated): a sliding log of entries
//     per window; remaining is the limit minus what entered in the last
//     window; the reset is when the oldest entry expires (seed 000);
//     Retry-After is when enough entries have expired for the request to fit.
//   - fixed (infercom, sambanova, predictions, cerebras, openrouter, mistral,
//     together, ietf, gemini, generic-windowed): counters in windows aligned
//     to the UTC second, minute, hour or day; the reset is the window's end.
//   - anchored (github): a fixed window that starts with the first request
//     after the previous one ended.
//   - bucket (openai, anthropic, groq): capacity refills continuously at
//     limit per window; the reset is the time until the bucket is full again
//     ("1s", "12ms", "6m0s").
//
// Each dialect is one table in dialect_<name>.go: its headers with their
// exact names and reset formats, its Retry-After header(s), its 429 bodies
// and its default limits. generic-windowed and generic-hyphenated
// (dialect_generic.go) are spellings of the OpenAI-style family as providers
// outside Headroom's catalog send them, read by Headroom's generic dialect
// auto (Parser names the Headroom dialect of each).
//
// A request is admitted only when every limit has room for its cost; a
// rejected request is not charged. Costs: requests (and dynamic_requests)
// 1, images 1, tokens (dynamic_tokens, and usage, a subscription allowance
// counted in tokens) prompt+completion, input_tokens (priority_input_tokens)
// prompt, output_tokens (priority_output_tokens) completion.
//
// Token estimate: prompt tokens = ceil(len(raw request body in bytes) / 4),
// at least 1; completion tokens = the request's max_completion_tokens, else
// max_tokens (for predictions: input.max_tokens, else input.max_new_tokens),
// else Options.CompletionTokens (default 16). The whole estimate is charged
// at admission and the response's usage reports exactly those numbers.
//
// Concurrency limits (resource "concurrency") count the key's requests in
// flight, from admission until the response is complete.
//
// # Limits
//
// The limits come from the catalog entry of Options.Provider for the
// requested model, plus the provider's key-level limits. A model the catalog
// does not list gets the key-level limits and the dialect's documented
// defaults for every (resource, window) they do not cover (see
// DefaultLimits and each dialect_<name>.go). Options.Scale multiplies the
// catalog and default limits; Options.Limits then overrides individual
// (resource, window) limits. A request without a model uses the provider's
// first catalog model ("fake-model" when it lists none).
//
// # 429s
//
// A request that does not fit gets 429 with the dialect's body, its
// rate-limit headers (the state without the rejected request, which is not
// charged) and Retry-After: the time until the request would fit, in whole
// seconds rounded up (for a concurrency limit: until the earliest running
// request is expected to end). Fireworks and GitHub send no Retry-After, as
// the providers do not; Gemini sends none either (its body's
// RetryInfo.retryDelay says the same), generic-hyphenated only
// retry-after-ms.
package fakeprovider
