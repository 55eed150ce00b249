package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/telemetry"
)

// startTracing exports traces over OTLP/HTTP when OTEL_EXPORTER_OTLP_ENDPOINT is set (the SDK
// reads the other OTEL_* variables); stop flushes the spans not yet sent.
func startTracing(log *slog.Logger) (stop func(), err error) {
	shutdown, err := telemetry.SetupTracing(context.Background())
	if err != nil {
		return nil, err
	}
	if telemetry.TracingConfigured() {
		log.Info("exporting traces over OTLP/HTTP")
	}
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := shutdown(ctx); err != nil {
			log.Warn("flushing traces", "error", err)
		}
	}, nil
}

// listenMetrics serves /metrics on OPSFLOW_METRICS_ADDR (off when empty), never on the API's
// port, asking for OPSFLOW_METRICS_TOKEN when it is set.
func listenMetrics(s *settings, e *engine.Engine, log *slog.Logger) (closeMetrics func(), err error) {
	if s.metricsAddr == "" {
		return func() {}, nil
	}
	m, err := telemetry.ListenMetrics(s.metricsAddr, s.metricsToken, e.MetricsCollectors()...)
	if err != nil {
		return nil, err
	}
	log.Info("metrics listening", "addr", m.Addr(), "path", "/metrics", "token", s.metricsToken != "")
	return func() { m.Close() }, nil
}
