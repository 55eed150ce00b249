package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/store"
)

// What the audit log says about flows: which version, and which nodes changed. Flow documents
// hold no secrets (credentials are referenced by name), so node ids and names are safe.

func noteFlow(c *gin.Context, info *engine.FlowInfo, diff gin.H) {
	if diff == nil {
		diff = gin.H{}
	}
	diff["version"] = info.Version.Version
	note(c, auth.Entry{ObjectID: info.Flow.ID, ObjectName: info.Flow.Name, Diff: diff})
}

// flowDiff names the nodes added, removed and changed between two definitions.
func flowDiff(before, after *flow.Flow) gin.H {
	d := gin.H{}
	if before == nil || after == nil {
		return d
	}
	if before.Name != after.Name {
		d["name"] = []string{before.Name, after.Name}
	}
	old := map[string]flow.Node{}
	for _, n := range before.Nodes {
		old[n.ID] = n
	}
	var added, changed, removed []string
	for _, n := range after.Nodes {
		o, ok := old[n.ID]
		switch {
		case !ok:
			added = append(added, n.ID)
		case o.Type != n.Type || o.Name != n.Name || !reflect.DeepEqual(o.Config, n.Config):
			changed = append(changed, n.ID)
		}
		delete(old, n.ID)
	}
	for id := range old {
		removed = append(removed, id)
	}
	slices.Sort(removed)
	for k, v := range map[string][]string{"nodes_added": added, "nodes_changed": changed, "nodes_removed": removed} {
		if len(v) > 0 {
			d[k] = v
		}
	}
	if !reflect.DeepEqual(before.Edges, after.Edges) {
		d["edges_changed"] = true
	}
	return d
}

// credentialRefs lists the credentials a flow's nodes name (a "credential" config field).
func credentialRefs(f *flow.Flow) []string {
	var out []string
	if f == nil {
		return nil
	}
	for _, n := range f.Nodes {
		if ref, ok := n.Config["credential"].(string); ok && ref != "" && !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// recordCredentialUse writes one credential.used_by_flow row per credential a published flow uses.
func (s *Server) recordCredentialUse(c *gin.Context, info *engine.FlowInfo) {
	for _, ref := range credentialRefs(info.Def) {
		var cred store.Credential
		if err := s.e.Store.DB.WithContext(c.Request.Context()).Select("id", "name").Scopes(store.ByRef(ref)).Take(&cred).Error; err != nil {
			continue
		}
		e := auth.Entry{Action: "credential.used_by_flow", ObjectType: "credential", ObjectID: cred.ID, ObjectName: cred.Name,
			Diff: gin.H{"flow_id": info.Flow.ID, "flow": info.Flow.Name, "version": info.Version.Version}}
		s.recordAs(c, e)
	}
}

// recordAs writes an audit row for the caller now (for actions with more than one row).
func (s *Server) recordAs(c *gin.Context, e auth.Entry) {
	if err := s.auth.Record(c.Request.Context(), s.actor(c), e); err != nil {
		s.log.Error("audit log write failed", "action", e.Action, "error", err)
	}
}

// fieldNames lists a credential's submitted fields, never their values.
func fieldNames(data map[string]string) []string {
	out := make([]string, 0, len(data))
	for k := range data {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

type historyItem struct {
	Action string    `json:"action"`
	Actor  string    `json:"actor"`
	At     time.Time `json:"at"`
}

// runHistory lists who started, retried or cancelled a run, oldest first.
func (s *Server) runHistory(c *gin.Context, runID string) []historyItem {
	rows, err := s.auth.Audit(c.Request.Context(), auth.AuditFilter{ObjectType: "run", ObjectID: runID, Limit: 100})
	if err != nil {
		s.log.Error("reading the audit log", "error", err)
	}
	out := make([]historyItem, 0, len(rows))
	for i := len(rows) - 1; i >= 0; i-- {
		out = append(out, historyItem{Action: rows[i].Action, Actor: rows[i].ActorName, At: rows[i].At})
	}
	return out
}

type authors struct{ created, published string }

// versionAuthors maps each version of a flow to who saved it and who last published it.
func (s *Server) versionAuthors(c *gin.Context, flowID string) map[int]authors {
	rows, err := s.auth.Audit(c.Request.Context(), auth.AuditFilter{ObjectType: "flow", ObjectID: flowID, Limit: 10000})
	if err != nil {
		s.log.Error("reading the audit log", "error", err)
	}
	out := map[int]authors{}
	for i := len(rows) - 1; i >= 0; i-- { // oldest first: the last publish wins
		var d struct {
			Version int `json:"version"`
		}
		if json.Unmarshal([]byte(rows[i].Diff), &d) != nil || d.Version == 0 {
			continue
		}
		a := out[d.Version]
		switch rows[i].Action {
		case "flow.created", "flow.changed", "template.imported":
			if a.created == "" {
				a.created = rows[i].ActorName
			}
		case "flow.published", "flow.rolled_back":
			a.published = rows[i].ActorName
		}
		out[d.Version] = a
	}
	return out
}
