package api

import (
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/node"
)

func (s *Server) nodeTypes(c *gin.Context) {
	type nodeTypeView struct {
		*node.Spec
		Fields       []node.Field   `json:"fields"` // [] rather than null for nodes without settings (logic.merge)
		Ports        []string       `json:"ports"`
		ConfigSchema map[string]any `json:"config_schema"`
		// Webhook marks triggers started by POST /hooks/{flow_id} (the builder shows the URL).
		Webhook bool `json:"webhook,omitempty"`
	}
	specs := node.All()
	out := make([]nodeTypeView, len(specs))
	for i, sp := range specs {
		fields := sp.Fields
		if fields == nil {
			fields = []node.Field{}
		}
		out[i] = nodeTypeView{Spec: sp, Fields: fields, Ports: sp.PortList(), ConfigSchema: sp.ConfigSchema(), Webhook: sp.Receive != nil}
	}
	c.JSON(http.StatusOK, gin.H{"node_types": out})
}

// savedFlowView answers a create or save: the flow, and what stops the saved draft from being
// published (an empty list when nothing does).
func savedFlowView(info *engine.FlowInfo) any {
	problems := info.Problems
	if problems == nil {
		problems = compile.Problems{}
	}
	return struct {
		flowView
		Problems compile.Problems `json:"problems"`
	}{flowInfoView(info), problems}
}

func (s *Server) flowSchema(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", flow.JSONSchema)
}

// readFlow parses a flow document body, answering 400 when it is not one.
func (s *Server) readFlow(c *gin.Context) (*flow.Flow, bool) {
	b, ok := s.readBody(c)
	if !ok || !checkJSONText(c, b) {
		return nil, false
	}
	f, err := flow.Parse(b)
	if err != nil {
		fail(c, http.StatusBadRequest, "invalid_json", err.Error(), nil)
		return nil, false
	}
	return f, true
}

