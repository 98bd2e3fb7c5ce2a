package tail

import (
	"context"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/headroomhq/headroom/config"
	"github.com/headroomhq/headroom/tracing"
)

// Each tailed line becomes a span with the logged start time and duration,
// the rate-limit attributes and, for 429s, the rate_limited event.
func TestLinesBecomeSpans(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	t.Cleanup(func() { tp.Shutdown(context.Background()) })
	e := newEnv(t, "")
	tl, err := NewTailer(tailCfg(config.FormatNginx, "nginx.log"), TailerOptions{Collector: e.coll, Router: e.router,
		Metrics: e.metrics, Logger: quiet(), Now: func() time.Time { return e.now },
		Tracer: tracing.NewTracer(tp, tracing.TracerOptions{})})
	if err != nil {
		t.Fatal(err)
	}
	feed(t, tl, "testdata/nginx.jsonl")
	spans := rec.Ended()
	if len(spans) != 11 {
		t.Fatalf("%d spans for 11 lines", len(spans))
	}
	// The second line (see TestNginxFixture): ends at 1795458933.442 after
	// request_time 0.564.
	s := spans[1]
	wantEnd := time.UnixMilli(1795458933442)
	if !s.EndTime().Equal(wantEnd) || !s.StartTime().Equal(wantEnd.Add(-564*time.Millisecond)) {
		t.Errorf("span %s: %v → %v, want %v → %v", s.Name(), s.StartTime(), s.EndTime(), wantEnd.Add(-564*time.Millisecond), wantEnd)
	}
	attrs := map[string]string{}
	for _, kv := range s.Attributes() {
		attrs[string(kv.Key)] = kv.Value.Emit()
	}
	for k, v := range map[string]string{
		"headroom.source":                          "tail",
		"headroom.provider":                        "heroku-us",
		"gen_ai.request.model":                     "claude-4-sonnet",
		"headroom.ratelimit.requests.1m.limit":     "150",
		"headroom.ratelimit.requests.1m.remaining": "148",
		"http.response.status_code":                "200",
	} {
		if attrs[k] != v {
			t.Errorf("%s = %q, want %q (all: %v)", k, attrs[k], v, attrs)
		}
	}
	throttled := 0
	for _, s := range spans {
		for _, ev := range s.Events() {
			if ev.Name == "rate_limited" {
				throttled++
			}
		}
	}
	if throttled != 2 {
		t.Errorf("%d rate_limited events, want 2 (the predictions 429s)", throttled)
	}
}
