// Package api serves the REST API under /api/v1 and the embedded builder at /.
package api

import (
	"context"
	"io/fs"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/template"
)

// DefaultMaxBody bounds request bodies (events, webhooks, flows).
const DefaultMaxBody = 1 << 20

// Server is the HTTP front of an Engine.
type Server struct {
	e         *engine.Engine
	log       *slog.Logger
	maxBody   int64
	ui        fs.FS
	templates []*template.Template
	tokens    []string
	auth      *auth.Service
}

// Options configure the HTTP server; zero values are sensible defaults.
type Options struct {
	// MaxBody bounds request bodies in bytes; 0 means 1 MiB.
	MaxBody int64
	// UI is the built builder (index.html at its root); nil serves no UI.
	UI fs.FS
	// Templates is the gallery served at /templates.
	Templates []*template.Template
	// Tokens are static service keys with the admin role (OPSFLOW_API_TOKENS), sent as
	// "Authorization: Bearer <token>". Without them the API needs a user's session or API key:
	// it is never open (only webhooks, health checks, the API's description, login and setup are).
	Tokens []string
	// Auth sets session timeouts and login limits; zero values are the defaults.
	Auth   auth.Config
	Logger *slog.Logger
}

// New builds the HTTP handler.
func New(e *engine.Engine, opt Options) http.Handler {
	gin.SetMode(gin.ReleaseMode)
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	s := &Server{e: e, log: opt.Logger, maxBody: opt.MaxBody, ui: opt.UI, templates: opt.Templates, tokens: opt.Tokens,
		auth: auth.New(e.Store.DB, opt.Auth)}
	r := gin.New()
	// The client address is the connection's: X-Forwarded-For could be forged to dodge the login rate limit.
	if err := r.SetTrustedProxies(nil); err != nil {
		panic(err)
	}
	r.HandleMethodNotAllowed = true
	// authorize checks every route against the one table in perms.go.
	r.Use(observe, s.recover, s.limitBody, s.accessLog, checkParams, s.authorize)
	r.NoMethod(func(c *gin.Context) {
		fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "method not allowed", nil)
	})
	r.NoRoute(s.noRoute)

	r.GET("/healthz", healthz)
	r.GET("/readyz", s.ready)
	open := r.Group("/api/v1")
	open.GET("/healthz", healthz)
	open.GET("/readyz", s.ready)
	open.GET("/openapi.json", s.openAPI)
	open.GET("/schema/flow.json", s.flowSchema)
	open.POST("/hooks/:flow_id", s.webhook)
	open.PUT("/hooks/:flow_id", s.webhook)

	open.GET("/setup", s.setupStatus)
	open.POST("/setup", s.setup)
	open.POST("/auth/login", s.login)

	v1 := r.Group("/api/v1")
	v1.GET("/auth/me", s.me)
	v1.POST("/auth/logout", s.logout)
	v1.POST("/auth/password", s.changePassword)
	v1.GET("/auth/sessions", s.listSessions)
	v1.DELETE("/auth/sessions/:id", s.revokeSession)
	v1.GET("/keys", s.listKeys)
	v1.POST("/keys", s.createKey)
	v1.DELETE("/keys/:id", s.revokeKey)
	v1.GET("/users", s.listUsers)
	v1.POST("/users", s.createUser)
	v1.PATCH("/users/:id", s.updateUser)
	v1.POST("/users/:id/password", s.resetPassword)
	v1.GET("/audit", s.listAudit)

	v1.GET("/node-types", s.nodeTypes)
	v1.GET("/status", s.status)
	v1.GET("/stats", s.stats)

	v1.GET("/flows", s.listFlows)
	v1.POST("/flows", s.createFlow)
	v1.POST("/flows/validate", s.validateFlow)
	v1.GET("/flows/:id", s.getFlow)
	v1.PUT("/flows/:id", s.saveFlow)
	v1.PATCH("/flows/:id", s.patchFlow)
	v1.DELETE("/flows/:id", s.deleteFlow)
	v1.GET("/flows/:id/export", s.exportFlow)
	v1.POST("/flows/:id/publish", s.publishFlow)
	v1.GET("/flows/:id/versions", s.listVersions)
	v1.GET("/flows/:id/versions/:version", s.getVersion)
	v1.POST("/flows/:id/run", s.runFlow)
	s.replayRoutes(v1)
	v1.POST("/flows/:id/nodes/:node_id/test", s.testNode)

	v1.POST("/events", s.postEvent)
	v1.GET("/events", s.listEvents)

	v1.GET("/runs", s.listRuns)
	v1.GET("/runs/:id", s.getRun)
	v1.GET("/runs/:id/steps/:node_id", s.getRunStep)
	v1.POST("/runs/:id/cancel", s.cancelRun)
	v1.POST("/runs/:id/retry", s.retryRun)

	v1.GET("/teams", s.listTeams)
	v1.POST("/teams", s.createTeam)
	v1.GET("/teams/:id", s.getTeam)
	v1.PUT("/teams/:id", s.updateTeam)
	v1.DELETE("/teams/:id", s.deleteTeam)
	v1.GET("/teams/:id/members", s.listMembers)
	v1.POST("/teams/:id/members", s.createMember)
	v1.PUT("/members/:id", s.updateMember)
	v1.DELETE("/members/:id", s.deleteMember)
	v1.GET("/assignments", s.listAssignments)
	v1.POST("/assignments/:id/done", s.completeAssignment)

	v1.GET("/templates", s.listTemplates)
	v1.GET("/templates/:id", s.getTemplate)
	v1.POST("/templates/import", s.importTemplate)
	v1.GET("/flows/:id/template", s.exportTemplate)

	v1.GET("/credential-types", s.credentialTypes)
	v1.GET("/credentials", s.listCredentials)
	v1.POST("/credentials", s.createCredential)
	v1.PUT("/credentials/:id", s.updateCredential)
	v1.DELETE("/credentials/:id", s.deleteCredential)
	return r
}

