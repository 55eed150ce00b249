package api

import (
	"encoding/csv"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

func sortPerms(p []auth.Permission) []auth.Permission {
	slices.Sort(p)
	return p
}

func (s *Server) listUsers(c *gin.Context) {
	us, err := s.auth.Users(c.Request.Context())
	if err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]userView, len(us))
	for i := range us {
		items[i] = toUserView(&us[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) createUser(c *gin.Context) {
	var req struct {
		Email    string `json:"email"`
		Name     string `json:"name"`
		Role     string `json:"role"`
		Password string `json:"password"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	u, err := s.auth.CreateUser(c.Request.Context(), req.Email, req.Name, req.Role, req.Password)
	if err != nil {
		s.failAuth(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: u.ID, ObjectName: u.Email, Diff: gin.H{"role": u.Role, "name": u.Name}})
	c.JSON(http.StatusCreated, toUserView(u))
}

func (s *Server) updateUser(c *gin.Context) {
	var req struct {
		Name     *string `json:"name"`
		Role     *string `json:"role"`
		Disabled *bool   `json:"disabled"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Name == nil && req.Role == nil && req.Disabled == nil {
		fail(c, http.StatusBadRequest, "invalid_request", "nothing to change: send name, role or disabled", nil)
		return
	}
	before, after, err := s.auth.UpdateUser(c.Request.Context(), c.Param("id"), auth.UserChange{Name: req.Name, Role: req.Role, Disabled: req.Disabled})
	if err != nil {
		s.failAuth(c, err)
		return
	}
	diff := gin.H{}
	if before.Name != after.Name {
		diff["name"] = []string{before.Name, after.Name}
	}
	if before.Role != after.Role {
		diff["role"] = []string{before.Role, after.Role}
	}
	if before.Disabled != after.Disabled {
		diff["disabled"] = []bool{before.Disabled, after.Disabled}
	}
	e := auth.Entry{ObjectName: after.Email, Diff: diff}
	if before.Role != after.Role {
		e.Action = "user.role_changed"
	}
	note(c, e)
	c.JSON(http.StatusOK, toUserView(after))
}

func (s *Server) resetPassword(c *gin.Context) {
	var req struct {
		Password string `json:"password"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	ctx := c.Request.Context()
	u, err := s.auth.User(ctx, c.Param("id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	if err := s.auth.SetPassword(ctx, u.ID, req.Password); err != nil {
		s.failAuth(c, err)
		return
	}
	note(c, auth.Entry{ObjectName: u.Email, Diff: gin.H{"sessions": "ended", "lock": "cleared"}})
	c.Status(http.StatusNoContent)
}

func (s *Server) listKeys(c *gin.Context) {
	p := who(c)
	userID := ""
	if p.User != nil {
		userID = p.User.ID
	}
	all := auth.Allows(p.Role, auth.ManageUsers) && c.Query("all") != "false"
	list, err := s.auth.Keys(c.Request.Context(), userID, all)
	if err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]keyView, len(list))
	for i := range list {
		items[i] = toKeyView(&list[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

// createKey makes a key for the caller, or with "service": true a service account's key (admins).
// A key's role defaults to, and may not exceed, its owner's role.
func (s *Server) createKey(c *gin.Context) {
	var req struct {
		Name      string     `json:"name"`
		Role      string     `json:"role"`
		Service   bool       `json:"service"`
		ExpiresAt *time.Time `json:"expires_at"`
	}
	if !s.bindJSON(c, &req) {
		return
	}
	p := who(c)
	userID := ""
	switch {
	case req.Service:
		if !auth.Allows(p.Role, auth.ManageUsers) {
			fail(c, http.StatusForbidden, "forbidden", "only admins create service account keys", nil)
			return
		}
	case p.User == nil:
		fail(c, http.StatusBadRequest, "invalid_request", "this caller is no person: create a service key with \"service\": true", nil)
		return
	default:
		userID = p.User.ID
	}
	if req.Role == "" {
		req.Role = p.Role
	}
	if auth.ValidRole(req.Role) && !auth.Covers(p.Role, req.Role) {
		fail(c, http.StatusForbidden, "forbidden", "a key's role cannot exceed yours ("+p.Role+")", nil)
		return
	}
	k, key, err := s.auth.CreateKey(c.Request.Context(), req.Name, req.Role, userID, p.ID, req.ExpiresAt)
	if err != nil {
		s.failAuth(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: k.ID, ObjectName: k.Name, Diff: gin.H{"role": k.Role, "service": userID == "", "expires_at": k.ExpiresAt, "prefix": k.Prefix}})
	v := toKeyView(k)
	v.Key = key
	c.JSON(http.StatusCreated, v)
}

func (s *Server) revokeKey(c *gin.Context) {
	ctx := c.Request.Context()
	p := who(c)
	k, err := s.auth.GetKey(ctx, c.Param("id"))
	own := err == nil && p.User != nil && k.UserID == p.User.ID
	if err != nil || (!own && !auth.Allows(p.Role, auth.ManageUsers)) {
		s.failErr(c, store.ErrNotFound) // someone else's key is not there for you
		return
	}
	if err := s.auth.RevokeKey(ctx, k.ID); err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{ObjectName: k.Name, Diff: gin.H{"prefix": k.Prefix}})
	c.Status(http.StatusNoContent)
}

type auditView struct {
	ID         string    `json:"id"`
	At         time.Time `json:"at"`
	ActorID    string    `json:"actor_id"`
	ActorName  string    `json:"actor_name"`
	ActorKind  string    `json:"actor_kind"`
	IP         string    `json:"ip"`
	Action     string    `json:"action"`
	ObjectType string    `json:"object_type"`
	ObjectID   string    `json:"object_id"`
	ObjectName string    `json:"object_name"`
	Diff       any       `json:"diff"`
}

// listAudit serves GET /audit?actor=&action=&object_type=&object_id=&since=&until=&limit=&cursor=&format=csv.
func (s *Server) listAudit(c *gin.Context) {
	limit, ok := intQuery(c, "limit", 100)
	if !ok {
		return
	}
	csvOut := c.Query("format") == "csv"
	if c.Query("format") != "" && !csvOut && c.Query("format") != "json" {
		fail(c, http.StatusBadRequest, "invalid_request", "format must be json or csv", nil)
		return
	}
	if csvOut && c.Query("limit") == "" {
		limit = 100000
	} else if limit < 1 || (limit > 500 && !csvOut) {
		fail(c, http.StatusBadRequest, "invalid_request", "limit must be between 1 and 500", nil)
		return
	}
	f := auth.AuditFilter{Actor: c.Query("actor"), Action: c.Query("action"), ObjectType: c.Query("object_type"), ObjectID: c.Query("object_id"),
		Cursor: c.Query("cursor"), Limit: limit}
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
	rows, err := s.auth.Audit(c.Request.Context(), f)
	if err != nil {
		s.failErr(c, err)
		return
	}
	if csvOut {
		c.Header("Content-Type", "text/csv; charset=utf-8")
		c.Header("Content-Disposition", `attachment; filename="opsflow-audit.csv"`)
		w := csv.NewWriter(c.Writer)
		w.Write([]string{"id", "at", "actor_id", "actor_name", "actor_kind", "ip", "action", "object_type", "object_id", "object_name", "diff"})
		for _, r := range rows {
			w.Write([]string{r.ID, r.At.UTC().Format(time.RFC3339), r.ActorID, csvSafe(r.ActorName), r.ActorKind, r.IP, r.Action, r.ObjectType, r.ObjectID, csvSafe(r.ObjectName), csvSafe(r.Diff)})
		}
		w.Flush()
		return
	}
	items := make([]auditView, len(rows))
	for i, r := range rows {
		items[i] = auditView{ID: r.ID, At: r.At, ActorID: r.ActorID, ActorName: r.ActorName, ActorKind: r.ActorKind, IP: r.IP, Action: r.Action,
			ObjectType: r.ObjectType, ObjectID: r.ObjectID, ObjectName: r.ObjectName, Diff: rawJSON(r.Diff)}
	}
	next := ""
	if len(rows) == limit {
		next = rows[len(rows)-1].ID
	}
	c.JSON(http.StatusOK, gin.H{"items": items, "next_cursor": next})
}

// csvSafe keeps a spreadsheet from running a cell as a formula (names come from users).
func csvSafe(v string) string {
	if v != "" && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@') {
		return "'" + v
	}
	return v
}
