package fakeprovider

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// reply renders the bodies of an admitted request.
type reply struct {
	id                 uint64
	model              string
	created            time.Time
	prompt, completion int64
	chunks             []string
}

var phrase = []string{"Hello", " from", " the", " Headroom", " fake", " provider", "."}

// chunks is the content split into n stream chunks.
func chunks(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = phrase[i%len(phrase)]
	}
	return out
}

func (r *reply) text() string { return strings.Join(r.chunks, "") }

type chatUsage struct {
	PromptTokens     int64 `json:"prompt_tokens"`
	CompletionTokens int64 `json:"completion_tokens"`
	TotalTokens      int64 `json:"total_tokens"`
}

func (r *reply) chatUsage() *chatUsage {
	return &chatUsage{PromptTokens: r.prompt, CompletionTokens: r.completion, TotalTokens: r.prompt + r.completion}
}

func (r *reply) chat() []byte {
	type message struct {
		Role    string `json:"role"`
		Content string `json:"content"`
	}
	type choice struct {
		Index        int     `json:"index"`
		Message      message `json:"message"`
		FinishReason string  `json:"finish_reason"`
	}
	return mustJSON(struct {
		ID      string     `json:"id"`
		Object  string     `json:"object"`
		Created int64      `json:"created"`
		Model   string     `json:"model"`
		Choices []choice   `json:"choices"`
		Usage   *chatUsage `json:"usage"`
	}{
		ID: fmt.Sprintf("chatcmpl-fake-%d", r.id), Object: "chat.completion", Created: r.created.Unix(), Model: r.model,
		Choices: []choice{{Message: message{Role: "assistant", Content: r.text()}, FinishReason: "stop"}},
		Usage:   r.chatUsage(),
	})
}

type chatDelta struct {
	Role    string `json:"role,omitempty"`
	Content string `json:"content,omitempty"`
}

type chatChunkChoice struct {
	Index        int       `json:"index"`
	Delta        chatDelta `json:"delta"`
	FinishReason *string   `json:"finish_reason"`
}

type chatChunk struct {
	ID      string            `json:"id"`
	Object  string            `json:"object"`
	Created int64             `json:"created"`
	Model   string            `json:"model"`
	Choices []chatChunkChoice `json:"choices"`
	Usage   *chatUsage        `json:"usage"`
}

// streamChat writes an OpenAI chat completion stream: a role chunk, one chunk
// per content piece, a finish chunk, a final chunk with "choices": [] and the
// usage (as with stream_options.include_usage), then [DONE].
func (r *reply) streamChat(sw *sseWriter) {
	base := chatChunk{ID: fmt.Sprintf("chatcmpl-fake-%d", r.id), Object: "chat.completion.chunk", Created: r.created.Unix(), Model: r.model}
	ev := func(choices []chatChunkChoice, u *chatUsage) bool {
		c := base
		c.Choices, c.Usage = choices, u
		return sw.event("", mustJSON(c))
	}
	if !ev([]chatChunkChoice{{Delta: chatDelta{Role: "assistant"}}}, nil) {
		return
	}
	for _, piece := range r.chunks {
		if !ev([]chatChunkChoice{{Delta: chatDelta{Content: piece}}}, nil) {
			return
		}
	}
	stop := "stop"
	if !ev([]chatChunkChoice{{FinishReason: &stop}}, nil) {
		return
	}
	if !ev([]chatChunkChoice{}, r.chatUsage()) {
		return
	}
	sw.event("", []byte("[DONE]"))
}

type messageUsage struct {
	InputTokens  int64 `json:"input_tokens"`
	OutputTokens int64 `json:"output_tokens"`
}

type textBlock struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type messageBody struct {
	ID           string        `json:"id"`
	Type         string        `json:"type"`
	Role         string        `json:"role"`
	Model        string        `json:"model"`
	Content      []textBlock   `json:"content"`
	StopReason   *string       `json:"stop_reason"`
	StopSequence *string       `json:"stop_sequence"`
	Usage        *messageUsage `json:"usage"`
}

// generate is a Gemini generateContent answer.
func (r *reply) generate() []byte {
	type part struct {
		Text string `json:"text"`
	}
	type content struct {
		Parts []part `json:"parts"`
		Role  string `json:"role"`
	}
	type candidate struct {
		Content      content `json:"content"`
		FinishReason string  `json:"finishReason"`
		Index        int     `json:"index"`
	}
	type usage struct {
		PromptTokenCount     int64 `json:"promptTokenCount"`
		CandidatesTokenCount int64 `json:"candidatesTokenCount"`
		TotalTokenCount      int64 `json:"totalTokenCount"`
	}
	return mustJSON(struct {
		Candidates    []candidate `json:"candidates"`
		UsageMetadata usage       `json:"usageMetadata"`
		ModelVersion  string      `json:"modelVersion"`
		ResponseID    string      `json:"responseId"`
	}{
		Candidates:    []candidate{{Content: content{Parts: []part{{Text: r.text()}}, Role: "model"}, FinishReason: "STOP"}},
		UsageMetadata: usage{r.prompt, r.completion, r.prompt + r.completion},
		ModelVersion:  r.model,
		ResponseID:    "fake-" + strconv.FormatUint(r.id, 10),
	})
}

