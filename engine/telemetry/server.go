package telemetry

import (
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// MetricsHandler serves the Registry plus scrape-time collectors at /metrics. With a token, a
// scrape must send "Authorization: Bearer <token>".
func MetricsHandler(token string, scraped ...prometheus.Collector) (http.Handler, error) {
	extra := prometheus.NewRegistry()
	for _, c := range scraped {
		if err := extra.Register(c); err != nil {
			return nil, err
		}
	}
	metrics := promhttp.HandlerFor(prometheus.Gatherers{Registry, extra}, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
	want := []byte("Bearer " + token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			jsonError(w, http.StatusNotFound, "not_found", "this listener serves only /metrics")
			return
		}
		if token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="metrics"`)
			jsonError(w, http.StatusUnauthorized, "unauthorized", "metrics need Authorization: Bearer <OPSFLOW_METRICS_TOKEN>")
			return
		}
		metrics.ServeHTTP(w, r)
	}), nil
}

func jsonError(w http.ResponseWriter, status int, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	fmt.Fprintf(w, `{"error":{"code":%q,"message":%q}}`, code, message)
}

// MetricsServer is the /metrics listener, apart from the API's port.
type MetricsServer struct {
	srv *http.Server
	ln  net.Listener
}

// ListenMetrics serves /metrics on addr (OPSFLOW_METRICS_ADDR) until Close.
func ListenMetrics(addr, token string, scraped ...prometheus.Collector) (*MetricsServer, error) {
	h, err := MetricsHandler(token, scraped...)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: cannot listen on %s: %w", addr, err)
	}
	m := &MetricsServer{srv: &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}, ln: ln}
	go m.srv.Serve(ln) // returns ErrServerClosed on Close
	return m, nil
}

// Addr is the address the listener is bound to (useful with port 0).
func (m *MetricsServer) Addr() string { return m.ln.Addr().String() }

// Close stops the listener.
func (m *MetricsServer) Close() error { return m.srv.Close() }
