// Package node defines what a node type is: one Spec, registered once, from which
// validation, the API's node-type list, the builder palette and the docs are all derived.
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"
)

// Category groups node types in the palette.
type Category string

const (
	Trigger Category = "trigger"
	Logic   Category = "logic"
	Action  Category = "action"
)

// Text is a user-facing string in every language the UI speaks.
type Text struct {
	En string `json:"en"`
	Zh string `json:"zh-CN"`
}

// Kind tells the compiler how to check a config field and the builder which widget to show.
type Kind string

const (
	KindString     Kind = "string"     // plain text, no templating
	KindTemplate   Kind = "template"   // text with {{ expr }} parts, checked at save
	KindExpr       Kind = "expr"       // one expr-lang expression, checked at save
	KindNumber     Kind = "number"     // float
	KindInteger    Kind = "integer"    // whole number
	KindBool       Kind = "bool"       // toggle
	KindSelect     Kind = "select"     // one of Options
	KindKeyValue   Kind = "keyvalue"   // map of string to template (e.g. HTTP headers)
	KindJSON       Kind = "json"       // any JSON value, stored as given
	KindCredential Kind = "credential" // a stored credential (id or name) of one of CredentialTypes
	KindTeam       Kind = "team"       // a stored team (id or name)
	KindDuration   Kind = "duration"   // Go duration string such as "30s" or "2h"
	KindStringList Kind = "stringlist" // list of plain strings
)

// Option is one choice of a Select field.
type Option struct {
	Value string `json:"value"`
	Title Text   `json:"title"`
}

// Field describes one config key of a node type.
type Field struct {
	Name        string   `json:"name"`
	Kind        Kind     `json:"kind"`
	Title       Text     `json:"title"`
	Help        Text     `json:"help,omitempty"`
	Required    bool     `json:"required,omitempty"`
	Default     any      `json:"default,omitempty"`
	Options     []Option `json:"options,omitempty"`
	Placeholder string   `json:"placeholder,omitempty"`
	// ExprType is what an Expr field must evaluate to: "bool", "number", "string", "list" or "" for any.
	ExprType string `json:"expr_type,omitempty"`
	// CredentialTypes lists the credential types a Credential field accepts.
	CredentialTypes []string `json:"credential_types,omitempty"`
	// Min and Max bound Number, Integer and Duration (in seconds) fields when set.
	Min *float64 `json:"min,omitempty"`
	Max *float64 `json:"max,omitempty"`
	// MaxLen bounds String and Template fields; 0 means the engine default.
	MaxLen int `json:"max_len,omitempty"`
	// ShowIf hides the field in the builder unless each named field (its value, or its default)
	// is one of the listed values: settings that only matter for one choice of another.
	ShowIf map[string][]string `json:"show_if,omitempty"`
	// Vars are extra names an Expr or Template field may use besides event and nodes (such as
	// item in a loop). Such a field is not evaluated before Run: the node evaluates it itself
	// with Input.Eval, supplying the values.
	Vars map[string]*Schema `json:"vars,omitempty"`
}

// Spec is everything the engine knows about a node type.
type Spec struct {
	Type        string   `json:"type"` // e.g. "action.sms"
	Category    Category `json:"category"`
	Title       Text     `json:"title"`
	Description Text     `json:"description"`
	Icon        string   `json:"icon,omitempty"`
	Fields      []Field  `json:"fields"`
	// Ports are the named outputs an edge may leave from; nil means the single port "out".
	Ports []string `json:"ports"`
	// Output is the shape of what the node produces, visible downstream as nodes.<id>.
	Output *Schema `json:"output,omitempty"`
	// OutputFor, when set, computes the output shape from the node's config
	// (a trigger's event shape comes from its sample, for instance).
	OutputFor func(cfg map[string]any) *Schema `json:"-"`
	// Responds marks nodes whose output ({status, headers, body}) answers the webhook that started
	// the run; a webhook flow containing one waits for it (up to its "timeout" config).
	Responds bool `json:"responds,omitempty"`
	// SideEffect marks actions that a dry run records instead of performing.
	SideEffect bool `json:"side_effect,omitempty"`
	Docs       Text `json:"docs,omitzero"` // Markdown
	// Check runs extra save-time checks on the literal config (after defaults); it reports field problems.
	Check func(cfg map[string]any) []FieldError `json:"-"`
	// Receive, on webhook triggers, vets each delivery before it is stored.
	Receive Receiver `json:"-"`
	// Schedule, on time triggers, parses the config into the trigger's fire times.
	Schedule func(cfg map[string]any) (Schedule, error) `json:"-"`
	// CatchUp, on time triggers, reads which fire times missed while every process was down
	// still get a run when one starts; nil is CatchUpNone.
	CatchUp func(cfg map[string]any) CatchUp `json:"-"`
	// Run executes the node. Triggers have no Run: their output is the event.
	Run func(ctx context.Context, in *Input) (*Result, error) `json:"-"`
}