func (s *Server) listFlows(c *gin.Context) {
	limit, offset, ok := page(c)
	if !ok {
		return
	}
	flows, err := s.e.ListFlows(c.Request.Context(), c.Query("q"), limit+1, offset)
	if err != nil {
		s.failErr(c, err)
		return
	}
	next := ""
	if len(flows) > limit {
		flows = flows[:limit]
		next = strconv.Itoa(offset + limit)
	}
	items := make([]flowView, len(flows))
	for i := range flows {
		items[i] = toFlowView(&flows[i].Flow, flows[i].LastRun)
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

func (s *Server) createFlow(c *gin.Context) {
	f, ok := s.readFlow(c)
	if !ok {
		return
	}
	info, err := s.e.CreateFlow(c.Request.Context(), f)
	if err != nil {
		s.failErr(c, err)
		return
	}
	noteFlow(c, info, nil)
	c.JSON(http.StatusCreated, savedFlowView(info))
}

func (s *Server) validateFlow(c *gin.Context) {
	f, ok := s.readFlow(c)
	if !ok {
		return
	}
	c.JSON(http.StatusOK, s.e.Validate(c.Request.Context(), f))
}

func (s *Server) getFlow(c *gin.Context) {
	info, err := s.e.GetFlow(c.Request.Context(), c.Param("id"), 0)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, flowInfoView(info))
}

func (s *Server) saveFlow(c *gin.Context) {
	f, ok := s.readFlow(c)
	if !ok {
		return
	}
	var before *flow.Flow
	if old, err := s.e.GetFlow(c.Request.Context(), c.Param("id"), 0); err == nil {
		before = old.Def
	}
	info, err := s.e.SaveFlow(c.Request.Context(), c.Param("id"), f)
	if err != nil {
		s.failErr(c, err)
		return
	}
	noteFlow(c, info, flowDiff(before, info.Def))
	c.JSON(http.StatusOK, savedFlowView(info))
}

func (s *Server) patchFlow(c *gin.Context) {
	var req struct {
		Enabled *bool `json:"enabled"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Enabled == nil {
		fail(c, http.StatusBadRequest, "invalid_request", "nothing to change: send {\"enabled\": true|false}", nil)
		return
	}
	f, err := s.e.SetEnabled(c.Request.Context(), c.Param("id"), *req.Enabled)
	if err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{ObjectName: f.Name, Diff: gin.H{"enabled": *req.Enabled}})
	c.JSON(http.StatusOK, toFlowView(f, nil))
}

func (s *Server) deleteFlow(c *gin.Context) {
	if err := s.e.DeleteFlow(c.Request.Context(), c.Param("id")); err != nil {
		s.failErr(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

func (s *Server) exportFlow(c *gin.Context) {
	v, ok := intQuery(c, "version", 0)
	if !ok {
		return
	}
	b, err := s.e.ExportFlow(c.Request.Context(), c.Param("id"), v)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="flow-`+c.Param("id")+`.json"`)
	c.Data(http.StatusOK, "application/json", b)
}

func (s *Server) publishFlow(c *gin.Context) {
	var req struct {
		Version int `json:"version"`
	}
	if c.Request.ContentLength != 0 {
		if !s.bindJSON(c, &req) {
			return
		}
	}
	if req.Version < 0 {
		fail(c, http.StatusBadRequest, "invalid_request", "version must be positive", nil)
		return
	}
	prev := 0
	if old, err := s.e.GetFlow(c.Request.Context(), c.Param("id"), 0); err == nil {
		prev = old.Flow.PublishedVersion
	}
	info, err := s.e.PublishFlow(c.Request.Context(), c.Param("id"), req.Version)
	if err != nil {
		s.failErr(c, err)
		return
	}
	e := auth.Entry{ObjectName: info.Flow.Name, Diff: gin.H{"version": info.Version.Version, "previous_version": prev}}
	if prev > info.Version.Version {
		e.Action = "flow.rolled_back"
	}
	note(c, e)
	s.recordCredentialUse(c, info)
	c.JSON(http.StatusOK, flowInfoView(info))
}

func (s *Server) listVersions(c *gin.Context) {
	ctx := c.Request.Context()
	info, err := s.e.GetFlow(ctx, c.Param("id"), 0)
	if err != nil {
		s.failErr(c, err)
		return
	}
	vs, err := s.e.Versions(ctx, c.Param("id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]versionV, len(vs))
	by := s.versionAuthors(c, info.Flow.ID)
	for i := range vs {
		items[i] = toVersionView(&vs[i], &info.Flow)
		items[i].CreatedBy, items[i].PublishedBy = by[vs[i].Version].created, by[vs[i].Version].published
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) getVersion(c *gin.Context) {
	v, err := strconv.Atoi(c.Param("version"))
	if err != nil || v < 1 {
		fail(c, http.StatusBadRequest, "invalid_request", "version must be a positive whole number", nil)
		return
	}
	info, err := s.e.GetFlow(c.Request.Context(), c.Param("id"), v)
	if err != nil {
		s.failErr(c, err)
		return
	}
	vv := toVersionView(&info.Version, &info.Flow)
	vv.Definition = flowJSON(info.Def)
	c.JSON(http.StatusOK, vv)
}

func (s *Server) runFlow(c *gin.Context) {
	var req struct {
		Data    any  `json:"data"`
		DryRun  bool `json:"dry_run"`
		Version int  `json:"version"`
	}
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
		return
	}
	if req.Data == nil {
		req.Data = map[string]any{}
	}
	acc, err := s.e.RunManual(c.Request.Context(), c.Param("id"), req.Version, req.Data, req.DryRun)
	if err != nil {
		s.failErr(c, err)
		return
	}
	// One row per run, so the run's history shows who started it; the event's data stays out (customer data).
	for i, id := range acc.RunIDs {
		e := auth.Entry{ObjectType: "run", ObjectID: id, Diff: gin.H{"flow_id": c.Param("id"), "dry_run": req.DryRun}}
		if i == 0 {
			note(c, e)
		} else {
			e.Action = "run.started_manually"
			s.recordAs(c, e)
		}
	}
	c.JSON(http.StatusAccepted, acc)
}

// page reads limit (1–200, default 50) and an offset cursor.
func page(c *gin.Context) (limit, offset int, ok bool) {
	if limit, ok = intQuery(c, "limit", 50); !ok {
		return
	}
	if limit < 1 || limit > 200 {
		fail(c, http.StatusBadRequest, "invalid_request", "limit must be between 1 and 200", nil)
		return 0, 0, false
	}
	if offset, ok = intQuery(c, "cursor", 0); !ok {
		return
	}
	return limit, offset, true
}

func intQuery(c *gin.Context, key string, def int) (int, bool) {
	s := c.Query(key)
	if s == "" {
		return def, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		fail(c, http.StatusBadRequest, "invalid_request", key+" must be a non-negative whole number", nil)
		return 0, false
	}
	return n, true
}
