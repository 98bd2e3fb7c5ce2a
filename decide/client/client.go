// Package client asks a Headroom agent whether a call to an inference
// provider may go now (GET /api/v1/admit, docs/decide.md), for routers,
// batch runners and gateways written in Go.
//
//	c := client.New("http://headroom:9797")
//	a, err := c.Admit(ctx, client.Query{Provider: "openai", Model: "gpt-4o", Key: "prod", Tokens: 1200, MaxTokens: 400})
//	if err == nil && !a.Admit {
//		time.Sleep(a.Wait())
//	}
//
// Headroom admits when it has no data, so an error (Headroom unreachable)
// is the caller's to decide; Admitted makes the usual choice: go ahead.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client asks one Headroom agent (its metrics listener).
type Client struct {
	base string
	hc   *http.Client
}

// New returns a client of the agent at base (e.g. http://headroom:9797).
// Requests time out after two seconds: an answer that late is no longer
// about "now".
func New(base string) *Client {
	return &Client{base: strings.TrimSuffix(base, "/"), hc: &http.Client{Timeout: 2 * time.Second}}
}

// WithHTTPClient uses hc (TLS, basic auth of --web.config.file, timeouts).
func (c *Client) WithHTTPClient(hc *http.Client) *Client {
	c.hc = hc
	return c
}

// Query is what a call will consume. Key is a key alias or fingerprint
// (k- and 12 hex digits) as Headroom labels it: never the key itself.
type Query struct {
	Provider, Model, Key string
	// Requests defaults to 1.
	Requests int64
	// Tokens the call consumes in all; MaxTokens it reserves for output.
	Tokens, MaxTokens int64
}

// Answer is the admission answer (docs/decide.md#the-admission-answer).
type Answer struct {
	Admit bool `json:"admit"`
	// WaitSeconds, when not admitted, is how long until the limiting
	// window resets (or the Retry-After ends); 0 when admitted.
	WaitSeconds float64 `json:"wait_seconds"`
	// Limiting is the limit that decided: the one that lacks room (the
	// longest wait), else the tightest; nil without data.
	Limiting *Limiting `json:"limiting"`
	// AgeSeconds is the age of Limiting's observation; nil without data.
	AgeSeconds *float64 `json:"age_seconds"`
	// Reason is within_limits, limit_exhausted, retry_after, no_data or
	// stale_data.
	Reason   string `json:"reason"`
	Provider string `json:"provider"`
	Model    string `json:"model"`
	// Key is the key label the answer is about (an alias for a
	// fingerprint that has one).
	Key string `json:"key"`
	// Bucket is the key's configured bucket, empty when it has none.
	Bucket string `json:"bucket"`
}

// Limiting is one limit as the answer sees it.
type Limiting struct {
	Resource string `json:"resource"`
	Window   string `json:"window"`
	// Remaining is the provider's last word (Observed, reported by
	// ObservedKey) minus what this Headroom sent for the bucket since
	// (SentSince); it may go negative.
	Remaining float64  `json:"remaining"`
	Limit     *float64 `json:"limit"`
	// Reset is when capacity returns (RFC 3339), nil when unknown.
	Reset          *string  `json:"reset"`
	ResetInSeconds *float64 `json:"reset_in_seconds"`
	Observed       float64  `json:"observed_remaining"`
	SentSince      float64  `json:"sent_since_observation"`
	ObservedKey    string   `json:"observed_key"`
}

// Wait is how long to wait before the call (0 when admitted).
func (a *Answer) Wait() time.Duration {
	return time.Duration(a.WaitSeconds * float64(time.Second))
}

// Error is an answer other than 200: a bad query (4xx, Parameter names
// what to fix) or a failing agent.
type Error struct {
	Status    int
	Type      string `json:"type"`
	Parameter string `json:"parameter"`
	Message   string `json:"message"`
}

func (e *Error) Error() string {
	if e.Parameter != "" {
		return fmt.Sprintf("headroom admit: %d %s: %s", e.Status, e.Parameter, e.Message)
	}
	return fmt.Sprintf("headroom admit: %d: %s", e.Status, e.Message)
}

// Admit asks whether the call q describes may go now.
func (c *Client) Admit(ctx context.Context, q Query) (*Answer, error) {
	v := url.Values{"provider": {q.Provider}, "key": {q.Key}}
	if q.Model != "" {
		v.Set("model", q.Model)
	}
	if q.Requests > 0 {
		v.Set("requests", strconv.FormatInt(q.Requests, 10))
	}
	if q.Tokens > 0 {
		v.Set("tokens", strconv.FormatInt(q.Tokens, 10))
	}
	if q.MaxTokens > 0 {
		v.Set("max_tokens", strconv.FormatInt(q.MaxTokens, 10))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/v1/admit?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		var body struct {
			Error Error `json:"error"`
		}
		e := &body.Error
		if json.Unmarshal(b, &body) != nil || e.Message == "" {
			e.Message = http.StatusText(resp.StatusCode)
		}
		e.Status = resp.StatusCode
		return nil, e
	}
	var a Answer
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("headroom admit: %w", err)
	}
	return &a, nil
}

// Admitted is Admit for callers that go ahead whenever Headroom cannot
// answer (unreachable, slow): it returns true and 0 then, as Headroom does
// without data. A bad query is still an error.
func (c *Client) Admitted(ctx context.Context, q Query) (bool, time.Duration, error) {
	a, err := c.Admit(ctx, q)
	if err != nil {
		var e *Error
		if errors.As(err, &e) && e.Status >= 400 && e.Status < 500 {
			return false, 0, err
		}
		return true, 0, nil
	}
	return a.Admit, a.Wait(), nil
}
