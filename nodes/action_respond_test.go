package nodes_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/opsflow/opsflow/engine/api"
	"github.com/opsflow/opsflow/engine/api/apitest"
	"github.com/opsflow/opsflow/engine/enginetest"
)

// A webhook flow with action.respond answers the request synchronously with the computed body.
func TestRespondToWebhook(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			srv := apitest.NewServer(t, api.New(e, api.Options{}))
			defer srv.Close()
			ok := enginetest.Publish(t, e, enginetest.MustFlow(t, `{"name":"r","nodes":[
				{"id":"t","type":"trigger.webhook","config":{"sample":{"order_id":"SO-1","amount":1}}},
				{"id":"c","type":"logic.condition","config":{"expression":"event.data.amount > 0"}},
				{"id":"r","type":"action.respond","config":{"status":201,"headers":{"X-Order":"{{ event.data.order_id }}"},
					"body":"{\"received\": true, \"order\": event.data.order_id, \"double\": event.data.amount * 2}"}}],
				"edges":[{"from":"t","to":"c"},{"from":"c","to":"r","port":"true"}]}`))
			resp, err := http.Post(srv.URL+"/api/v1/hooks/"+ok, "application/json", strings.NewReader(`{"order_id":"SO-9","amount":21}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var got map[string]any
			json.Unmarshal(body, &got)
			if resp.StatusCode != 201 || resp.Header.Get("X-Order") != "SO-9" || got["order"] != "SO-9" || got["double"] != 42.0 {
				t.Fatalf("response %d %v %s", resp.StatusCode, resp.Header, body)
			}

			// The false branch never reaches the respond node: the caller gets 202 once the run ends.
			resp, err = http.Post(srv.URL+"/api/v1/hooks/"+ok, "application/json", strings.NewReader(`{"order_id":"SO-10","amount":-1}`))
			if err != nil {
				t.Fatal(err)
			}
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted || !strings.Contains(string(body), "run_ids") {
				t.Fatalf("no-response path: %d %s", resp.StatusCode, body)
			}
		})
	}
}
