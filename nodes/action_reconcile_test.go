package nodes_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

func TestReconcileThroughEngine(t *testing.T) {
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			e := enginetest.New(t, b)
			info, err := e.CreateFlow(context.Background(), enginetest.MustFlow(t, `{"name":"rec","nodes":[
				{"id":"t","type":"trigger.manual","config":{"sample":{"orders":[{"order_id":"SO-1","total":1,"currency":"usd"}],"payments":[{"metadata":{"order_id":"SO-1"},"amount":100,"currency":"usd"}]}}},
				{"id":"rec","type":"action.reconcile","config":{"orders":"event.data.orders","payments":"event.data.payments","order_key":"order_id","payment_key":"metadata.order_id","order_amount":"total","payment_amount_scale":0.01}},
				{"id":"l","type":"action.log","config":{"message":"{{ nodes.rec.totals.matched }} matched, {{ len(nodes.rec.missing_in_payments) }} unpaid"}}],
				"edges":[{"from":"t","to":"rec"},{"from":"rec","to":"l"}]}`))
			if err != nil {
				t.Fatal(err)
			}
			data := map[string]any{
				"orders":   []any{map[string]any{"order_id": "SO-1", "total": 12.5, "currency": "USD"}, map[string]any{"order_id": "SO-2", "total": 8, "currency": "USD"}},
				"payments": []any{map[string]any{"metadata": map[string]any{"order_id": "SO-1"}, "amount": 1250, "currency": "usd"}},
			}
			acc, err := e.RunManual(context.Background(), info.Flow.ID, 0, data, false)
			if err != nil {
				t.Fatal(err)
			}
			d := enginetest.WaitRun(t, e, acc.RunIDs[0], 10*time.Second)
			if d.Run.Status != store.RunSucceeded {
				t.Fatal(d.Run.Error)
			}
			if msg := enginetest.Output(t, enginetest.Step(d, "l"))["message"]; msg != "1 matched, 1 unpaid" {
				t.Errorf("logged %v", msg)
			}
		})
	}
	bad := enginetest.MustFlow(t, `{"name":"rec","nodes":[{"id":"t","type":"trigger.manual","config":{"sample":{"n":1}}},
		{"id":"rec","type":"action.reconcile","config":{"orders":"event.data.n","payments":"[]","order_key":"id","payment_key":"id"}}],"edges":[{"from":"t","to":"rec"}]}`)
	if _, problems := compile.Compile(bad, nil); problems == nil || !strings.Contains(problems.Error(), "must give a list") {
		t.Errorf("orders that is not a list: %v", problems)
	}
}
