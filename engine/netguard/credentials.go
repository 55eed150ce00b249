package netguard

import (
	"context"
	"net/http"
)

type credentialHeadersKey struct{}

// WithCredentialHeaders marks headers of a request as carrying a credential (an X-Api-Key from an
// http_header credential, say), so that a redirect to another host does not send them on. Go
// itself drops only Authorization, Www-Authenticate and Cookie, and only for other domains.
func WithCredentialHeaders(ctx context.Context, names ...string) context.Context {
	prev, _ := ctx.Value(credentialHeadersKey{}).([]string)
	return context.WithValue(ctx, credentialHeadersKey{}, append(append([]string(nil), prev...), names...))
}

// alwaysStripped are the standard credential headers, whoever set them.
var alwaysStripped = []string{"Authorization", "Proxy-Authorization", "Cookie"}

// stripCredentials removes every credential-bearing header from a redirect to another host
// (another port counts: it is another server).
func stripCredentials(req *http.Request) {
	for _, h := range alwaysStripped {
		req.Header.Del(h)
	}
	names, _ := req.Context().Value(credentialHeadersKey{}).([]string)
	for _, h := range names {
		req.Header.Del(h)
	}
}
