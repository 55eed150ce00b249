package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// docs/nodes.md is generated from the registry; it must match it (regenerate: go run ./cmd/opsflow docs > docs/nodes.md).
func TestNodeDocsUpToDate(t *testing.T) {
	want, err := os.ReadFile("../../docs/nodes.md")
	if err != nil {
		t.Fatal(err)
	}
	if got := node.Markdown(); got != string(want) {
		t.Fatal("docs/nodes.md is stale: run go run ./cmd/opsflow docs > docs/nodes.md")
	}
}

func TestValidateCommand(t *testing.T) {
	var out bytes.Buffer
	if err := validate([]string{"../../examples/payment-failed-support-sms.json"}, &out); err != nil {
		t.Fatalf("valid example rejected: %v\n%s", err, out.String())
	}
	b, _ := os.ReadFile("../../examples/payment-failed-support-sms.json")
	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, bytes.Replace(b, []byte(`"action.log"`), []byte(`"action.telex"`), 1), 0o600)
	out.Reset()
	err := validate([]string{bad}, &out)
	if ex, ok := err.(exitError); !ok || ex != 1 || !strings.Contains(out.String(), `unknown node type "action.telex"`) {
		t.Fatalf("err %v, output %q", err, out.String())
	}
}

// import then export round-trips a flow through the embedded store.
func TestImportExport(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPSFLOW_DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("REDIS_ADDR", "")
	var out bytes.Buffer
	if err := importFlow([]string{"../../examples/payment-failed-support-sms.json"}, &out); err == nil || !strings.Contains(err.Error(), "Support") {
		// The example names a team and a credential that this empty store does not have.
		t.Fatalf("import into an empty store: %v", err)
	}
	flowDoc := `{"name":"cli","nodes":[{"id":"t","type":"trigger.manual"},{"id":"l","type":"action.log","config":{"message":"hi"}}],"edges":[{"from":"t","to":"l"}]}`
	file := filepath.Join(dir, "f.json")
	os.WriteFile(file, []byte(flowDoc), 0o600)
	out.Reset()
	if err := importFlow([]string{"-publish", file}, &out); err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out.String())
	out.Reset()
	if err := exportFlow([]string{id}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"name": "cli"`) || !strings.Contains(out.String(), `"message": "hi"`) {
		t.Errorf("export = %s", out.String())
	}
}

// A gallery template imports from the command line with its needs mapped and a parameter set.
func TestImportTemplateCommand(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("OPSFLOW_DATA_DIR", dir)
	t.Setenv("DATABASE_URL", "")
	t.Setenv("REDIS_ADDR", "")
	s := &settings{dataDir: dir, logLevel: "error"}
	e, err := offlineEngine(s)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Key accounts", "SMB Sales"} {
		e.Store.DB.Create(&store.Team{ID: store.NewID(), Name: name})
	}
	if _, err := e.CreateCredential(context.Background(), "sms", "twilio", map[string]string{"account_sid": "AC1", "auth_token": "t", "from": "+14155550000"}); err != nil {
		t.Fatal(err)
	}
	e.Close()
	var out bytes.Buffer
	err = importFlow([]string{"-template", "new-lead-score-assign", "-publish", "-name", "Leads", "-param", "min_employees=500",
		"-credential", "twilio=sms", "-team", "Enterprise Sales=Key accounts"}, &out)
	if err != nil {
		t.Fatal(err)
	}
	id := strings.TrimSpace(out.String())
	out.Reset()
	if err := exportFlow([]string{id}, &out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"name": "Leads"`, "employees >= 500", `"team": "Key accounts"`, `"credential": "sms"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("exported flow lacks %s", want)
		}
	}
	if err := importFlow([]string{"-template", "no-such-template"}, &out); err == nil || !strings.Contains(err.Error(), "no template") {
		t.Errorf("unknown template: %v", err)
	}
}
