package nodes

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/opsflow/opsflow/engine/node"
)

// stripeName names the provider in errors.
const stripeName = "Stripe"

// stripeAPI calls Stripe's form-encoded API with one credential.
type stripeAPI struct {
	in                 *node.Input
	base, key, version string
}

func newStripeAPI(in *node.Input, cred *node.Credential) (*stripeAPI, error) {
	s := &stripeAPI{in: in, key: cred.Data["secret_key"], version: cred.Data["api_version"], base: strings.TrimRight(cred.Data["base_url"], "/")}
	if s.key == "" {
		return nil, node.Permanentf("credential %s needs secret_key", cred.Name)
	}
	if s.base == "" {
		s.base = "https://api.stripe.com"
	}
	return s, nil
}

// call sends one request: GET with the form as query, POST with it as the body and the given
// Idempotency-Key. It returns the decoded JSON object.
func (s *stripeAPI) call(ctx context.Context, method, path string, form url.Values, idem string) (map[string]any, error) {
	target, body := s.base+path, ""
	if method == http.MethodGet {
		if len(form) > 0 {
			target += "?" + form.Encode()
		}
	} else {
		body = form.Encode()
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		return nil, node.Permanentf("the stripe credential has an invalid base_url")
	}
	req.Header.Set("Authorization", "Bearer "+s.key)
	if method != http.MethodGet {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Idempotency-Key", idem)
	}
	if s.version != "" {
		req.Header.Set("Stripe-Version", s.version)
	}
	resp, err := send(ctx, s.in, req, stripeName)
	if err != nil {
		// 409: another request with the same Idempotency-Key is still in flight; it will finish.
		if resp != nil && resp.Status == http.StatusConflict {
			return nil, fmt.Errorf("%s answered 409: %s", stripeName, snippet(s.in, resp.Body))
		}
		return nil, redactErr(err, s.key)
	}
	out, ok := resp.JSON().(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s answered %d with a body that is not a JSON object: %s", stripeName, resp.Status, snippet(s.in, resp.Body))
	}
	return out, nil
}

// dataList returns the data of a list or search result ({"data": [...]}).
func dataList(v map[string]any) []map[string]any {
	raw, _ := v["data"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, e := range raw {
		if m, ok := e.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

func metaValue(obj map[string]any, key string) string {
	md, _ := obj["metadata"].(map[string]any)
	s, _ := md[key].(string)
	return s
}

// idOf reads an id field that may be expanded into an object.
func idOf(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case map[string]any:
		s, _ := t["id"].(string)
		return s
	}
	return ""
}
