package tracing

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Metrics are Headroom's own tracing metrics. They exist (at zero) when
// tracing is off, so the metric contract does not depend on configuration.
type Metrics struct {
	Exported prometheus.Counter
	Dropped  *prometheus.CounterVec
}

// Reasons a span is dropped (the reason label).
const (
	DropQueueFull    = "queue_full"
	DropExportFailed = "export_failed"
	DropShutdown     = "shutdown"
)

// NewMetrics creates the collectors; register them with Collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Exported: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "headroom_tracing_spans_exported_total",
			Help: "Spans the trace exporter accepted.",
		}),
		Dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "headroom_tracing_spans_dropped_total",
			Help: "Spans lost before export, by reason: queue_full (the export queue was full: a slow or dead collector), export_failed (the exporter returned an error), shutdown (still queued when the shutdown deadline passed).",
		}, []string{"reason"}),
	}
	for _, r := range []string{DropQueueFull, DropExportFailed, DropShutdown} {
		m.Dropped.WithLabelValues(r)
	}
	return m
}

// Collectors lists the metrics for registration.
func (m *Metrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{m.Exported, m.Dropped}
}

// batcher is a batch span processor that never blocks the span's goroutine:
// OnEnd appends the span to a bounded buffer or, when the buffer is full,
// drops it and counts the drop. One goroutine exports batches with a deadline
// each; it is woken when a batch is full, on its timer, or to flush, not for
// every span. The SDK's BatchSpanProcessor behaves alike but drops silently.
type batcher struct {
	exp      sdktrace.SpanExporter
	maxQueue int
	maxBatch int
	delay    time.Duration
	timeout  time.Duration
	m        *Metrics
	log      *slog.Logger

	dropFull prometheus.Counter
	dropFail prometheus.Counter
	dropShut prometheus.Counter

	mu      sync.Mutex
	buf     []sdktrace.ReadOnlySpan // at most maxQueue spans waiting
	stopped bool

	kick     chan struct{} // a batch is full
	flushc   chan chan struct{}
	stopc    chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	// abandoned is set when Shutdown gave up waiting: whatever the loop
	// still holds is counted as dropped rather than exported late.
	abandoned atomic.Bool
	failing   bool // loop goroutine only
}

type batchOptions struct {
	queue, batch   int
	delay, timeout time.Duration
}

func newBatcher(exp sdktrace.SpanExporter, o batchOptions, m *Metrics, log *slog.Logger) *batcher {
	b := &batcher{
		exp: exp, maxQueue: o.queue, maxBatch: min(o.batch, o.queue), delay: o.delay, timeout: o.timeout, m: m, log: log,
		dropFull: m.Dropped.WithLabelValues(DropQueueFull),
		dropFail: m.Dropped.WithLabelValues(DropExportFailed),
		dropShut: m.Dropped.WithLabelValues(DropShutdown),
		buf:      make([]sdktrace.ReadOnlySpan, 0, o.queue),
		kick:     make(chan struct{}, 1),
		flushc:   make(chan chan struct{}),
		stopc:    make(chan struct{}),
		done:     make(chan struct{}),
	}
	go b.loop()
	return b
}

func (b *batcher) OnStart(context.Context, sdktrace.ReadWriteSpan) {}

func (b *batcher) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return
	}
	b.mu.Lock()
	switch {
	case b.stopped:
		b.mu.Unlock()
		b.dropShut.Inc()
		return
	case len(b.buf) >= b.maxQueue:
		b.mu.Unlock()
		b.dropFull.Inc()
		return
	}
	b.buf = append(b.buf, s)
	full := len(b.buf) == b.maxBatch
	b.mu.Unlock()
	if full {
		select {
		case b.kick <- struct{}{}:
		default:
		}
	}
}

// take swaps the waiting spans out for the loop's empty spare slice.
func (b *batcher) take(spare []sdktrace.ReadOnlySpan) []sdktrace.ReadOnlySpan {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := b.buf
	b.buf = spare[:0]
	return out
}

func (b *batcher) loop() {
	defer close(b.done)
	spare := make([]sdktrace.ReadOnlySpan, 0, b.maxQueue)
	timer := time.NewTimer(b.delay)
	defer timer.Stop()
	// exportAll exports what is waiting, in batches of maxBatch.
	exportAll := func() {
		spans := b.take(spare)
		for i := 0; i < len(spans); i += b.maxBatch {
			b.export(spans[i:min(i+b.maxBatch, len(spans))])
		}
		clear(spans) // let the spans be collected
		spare = spans[:0]
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(b.delay)
	}
	for {
		select {
		case <-b.kick:
			exportAll()
		case <-timer.C:
			exportAll()
		case ack := <-b.flushc:
			exportAll()
			close(ack)
		case <-b.stopc:
			b.mu.Lock()
			b.stopped = true
			b.mu.Unlock()
			exportAll()
			return
		}
	}
}

func (b *batcher) export(batch []sdktrace.ReadOnlySpan) {
	if b.abandoned.Load() {
		b.dropShut.Add(float64(len(batch)))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	err := b.exp.ExportSpans(ctx, batch)
	if err != nil {
		b.dropFail.Add(float64(len(batch)))
		if !b.failing {
			// Once per outage: the error names the endpoint, never headers.
			b.log.Warn("trace export failed; spans are dropped (counted in headroom_tracing_spans_dropped_total) until the collector answers", "spans", len(batch), "error", err)
			b.failing = true
		}
		return
	}
	b.m.Exported.Add(float64(len(batch)))
	if b.failing {
		b.log.Info("trace export recovered")
		b.failing = false
	}
}

// ForceFlush exports everything ended so far, waiting until ctx ends.
func (b *batcher) ForceFlush(ctx context.Context) error {
	ack := make(chan struct{})
	select {
	case b.flushc <- ack:
	case <-b.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-ack:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Shutdown exports what is waiting and closes the exporter, giving up when
// ctx ends; spans not exported by then are counted as dropped.
func (b *batcher) Shutdown(ctx context.Context) error {
	b.stopOnce.Do(func() { close(b.stopc) })
	select {
	case <-b.done:
	case <-ctx.Done():
		// The loop is stuck in an export: what it still holds is dropped
		// (and counted) once that export returns; the exporter is closed
		// in the background, never waited for.
		b.abandoned.Store(true)
		b.mu.Lock()
		b.stopped = true
		n := len(b.buf)
		b.buf = b.buf[:0]
		b.mu.Unlock()
		b.dropShut.Add(float64(n))
		go func() {
			sctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			b.exp.Shutdown(sctx) //nolint:errcheck // best effort
		}()
		return ctx.Err()
	}
	return b.exp.Shutdown(ctx)
}
