package node

import (
	"context"
	"net/http"
	"net/url"
	"time"
)

// Webhook is one HTTP delivery to a webhook-triggered flow, as received: verification must use
// the raw Body bytes.
type Webhook struct {
	Method  string
	Headers http.Header
	Query   url.Values
	Body    []byte
	// Received is when the delivery arrived (signature time windows are measured against it).
	Received time.Time
}

// Receiver checks a webhook delivery before it is accepted (signatures, methods) and returns the
// provider's delivery id, by which redeliveries are recognised; "" means no deduplication.
// A *RejectError turns into the HTTP status it names.
type Receiver func(ctx context.Context, cfg map[string]any, svc Services, w *Webhook) (dedupID string, err error)

// RejectError refuses a webhook delivery with an HTTP status (401 for a bad signature).
type RejectError struct {
	Status  int
	Code    string
	Message string
}

func (e *RejectError) Error() string { return e.Message }

// Reject builds a RejectError.
func Reject(status int, code, message string) error {
	return &RejectError{Status: status, Code: code, Message: message}
}
