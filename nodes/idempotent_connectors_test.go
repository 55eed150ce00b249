package nodes

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/sandbox"
	"github.com/opsflow/opsflow/engine/store"
)

// The payment link (Stripe keeps Idempotency-Keys) and the CRM update (setting fields gives the
// same record however often it is sent) offer "Target ignores repeats". With it on, a run's
// first execution does not record the call before sending it: the provider, reading the store
// as the call arrives, finds no step yet. With it off, it finds attempt 1 recorded as running.
func TestConnectorsThatIgnoreRepeats(t *testing.T) {
	for _, c := range []struct {
		nodeType, credType, secret, path string
		cfg                              func(cred string) map[string]any
	}{
		{"action.payment_link", "stripe", "secret_key", "/v1/checkout/sessions", func(cred string) map[string]any {
			return map[string]any{"credential": cred, "amount": "1999", "currency": "usd", "product_name": "Order 7", "success_url": "https://shop.example.com/paid"}
		}},
		{"action.crm_update", "hubspot", "token", "/crm/v3/objects/", func(cred string) map[string]any {
			return map[string]any{"credential": cred, "object_type": "deals", "record_id": "42", "properties": `{"payment_status": "paid"}`}
		}},
	} {
		if cxSpec(t, c.nodeType).Field(node.IdempotentField) == nil {
			t.Fatalf("%s does not offer %q", c.nodeType, node.IdempotentField)
		}
		for _, b := range enginetest.Backends() {
			for _, idem := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%s/idempotent=%v", c.nodeType, b, idem), func(t *testing.T) {
					e := enginetest.New(t, b)
					var (
						mu   sync.Mutex
						seen []string // the step as stored when each call arrived
					)
					sb, err := sandbox.Start(sandbox.Options{OnRequest: func(r sandbox.Request) {
						if !strings.HasPrefix(r.Path, c.path) {
							return
						}
						// (HubSpot takes no Idempotency-Key; the test's engine has this one run.)
						var st store.Step
						found := e.Store.DB.Where("node_id = ?", "act").Limit(1).Find(&st).RowsAffected > 0
						mu.Lock()
						defer mu.Unlock()
						if found {
							seen = append(seen, fmt.Sprintf("%s/%d", st.Status, st.Attempt))
						} else {
							seen = append(seen, "none")
						}
					}})
					if err != nil {
						t.Fatal(err)
					}
					defer sb.Close()
					cfg := c.cfg(cxCredential(t, e, c.credType, map[string]string{c.secret: "sk_test_1", "base_url": sb.URL}))
					cfg[node.IdempotentField] = idem
					d := cxRun(t, e, cxPublish(t, e, c.nodeType, cfg), map[string]any{})
					cxSucceeded(t, d)
					want := "running/1"
					if idem {
						want = "none"
					}
					mu.Lock()
					defer mu.Unlock()
					if len(seen) != 1 || seen[0] != want {
						t.Fatalf("stored when the call arrived: %v, want [%s]", seen, want)
					}
					if st := cxStep(t, d); st.Status != store.StepSucceeded || st.Attempt != 1 {
						t.Fatalf("step %s attempt %d", st.Status, st.Attempt)
					}
				})
			}
		}
	}
}
