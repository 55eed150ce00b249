// Package sandbox runs local stand-ins for the providers opsflow's nodes call — Twilio, Stripe,
// HubSpot (and the other HTTP APIs the templates use) and an SMTP server — on loopback. Each
// answers in its provider's wire format and records what it received, so flows can be tried
// without real accounts (opsflow sandbox) and tested end to end (examples, the README walkthrough).
package sandbox

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-smtp"
)

// Request is one HTTP request a stand-in received.
// Header, Path and Query are as received, secrets included (tests check them); what is shown to
// people goes through MaskedAuth and MaskedTarget.
type Request struct {
	Provider     string // twilio, stripe, hubspot, salesforce, slack, feishu, einvoice or http
	Method, Path string
	Query        string
	Header       http.Header
	Body         string
	At           time.Time
}

// Mail is one message the SMTP stand-in accepted.
type Mail struct {
	From string    `json:"from"`
	To   []string  `json:"to"`
	Data string    `json:"data"` // the message with quoted-printable soft line breaks undone
	At   time.Time `json:"at"`
}

// Options configures Start. Empty addresses pick free loopback ports.
type Options struct {
	HTTPAddr string // e.g. 127.0.0.1:8090
	SMTPAddr string // e.g. 127.0.0.1:2525
	// SMTPUser and SMTPPassword, when set, are the only AUTH PLAIN credentials the SMTP server
	// accepts, and it refuses mail without them; when empty it accepts mail with any or no AUTH.
	SMTPUser, SMTPPassword string
	// OnRequest and OnMail, when set, see everything as it arrives (opsflow sandbox prints it).
	OnRequest func(Request)
	OnMail    func(Mail)
}

// Sandbox is the running stand-ins.
type Sandbox struct {
	URL      string // base URL of every HTTP stand-in (Twilio, Stripe, HubSpot… share one server)
	SMTPAddr string // host:port of the SMTP server (no TLS)

	opt     Options
	httpSrv *http.Server
	smtpSrv *smtp.Server

	mu      sync.Mutex
	reqs    []Request
	sms     []url.Values // forms of the messages the Twilio stand-in accepted
	mails   []Mail
	answers map[string]string // "METHOD /path" → JSON body, set by Answer
	failure *failure          // set by FailWith
}

type failure struct {
	status int
	body   string
}

// Start listens on both addresses and serves until Close.
func Start(opt Options) (*Sandbox, error) {
	if opt.HTTPAddr == "" {
		opt.HTTPAddr = "127.0.0.1:0"
	}
	if opt.SMTPAddr == "" {
		opt.SMTPAddr = "127.0.0.1:0"
	}
	hl, err := net.Listen("tcp", opt.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("sandbox HTTP: %w", err)
	}
	sl, err := net.Listen("tcp", opt.SMTPAddr)
	if err != nil {
		hl.Close()
		return nil, fmt.Errorf("sandbox SMTP: %w", err)
	}
	s := &Sandbox{URL: "http://" + hl.Addr().String(), SMTPAddr: sl.Addr().String(), opt: opt, answers: map[string]string{}}
	s.httpSrv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.smtpSrv = smtp.NewServer(smtpBackend{s})
	s.smtpSrv.Domain = "localhost"
	s.smtpSrv.AllowInsecureAuth = true // loopback only; the email node refuses plain-text AUTH elsewhere
	s.smtpSrv.ReadTimeout, s.smtpSrv.WriteTimeout = 10*time.Second, 10*time.Second
	go s.httpSrv.Serve(hl)
	go s.smtpSrv.Serve(sl)
	return s, nil
}

// Close stops both servers.
func (s *Sandbox) Close() error {
	s.smtpSrv.Close()
	return s.httpSrv.Close()
}

// Answer makes GET/POST… path (without query) answer body with 200, ahead of the built-in
// answers: data for the calls whose answer is a business record, such as a CRM's order list.
func (s *Sandbox) Answer(method, path, body string) {
	s.mu.Lock()
	s.answers[method+" "+path] = body
	s.mu.Unlock()
}

// FailWith makes every following HTTP request (still recorded) answer status with body, as a
// provider that is down or refuses; FailWith(0, "") ends it.
func (s *Sandbox) FailWith(status int, body string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failure = nil
	if status != 0 {
		s.failure = &failure{status, body}
	}
}

