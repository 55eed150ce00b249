package api

import (
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/store"
)

type teamRequest struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

func (s *Server) readTeam(c *gin.Context) (*teamRequest, bool) {
	var req teamRequest
	if !s.bindJSON(c, &req) {
		return nil, false
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 200 {
		fail(c, http.StatusBadRequest, "invalid_request", "name is required (at most 200 characters)", nil)
		return nil, false
	}
	return &req, true
}

func (s *Server) teamView(c *gin.Context, t *store.Team) (teamView, error) {
	var members []store.Member
	err := s.e.Store.DB.WithContext(c.Request.Context()).Where("team_id = ?", t.ID).Order("created_at, id").Find(&members).Error
	v := teamView{ID: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt, Members: make([]memberView, len(members))}
	for i := range members {
		v.Members[i] = toMemberView(&members[i])
	}
	return v, err
}

func (s *Server) listTeams(c *gin.Context) {
	var teams []store.Team
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Order("name").Find(&teams).Error; err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]teamView, len(teams))
	for i := range teams {
		v, err := s.teamView(c, &teams[i])
		if err != nil {
			s.failErr(c, err)
			return
		}
		items[i] = v
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) createTeam(c *gin.Context) {
	req, ok := s.readTeam(c)
	if !ok {
		return
	}
	now := time.Now().UTC()
	t := store.Team{ID: store.NewID(), Name: req.Name, Description: req.Description, CreatedAt: now, UpdatedAt: now}
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Create(&t).Error; err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: t.ID, ObjectName: t.Name})
	v, _ := s.teamView(c, &t)
	c.JSON(http.StatusCreated, v)
}

func (s *Server) loadTeam(c *gin.Context) (*store.Team, bool) {
	var t store.Team
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Where("id = ?", c.Param("id")).Take(&t).Error; err != nil {
		s.failErr(c, store.NotFound(err))
		return nil, false
	}
	return &t, true
}

// loadTeamView answers for the team named by the path, with its members.
func (s *Server) loadTeamView(c *gin.Context) (teamView, bool) {
	t, ok := s.loadTeam(c)
	if !ok {
		return teamView{}, false
	}
	v, err := s.teamView(c, t)
	if err != nil {
		s.failErr(c, err)
		return teamView{}, false
	}
	return v, true
}

func (s *Server) getTeam(c *gin.Context) {
	if v, ok := s.loadTeamView(c); ok {
		c.JSON(http.StatusOK, v)
	}
}

func (s *Server) updateTeam(c *gin.Context) {
	t, ok := s.loadTeam(c)
	if !ok {
		return
	}
	req, ok := s.readTeam(c)
	if !ok {
		return
	}
	t.Name, t.Description, t.UpdatedAt = req.Name, req.Description, time.Now().UTC()
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Save(t).Error; err != nil {
		s.failErr(c, err)
		return
	}
	v, _ := s.teamView(c, t)
	c.JSON(http.StatusOK, v)
}

func (s *Server) deleteTeam(c *gin.Context) {
	err := s.e.Store.DB.WithContext(c.Request.Context()).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", c.Param("id")).Delete(&store.Team{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return tx.Where("team_id = ?", c.Param("id")).Delete(&store.Member{}).Error
	})
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

type memberRequest struct {
	Name   string `json:"name"`
	Email  string `json:"email"`
	Phone  string `json:"phone"`
	Active *bool  `json:"active"`
}

func (s *Server) readMember(c *gin.Context) (*memberRequest, bool) {
	var req memberRequest
	if !s.bindJSON(c, &req) {
		return nil, false
	}
	req.Name, req.Email, req.Phone = strings.TrimSpace(req.Name), strings.TrimSpace(req.Email), strings.TrimSpace(req.Phone)
	var problems []string
	if req.Name == "" || len(req.Name) > 200 {
		problems = append(problems, "name is required (at most 200 characters)")
	}
	if req.Email != "" && (!strings.Contains(req.Email, "@") || len(req.Email) > 320) {
		problems = append(problems, "email is not an email address")
	}
	if req.Phone != "" && !e164Phone(req.Phone) {
		problems = append(problems, "phone must be in E.164 form such as +14155550100")
	}
	if len(problems) > 0 {
		fail(c, http.StatusBadRequest, "invalid_request", strings.Join(problems, "; "), nil)
		return nil, false
	}
	return &req, true
}

