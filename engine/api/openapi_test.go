package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/codegen"
	// The generated client's runtime: imported here so that go.mod keeps it for the type check.
	_ "github.com/oapi-codegen/runtime"

	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/auth"
	"github.com/opsflow/opsflow/engine/flow"
)

// The served document loads and validates with kin-openapi's default loader, which refuses
// external references: the flow format is inside it, as served standalone, and the draft form
// keeps its shapes without its completeness rules.
func TestOpenAPIDocumentLoads(t *testing.T) {
	srv, _ := newServer(t)
	status, _, raw := call(t, srv, "GET", "/api/v1/openapi.json", "")
	if status != 200 {
		t.Fatalf("%d %s", status, raw)
	}
	doc, err := apitest.Load([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Errorf("openapi %q, want 3.1", doc.OpenAPI)
	}
	// OpenAPI 3.0 habits that 3.1 ignores silently.
	var walk func(where string, v any)
	walk = func(where string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if _, ok := v["nullable"]; ok {
				t.Errorf(`%s: "nullable" is OpenAPI 3.0; in 3.1 write "type": ["string", "null"]`, where)
			}
			for k, x := range v {
				walk(where+"/"+k, x)
			}
		case []any:
			for i, x := range v {
				walk(fmt.Sprintf("%s/%d", where, i), x)
			}
		}
	}
	var tree any
	if err := json.Unmarshal([]byte(raw), &tree); err != nil {
		t.Fatal(err)
	}
	walk("", tree)
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId (the handler's name, e.g. listFlows)", method, path)
			}
		}
	}

	var standalone map[string]any
	if err := json.Unmarshal(flow.JSONSchema, &standalone); err != nil {
		t.Fatal(err)
	}
	full, draft := doc.Components.Schemas["FlowDocument"].Value, doc.Components.Schemas["FlowDraft"].Value
	if full.Title != standalone["title"] || len(full.Required) != 3 || full.Properties["nodes"].Value.Items.Value.Properties["id"].Value.Pattern == "" {
		t.Errorf("FlowDocument is not the flow schema: %+v", full)
	}
	if len(draft.Required) != 0 || draft.Properties["nodes"] == nil || draft.AdditionalProperties.Has == nil || *draft.AdditionalProperties.Has {
		t.Errorf("FlowDraft: %+v", draft)
	}

	// The standalone flow schema is plain JSON to any client.
	resp, err := srv.Client().Get(srv.URL + "/api/v1/schema/flow.json")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" || !bytes.Equal(b, flow.JSONSchema) {
		t.Errorf("schema/flow.json: %q %.100s", ct, b)
	}
}

// A code generator makes a Go client of the document, and the client compiles.
func TestOpenAPIClientGenerates(t *testing.T) {
	srv, _ := newServer(t)
	_, _, raw := call(t, srv, "GET", "/api/v1/openapi.json", "")
	doc, err := apitest.Load([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	code, err := codegen.Generate(doc, codegen.Configuration{PackageName: "opsflowclient",
		Generate: codegen.GenerateOptions{Client: true, Models: true}})
	if err != nil {
		t.Fatalf("oapi-codegen: %v", err)
	}
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "client.go", code, 0)
	if err != nil {
		t.Fatalf("generated client does not parse: %v", err)
	}
	conf := types.Config{Importer: importer.ForCompiler(fset, "gc", exportData(t, file))}
	pkg, err := conf.Check("opsflowclient", fset, []*ast.File{file}, nil)
	if err != nil {
		t.Fatalf("generated client does not compile: %v", err)
	}
	// One method per operation, named by its operationId (the handler's name).
	client := pkg.Scope().Lookup("Client")
	if client == nil {
		t.Fatal("no Client type in the generated code")
	}
	methods := types.NewMethodSet(types.NewPointer(client.Type()))
	for _, m := range []string{"PostEvent", "ListFlows", "PublishFlow", "GetRun"} {
		if methods.Lookup(pkg, m) == nil {
			t.Errorf("the generated client has no method %s", m)
		}
	}
}

// exportData finds the compiled export data of the file's imports (and theirs) with go list, the
// way go/packages does, for go/types' gc importer.
func exportData(t *testing.T, file *ast.File) func(path string) (io.ReadCloser, error) {
	args := []string{"list", "-export", "-deps", "-f", "{{.ImportPath}} {{.Export}}"}
	for _, imp := range file.Imports {
		args = append(args, strings.Trim(imp.Path.Value, `"`))
	}
	out, err := exec.Command("go", args...).Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	exports := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if path, file, ok := strings.Cut(line, " "); ok && file != "" {
			exports[path] = file
		}
	}
	return func(path string) (io.ReadCloser, error) {
		f, ok := exports[path]
		if !ok {
			return nil, fmt.Errorf("no export data for %s", path)
		}
		return os.Open(f)
	}
}

