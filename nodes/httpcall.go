package nodes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opsflow/opsflow/engine/netguard"
	"github.com/opsflow/opsflow/engine/node"
)

// maxResponse bounds how much of a provider's response a node reads.
const maxResponse = 4 << 20

// response is a provider's answer.
type response struct {
	Status  int
	Headers http.Header
	Body    []byte
}

// JSON decodes the body, or returns it as text when it is not JSON.
func (r *response) JSON() any {
	var v any
	if len(r.Body) > 0 && json.Unmarshal(r.Body, &v) == nil {
		return v
	}
	return string(r.Body)
}

// send performs req with the engine's guarded client. Network failures, 5xx and 429 are
// retryable; other 4xx are permanent, since sending the same request again cannot succeed.
func send(ctx context.Context, in *node.Input, req *http.Request, provider string) (*response, error) {
	resp, err := in.Services.HTTPClient().Do(req.WithContext(ctx))
	if err != nil {
		var blocked *netguard.ErrBlocked
		if errors.As(err, &blocked) {
			return nil, node.Permanent(blocked)
		}
		// A *url.Error quotes the whole URL, which may carry a token in its query: keep only the cause.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("%s: %s %s: %w", provider, req.Method, req.URL.Host, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse))
	if err != nil {
		return nil, fmt.Errorf("%s: reading response: %w", provider, err)
	}
	r := &response{Status: resp.StatusCode, Headers: resp.Header, Body: body}
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return r, fmt.Errorf("%s answered %d: %s", provider, resp.StatusCode, snippet(in, body))
	case resp.StatusCode >= 400:
		return r, node.Permanentf("%s answered %d: %s", provider, resp.StatusCode, snippet(in, body))
	}
	return r, nil
}

// snippet is the start of a provider's answer for an error message, with the step's secrets
// scrubbed first: a secret cut in half by the limit would no longer be recognised and redacted.
func snippet(in *node.Input, b []byte) string {
	s := strings.TrimSpace(string(b))
	if sc, ok := in.Services.(interface{ Scrub(string) string }); ok {
		s = sc.Scrub(s)
	}
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	// Error text is stored: no NUL, and valid UTF-8 even where the cut split a character.
	s = strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
	return s
}

func str(cfg map[string]any, key string) string {
	s, _ := cfg[key].(string)
	return s
}
