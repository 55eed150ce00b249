package telemetry

import (
	"context"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// tracer is nil while tracing is off: every function below then returns at once, so tracing
// costs nothing unless OTEL_EXPORTER_OTLP_ENDPOINT is set.
var tracer atomic.Pointer[trace.Tracer]

// propagator reads and writes W3C traceparent headers.
var propagator = propagation.TraceContext{}

// TracingConfigured reports whether the environment asks for traces (an OTLP endpoint is set).
func TracingConfigured() bool {
	return os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") != "" || os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") != ""
}

// SetupTracing starts exporting traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT (or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) is set; the SDK reads the other standard OTEL_* variables
// (headers, sampler, service name, resource attributes, batching). Otherwise it does nothing.
// shutdown flushes the spans not yet sent and turns tracing off again.
func SetupTracing(ctx context.Context) (shutdown func(context.Context) error, err error) {
	if !TracingConfigured() {
		return func(context.Context) error { return nil }, nil
	}
	exp, err := otlptracehttp.New(ctx)
	if err != nil {
		return nil, err
	}
	// OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES override the default name.
	res, err := resource.New(ctx, resource.WithAttributes(attribute.String("service.name", "opsflow")),
		resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithHost())
	if err != nil {
		return nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp), sdktrace.WithResource(res))
	t := tp.Tracer("github.com/opsflow/opsflow")
	tracer.Store(&t)
	return func(ctx context.Context) error {
		tracer.Store(nil)
		return tp.Shutdown(ctx)
	}, nil
}

func start(ctx context.Context, name string, kind trace.SpanKind, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := tracer.Load()
	if t == nil {
		return ctx, nil
	}
	return (*t).Start(ctx, name, trace.WithSpanKind(kind), trace.WithAttributes(attrs...))
}

// StartServer starts the span of an API request, continuing the caller's trace if its request
// carries a traceparent header. end records the status code.
func StartServer(r *http.Request, route string) (ctx context.Context, end func(status int)) {
	if tracer.Load() == nil {
		return r.Context(), func(int) {}
	}
	ctx = propagator.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	if route == "" {
		route = "other"
	}
	ctx, span := start(ctx, r.Method+" "+route, trace.SpanKindServer,
		attribute.String("http.request.method", r.Method), attribute.String("http.route", route))
	return ctx, func(status int) {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
		if status >= 500 {
			span.SetStatus(codes.Error, http.StatusText(status))
		}
		span.End()
	}
}

// Traceparent is the W3C traceparent of the span in ctx, stored with an accepted event so the
// worker continues the same trace across the queue; "" when there is none (tracing off).
func Traceparent(ctx context.Context) string {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return ""
	}
	carrier := propagation.MapCarrier{}
	propagator.Inject(ctx, carrier)
	return carrier.Get("traceparent")
}

// StartRun starts the span of one execution of a run (a run parked on a wait has one per
// segment), a child of the request that accepted its event when traceparent is set. Call end
// when the execution stops.
func StartRun(ctx context.Context, runID, flowID, traceparent string) (context.Context, func()) {
	if tracer.Load() == nil {
		return ctx, func() {}
	}
	if traceparent != "" {
		ctx = propagator.Extract(ctx, propagation.MapCarrier{"traceparent": traceparent})
	}
	ctx, span := start(ctx, "run "+flowID, trace.SpanKindConsumer,
		attribute.String("opsflow.run_id", runID), attribute.String("opsflow.flow_id", flowID))
	return ctx, func() { span.End() }
}

// RunEnded counts a run that ended (see RunFinished) and marks the run span in ctx with its final
// status, an error status when it failed.
func RunEnded(ctx context.Context, flowID, status, message string, accepted time.Time) {
	RunFinished(flowID, status, accepted)
	span := trace.SpanFromContext(ctx)
	if !span.IsRecording() {
		return
	}
	span.SetAttributes(attribute.String("opsflow.run_status", status))
	if status == "failed" {
		span.SetStatus(codes.Error, message)
	}
}

// StartStep starts the span of one attempt of a step; end records its duration in
// opsflow_step_duration_seconds and, on error, the span's error status.
func StartStep(ctx context.Context, nodeID, nodeType string) (context.Context, func(err error)) {
	began := time.Now()
	ctx, span := start(ctx, "step "+nodeID, trace.SpanKindInternal,
		attribute.String("opsflow.node_id", nodeID), attribute.String("opsflow.node_type", nodeType))
	return ctx, func(err error) {
		result := "ok"
		if err != nil {
			result = "error"
		}
		stepDuration.WithLabelValues(nodeType, result).Observe(time.Since(began).Seconds())
		if span == nil {
			return
		}
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		span.End()
	}
}

// WithTrace adds the trace id of the span in ctx to log, so a run's log lines can be found from
// its trace and the other way round.
func WithTrace(ctx context.Context, log *slog.Logger) *slog.Logger {
	if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
		return log.With("trace_id", sc.TraceID().String())
	}
	return log
}

// Transport wraps the outbound HTTP transport: it counts requests by host and status and, when
// tracing, makes a client span and sends its traceparent, so a CRM's or payment provider's own
// traces join the run's.
func Transport(next http.RoundTripper) http.RoundTripper { return transport{next} }

type transport struct{ next http.RoundTripper }

// Unwrap is the wrapped transport (netguard.Dialer finds the guarded dialer through it).
func (t transport) Unwrap() http.RoundTripper { return t.next }

func (t transport) RoundTrip(r *http.Request) (*http.Response, error) {
	began := time.Now()
	host := r.URL.Host
	ctx, span := start(r.Context(), "HTTP "+r.Method, trace.SpanKindClient,
		attribute.String("http.request.method", r.Method), attribute.String("server.address", r.URL.Hostname()))
	if span != nil {
		defer span.End()
		r = r.Clone(ctx) // a RoundTripper must not change the caller's request
		propagator.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	resp, err := t.next.RoundTrip(r)
	outboundDuration.WithLabelValues(host).Observe(time.Since(began).Seconds())
	if err != nil {
		outboundRequests.WithLabelValues(host, "error").Inc()
		if span != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return nil, err
	}
	outboundRequests.WithLabelValues(host, strconv.Itoa(resp.StatusCode)).Inc()
	if span != nil {
		span.SetAttributes(attribute.Int("http.response.status_code", resp.StatusCode))
		if resp.StatusCode >= 500 {
			span.SetStatus(codes.Error, resp.Status)
		}
	}
	return resp, nil
}
