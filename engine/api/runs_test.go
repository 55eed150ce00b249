package api

import (
	"net/http/httptest"
	"testing"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
)

// A run no worker has picked up yet has "steps": [], as the schema says, not null or nothing.
func TestQueuedRunHasEmptySteps(t *testing.T) {
	e, err := engine.Open(enginetest.Config(t, enginetest.Embedded)) // no worker: the run stays queued
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := httptest.NewServer(New(e, Options{}))
	defer srv.Close()
	_, fl, raw := call(t, srv, "POST", "/api/v1/flows", `{"name":"m","nodes":[{"id":"t","type":"trigger.manual"},
		{"id":"l","type":"action.log","config":{"message":"hi"}}],"edges":[{"from":"t","to":"l"}]}`)
	if fl["id"] == nil {
		t.Fatal(raw)
	}
	_, acc, raw := call(t, srv, "POST", "/api/v1/flows/"+fl["id"].(string)+"/run", `{"data":{}}`)
	ids, _ := acc["run_ids"].([]any)
	if len(ids) != 1 {
		t.Fatal(raw)
	}
	status, run, raw := call(t, srv, "GET", "/api/v1/runs/"+ids[0].(string), "")
	steps, isList := run["steps"].([]any)
	if status != 200 || run["status"] != "queued" || !isList || len(steps) != 0 {
		t.Errorf("queued run: %d %s", status, raw)
	}
}
