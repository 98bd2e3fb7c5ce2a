package integration

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anthropics/anthropic-sdk-go/v2"
	aoption "github.com/anthropics/anthropic-sdk-go/v2/option"
	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"

	"github.com/headroomhq/headroom/catalog"
	"github.com/headroomhq/headroom/fakeprovider"
	"github.com/headroomhq/headroom/keyid"
)

// The official SDKs, pointed at Headroom as their users point them (base
// URL), against fake providers: plain and streamed calls, 50 at once, a
// stream abandoned mid-way, and a 429. What the SDK gets is what it would
// get from the provider; what /metrics says matches what was sent.

const sdkKey = "sk-sdk-test-0123456789"

func TestOpenAISDK(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{
		"openai": {StreamDelay: 20 * time.Millisecond, StreamChunks: 8},
	})
	client := openai.NewClient(
		option.WithBaseURL("http://"+h.agent.ProxyAddr+"/openai/v1"),
		option.WithAPIKey(sdkKey),
		option.WithMaxRetries(0),
	)
	ctx := context.Background()
	params := openai.ChatCompletionNewParams{
		Model:    "gpt-4o",
		Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("Hello!")},
	}
	key := keyid.Fingerprint(sdkKey)

	// Plain.
	res, err := client.Chat.Completions.New(ctx, params)
	if err != nil {
		t.Fatalf("plain: %v", err)
	}
	if len(res.Choices) == 0 || res.Choices[0].Message.Content == "" || res.Usage.CompletionTokens == 0 {
		t.Fatalf("plain: %+v", res)
	}
	h.eventually(float64(res.Usage.PromptTokens), "headroom_tokens_total", "provider=openai", "model=gpt-4o", "key="+key, "type=input")

	// Streamed, with usage in the last chunk.
	sp := params
	sp.StreamOptions = openai.ChatCompletionStreamOptionsParam{IncludeUsage: openai.Bool(true)}
	stream := client.Chat.Completions.NewStreaming(ctx, sp)
	var text strings.Builder
	var chunks int
	var usage openai.CompletionUsage
	for stream.Next() {
		c := stream.Current()
		chunks++
		if len(c.Choices) > 0 {
			text.WriteString(c.Choices[0].Delta.Content)
		}
		if c.Usage.TotalTokens > 0 {
			usage = c.Usage
		}
	}
	if err := stream.Err(); err != nil || chunks < 8 || text.Len() == 0 || usage.CompletionTokens == 0 {
		t.Fatalf("stream: %d chunks, %q, usage %+v, %v", chunks, text.String(), usage, err)
	}
	h.eventually(float64(res.Usage.CompletionTokens+usage.CompletionTokens), "headroom_tokens_total", "provider=openai", "model=gpt-4o", "key="+key, "type=output")

	// 50 at once, half streamed.
	concurrently(t, 50, func(i int) error {
		if i%2 == 0 {
			_, err := client.Chat.Completions.New(ctx, params)
			return err
		}
		s := client.Chat.Completions.NewStreaming(ctx, params)
		for s.Next() {
		}
		return s.Err()
	})
	h.eventually(52, "headroom_requests_total", "provider=openai", "model=gpt-4o", "key="+key, "code=200")

	// A stream abandoned after its first chunk: the SDK sees its own
	// cancellation, Headroom stops relaying and holds nothing.
	actx, cancel := context.WithCancel(ctx)
	s := client.Chat.Completions.NewStreaming(actx, params)
	if !s.Next() {
		t.Fatalf("abort: no first chunk: %v", s.Err())
	}
	cancel()
	for s.Next() {
	}
	if err := s.Err(); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("abort: %v, want the SDK's cancellation", err)
	}
	waitInflight(t, h, "openai")
	h.eventually(53, "headroom_requests_total", "provider=openai", "model=gpt-4o", "key="+key, "code=200")
}

func TestOpenAISDK429(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{
		"openai": {Limits: []catalog.Limit{{Resource: "requests", Window: "1m", Value: 1}}},
	})
	client := openai.NewClient(
		option.WithBaseURL("http://"+h.agent.ProxyAddr+"/openai/v1"),
		option.WithAPIKey(sdkKey),
		option.WithMaxRetries(0),
	)
	params := openai.ChatCompletionNewParams{Model: "gpt-4o", Messages: []openai.ChatCompletionMessageParamUnion{openai.UserMessage("hi")}}
	if _, err := client.Chat.Completions.New(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	_, err := client.Chat.Completions.New(context.Background(), params)
	var apiErr *openai.Error
	if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
		t.Fatalf("second call: %v, want the provider's 429 as an API error", err)
	}
	if apiErr.Response.Header.Get("X-Headroom-Error") != "" {
		t.Error("the 429 was Headroom's, not the provider's")
	}
	h.eventually(1, "headroom_ratelimited_total", "provider=openai", "model=gpt-4o", "key="+keyid.Fingerprint(sdkKey), "resource=requests")
	h.eventually(0, "headroom_ratelimit_remaining", "provider=openai", "model=gpt-4o", "key="+keyid.Fingerprint(sdkKey), "resource=requests", "window=1m")
}

