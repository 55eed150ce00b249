package api

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

var runStatuses = map[string]bool{store.RunQueued: true, store.RunRunning: true, store.RunWaiting: true, store.RunSucceeded: true, store.RunFailed: true, store.RunCancelled: true}

func (s *Server) listRuns(c *gin.Context) {
	limit, ok := intQuery(c, "limit", 50)
	if !ok {
		return
	}
	if limit < 1 || limit > 200 {
		fail(c, http.StatusBadRequest, "invalid_request", "limit must be between 1 and 200", nil)
		return
	}
	f := engine.RunFilter{FlowID: c.Query("flow_id"), Status: c.Query("status"), FailedNode: c.Query("failed_node"), Cursor: c.Query("cursor"), Limit: limit}
	if f.Status != "" && !runStatuses[f.Status] {
		fail(c, http.StatusBadRequest, "invalid_request", "status must be one of queued, running, waiting, succeeded, failed, cancelled", nil)
		return
	}
	for key, dst := range map[string]*time.Time{"since": &f.Since, "until": &f.Until} {
		if v := c.Query(key); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				fail(c, http.StatusBadRequest, "invalid_request", key+" must be an RFC 3339 time such as 2026-11-24T08:00:00Z", nil)
				return
			}
			*dst = t
		}
	}
	runs, next, err := s.e.ListRuns(c.Request.Context(), f)
	if err != nil {
		s.failErr(c, err)
		return
	}
	names := s.flowNames(c, runs)
	items := make([]runView, len(runs))
	for i := range runs {
		items[i] = toRunView(&runs[i], names[runs[i].FlowID])
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

func (s *Server) flowNames(c *gin.Context, runs []store.Run) map[string]string {
	ids := map[string]bool{}
	for _, r := range runs {
		ids[r.FlowID] = true
	}
	list := make([]string, 0, len(ids))
	for id := range ids {
		list = append(list, id)
	}
	var flows []store.Flow
	s.e.Store.DB.WithContext(c.Request.Context()).Select("id", "name").Where("id IN ?", list).Find(&flows)
	out := map[string]string{}
	for _, f := range flows {
		out[f.ID] = f.Name
	}
	return out
}

// stepViewLimit is the largest step input or output a run view shows inline; a larger one is
// replaced by a marker linking to the step's own view, so a run view stays small however much its
// steps hold (each at most engine.Config.StepOutputLimit).
const stepViewLimit = 16 << 10

func (s *Server) getRun(c *gin.Context) {
	d, err := s.e.GetRun(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	v := runDetailView{runView: toRunView(&d.Run, s.flowNames(c, []store.Run{d.Run})[d.Run.FlowID])}
	v.Steps = make([]stepView, len(d.Steps))
	for i := range d.Steps {
		st := &d.Steps[i]
		v.Steps[i] = toStepView(st)
		href := "/api/v1/runs/" + url.PathEscape(st.RunID) + "/steps/" + url.PathEscape(st.NodeID)
		v.Steps[i].Input = omitLarge(st.Input, href)
		v.Steps[i].Output = omitLarge(st.Output, href)
	}
	v.Event = toEventView(&d.Event)
	v.History = s.runHistory(c, d.Run.ID)
	c.JSON(http.StatusOK, v)
}

// omitLarge is data as raw JSON, or, above stepViewLimit, {"_omitted": true, "size": N, "href": ...}.
func omitLarge(data, href string) any {
	if len(data) <= stepViewLimit {
		return rawJSON(data)
	}
	return gin.H{"_omitted": true, "size": len(data), "href": href}
}

// getRunStep is one step of a run with its full input and output.
func (s *Server) getRunStep(c *gin.Context) {
	var st store.Step
	err := s.e.Store.DB.WithContext(c.Request.Context()).Where("run_id = ? AND node_id = ?", c.Param("id"), c.Param("node_id")).
		Take(&st).Error
	if err != nil {
		s.failErr(c, store.NotFound(err))
		return
	}
	c.JSON(http.StatusOK, toStepView(&st))
}

func toStepView(st *store.Step) stepView {
	return stepView{NodeID: st.NodeID, NodeType: st.NodeType, Status: st.Status, Port: st.Port, Input: rawJSON(st.Input), Output: rawJSON(st.Output),
		Error: st.Error, Attempt: st.Attempt, StartedAt: st.StartedAt, FinishedAt: st.FinishedAt, DurationMs: st.DurationMs}
}

func (s *Server) cancelRun(c *gin.Context) {
	run, err := s.e.CancelRun(c.Request.Context(), c.Param("id"))
	if err != nil && !(errors.Is(err, engine.ErrRunFinished) && run != nil && run.Status == store.RunCancelled) {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{Diff: gin.H{"flow_id": run.FlowID, "status": run.Status}})
	c.JSON(http.StatusOK, toRunView(run, ""))
}

func (s *Server) retryRun(c *gin.Context) {
	var req struct {
		From string `json:"from"`
	}
	if c.Request.ContentLength != 0 && !s.bindJSON(c, &req) {
		return
	}
	if req.From != "" && req.From != "failed" && req.From != "start" {
		fail(c, http.StatusBadRequest, "invalid_request", `from must be "failed" or "start"`, nil)
		return
	}
	id, err := s.e.RetryRun(c.Request.Context(), c.Param("id"), req.From)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			s.failErr(c, err)
			return
		}
		fail(c, http.StatusConflict, "cannot_retry", err.Error(), nil)
		return
	}
	note(c, auth.Entry{ObjectID: id, Diff: gin.H{"from": req.From, "retry_of": c.Param("id")}})
	c.JSON(http.StatusAccepted, gin.H{"run_id": id})
}
