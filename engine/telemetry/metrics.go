// Package telemetry owns opsflow's Prometheus metrics and OpenTelemetry traces. Other packages
// call the small functions here (one line at each place something happens); this package keeps
// the registry (its own, not Prometheus's global default), the tracer provider and the /metrics
// listener.
//
// Labels are bounded: flow ids, node types, statuses, hosts and route templates, never run or
// event ids or raw paths.
package telemetry

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Registry holds every metric of the process: opsflow's own, the Go runtime's and the process's.
// Scrape-time collectors of an engine (queue depth, outbox backlog) are added per listener, see
// ListenMetrics.
var Registry = prometheus.NewRegistry()

// Buckets for durations from a few milliseconds (a condition) to minutes (a slow provider).
var durationBuckets = []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300}

var (
	runsStarted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_runs_started_total", Help: "Runs a worker started executing (first claim), by flow.",
	}, []string{"flow_id"})
	runsFinished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_runs_finished_total", Help: "Runs that ended, by flow and final status (succeeded, failed, cancelled).",
	}, []string{"flow_id", "status"})
	runLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "opsflow_run_latency_seconds", Help: "From the event that started a run being accepted to the run ending, by flow.",
		Buckets: []float64{.05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400},
	}, []string{"flow_id"})
	stepDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "opsflow_step_duration_seconds", Help: "Duration of one attempt of a step, by node type and result (ok, error).",
		Buckets: durationBuckets,
	}, []string{"node_type", "result"})
	eventsAccepted = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_events_accepted_total", Help: "Events accepted (new, not repeats), by source (api, webhook, manual, schedule, ...).",
	}, []string{"source"})
	dedupHits = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_dedup_hits_total", Help: "Events recognised as repeats (idempotency key or webhook redelivery) that started nothing, by source.",
	}, []string{"source"})
	webhookVerifications = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_webhook_verifications_total", Help: "Webhook deliveries checked by their trigger, by flow and result (ok or the rejection code, e.g. invalid_signature).",
	}, []string{"flow_id", "result"})
	outboundRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_outbound_requests_total", Help: "Outbound HTTP requests of flows, by host and status code (error: no response).",
	}, []string{"host", "status"})
	outboundDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "opsflow_outbound_request_duration_seconds", Help: "Outbound HTTP request duration until the response headers, by host.",
		Buckets: durationBuckets,
	}, []string{"host"})
	httpRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "opsflow_http_requests_total", Help: "API requests served, by method, route template and status code.",
	}, []string{"method", "route", "status"})
	httpDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "opsflow_http_request_duration_seconds", Help: "API request duration, by method and route template.",
		Buckets: durationBuckets,
	}, []string{"method", "route"})
)

func init() {
	Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		runsStarted, runsFinished, runLatency, stepDuration, eventsAccepted, dedupHits, webhookVerifications,
		outboundRequests, outboundDuration, httpRequests, httpDuration)
}

// RunStarted counts a run a worker claims for the first time.
func RunStarted(flowID string) { runsStarted.WithLabelValues(flowID).Inc() }

// RunFinished counts a run that ended with status; accepted is when its event was accepted.
func RunFinished(flowID, status string, accepted time.Time) {
	runsFinished.WithLabelValues(flowID, status).Inc()
	if !accepted.IsZero() {
		runLatency.WithLabelValues(flowID).Observe(time.Since(accepted).Seconds())
	}
}

// EventAccepted counts an accepted event, or a repeat that started nothing.
func EventAccepted(source string, duplicate bool) {
	if duplicate {
		dedupHits.WithLabelValues(source).Inc()
		return
	}
	eventsAccepted.WithLabelValues(source).Inc()
}

// WebhookVerified counts a webhook delivery checked by its trigger: result is "ok" or the
// rejection's code.
func WebhookVerified(flowID, result string) {
	webhookVerifications.WithLabelValues(flowID, result).Inc()
}

// HTTPRequest counts an API request; route is the route template ("" when no route matched).
func HTTPRequest(method, route string, status int, took time.Duration) {
	if route == "" {
		route = "other" // the builder's files and unknown paths: never the raw path
	}
	switch method {
	case "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS":
	default:
		method = "OTHER" // a client picks the method: keep the label set bounded
	}
	httpRequests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	httpDuration.WithLabelValues(method, route).Observe(took.Seconds())
}
