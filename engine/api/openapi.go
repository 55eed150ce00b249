package api

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"

	"github.com/gin-gonic/gin"

	"github.com/opsflow/opsflow/engine/flow"
)

// openAPISource is the hand-written OpenAPI 3.1 description of every endpoint. To add a route,
// add its operation under "paths" with an "operationId" (the handler's name), its "x-permission"
// (as in perms.go), its parameters and request body, and every status the handler answers: the
// ones every route shares (400 for bad bytes in parameters, 401/403 unless public, 413 with a
// body, 500 as {"$ref": "#/components/responses/Error"}; 503 as
// {"$ref": "#/components/responses/Unavailable"}) and its own. Shapes used by more than one route
// go under components/schemas; a field that may be null is "type": ["string", "null"] (3.1 has
// no "nullable"), and a flow as saved is FlowDraft (FlowDocument is a complete one). Tests check
// that it lists exactly the server's routes, walk it for the authorization matrix, and validate
// every request and answer of the API tests against it (engine/api/apitest): a status, field or
// shape it does not describe fails them.
//
//go:embed openapi.json
var openAPISource []byte

// openAPIDoc is the document served at /api/v1/openapi.json: openapi.json with its slots, schemas
// written as {"x-source": "name"}, filled in. The flow format's JSON Schema (2020-12, which is
// OpenAPI 3.1's schema dialect) is written once, in engine/flow/flow.schema.json, and the served
// document still needs no external reference.
var openAPIDoc = fillSlots(openAPISource, map[string][]byte{
	"engine/flow/flow.schema.json":             flowSchema(false),
	"engine/flow/flow.schema.json, as a draft": flowSchema(true),
})

var slot = regexp.MustCompile(`\{\s*"x-source":\s*"([^"]+)"\s*\}`)

func fillSlots(doc []byte, sources map[string][]byte) []byte {
	filled := map[string]bool{}
	out := slot.ReplaceAllFunc(doc, func(m []byte) []byte {
		name := string(slot.FindSubmatch(m)[1])
		b, ok := sources[name]
		if !ok {
			panic(fmt.Sprintf("openapi.json: unknown slot %q", name))
		}
		filled[name] = true
		return b
	})
	for name := range sources {
		if !filled[name] {
			panic(fmt.Sprintf("openapi.json: no slot for %q", name))
		}
	}
	return out
}

// draftOnly are the flow schema's keywords about completeness, which the compiler reports as
// problems of a draft instead of refusing it: an incomplete draft is saved (and answered) all
// the same, so its schema keeps only the shapes Parse enforces (types, no unknown keys).
var draftOnly = []string{"required", "minItems", "maxItems", "minLength", "maxLength", "pattern", "const"}

// flowSchema is the flow JSON Schema as a schema of the document, without $schema and $id, which
// name the standalone file; as a draft, without the completeness keywords.
func flowSchema(draft bool) []byte {
	var s map[string]any
	if err := json.Unmarshal(flow.JSONSchema, &s); err != nil {
		panic(fmt.Sprintf("flow schema: %v", err))
	}
	delete(s, "$schema")
	delete(s, "$id")
	if draft {
		s["title"] = "opsflow flow draft (opsflow/v1)"
		s["description"] = "A flow as saved: the flow format with every part optional, since an incomplete draft is saved with its problems listed; publishing needs a complete one (FlowDocument)."
		dropKeywords(s, draftOnly)
	}
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return b
}

func dropKeywords(v any, keys []string) {
	switch v := v.(type) {
	case map[string]any:
		for _, k := range keys {
			delete(v, k) // no property of the flow format has one of these names
		}
		for _, x := range v {
			dropKeywords(x, keys)
		}
	case []any:
		for _, x := range v {
			dropKeywords(x, keys)
		}
	}
}

func (s *Server) openAPI(c *gin.Context) {
	c.Data(http.StatusOK, "application/json", openAPIDoc)
}