// Requests returns the HTTP requests whose path contains pathPart, oldest first.
func (s *Sandbox) Requests(pathPart string) []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Request
	for _, r := range s.reqs {
		if strings.Contains(r.Path, pathPart) {
			out = append(out, r)
		}
	}
	return out
}

// Messages returns the form of every SMS the Twilio stand-in accepted.
func (s *Sandbox) Messages() []url.Values {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]url.Values(nil), s.sms...)
}

// MailTo returns the messages sent to an address.
func (s *Sandbox) MailTo(addr string) []Mail {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Mail
	for _, m := range s.mails {
		for _, rcpt := range m.To {
			if rcpt == addr {
				out = append(out, m)
			}
		}
	}
	return out
}

// MaskedAuth describes a request's credentials without revealing them: the scheme and, for
// Basic, the user name (a Twilio account SID), never a password, token or key.
func (r Request) MaskedAuth() string {
	a := r.Header.Get("Authorization")
	if a == "" {
		return ""
	}
	scheme, _, _ := strings.Cut(a, " ")
	if strings.EqualFold(scheme, "basic") {
		req := http.Request{Header: http.Header{"Authorization": {a}}}
		if user, _, ok := req.BasicAuth(); ok {
			return "Basic " + user + ":****"
		}
	}
	return scheme + " ****"
}

// MaskedTarget is the path and query with the secrets robot webhooks carry there hidden: the
// last path segment of Slack and Feishu hooks, and token, key, sign and secret query values.
func (r Request) MaskedTarget() string {
	path := r.Path
	if r.Provider == "slack" || r.Provider == "feishu" {
		path = path[:strings.LastIndex(path, "/")+1] + "****"
	}
	if r.Query == "" {
		return path
	}
	q, err := url.ParseQuery(r.Query)
	if err != nil {
		return path + "?****"
	}
	for k := range q {
		if lk := strings.ToLower(k); strings.Contains(lk, "token") || strings.Contains(lk, "key") || strings.Contains(lk, "sign") || strings.Contains(lk, "secret") {
			q[k] = []string{"****"}
		}
	}
	return path + "?" + strings.ReplaceAll(q.Encode(), "%2A%2A%2A%2A", "****")
}

var twilioMessages = regexp.MustCompile(`^/2010-04-01/Accounts/(AC[0-9A-Za-z]+)/Messages\.json$`)

// ServeHTTP answers as the provider the path belongs to.
func (s *Sandbox) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodGet && r.URL.Path == "/_sandbox/requests" {
		s.serveRecord(w)
		return
	}
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	req := Request{Provider: provider(r.URL.Path), Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header.Clone(), Body: string(body), At: time.Now().UTC()}
	s.mu.Lock()
	s.reqs = append(s.reqs, req)
	n := len(s.reqs)
	canned, isCanned := s.answers[r.Method+" "+r.URL.Path]
	fail := s.failure
	s.mu.Unlock()
	if s.opt.OnRequest != nil {
		s.opt.OnRequest(req)
	}
	w.Header().Set("Content-Type", "application/json")
	if fail != nil {
		w.WriteHeader(fail.status)
		io.WriteString(w, fail.body)
		return
	}
	if isCanned {
		io.WriteString(w, canned)
		return
	}
	switch req.Provider {
	case "twilio":
		if sent := serveTwilio(w, r, body, n); sent != nil {
			s.mu.Lock()
			s.sms = append(s.sms, sent)
			s.mu.Unlock()
		}
	case "stripe":
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"error":{"type":"invalid_request_error","message":"You did not provide an API key."}}`)
			return
		}
		serveStripe(w, r.Method, r.URL.Path, string(body), n)
	case "einvoice":
		serveEInvoice(w, r.Method, string(body))
	case "hubspot":
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"status":"error","message":"Authentication credentials not found.","category":"INVALID_AUTHENTICATION"}`)
			return
		}
		var sent struct {
			Properties map[string]any `json:"properties"`
		}
		json.Unmarshal(body, &sent)
		if sent.Properties == nil {
			sent.Properties = map[string]any{}
		}
		json.NewEncoder(w).Encode(map[string]any{"id": r.URL.Path[strings.LastIndex(r.URL.Path, "/")+1:], "properties": sent.Properties,
			"updatedAt": req.At.Format(time.RFC3339), "archived": false})
	case "salesforce":
		w.WriteHeader(http.StatusNoContent)
	case "slack":
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	case "feishu":
		io.WriteString(w, `{"code":0,"msg":"success","data":{}}`)
	default: // WeCom and DingTalk robots, and any other JSON API
		io.WriteString(w, `{"errcode":0,"errmsg":"ok"}`)
	}
}

