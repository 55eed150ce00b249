package api

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
)

// A run view shows large step data as a link to the step's own view, which has all of it.
func TestRunViewOmitsLargeStepData(t *testing.T) {
	e := enginetest.New(t, enginetest.Embedded)
	srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
	t.Cleanup(srv.Close)
	info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, `{"name":"large","nodes":[
		{"id":"t","type":"trigger.manual"},
		{"id":"big","type":"logic.foreach","config":{"items":"1..4000","map":"item"}},
		{"id":"small","type":"action.log","config":{"message":"{{ nodes.big.count }} items"}}],
		"edges":[{"from":"t","to":"big"},{"from":"big","to":"small"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	runID := acc.RunIDs[0]
	enginetest.WaitRun(t, e, runID, 60*time.Second)

	status, body, raw := call(t, srv, "GET", "/api/v1/runs/"+runID, "")
	if status != 200 {
		t.Fatalf("status %d: %s", status, raw)
	}
	if len(raw) > 3*stepViewLimit {
		t.Errorf("the run view is %d bytes", len(raw))
	}
	steps := map[string]map[string]any{}
	for _, s := range body["steps"].([]any) {
		steps[s.(map[string]any)["node_id"].(string)] = s.(map[string]any)
	}
	out, _ := steps["big"]["output"].(map[string]any)
	href := "/api/v1/runs/" + runID + "/steps/big"
	if out["_omitted"] != true || out["href"] != href || out["size"].(float64) <= stepViewLimit {
		t.Fatalf("big output in the run view: %v", out)
	}
	if small, _ := steps["small"]["output"].(map[string]any); small["message"] != "4000 items" {
		t.Errorf("small output is shown inline: %v", steps["small"]["output"])
	}

	status, step, raw := call(t, srv, "GET", href, "")
	if status != 200 || step["node_id"] != "big" || len(step["output"].(map[string]any)["items"].([]any)) != 4000 {
		t.Fatalf("step view: %d %.300s", status, raw)
	}
	for _, path := range []string{"/api/v1/runs/" + runID + "/steps/nope", "/api/v1/runs/nope/steps/big"} {
		if status, body, raw := call(t, srv, "GET", path, ""); status != 404 || !strings.Contains(raw, "not_found") || body["error"] == nil {
			t.Errorf("%s: %d %s", path, status, raw)
		}
	}
}

// A run no worker has picked up yet has "steps": [], as the schema says, not null or nothing.
func TestQueuedRunHasEmptySteps(t *testing.T) {
	e, err := engine.Open(enginetest.Config(t, enginetest.Embedded)) // no worker: the run stays queued
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	srv := apitest.NewServer(t, New(e, Options{Tokens: []string{testToken}}))
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