func TestAnthropicSDK(t *testing.T) {
	h := start(t, map[string]fakeprovider.Options{
		// The Tier 1 limits (50 requests a minute) times 100: no 429 here.
		"anthropic": {StreamDelay: 20 * time.Millisecond, StreamChunks: 8, Scale: 100},
	})
	client := anthropic.NewClient(
		aoption.WithBaseURL("http://"+h.agent.ProxyAddr+"/anthropic"),
		aoption.WithAPIKey(sdkKey),
		aoption.WithMaxRetries(0),
	)
	ctx := context.Background()
	const model = "claude-sonnet-4-5"
	params := anthropic.MessageNewParams{
		Model:     model,
		MaxTokens: 64,
		Messages:  []anthropic.MessageParam{anthropic.NewUserMessage(anthropic.NewTextBlock("Hello!"))},
	}
	key := keyid.Fingerprint(sdkKey)

	msg, err := client.Messages.New(ctx, params)
	if err != nil {
		t.Fatalf("plain: %v", err)
	}
	if len(msg.Content) == 0 || msg.Usage.OutputTokens == 0 {
		t.Fatalf("plain: %+v", msg)
	}

	stream := client.Messages.NewStreaming(ctx, params)
	acc := anthropic.Message{}
	var events int
	for stream.Next() {
		events++
		if err := acc.Accumulate(stream.Current()); err != nil {
			t.Fatal(err)
		}
	}
	if err := stream.Err(); err != nil || events < 8 || acc.Usage.OutputTokens == 0 {
		t.Fatalf("stream: %d events, usage %+v, %v", events, acc.Usage, err)
	}
	h.eventually(float64(msg.Usage.OutputTokens+acc.Usage.OutputTokens), "headroom_tokens_total", "provider=anthropic", "model="+model, "key="+key, "type=output")
	h.eventually(float64(msg.Usage.InputTokens+acc.Usage.InputTokens), "headroom_tokens_total", "provider=anthropic", "model="+model, "key="+key, "type=input")
	// Anthropic's limits, from its own header family.
	if v, ok := h.value("headroom_ratelimit_limit", "provider=anthropic", "model="+model, "key="+key, "resource=output_tokens", "window=1m"); !ok || v <= 0 {
		t.Errorf("output-token limit not observed: %v %v", v, ok)
	}

	concurrently(t, 50, func(i int) error {
		if i%2 == 0 {
			_, err := client.Messages.New(ctx, params)
			return err
		}
		s := client.Messages.NewStreaming(ctx, params)
		for s.Next() {
		}
		return s.Err()
	})

	actx, cancel := context.WithCancel(ctx)
	s := client.Messages.NewStreaming(actx, params)
	if !s.Next() {
		t.Fatalf("abort: no first event: %v", s.Err())
	}
	cancel()
	for s.Next() {
	}
	if err := s.Err(); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("abort: %v, want the SDK's cancellation", err)
	}
	waitInflight(t, h, "anthropic")
	h.eventually(53, "headroom_requests_total", "provider=anthropic", "model="+model, "key="+key, "code=200")
}

// concurrently runs call(0) … call(n-1) at once and reports their errors.
func concurrently(t *testing.T, n int, call func(i int) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- call(i)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent call: %v", err)
		}
	}
}

// eventually is expect for a call whose client may have its last event
// (a stream's [DONE]) a moment before the answer ends and the call is
// recorded (docs/proxy.md).
func (h *harness) eventually(want float64, name string, labels ...string) {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		if v, ok := h.value(name, labels...); ok && v == want || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.expect(want, name, labels...)
}

// waitInflight waits until no call of provider is in flight.
func waitInflight(t *testing.T, h *harness, provider string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		v, ok := h.value("headroom_inflight_requests", "provider="+provider, "key="+keyid.Fingerprint(sdkKey))
		if !ok || v == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v calls of %s still in flight", v, provider)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
