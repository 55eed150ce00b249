package api

import (
	"encoding/json"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/template"
)

func (s *Server) listTemplates(c *gin.Context) {
	items := s.templates
	if items == nil {
		items = []*template.Template{}
	}
	if cat := c.Query("category"); cat != "" {
		filtered := []*template.Template{}
		for _, t := range items {
			if t.Category == cat {
				filtered = append(filtered, t)
			}
		}
		items = filtered
	}
	c.JSON(http.StatusOK, gin.H{"items": items})
}

func (s *Server) findTemplate(id string) *template.Template {
	for _, t := range s.templates {
		if t.ID == id {
			return t
		}
	}
	return nil
}

func (s *Server) getTemplate(c *gin.Context) {
	t := s.findTemplate(c.Param("id"))
	if t == nil {
		fail(c, http.StatusNotFound, "not_found", "no template "+c.Param("id"), nil)
		return
	}
	c.JSON(http.StatusOK, t)
}

func (s *Server) importTemplate(c *gin.Context) {
	var req struct {
		TemplateID string          `json:"template_id"`
		Template   json.RawMessage `json:"template"`
		template.Choices
	}
	if !s.bindJSON(c, &req) {
		return
	}
	var t *template.Template
	switch {
	case req.TemplateID != "" && len(req.Template) > 0:
		fail(c, http.StatusBadRequest, "invalid_request", "send template_id (from the gallery) or template (a template document), not both", nil)
		return
	case req.TemplateID != "":
		if t = s.findTemplate(req.TemplateID); t == nil {
			fail(c, http.StatusNotFound, "not_found", "no template "+req.TemplateID, nil)
			return
		}
	case len(req.Template) > 0:
		var err error
		if t, err = template.Parse(req.Template); err != nil {
			fail(c, http.StatusBadRequest, "invalid_template", err.Error(), nil)
			return
		}
	default:
		fail(c, http.StatusBadRequest, "invalid_request", "template_id or template is required", nil)
		return
	}
	info, err := s.e.ImportTemplate(c.Request.Context(), t, req.Choices)
	if err != nil {
		s.failErr(c, err)
		return
	}
	noteFlow(c, info, gin.H{"template": t.ID})
	c.JSON(http.StatusCreated, flowInfoView(info))
}

func (s *Server) exportTemplate(c *gin.Context) {
	v, ok := intQuery(c, "version", 0)
	if !ok {
		return
	}
	t, err := s.e.ExportTemplate(c.Request.Context(), c.Param("id"), v)
	if err != nil {
		s.failErr(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="template-`+c.Param("id")+`.json"`)
	c.JSON(http.StatusOK, t)
}
