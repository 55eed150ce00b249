package api

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// stats is the dashboard: runs per hour by status, per-flow success rates and duration
// percentiles, and the nodes that failed most, over the last 24 hours or 7 days.
func (s *Server) stats(c *gin.Context) {
	window := c.DefaultQuery("window", "24h")
	if window != "24h" && window != "7d" {
		fail(c, http.StatusBadRequest, "invalid_request", "window must be 24h or 7d", nil)
		return
	}
	st, err := s.e.Stats(c.Request.Context(), window, c.Query("flow_id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, st)
}
