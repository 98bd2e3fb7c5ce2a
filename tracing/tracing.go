// Package tracing turns every call Headroom sees (proxied requests, tailed
// log lines, probes) into an OpenTelemetry span following the GenAI and HTTP
// client semantic conventions, with the provider's normalised rate-limit
// state under headroom.ratelimit.* (see docs/tracing.md).
//
// Configuration is the standard OTEL_* environment: ConfigFromEnv, and the
// exporter through OpenTelemetry's autoexport (see Config). When
// tracing is off New installs nothing and Provider.Tracer returns nil: the
// proxy's only cost is a nil check. When it is on, spans are exported in
// batches from a bounded queue by a background goroutine: a slow or dead
// collector drops spans (counted in headroom_tracing_spans_dropped_total),
// it never slows a proxied request.
package tracing

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/contrib/exporters/autoexport"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// Options for New.
type Options struct {
	Logger *slog.Logger
	// Version is Headroom's version (service.version, scope version);
	// empty takes it from the binary's build info (BuildVersion).
	Version string
	// Metrics receive the export counters; nil creates a fresh set.
	Metrics *Metrics
	// Exporter, when set, replaces the configured exporters (tests).
	Exporter sdktrace.SpanExporter
}

// Provider owns the SDK pieces. The zero value and nil are "off".
type Provider struct {
	tp      *sdktrace.TracerProvider
	tracer  *Tracer
	metrics *Metrics
}

// New builds the tracer provider cfg asks for. When cfg.Enabled is false it
// returns a Provider whose Tracer is nil and installs nothing.
func New(ctx context.Context, cfg Config, o Options) (*Provider, error) {
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	p := &Provider{metrics: o.Metrics}
	if !cfg.Enabled {
		return p, nil
	}
	if o.Version == "" {
		o.Version = BuildVersion()
	}
	exp := o.Exporter
	if exp == nil {
		var err error
		if exp, err = newExporter(ctx); err != nil {
			return nil, err
		}
	}
	// Defaults first: OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override.
	res, err := resource.New(ctx,
		resource.WithAttributes(attribute.String("service.name", "headroom"), attribute.String("service.version", o.Version)),
		resource.WithTelemetrySDK(),
		resource.WithFromEnv(),
	)
	if err != nil {
		return nil, fmt.Errorf("OTEL_RESOURCE_ATTRIBUTES: %w", err)
	}
	sampler := cfg.Sampler
	if sampler == nil {
		sampler = sdktrace.ParentBased(sdktrace.AlwaysSample())
	}
	tpOpts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res), sdktrace.WithSampler(sampler)}
	bo := batchOptions{queue: cfg.MaxQueueSize, batch: cfg.MaxExportBatchSize, delay: cfg.ScheduleDelay, timeout: cfg.ExportTimeout}
	if bo.queue <= 0 {
		bo.queue = DefaultMaxQueueSize
	}
	if bo.batch <= 0 {
		bo.batch = min(DefaultMaxExportBatchSize, bo.queue)
	}
	if bo.delay <= 0 {
		bo.delay = DefaultScheduleDelay
	}
	if bo.timeout <= 0 {
		bo.timeout = DefaultExportTimeout
	}
	tpOpts = append(tpOpts, sdktrace.WithSpanProcessor(newBatcher(exp, bo, o.Metrics, o.Logger)))
	p.tp = sdktrace.NewTracerProvider(tpOpts...)

	var props []propagation.TextMapPropagator
	for _, name := range cfg.Propagators {
		switch name {
		case "tracecontext":
			props = append(props, propagation.TraceContext{})
		case "baggage":
			props = append(props, propagation.Baggage{})
		}
	}
	p.tracer = NewTracer(p.tp, TracerOptions{
		Propagator:      propagation.NewCompositeTextMapPropagator(props...),
		Semconv:         cfg.Semconv,
		ResponseHeaders: cfg.ResponseHeaders,
		Version:         o.Version,
	})
	installErrorHandler(o.Logger)
	if len(cfg.DeniedHeaders) > 0 {
		o.Logger.Warn(ResponseHeadersEnv+" lists headers that can carry credentials; they are never recorded", "headers", cfg.DeniedHeaders)
	}
	o.Logger.Info("tracing enabled", "exporter", cfg.Exporter, "sampler", cfg.SamplerName,
		"propagators", cfg.Propagators, "gen_ai_latest_only", cfg.Semconv.GenAILatestOnly, "response_headers", cfg.ResponseHeaders)
	return p, nil
}

// newExporter builds the exporter OTEL_TRACES_EXPORTER (default otlp) and
// OTEL_EXPORTER_OTLP_[TRACES_]PROTOCOL (default http/protobuf) name, through
// autoexport. Both OTLP exporters read OTEL_EXPORTER_OTLP_[TRACES_]{ENDPOINT,
// HEADERS,TIMEOUT,COMPRESSION,CERTIFICATE,…} themselves. Neither connects
// here: a collector that is down at start only fails exports.
func newExporter(ctx context.Context) (sdktrace.SpanExporter, error) {
	e, err := autoexport.NewSpanExporter(ctx)
	if err != nil {
		var vars []string
		for _, k := range []string{"OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
			if v, ok := os.LookupEnv(k); ok {
				vars = append(vars, fmt.Sprintf("%s=%q", k, v))
			}
		}
		return nil, fmt.Errorf("%s: %w (exporters: otlp, console, none, one at a time; protocols: grpc, http/protobuf)", strings.Join(vars, " "), err)
	}
	return e, nil
}

var lastSDKError atomic.Int64

// installErrorHandler routes the SDK's internal errors to the log, at most
// one line a minute.
func installErrorHandler(log *slog.Logger) {
	otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
		now := time.Now().UnixNano()
		last := lastSDKError.Load()
		if now-last < int64(time.Minute) || !lastSDKError.CompareAndSwap(last, now) {
			return
		}
		log.Warn("opentelemetry SDK error", "error", err)
	}))
}

// Tracer returns the tracer, or nil when tracing is off.
func (p *Provider) Tracer() *Tracer {
	if p == nil {
		return nil
	}
	return p.tracer
}

// Enabled reports whether spans are being recorded and exported.
func (p *Provider) Enabled() bool { return p != nil && p.tp != nil }

// Metrics returns the export counters.
func (p *Provider) Metrics() *Metrics {
	if p == nil {
		return nil
	}
	return p.metrics
}

// ForceFlush exports every span ended so far, until ctx ends.
func (p *Provider) ForceFlush(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.tp.ForceFlush(ctx)
}

// Shutdown flushes and stops exporting. It returns when ctx ends at the
// latest: spans still queued then are counted as dropped.
func (p *Provider) Shutdown(ctx context.Context) error {
	if !p.Enabled() {
		return nil
	}
	return p.tp.Shutdown(ctx)
}
