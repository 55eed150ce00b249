package main

import (
	"context"
	"errors"
	"log/slog"
	"os"
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
// port, asking for OPSFLOW_METRICS_TOKEN (from the environment only) when it is set.
func listenMetrics(s *settings, e *engine.Engine, log *slog.Logger) (closeMetrics func(), err error) {
	if s.metricsAddr == "" {
		return func() {}, nil
	}
	token := os.Getenv("OPSFLOW_METRICS_TOKEN")
	if token != "" && len(token) < 16 {
		return nil, errors.New("OPSFLOW_METRICS_TOKEN must be at least 16 characters (generate one with: openssl rand -hex 24)")
	}
	m, err := telemetry.ListenMetrics(s.metricsAddr, token, e.MetricsCollectors()...)
	if err != nil {
		return nil, err
	}
	log.Info("metrics listening", "addr", m.Addr(), "path", "/metrics", "token", token != "")
	return func() { m.Close() }, nil
}
