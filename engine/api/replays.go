package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

// Replays: run recorded events through a flow version without side effects (engine/replay.go).

func (s *Server) replayRoutes(v1 *gin.RouterGroup) {
	v1.POST("/flows/:id/replay", s.startReplay)
	v1.GET("/flows/:id/replays", s.listReplays)
	v1.GET("/replays/:id", s.getReplay)
	v1.GET("/replays/:id/results", s.replayResults)
	v1.POST("/replays/:id/cancel", s.cancelReplay)
}

type replayView struct {
	ID          string                 `json:"id"`
	FlowID      string                 `json:"flow_id"`
	Version     int                    `json:"version"`
	Draft       bool                   `json:"draft"`
	Status      string                 `json:"status"`
	Selection   json.RawMessage        `json:"selection"`
	Total       int                    `json:"total"`
	Done        int                    `json:"done"`
	Failing     int                    `json:"failing"`
	Summary     []engine.ReplayOutcome `json:"summary"`
	SummaryText string                 `json:"summary_text"`
	Error       string                 `json:"error,omitempty"`
	CreatedBy   string                 `json:"created_by,omitempty"`
	CreatedAt   time.Time              `json:"created_at"`
	FinishedAt  *time.Time             `json:"finished_at,omitempty"`
}

// replayView shows a replay; the summary of one still running (or cancelled) is of the events so far.
func (s *Server) replayView(c *gin.Context, r *store.Replay) (*replayView, error) {
	v := &replayView{ID: r.ID, FlowID: r.FlowID, Version: r.FlowVersion, Draft: r.Draft, Status: r.Status, Selection: json.RawMessage(r.Selection),
		Total: r.Total, Done: r.Done, Failing: r.Failing, Error: r.Error, CreatedBy: r.CreatedBy, CreatedAt: r.CreatedAt, FinishedAt: r.FinishedAt}
	if r.Summary != "" {
		if err := json.Unmarshal([]byte(r.Summary), &v.Summary); err != nil {
			return nil, err
		}
	} else {
		summary, failing, err := s.e.ReplaySummary(c.Request.Context(), r.ID)
		if err != nil {
			return nil, err
		}
		v.Summary, v.Failing = summary, failing
	}
	v.SummaryText = engine.SummaryLine(v.Summary)
	return v, nil
}

func (s *Server) startReplay(c *gin.Context) {
	var req struct {
		Version  json.RawMessage `json:"version"`
		Last     int             `json:"last"`
		Since    string          `json:"since"`
		Until    string          `json:"until"`
		EventIDs []string        `json:"event_ids"`
	}
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
		return
	}
	version := 0 // the draft
	if len(req.Version) > 0 && string(req.Version) != `"draft"` && string(req.Version) != "null" {
		n, err := strconv.Atoi(string(req.Version))
		if err != nil || n < 1 {
			fail(c, http.StatusBadRequest, "invalid_request", `version must be a version number or "draft"`, nil)
			return
		}
		version = n
	}
	sel := engine.ReplaySelection{Last: req.Last, EventIDs: req.EventIDs}
	for _, b := range []struct {
		text string
		dst  **time.Time
	}{{req.Since, &sel.Since}, {req.Until, &sel.Until}} {
		if b.text == "" {
			continue
		}
		t, err := engine.ParseReplayTime(b.text)
		if err != nil {
			s.failErr(c, err)
			return
		}
		*b.dst = &t
	}
	r, err := s.e.CreateReplay(c.Request.Context(), c.Param("id"), version, sel, s.actor(c).Name)
	if err != nil {
		s.failErr(c, err)
		return
	}
	if err := s.e.EnqueueReplay(c.Request.Context(), r.ID); err != nil {
		// The job is stored: the embedded queue picks it up again on start; say it failed now.
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{Diff: gin.H{"replay_id": r.ID, "version": r.FlowVersion, "draft": r.Draft, "events": r.Total}})
	v, err := s.replayView(c, r)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusAccepted, v)
}

func (s *Server) listReplays(c *gin.Context) {
	limit, ok := intQuery(c, "limit", 20)
	if !ok {
		return
	}
	if limit < 1 || limit > 200 {
		fail(c, http.StatusBadRequest, "invalid_request", "limit must be between 1 and 200", nil)
		return
	}
	if _, err := s.e.GetFlow(c.Request.Context(), c.Param("id"), 0); err != nil {
		s.failErr(c, err)
		return
	}
	rs, err := s.e.ListReplays(c.Request.Context(), c.Param("id"), limit)
	if err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]*replayView, 0, len(rs))
	for i := range rs {
		v, err := s.replayView(c, &rs[i])
		if err != nil {
			s.failErr(c, err)
			return
		}
		items = append(items, v)
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) getReplay(c *gin.Context) {
	r, err := s.e.GetReplay(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	v, err := s.replayView(c, r)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}

type replayResultView struct {
	EventID string `json:"event_id"`
	RunID   string `json:"run_id,omitempty"`
	Outcome string `json:"outcome"`
	Failing bool   `json:"failing"`
	engine.ReplayDetail
}

// replayResults pages through the per-event comparisons (cursor is an offset).
func (s *Server) replayResults(c *gin.Context) {
	limit, offset, ok := page(c)
	if !ok {
		return
	}
	if _, err := s.e.GetReplay(c.Request.Context(), c.Param("id")); err != nil {
		s.failErr(c, err)
		return
	}
	rows, err := s.e.ReplayResults(c.Request.Context(), c.Param("id"), c.Query("outcome"), limit, offset)
	if err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]replayResultView, 0, len(rows))
	for _, r := range rows {
		v := replayResultView{EventID: r.EventID, RunID: r.RunID, Outcome: r.Outcome, Failing: r.Failing}
		if err := json.Unmarshal([]byte(r.Detail), &v.ReplayDetail); err != nil {
			s.failErr(c, err)
			return
		}
		items = append(items, v)
	}
	out := gin.H{"items": items}
	if len(rows) == limit {
		out["next_cursor"] = strconv.Itoa(offset + limit)
	}
	c.JSON(http.StatusOK, out)
}

func (s *Server) cancelReplay(c *gin.Context) {
	r, err := s.e.CancelReplay(c.Request.Context(), c.Param("id"))
	if errors.Is(err, engine.ErrReplayFinished) {
		fail(c, http.StatusConflict, "replay_finished", err.Error(), gin.H{"status": r.Status})
		return
	}
	if err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{Diff: gin.H{"flow_id": r.FlowID, "done": r.Done, "total": r.Total}})
	v, err := s.replayView(c, r)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, v)
}