// Every test server of the API goes through apitest, so that every request and answer of the
// API tests is checked against the document: a plain httptest server of the API fails here.
func TestAPITestsGoThroughAPITest(t *testing.T) {
	plain := regexp.MustCompile(`httptest\.NewServer\((api\.)?New\(`)
	root := "../.."
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "node_modules" || d.Name() == "builder-ui" || strings.HasPrefix(d.Name(), ".")) && path != root {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, loc := range plain.FindAllIndex(b, -1) {
			line := 1 + bytes.Count(b[:loc[0]], []byte("\n"))
			t.Errorf("%s:%d: a plain httptest server of the API; use apitest.NewServer(t, ...) so the test is checked against openapi.json", path, line)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// The successful answers no other API test reaches, made once each so that apitest checks them
// against the document too.
func TestDocumentedAnswers(t *testing.T) {
	env := newAuthEnv(t, auth.Config{})
	admin := env.as("admin")
	must := func(method, path, body string, hdr map[string]string, want int) map[string]any {
		t.Helper()
		status, out, raw, _ := env.do(method, path, body, hdr)
		if status != want {
			t.Fatalf("%s %s: %d, want %d: %s", method, path, status, want, raw)
		}
		return out
	}
	team := must("POST", "/api/v1/teams", `{"name":"Support"}`, admin, 201)["id"].(string)
	must("PUT", "/api/v1/teams/"+team, `{"name":"Support","description":"first line"}`, admin, 200)
	member := must("POST", "/api/v1/teams/"+team+"/members", `{"name":"Ana","phone":"+14155550101"}`, admin, 201)["id"].(string)
	must("PUT", "/api/v1/members/"+member, `{"name":"Ana","email":"ana@example.com","active":false}`, admin, 200)
	must("DELETE", "/api/v1/members/"+member, "", admin, 204)

	fl := must("POST", "/api/v1/flows", `{"name":"hook","nodes":[{"id":"t","type":"trigger.webhook","config":{"method":"PUT"}},
		{"id":"l","type":"action.log","config":{"message":"got it"}}],"edges":[{"from":"t","to":"l"}]}`, admin, 201)["id"].(string)
	must("PATCH", "/api/v1/flows/"+fl, `{"enabled":false}`, admin, 200)
	must("PATCH", "/api/v1/flows/"+fl, `{"enabled":true}`, admin, 200)
	if doc := must("GET", "/api/v1/flows/"+fl+"/export", "", admin, 200); doc["name"] != "hook" {
		t.Errorf("export: %v", doc)
	}
	must("POST", "/api/v1/flows/"+fl+"/publish", "", admin, 200)
	must("PUT", "/api/v1/hooks/"+fl, `{"order":"SO-1"}`, nil, 202)
	must("GET", "/api/v1/templates/payment-failed-support-sms", "", admin, 200)

	// A person changes their own password from a session.
	status, body, raw, resp := env.do("POST", "/api/v1/auth/login", `{"email":"viewer@example.com","password":"`+testPassword+`"}`, nil)
	if status != 200 {
		t.Fatalf("login: %d %s", status, raw)
	}
	session := map[string]string{"Cookie": SessionCookie + "=" + cookieOf(resp).Value, CSRFHeader: body["csrf_token"].(string)}
	must("POST", "/api/v1/auth/password", `{"current_password":"`+testPassword+`","new_password":"another long password 2"}`, session, 204)
}
