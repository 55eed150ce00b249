package api

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/telemetry"
)

// observe counts every request by its route template (gin's FullPath, never the raw path) and,
// when tracing, makes its server span: an event accepted within it carries the span's trace to
// the run it starts.
func observe(c *gin.Context) {
	began := time.Now()
	ctx, end := telemetry.StartServer(c.Request, c.FullPath())
	if ctx != c.Request.Context() {
		c.Request = c.Request.WithContext(ctx)
	}
	c.Next()
	status := c.Writer.Status()
	end(status)
	telemetry.HTTPRequest(c.Request.Method, c.FullPath(), status, time.Since(began))
}