func (r *reply) message() []byte {
	stop := "end_turn"
	return mustJSON(messageBody{
		ID: fmt.Sprintf("msg_fake_%d", r.id), Type: "message", Role: "assistant", Model: r.model,
		Content:    []textBlock{{Type: "text", Text: r.text()}},
		StopReason: &stop, Usage: &messageUsage{InputTokens: r.prompt, OutputTokens: r.completion},
	})
}

// streamMessages writes an Anthropic Messages stream: message_start with the
// input usage, a text block streamed in deltas, message_delta with the
// (cumulative) output usage, message_stop.
func (r *reply) streamMessages(sw *sseWriter) {
	type typed struct {
		Type string `json:"type"`
	}
	type indexed struct {
		Type  string `json:"type"`
		Index int    `json:"index"`
	}
	type textDelta struct {
		Type string `json:"type"`
		Text string `json:"text"`
	}
	type stopDelta struct {
		StopReason   string  `json:"stop_reason"`
		StopSequence *string `json:"stop_sequence"`
	}
	type outputUsage struct {
		OutputTokens int64 `json:"output_tokens"`
	}
	start := messageBody{
		ID: fmt.Sprintf("msg_fake_%d", r.id), Type: "message", Role: "assistant", Model: r.model,
		Content: []textBlock{}, Usage: &messageUsage{InputTokens: r.prompt, OutputTokens: min(1, r.completion)},
	}
	type event struct {
		name string
		data any
	}
	events := []event{
		{"message_start", struct {
			Type    string      `json:"type"`
			Message messageBody `json:"message"`
		}{"message_start", start}},
		{"content_block_start", struct {
			Type         string    `json:"type"`
			Index        int       `json:"index"`
			ContentBlock textBlock `json:"content_block"`
		}{"content_block_start", 0, textBlock{Type: "text"}}},
		{"ping", typed{"ping"}},
	}
	for _, piece := range r.chunks {
		events = append(events, event{"content_block_delta", struct {
			Type  string    `json:"type"`
			Index int       `json:"index"`
			Delta textDelta `json:"delta"`
		}{"content_block_delta", 0, textDelta{"text_delta", piece}}})
	}
	events = append(events,
		event{"content_block_stop", indexed{"content_block_stop", 0}},
		event{"message_delta", struct {
			Type  string      `json:"type"`
			Delta stopDelta   `json:"delta"`
			Usage outputUsage `json:"usage"`
		}{"message_delta", stopDelta{StopReason: "end_turn"}, outputUsage{r.completion}}},
		event{"message_stop", typed{"message_stop"}},
	)
	for _, e := range events {
		if !sw.event(e.name, mustJSON(e.data)) {
			return
		}
	}
}

// prediction is the body of POST /v1/predictions: a prediction that ran to
// completion while the request was held.
func (r *reply) prediction(req inferenceRequest, ran time.Duration, done time.Time) []byte {
	input := req.Input
	if len(input) == 0 {
		input = json.RawMessage(`{}`)
	}
	return mustJSON(struct {
		ID          string          `json:"id"`
		Model       string          `json:"model"`
		Version     string          `json:"version,omitempty"`
		Status      string          `json:"status"`
		Input       json.RawMessage `json:"input"`
		Output      string          `json:"output"`
		Error       *string         `json:"error"`
		CreatedAt   string          `json:"created_at"`
		CompletedAt string          `json:"completed_at"`
		Metrics     map[string]any  `json:"metrics"`
	}{
		ID: fmt.Sprintf("p-fake-%d", r.id), Model: r.model, Version: req.Version, Status: "succeeded",
		Input: input, Output: r.text(),
		CreatedAt:   r.created.UTC().Format(time.RFC3339Nano),
		CompletedAt: done.UTC().Format(time.RFC3339Nano),
		Metrics: map[string]any{
			"input_token_count": r.prompt, "output_token_count": r.completion, "predict_time": ran.Seconds(),
		},
	})
}

// sseWriter writes server-sent events one flush each, delay apart.
type sseWriter struct {
	w     http.ResponseWriter
	rc    *http.ResponseController
	delay time.Duration
	done  <-chan struct{}
	n     int
}

// event writes one event; false when the client went away.
func (s *sseWriter) event(name string, data []byte) bool {
	if s.n > 0 && s.delay > 0 {
		t := time.NewTimer(s.delay)
		select {
		case <-t.C:
		case <-s.done:
			t.Stop()
			return false
		}
	}
	s.n++
	var b strings.Builder
	if name != "" {
		b.WriteString("event: ")
		b.WriteString(name)
		b.WriteByte('\n')
	}
	b.WriteString("data: ")
	b.Write(data)
	b.WriteString("\n\n")
	if _, err := s.w.Write([]byte(b.String())); err != nil {
		return false
	}
	return s.rc.Flush() == nil
}
