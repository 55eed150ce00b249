package api

import (
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

func (s *Server) listCredentials(c *gin.Context) {
	list, err := s.e.ListCredentials(c.Request.Context())
	if err != nil {
		s.failErr(c, err)
		return
	}
	items := make([]credentialView, len(list))
	for i := range list {
		items[i] = toCredentialView(&list[i])
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

type credentialRequest struct {
	Name string            `json:"name"`
	Type string            `json:"type"`
	Data map[string]string `json:"data"`
}

func (s *Server) createCredential(c *gin.Context) {
	var req credentialRequest
	if !s.bindJSON(c, &req) {
		return
	}
	req.Name, req.Type = strings.TrimSpace(req.Name), strings.TrimSpace(req.Type)
	if req.Name == "" || req.Type == "" || len(req.Data) == 0 {
		fail(c, http.StatusBadRequest, "invalid_request", "name, type and data (an object of strings) are required", nil)
		return
	}
	cred, err := s.e.CreateCredential(c.Request.Context(), req.Name, req.Type, req.Data)
	if err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: cred.ID, ObjectName: cred.Name, Diff: gin.H{"type": cred.Type, "fields": fieldNames(req.Data)}})
	c.JSON(http.StatusCreated, toCredentialView(cred))
}

func (s *Server) updateCredential(c *gin.Context) {
	var req credentialRequest
	if !s.bindJSON(c, &req) {
		return
	}
	if req.Type != "" {
		fail(c, http.StatusBadRequest, "invalid_request", "a credential's type cannot change; create a new one", nil)
		return
	}
	var old store.Credential
	s.e.Store.DB.WithContext(c.Request.Context()).Select("name").Where("id = ?", c.Param("id")).Take(&old)
	cred, err := s.e.UpdateCredential(c.Request.Context(), c.Param("id"), strings.TrimSpace(req.Name), req.Data)
	if err != nil {
		s.failErr(c, err)
		return
	}
	diff := gin.H{"fields_changed": fieldNames(req.Data)} // names only: values are secrets
	if old.Name != cred.Name {
		diff["name"] = []string{old.Name, cred.Name}
	}
	note(c, auth.Entry{ObjectName: cred.Name, Diff: diff})
	c.JSON(http.StatusOK, toCredentialView(cred))
}

func (s *Server) deleteCredential(c *gin.Context) {
	old, err := s.e.DeleteCredential(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failErr(c, err)
		return
	}
	note(c, auth.Entry{ObjectID: old.ID, ObjectName: old.Name, Diff: gin.H{"type": old.Type}})
	c.Status(http.StatusNoContent)
}

func (s *Server) credentialTypes(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"credential_types": node.CredentialTypes()})
}