// Schedule returns the first fire time strictly after the given time.
type Schedule func(after time.Time) time.Time

// CatchUp is a time trigger's policy for fire times missed while every process was down.
type CatchUp struct {
	Policy string        // CatchUpNone, CatchUpLast or CatchUpAll
	Window time.Duration // only fire times this recent are caught up
}

// Catch-up policies.
const (
	CatchUpNone = "none" // skip them
	CatchUpLast = "last" // one run, for the latest of them
	CatchUpAll  = "all"  // one run each, the latest MaxCatchUpRuns at most
)

// MaxCatchUpRuns bounds the runs CatchUpAll starts for one schedule at start-up, so a long outage
// of a frequent schedule does not flood the queue.
const MaxCatchUpRuns = 100

// FieldError is a problem with one config field found by Spec.Check. Zh is the message in
// Chinese (the builder shows Message when it is empty).
type FieldError struct {
	Field   string
	Message string
	Zh      string
}

// PortList returns the node's output ports.
func (s *Spec) PortList() []string {
	if len(s.Ports) == 0 {
		return []string{"out"}
	}
	return s.Ports
}

// HasPort reports whether the node has the named output port.
func (s *Spec) HasPort(p string) bool {
	for _, q := range s.PortList() {
		if q == p {
			return true
		}
	}
	return false
}

// Field returns the named field, or nil.
func (s *Spec) Field(name string) *Field {
	for i := range s.Fields {
		if s.Fields[i].Name == name {
			return &s.Fields[i]
		}
	}
	return nil
}

// OutputSchema returns the output shape for a node with the given config.
func (s *Spec) OutputSchema(cfg map[string]any) *Schema {
	if s.OutputFor != nil {
		return s.OutputFor(cfg)
	}
	if s.Output == nil {
		return AnyObject()
	}
	return s.Output
}

// Input is what a node receives when it runs.
type Input struct {
	RunID  string
	NodeID string
	// Config holds the node's config with defaults applied and every template and expression evaluated.
	Config map[string]any
	// Env is the expression environment: "event" and "nodes" (outputs of nodes that ran before).
	Env map[string]any
	// Eval evaluates an expression field of this node against another environment (used by nodes that
	// evaluate per item). Like Config, each evaluation stops at the expression deadline and when the
	// step's context ends, and is bounded by the expression memory budget. It is nil-safe to ignore.
	Eval func(field string, env map[string]any) (any, error)
	// Attempt counts from 1; a retried step sees 2, 3, ...
	Attempt int
	// Inputs are the ids of the nodes whose edges into this node fired, in flow order.
	Inputs []string
	// Resumed is true when a node that asked to wait is being run again after the wait.
	Resumed bool
	// WaitStarted is when the node first asked to wait (zero unless Resumed or waiting again).
	WaitStarted time.Time
	// Received is the event that ended a WaitFor wait ({id, type, data}); nil if the wait timed out.
	Received map[string]any
	DryRun   bool
	Services Services
	Log      *slog.Logger
}

// IdempotencyKey is stable across retries of the same step, so providers can drop duplicates.
func (in *Input) IdempotencyKey() string { return in.RunID + ":" + in.NodeID }