// provider names the API a path belongs to.
func provider(path string) string {
	switch {
	case strings.HasPrefix(path, "/2010-04-01/"):
		return "twilio"
	case strings.HasPrefix(path, "/v1/"):
		return "stripe"
	case strings.HasPrefix(path, "/einvoice/"):
		return "einvoice"
	case strings.HasPrefix(path, "/crm/v3/objects/"):
		return "hubspot"
	case strings.HasPrefix(path, "/services/data/"):
		return "salesforce"
	case strings.HasPrefix(path, "/services/"):
		return "slack"
	case strings.HasPrefix(path, "/open-apis/bot/"):
		return "feishu"
	}
	return "http"
}

// serveTwilio checks a Messages API call as Twilio documents it (POST, Basic auth with the
// account SID of the path, form body with To, Body and From or MessagingServiceSid) and answers
// 201 with the message resource, or Twilio's error for what is wrong. It returns the form of an
// accepted message.
func serveTwilio(w http.ResponseWriter, r *http.Request, body []byte, n int) url.Values {
	m := twilioMessages.FindStringSubmatch(r.URL.Path)
	user, pass, ok := r.BasicAuth()
	switch {
	case r.Method != http.MethodPost || m == nil:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"code":20404,"message":"The requested resource was not found","status":404}`)
		return nil
	case !ok || user != m[1] || pass == "":
		w.WriteHeader(http.StatusUnauthorized)
		io.WriteString(w, `{"code":20003,"message":"Authenticate","status":401}`)
		return nil
	case r.Header.Get("Content-Type") != "application/x-www-form-urlencoded":
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":21000,"message":"The request body must be form-encoded","status":400}`)
		return nil
	}
	f, err := url.ParseQuery(string(body))
	switch {
	case err != nil || f.Get("To") == "":
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":21604,"message":"A 'To' phone number is required.","status":400}`)
		return nil
	case f.Get("From") == "" && f.Get("MessagingServiceSid") == "":
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":21603,"message":"A 'From' phone number is required.","status":400}`)
		return nil
	case f.Get("Body") == "":
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"code":21602,"message":"Message body is required.","status":400}`)
		return nil
	}
	w.WriteHeader(http.StatusCreated)
	json.NewEncoder(w).Encode(map[string]any{
		"sid": fmt.Sprintf("SM%032d", n), "status": "queued", "to": f.Get("To"), "from": f.Get("From"),
		"messaging_service_sid": f.Get("MessagingServiceSid"), "body": f.Get("Body"), "account_sid": m[1], "api_version": "2010-04-01",
		"date_created": time.Now().UTC().Format(time.RFC1123Z), "num_segments": "1", "direction": "outbound-api",
	})
	return f
}

// serveStripe answers the Stripe calls the nodes make: Checkout Sessions (action.payment_link),
// Invoicing (action.invoice) and the charge list (action.reconcile), each in Stripe's format.
// Invoicing is one fixed invoice, in_T1, that goes draft → open → paid.
func serveStripe(w http.ResponseWriter, method, path, body string, n int) {
	inv := func(status string, extra string) string {
		return `{"id":"in_T1","object":"invoice","customer":"cus_T1","currency":"cny","status":"` + status + `","number":"ACME-0001","total":259900,"total_excluding_tax":230000,` +
			`"invoice_pdf":"https://pay.stripe.com/invoice/acct_1/in_T1/pdf","hosted_invoice_url":"https://invoice.stripe.com/i/acct_1/in_T1","metadata":{` + extra + `}}`
	}
	switch {
	case method == "POST" && path == "/v1/checkout/sessions":
		json.NewEncoder(w).Encode(checkoutSession(body, n))
	case method == "GET" && (path == "/v1/invoices/search"):
		io.WriteString(w, `{"object":"search_result","data":[],"has_more":false}`)
	case method == "GET" && (path == "/v1/customers" || path == "/v1/charges"):
		io.WriteString(w, `{"object":"list","url":"`+path+`","data":[],"has_more":false}`)
	case method == "POST" && path == "/v1/customers":
		io.WriteString(w, `{"id":"cus_T1","object":"customer"}`)
	case method == "GET" && path == "/v1/tax_rates":
		io.WriteString(w, `{"object":"list","data":[{"id":"txr_vat13","object":"tax_rate","percentage":13,"inclusive":true,"active":true}],"has_more":false}`)
	case method == "POST" && path == "/v1/invoices":
		io.WriteString(w, `{"id":"in_T1","object":"invoice","customer":"cus_T1","currency":"cny","status":"draft","number":null,"metadata":{}}`)
	case method == "POST" && path == "/v1/invoiceitems":
		io.WriteString(w, `{"id":"ii_T1","object":"invoiceitem","invoice":"in_T1"}`)
	case method == "POST" && path == "/v1/invoices/in_T1/finalize":
		io.WriteString(w, inv("open", ""))
	case method == "POST" && (path == "/v1/invoices/in_T1/pay" || path == "/v1/invoices/in_T1/send"):
		io.WriteString(w, inv("paid", ""))
	case method == "POST" && path == "/v1/invoices/in_T1":
		io.WriteString(w, inv("paid", `"opsflow_sent":"true"`))
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprintf(w, `{"error":{"type":"invalid_request_error","message":"Unrecognized request URL (%s: %s)."}}`, method, path)
	}
}

// checkoutSession is the Checkout Session Stripe creates from a form: its total is the sum of
// the line items' unit_amount × quantity.
func checkoutSession(body string, n int) map[string]any {
	f, _ := url.ParseQuery(body)
	var total int64
	for i := 0; ; i++ {
		item := fmt.Sprintf("line_items[%d]", i)
		amount, err := strconv.ParseInt(f.Get(item+"[price_data][unit_amount]"), 10, 64)
		if err != nil {
			break
		}
		qty, err := strconv.ParseInt(f.Get(item+"[quantity]"), 10, 64)
		if err != nil {
			qty = 1
		}
		total += amount * qty
	}
	id := fmt.Sprintf("cs_test_%d", n)
	return map[string]any{"id": id, "object": "checkout.session", "url": "https://checkout.stripe.com/c/pay/" + id,
		"status": "open", "payment_status": "unpaid", "mode": f.Get("mode"), "amount_total": total,
		"currency": f.Get("line_items[0][price_data][currency]"), "client_reference_id": f.Get("client_reference_id"),
		"customer_email": f.Get("customer_email"), "expires_at": time.Now().Add(24 * time.Hour).Unix()}
}

// serveEInvoice answers the Chinese VAT e-invoice API (action.invoice with cn_einvoice): no
// earlier invoice for the order, and each new one issued at once.
func serveEInvoice(w http.ResponseWriter, method, body string) {
	if method == "GET" {
		io.WriteString(w, `{"data":[]}`)
		return
	}
	var req struct {
		TotalAmount int64 `json:"total_amount"`
		TotalTax    int64 `json:"total_tax"`
	}
	json.Unmarshal([]byte(body), &req)
	fmt.Fprintf(w, `{"id":"ei_T1","request_id":"x","status":"issued","invoice_number":"24332000000001234567","pdf_url":"https://einvoice.example.cn/pdf/ei_T1.pdf","view_url":"https://einvoice.example.cn/v/ei_T1","total_amount":%d,"total_tax":%d}`,
		req.TotalAmount, req.TotalTax)
}

// serveRecord lists what the stand-ins received, credentials masked.
func (s *Sandbox) serveRecord(w http.ResponseWriter) {
	type shown struct {
		Provider string    `json:"provider"`
		Method   string    `json:"method"`
		Target   string    `json:"target"`
		Auth     string    `json:"auth,omitempty"`
		Body     string    `json:"body"`
		At       time.Time `json:"at"`
	}
	s.mu.Lock()
	reqs := make([]shown, 0, len(s.reqs))
	for _, r := range s.reqs {
		reqs = append(reqs, shown{r.Provider, r.Method, r.MaskedTarget(), r.MaskedAuth(), r.Body, r.At})
	}
	mails := append([]Mail{}, s.mails...)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"requests": reqs, "mail": mails})
}
