package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// Without OTEL_EXPORTER_OTLP_ENDPOINT nothing is traced: a caller's traceparent is not taken up,
// nothing is stored with the event and no header goes out, while outbound requests are still counted.
func TestTracingOffAddsNothing(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	shutdown, err := SetupTracing(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t.Context())
	in := httptest.NewRequest(http.MethodPost, "/api/v1/events", nil)
	in.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	ctx, end := StartServer(in, "/api/v1/events")
	defer end(http.StatusAccepted)
	if tp := Traceparent(ctx); tp != "" {
		t.Errorf("traceparent stored with tracing off: %q", tp)
	}
	ctx, endRun := StartRun(ctx, "run-1", "flow-1", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	defer endRun()
	ctx, endStep := StartStep(ctx, "call", "action.http")
	defer endStep(nil)

	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("traceparent"))
	}))
	defer srv.Close()
	client := &http.Client{Transport: Transport(http.DefaultTransport)}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(got) != 1 || got[0] != "" {
		t.Errorf("outbound traceparent with tracing off: %q", got)
	}
}