// Result is what a node produced.
type Result struct {
	// Port is the output port taken; "" means the first (usually "out").
	Port   string
	Output map[string]any
	// WaitUntil, when set, suspends the run durably; the node is run again (Resumed) at that time.
	WaitUntil time.Time
	// Stop ends the run successfully after this node; nothing downstream runs.
	Stop bool
	// WaitFor, with WaitUntil as its deadline, resumes the run early when a matching event arrives.
	WaitFor *WaitFor
}

// WaitFor describes the event a waiting node wants: its type, and the value one of its data
// fields (a dotted path such as "order_id") must have.
type WaitFor struct {
	EventType string
	Field     string
	Value     string
}

// Services are the engine facilities a node may use.
type Services interface {
	// HTTPClient is guarded against SSRF: private, loopback and link-local targets are refused
	// unless the operator allowed them.
	HTTPClient() *http.Client
	// Credential returns a stored credential, decrypted. Its values must never be put in an Output.
	Credential(ctx context.Context, id string) (*Credential, error)
	// Assign picks a member of a team and records the assignment; a repeat call for the same
	// run and node returns the first result.
	Assign(ctx context.Context, req AssignRequest) (*Assignment, error)
	// StartSubflow starts a run of another flow's published version with data as its event data and
	// returns the run's id; a repeat call for the same run and node returns the same run. When that
	// run ends, a "run.finished" event with data {run_id, status, error, result, nodes} is recorded.
	StartSubflow(ctx context.Context, req SubflowRequest) (runID string, err error)
	// CountEvents counts accepted events of a type since a time, optionally only those whose data
	// field (a dotted path) equals value.
	CountEvents(ctx context.Context, eventType, field, value string, since time.Time) (int, error)
}

// Mailer, when a node's Services implement it, takes the place of the SMTP server: a replay
// records the message instead of sending it.
type Mailer interface {
	SendMail(ctx context.Context, addr, from string, rcpts []string, msg []byte) error
}

// SubflowRequest asks for a run of another flow.
type SubflowRequest struct {
	ParentRunID string
	NodeID      string
	Flow        string // id or name
	Data        any
	DryRun      bool
}

// Credential is a decrypted stored secret.
type Credential struct {
	ID   string
	Name string
	Type string
	Data map[string]string
}

// AssignRequest asks for a team member.
type AssignRequest struct {
	RunID    string
	NodeID   string
	TeamID   string
	Strategy string // "round_robin" (default), "least_open" or "rule"
	// Member names the member (id, name, email or phone) for the "rule" strategy.
	Member  string
	Subject string
	Reason  string
	Due     time.Duration
}

// Member is a person on a team.
type Member struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Email string `json:"email"`
	Phone string `json:"phone"`
}

// Assignment is the outcome of Assign.
type Assignment struct {
	ID       string `json:"id"`
	TeamID   string `json:"team_id"`
	TeamName string `json:"team_name"`
	Assignee Member `json:"assignee"`
	Subject  string `json:"subject"`
	DueAt    string `json:"due_at,omitempty"`
}

// ErrNotSet is what Input.Eval returns for a field the node's config leaves out.
var ErrNotSet = errors.New("field not set")

// PermanentError marks a failure that retrying cannot fix (a 4xx from a provider, bad input).
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err so the run fails at once instead of being retried.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return &PermanentError{Err: err}
}

// Permanentf is Permanent(fmt.Errorf(...)).
func Permanentf(format string, args ...any) error { return Permanent(fmt.Errorf(format, args...)) }

var (
	mu    sync.RWMutex
	specs = map[string]*Spec{}
)