func e164Phone(p string) bool {
	if len(p) < 8 || len(p) > 16 || p[0] != '+' || p[1] == '0' {
		return false
	}
	for _, r := range p[1:] {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func (s *Server) listMembers(c *gin.Context) {
	if v, ok := s.loadTeamView(c); ok {
		c.JSON(http.StatusOK, gin.H{"items": v.Members})
	}
}

func (s *Server) createMember(c *gin.Context) {
	t, ok := s.loadTeam(c)
	if !ok {
		return
	}
	req, ok := s.readMember(c)
	if !ok {
		return
	}
	now := time.Now().UTC()
	m := store.Member{ID: store.NewID(), TeamID: t.ID, Name: req.Name, Email: req.Email, Phone: req.Phone, Active: req.Active == nil || *req.Active, CreatedAt: now, UpdatedAt: now}
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Create(&m).Error; err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{ObjectType: "member", ObjectID: m.ID, ObjectName: m.Name, Diff: gin.H{"team_id": m.TeamID}})
	c.JSON(http.StatusCreated, toMemberView(&m))
}

func (s *Server) updateMember(c *gin.Context) {
	var m store.Member
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Where("id = ?", c.Param("id")).Take(&m).Error; err != nil {
		s.failErr(c, store.NotFound(err))
		return
	}
	req, ok := s.readMember(c)
	if !ok {
		return
	}
	m.Name, m.Email, m.Phone, m.UpdatedAt = req.Name, req.Email, req.Phone, time.Now().UTC()
	if req.Active != nil {
		m.Active = *req.Active
	}
	if err := s.e.Store.DB.WithContext(c.Request.Context()).Save(&m).Error; err != nil {
		s.failErr(c, err)
		return
	}
	c.JSON(http.StatusOK, toMemberView(&m))
}

func (s *Server) deleteMember(c *gin.Context) { s.deleteByID(c, &store.Member{}) }

// deleteByID deletes the record of model's table named by the path's id: 204, or 404.
func (s *Server) deleteByID(c *gin.Context, model any) {
	res := s.e.Store.DB.WithContext(c.Request.Context()).Where("id = ?", c.Param("id")).Delete(model)
	if res.Error != nil {
		s.failErr(c, res.Error)
		return
	}
	if res.RowsAffected == 0 {
		s.failErr(c, store.ErrNotFound)
		return
	}
	c.Status(http.StatusNoContent)
}

type assignmentView struct {
	ID        string     `json:"id"`
	RunID     string     `json:"run_id"`
	NodeID    string     `json:"node_id"`
	TeamID    string     `json:"team_id"`
	MemberID  string     `json:"member_id"`
	Subject   string     `json:"subject"`
	Reason    string     `json:"reason"`
	Status    string     `json:"status"`
	DueAt     *time.Time `json:"due_at"`
	CreatedAt time.Time  `json:"created_at"`
	DoneAt    *time.Time `json:"done_at"`
}

func toAssignmentView(a *store.Assignment) assignmentView {
	return assignmentView{ID: a.ID, RunID: a.RunID, NodeID: a.NodeID, TeamID: a.TeamID, MemberID: a.MemberID, Subject: a.Subject,
		Reason: a.Reason, Status: a.Status, DueAt: a.DueAt, CreatedAt: a.CreatedAt, DoneAt: a.DoneAt}
}

func (s *Server) listAssignments(c *gin.Context) {
	limit, offset, ok := page(c)
	if !ok {
		return
	}
	q := s.e.Store.DB.WithContext(c.Request.Context()).Order("id desc").Limit(limit).Offset(offset)
	for _, k := range []string{"status", "team_id", "member_id", "run_id"} {
		if v := c.Query(k); v != "" {
			q = q.Where(k+" = ?", v)
		}
	}
	var list []store.Assignment
	if err := q.Find(&list).Error; err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]assignmentView, len(list))
	for i := range list {
		items[i] = toAssignmentView(&list[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) completeAssignment(c *gin.Context) {
	db := s.e.Store.DB.WithContext(c.Request.Context())
	now := time.Now().UTC()
	if err := db.Model(&store.Assignment{}).Where("id = ? AND status = ?", c.Param("id"), "open").Updates(map[string]any{"status": "done", "done_at": now}).Error; err != nil {
		s.failErr(c, err)
		return
	}
	var a store.Assignment
	if err := db.Where("id = ?", c.Param("id")).Take(&a).Error; err != nil {
		s.failErr(c, store.NotFound(err))
		return
	}
	c.JSON(http.StatusOK, toAssignmentView(&a))
}
