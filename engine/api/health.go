package api

import (
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
)

// Health serves only /healthz and /readyz, answering as the API's do, for a process without the
// API (opsflow worker on OPSFLOW_HEALTH_ADDR): container health checks need a port to ask.
func Health(e *engine.Engine, log *slog.Logger) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	if log == nil {
		log = slog.Default()
	}
	s := &Server{e: e, log: log}
	r := gin.New()
	r.GET("/healthz", healthz)
	r.GET("/readyz", s.ready)
	r.NoRoute(func(c *gin.Context) {
		fail(c, http.StatusNotFound, "not_found", "this port serves only /healthz and /readyz", nil)
	})
	return r
}

func healthz(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"status": "ok"}) }