// ready checks this process's own dependencies (database, queue), not whether workers are alive:
// an API-only process is ready to accept events without them. The driver's error names users,
// databases and addresses, so it goes to the log; the answer only says which part is down.
func (s *Server) ready(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 3*time.Second)
	defer cancel()
	if err := s.e.Ready(ctx); err != nil {
		s.log.Error("not ready", "error", err)
		part, _, _ := strings.Cut(err.Error(), ":") // Ready names the part first: "database: …", "queue: …"
		if part != "database" && part != "queue" {
			part = "a dependency"
		}
		c.Header("Retry-After", retryAfter)
		fail(c, http.StatusServiceUnavailable, "not_ready", "not ready: "+part+" is unavailable; see the server log", nil)
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

// status reports live workers and the queued backlog; "no_workers" when runs wait for nobody.
func (s *Server) status(c *gin.Context) {
	st, err := s.e.Status(c.Request.Context())
	if err != nil {
		s.failErr(c, err)
		return
	}
	summary := "ok"
	if st.Workers == 0 {
		summary = "no_workers"
	}
	c.JSON(http.StatusOK, gin.H{"status": summary, "workers": st.Workers, "queued_runs": st.QueuedRuns, "oldest_queued_seconds": st.OldestQueuedSeconds})
}

// recover turns a panic into a JSON 500 instead of a dropped connection.
func (s *Server) recover(c *gin.Context) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error("panic in handler", "path", c.Request.URL.Path, "panic", r)
			fail(c, http.StatusInternalServerError, "internal", "internal error; see the server log", nil)
		}
	}()
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.maxBody {
		fail(c, http.StatusRequestEntityTooLarge, "body_too_large", "the request body is larger than the limit", gin.H{"limit_bytes": s.maxBody})
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.maxBody)
	c.Next()
}

// accessLog logs method, path and status; never bodies, queries or headers, which may hold secrets.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	if strings.HasPrefix(c.Request.URL.Path, "/api/") {
		s.log.Debug("http", "method", c.Request.Method, "path", c.FullPath(), "status", c.Writer.Status(), "ms", time.Since(start).Milliseconds())
	}
}

// noRoute serves the builder: files from the UI, and index.html for any other non-API path so
// the SPA's own routes work on reload.
func (s *Server) noRoute(c *gin.Context) {
	p := c.Request.URL.Path
	if strings.HasPrefix(p, "/api/") || s.ui == nil || (c.Request.Method != http.MethodGet && c.Request.Method != http.MethodHead) {
		fail(c, http.StatusNotFound, "not_found", "no such endpoint: "+c.Request.Method+" "+p, nil)
		return
	}
	if p == "/metrics" { // not the builder's page either: metrics have their own listener
		fail(c, http.StatusNotFound, "not_found", "metrics are served on their own listener (OPSFLOW_METRICS_ADDR), not on the API port", nil)
		return
	}
	name := strings.TrimPrefix(p, "/")
	if st, err := fs.Stat(s.ui, name); name == "" || err != nil || st.IsDir() {
		name = "index.html"
	}
	s.serveUIFile(c, name)
}