// Register adds a node type; nodes call it from init. It panics on a duplicate or malformed spec,
// which is a programming error caught by any test.
func Register(s *Spec) {
	if s.Type == "" || s.Category == "" || s.Title.En == "" || s.Title.Zh == "" {
		panic(fmt.Sprintf("node: spec %q needs type, category and en/zh-CN titles", s.Type))
	}
	if s.Category != Trigger && s.Run == nil {
		panic(fmt.Sprintf("node: %s has no Run", s.Type))
	}
	if (s.Docs.En == "") != (s.Docs.Zh == "") || (s.Description.En == "") != (s.Description.Zh == "") {
		panic(fmt.Sprintf("node: %s needs its description and docs in both en and zh-CN", s.Type))
	}
	for _, f := range s.Fields {
		if f.Title.En == "" || f.Title.Zh == "" {
			panic(fmt.Sprintf("node: %s field %s needs en/zh-CN titles", s.Type, f.Name))
		}
	}
	if s.Field(IdempotentField) != nil && !s.SideEffect {
		panic(fmt.Sprintf("node: %s offers %q but has no side effect", s.Type, IdempotentField))
	}
	if s.Category != Trigger && s.Field(StepTimeoutField) == nil {
		s.Fields = append(s.Fields, stepTimeout)
	}
	mu.Lock()
	defer mu.Unlock()
	if _, dup := specs[s.Type]; dup {
		panic("node: duplicate type " + s.Type)
	}
	specs[s.Type] = s
}

// StepTimeoutField is the setting every runnable node has: how long one of its steps may run
// before it is stopped and counted as a failed attempt.
const StepTimeoutField = "step_timeout"

var stepTimeout = Field{
	Name: StepTimeoutField, Kind: KindDuration,
	Title: Text{En: "Step timeout", Zh: "步骤超时"},
	Help: Text{En: "Longest time one attempt of this step may run (e.g. 30s, 2m); empty uses the server's default (OPSFLOW_STEP_TIMEOUT, 5m).",
		Zh: "此步骤单次执行的最长时间（如 30s、2m）；留空则使用服务器默认值（OPSFLOW_STEP_TIMEOUT，5m）。"},
	Min: ptr(1.0),
	Max: ptr(24 * 3600.0),
}

// IdempotentField is the setting of side-effecting nodes whose provider drops repeated requests
// carrying the same Input.IdempotencyKey (a node offers it by listing Idempotent in its Fields).
// When it is on, the executor records the call with its result only, not also before it, on a
// run's first execution: one write less per call, at the price of a repeated call if the worker
// dies or stalls mid-run (the key makes the repeat harmless). See engine/worker.go.
const IdempotentField = "idempotent"

// Idempotent is the IdempotentField setting as a field, off by default.
var Idempotent = Field{
	Name: IdempotentField, Kind: KindBool, Default: false,
	Title: Text{En: "Target ignores repeats", Zh: "目标会忽略重复请求"},
	Help: Text{En: "Turn on when the target treats requests with the same Idempotency-Key as one (as Stripe does), or the call is idempotent anyway (PUT, DELETE, a PATCH that sets fields). The call is then recorded with its result instead of also before it: one database write less and lower latency per call, but if a worker dies or stalls during the run, the call may be sent again (with the same key) when the run resumes.",
		Zh: "当目标把相同 Idempotency-Key 的请求视为同一个（如 Stripe），或调用本身是幂等的（PUT、DELETE、设置字段的 PATCH）时开启。开启后，调用只在得到结果时记录，而不再在调用前先记录一次：每次调用少一次数据库写入、延迟更低；但如果工作进程在运行中途退出或卡住，恢复运行时可能再次发送该调用（使用相同的键）。"},
}

func ptr(f float64) *float64 { return &f }

// Lookup returns the spec of a type, or nil.
func Lookup(typ string) *Spec {
	mu.RLock()
	defer mu.RUnlock()
	return specs[typ]
}

// All returns every registered spec, ordered by category then type.
func All() []*Spec {
	mu.RLock()
	out := make([]*Spec, 0, len(specs))
	for _, s := range specs {
		out = append(out, s)
	}
	mu.RUnlock()
	order := map[Category]int{Trigger: 0, Logic: 1, Action: 2}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Category != out[j].Category {
			return order[out[i].Category] < order[out[j].Category]
		}
		return out[i].Type < out[j].Type
	})
	return out
}
