package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

func (s *Server) postEvent(c *gin.Context) {
	var req struct {
		Type           string `json:"type"`
		Data           any    `json:"data"`
		IdempotencyKey string `json:"idempotency_key"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	req.Type = strings.TrimSpace(req.Type)
	var problems []string
	if req.Type == "" || len(req.Type) > 200 || strings.ContainsAny(req.Type, " *") {
		problems = append(problems, "type is required: up to 200 characters, no spaces or *")
	}
	if len(req.IdempotencyKey) > 255 {
		problems = append(problems, "idempotency_key is at most 255 characters")
	}
	if req.IdempotencyKey == "" {
		req.IdempotencyKey = c.GetHeader("Idempotency-Key")
	}
	if len(problems) > 0 {
		fail(c, http.StatusBadRequest, "invalid_event", strings.Join(problems, "; "), nil)
		return
	}
	if req.Data == nil {
		req.Data = map[string]any{}
	}
	acc, err := s.e.AcceptEvent(c.Request.Context(), req.Type, req.Data, req.IdempotencyKey)
	if err != nil {
		s.failErr(c, err)
		return
	}
	replyAccepted(c, acc)
}

func (s *Server) webhook(c *gin.Context) {
	body, ok := s.readBody(c)
	if !ok {
		return
	}
	w := &node.Webhook{Method: c.Request.Method, Headers: c.Request.Header.Clone(), Query: c.Request.URL.Query(), Body: body, Received: time.Now()}
	acc, err := s.e.AcceptWebhook(c.Request.Context(), c.Param("flow_id"), w)
	if err != nil {
		s.failErr(c, err)
		return
	}
	if acc.RespondWithin > 0 && len(acc.RunIDs) == 1 {
		resp, err := s.e.WaitResponse(c.Request.Context(), acc.RunIDs[0], acc.RespondWithin)
		switch {
		case err == nil:
			for k, v := range resp.Headers {
				c.Header(k, v)
			}
			if str, ok := resp.Body.(string); ok {
				c.String(resp.Status, str)
			} else {
				c.JSON(resp.Status, resp.Body)
			}
			return
		case errors.Is(err, engine.ErrFailedBeforeReply):
			fail(c, http.StatusBadGateway, "flow_failed", "the flow failed before it responded; see run "+acc.RunIDs[0], gin.H{"event_id": acc.EventID, "run_ids": acc.RunIDs})
			return
		}
		// No answer in time: the event is safely accepted all the same.
	}
	replyAccepted(c, acc)
}

func (s *Server) listEvents(c *gin.Context) {
	limit, offset, ok := page(c)
	if !ok {
		return
	}
	q := s.e.Store.DB.WithContext(c.Request.Context()).Omit("raw_body", "raw_bytes").Order("id desc").Limit(limit).Offset(offset)
	if id := c.Query("flow_id"); id != "" {
		// Events that reached the flow: its webhook/manual events, or API events that started a run of it.
		sub := s.e.Store.DB.Model(&store.Run{}).Select("event_id").Where("flow_id = ?", id)
		q = q.Where("flow_id = ? OR id IN (?)", id, sub)
	}
	if t := c.Query("type"); t != "" {
		q = q.Where("type = ?", t)
	}
	var evs []store.Event
	if err := q.Find(&evs).Error; err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]*eventView, len(evs))
	for i := range evs {
		items[i] = toEventView(&evs[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// replyAccepted answers 202 for a new event, 200 (same body) for a repeat of one already accepted.
func replyAccepted(c *gin.Context, acc *engine.Accepted) {
	status := http.StatusAccepted
	if acc.Duplicate {
		status = http.StatusOK
	}
	c.JSON(status, acc)
}
