package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// maxParamLen bounds a path id or query value; ids are 36 characters, names at most a few hundred.
const maxParamLen = 1000

// checkParams rejects path ids and query parameters that no record can match and that Postgres
// refuses to compare (NUL bytes, invalid UTF-8), with one 400 for every route.
func checkParams(c *gin.Context) {
	for _, p := range c.Params {
		if msg := badText(p.Value); msg != "" {
			fail(c, http.StatusBadRequest, "invalid_request", "path parameter "+p.Key+" "+msg, nil)
			return
		}
	}
	for k, vs := range c.Request.URL.Query() {
		for _, v := range append([]string{k}, vs...) {
			if msg := badText(v); msg != "" {
				fail(c, http.StatusBadRequest, "invalid_request", "query parameter "+strings.ToValidUTF8(k, "?")+" "+msg, nil)
				return
			}
		}
	}
	c.Next()
}

// badText says what is wrong with a parameter value, or "".
func badText(s string) string {
	switch {
	case !utf8.ValidString(s):
		return "is not valid UTF-8"
	case strings.ContainsRune(s, 0):
		return "contains a NUL byte"
	case len(s) > maxParamLen:
		return "is too long"
	}
	return ""
}

// checkJSONText answers 400 when a JSON body is not UTF-8 or any of its strings (keys included)
// holds a NUL character: Postgres text cannot store either, and silently changing them would
// store something the client did not send.
func checkJSONText(c *gin.Context, b []byte) bool {
	if !utf8.Valid(b) {
		fail(c, http.StatusBadRequest, "invalid_json", "the request body is not valid UTF-8", nil)
		return false
	}
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return true
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	for {
		tok, err := dec.Token()
		if err != nil {
			return true // the end, or malformed JSON, which the decoder proper reports
		}
		if s, ok := tok.(string); ok && strings.ContainsRune(s, 0) {
			fail(c, http.StatusBadRequest, "invalid_json", `a JSON string contains a NUL character (\u0000), which cannot be stored`, nil)
			return false
		}
	}
}
