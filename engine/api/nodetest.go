package api

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
)

// testNode runs one node of a flow on pinned input (a recent run's event and upstream outputs,
// or JSON in the body) as a dry run: nothing is stored or sent.
func (s *Server) testNode(c *gin.Context) {
	var req struct {
		Version int    `json:"version"`
		RunID   string `json:"run_id"`
		Input   *struct {
			Event map[string]any `json:"event"`
			Nodes map[string]any `json:"nodes"`
		} `json:"input"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Version < 0 {
		fail(c, http.StatusBadRequest, "invalid_request", "version must be a positive whole number (or 0 for the draft)", nil)
		return
	}
	if (req.RunID == "") == (req.Input == nil) {
		fail(c, http.StatusBadRequest, "invalid_request", "give either run_id (a run whose data to use) or input ({event, nodes})", nil)
		return
	}
	t := engine.NodeTest{Version: req.Version, RunID: req.RunID}
	if req.Input != nil {
		t.Event, t.Nodes = req.Input.Event, req.Input.Nodes
	}
	res, err := s.e.TestNode(c.Request.Context(), c.Param("id"), c.Param("node_id"), t)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, res)
}
