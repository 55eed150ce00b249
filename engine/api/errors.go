package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/store"
)

// ErrorBody is every error response: {"error":{"code","message","details"}}.
type ErrorBody struct {
	Error ErrorInfo `json:"error"`
}

// ErrorInfo describes one error.
type ErrorInfo struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
}

// retryAfter is the Retry-After (seconds) of a 503: long enough for a database restart to be noticed.
const retryAfter = "5"

func fail(c *gin.Context, status int, code, message string, details any) {
	c.AbortWithStatusJSON(status, ErrorBody{ErrorInfo{Code: code, Message: message, Details: details}})
}

// failErr maps engine errors to HTTP answers; anything unexpected is a 500 whose detail goes to the log only.
func (s *Server) failErr(c *gin.Context, err error) {
	var invalid *engine.InvalidFlowError
	var hookErr *engine.WebhookError
	var tooBig *http.MaxBytesError
	var importErr *engine.ImportError
	var credErr *engine.CredentialError
	var replayErr *engine.ReplayInputError
	switch {
	case errors.As(err, &replayErr):
		fail(c, http.StatusBadRequest, "invalid_replay", replayErr.Error(), nil)
	case errors.As(err, &credErr):
		fail(c, http.StatusBadRequest, "invalid_credential", credErr.Error(), nil)
	case errors.As(err, &importErr):
		fail(c, http.StatusBadRequest, "invalid_import", importErr.Error(), nil)
	case errors.As(err, &invalid):
		fail(c, http.StatusUnprocessableEntity, "invalid_flow", invalid.Error(), gin.H{"problems": invalid.Problems})
	case errors.As(err, &hookErr):
		fail(c, hookErr.Status, hookErr.Code, hookErr.Message, nil)
	case errors.As(err, &tooBig):
		fail(c, http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the request body is larger than %d bytes", tooBig.Limit), nil)
	case errors.Is(err, store.ErrNotFound):
		fail(c, http.StatusNotFound, "not_found", "not found", nil)
	case errors.Is(err, engine.ErrFlowNotPublished):
		fail(c, http.StatusConflict, "not_published", err.Error(), nil)
	case errors.Is(err, engine.ErrFlowDisabled):
		fail(c, http.StatusConflict, "flow_disabled", err.Error(), nil)
	case errors.Is(err, engine.ErrWrongTrigger):
		fail(c, http.StatusConflict, "wrong_trigger", err.Error(), nil)
	case errors.Is(err, engine.ErrRunFinished):
		fail(c, http.StatusConflict, "run_finished", err.Error(), nil)
	case store.IsUniqueViolation(err):
		fail(c, http.StatusConflict, "conflict", "a record with that name already exists", nil)
	case store.IsBadValue(err):
		// A value the checks above let through (too long for its column, say); the detail is logged.
		s.log.Warn("database refused a value", "method", c.Request.Method, "path", c.FullPath(), "error", err)
		fail(c, http.StatusBadRequest, "invalid_value", "a value in the request cannot be stored (too long, or not text)", nil)
	case store.IsUnavailable(err):
		s.log.Error("database unavailable", "method", c.Request.Method, "path", c.FullPath(), "error", err)
		c.Header("Retry-After", retryAfter)
		fail(c, http.StatusServiceUnavailable, "unavailable", "the database is unavailable; retry later", nil)
	default:
		s.log.Error("request failed", "method", c.Request.Method, "path", c.FullPath(), "error", err)
		fail(c, http.StatusInternalServerError, "internal", "internal error; see the server log", nil)
	}
}

// readBody reads the whole (size-limited) body.
func (s *Server) readBody(c *gin.Context) ([]byte, bool) {
	b, err := io.ReadAll(c.Request.Body)
	if err != nil {
		s.failErr(c, err)
		return nil, false
	}
	return b, true
}

// bindJSON decodes a JSON body strictly into v, answering 400 with a precise message on failure.
func (s *Server) bindJSON(c *gin.Context, v any) bool {
	b, ok := s.readBody(c)
	if !ok {
		return false
	}
	if !checkJSONText(c, b) {
		return false
	}
	trimmed := strings.TrimSpace(string(b))
	if len(trimmed) == 0 {
		fail(c, http.StatusBadRequest, "invalid_json", "the request body is empty; a JSON object is expected", nil)
		return false
	}
	if trimmed[0] != '{' {
		fail(c, http.StatusBadRequest, "invalid_json", "a JSON object is expected", nil)
		return false
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		fail(c, http.StatusBadRequest, "invalid_json", "malformed JSON: "+jsonError(err), nil)
		return false
	}
	if dec.More() {
		fail(c, http.StatusBadRequest, "invalid_json", "malformed JSON: unexpected data after the object", nil)
		return false
	}
	return true
}

func jsonError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%v (at byte %d)", syn, syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("field %q must be %s, not %s", typ.Field, typ.Type, typ.Value)
	}
	return err.Error()
}
