// Package store keeps flows, runs, teams and credentials in a relational database through gorm:
// Postgres when a DATABASE_URL is given, otherwise a SQLite file (pure Go, no cgo).
package store

import "time"

// Run statuses. A run moves queued → running → (waiting → running)* → succeeded | failed | cancelled.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunWaiting   = "waiting"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Step statuses.
const (
	StepRunning   = "running"
	StepSucceeded = "succeeded"
	StepFailed    = "failed"
	StepWaiting   = "waiting"
)

// Terminal reports whether a run status is final.
func Terminal(status string) bool {
	return status == RunSucceeded || status == RunFailed || status == RunCancelled
}

// Flow is a flow's identity and which of its versions triggers run against.
type Flow struct {
	ID               string `gorm:"primaryKey;size:36"`
	Name             string `gorm:"size:200;not null"`
	Description      string `gorm:"type:text"`
	Enabled          bool   `gorm:"not null"`
	LatestVersion    int    `gorm:"not null"`
	PublishedVersion int    `gorm:"not null;default:0"` // 0: never published
	// TriggerType and EventType describe the published version, so events find their flows by index.
	TriggerType string `gorm:"size:64;index"`
	EventType   string `gorm:"size:200;index"`
	// RejectedDeliveries counts webhook deliveries refused by verification (bad signatures).
	RejectedDeliveries int64 `gorm:"not null;default:0"`
	CreatedAt          time.Time
	UpdatedAt          time.Time
}

// FlowVersion is one saved definition. A published version is frozen; saving again makes a new draft.
type FlowVersion struct {
	ID          uint   `gorm:"primaryKey"`
	FlowID      string `gorm:"size:36;not null;uniqueIndex:flow_version"`
	Version     int    `gorm:"not null;uniqueIndex:flow_version"`
	Definition  string `gorm:"type:text;not null"`
	Published   bool   `gorm:"not null"`
	PublishedAt *time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Event is an accepted trigger: an API event, a webhook delivery or a manual run's payload.
// Data and RawBody are stored after card numbers are masked.
type Event struct {
	ID     string `gorm:"primaryKey;size:36"`
	Type   string `gorm:"size:200;index"`
	Source string `gorm:"size:16;not null"` // api, webhook, manual
	// FlowID is set for webhook and manual events; API events store NULL (see migration 12).
	FlowID         string  `gorm:"size:36;index:,where:flow_id IS NOT NULL"`
	IdempotencyKey *string `gorm:"size:300;uniqueIndex:,where:idempotency_key IS NOT NULL"`
	Data           string  `gorm:"type:text;not null"`
	Headers        string  `gorm:"type:text"`
	// RawBody is a webhook delivery byte for byte (providers send Latin-1 forms, NULs, anything).
	RawBody []byte `gorm:"column:raw_bytes"`
	// LegacyRawBody is where raw bodies were kept as text before; read only, see Body.
	LegacyRawBody string `gorm:"column:raw_body;type:text"`
	// Traceparent is the W3C trace context of the request that accepted the event (empty unless
	// tracing is on), so the worker continues the same trace across the queue.
	Traceparent string `gorm:"size:55"`
	CreatedAt   time.Time
}

// Body is the raw delivery of a webhook event, from either column.
func (e *Event) Body() []byte {
	if e.RawBody != nil {
		return e.RawBody
	}
	return []byte(e.LegacyRawBody)
}

// Run is one execution of one flow version for one event.
type Run struct {
	ID          string `gorm:"primaryKey;size:36"` // UUIDv7: ordering by id is ordering by creation
	FlowID      string `gorm:"size:36;not null;index"`
	FlowVersion int    `gorm:"not null"`
	EventID     string `gorm:"size:36;not null;index"`
	Status      string `gorm:"size:16;not null"` // not indexed: see migration 7
	DryRun      bool   `gorm:"not null"`
	// Token names the dispatch the run is waiting for; a task carrying another token is stale.
	Token string `gorm:"size:64;not null"`
	// Lease counts the claims of the run; every write of an execution is fenced on the lease it
	// claimed, so a worker that lost the run (frozen, or cut off past its lease) cannot write.
	Lease     int64 `gorm:"not null;default:0"`
	WakeAt    *time.Time
	Error     string `gorm:"type:text"`
	CreatedAt time.Time
	UpdatedAt time.Time // not indexed: see migration 7
	StartedAt *time.Time
	// FinishedAt is set exactly when the run is finished (its status is final): its index finds
	// unfinished runs (IS NULL) and runs to prune.
	FinishedAt *time.Time `gorm:"index"`
}

// Step is the checkpoint of one node in one run, keyed by both (a node has one step in a run; see
// migration 12). A run's steps are ordered by StartedAt, which an execution hands out strictly
// increasing.
type Step struct {
	RunID       string `gorm:"primaryKey;size:36"`
	NodeID      string `gorm:"primaryKey;size:64"`
	NodeType    string `gorm:"size:64;not null"`
	Status      string `gorm:"size:16;not null"`
	Port        string `gorm:"size:64"`
	Input       string `gorm:"type:text"`
	Output      string `gorm:"type:text"`
	Error       string `gorm:"type:text"`
	Attempt     int    `gorm:"not null"`
	StartedAt   time.Time
	FinishedAt  *time.Time
	DurationMs  int64
	WaitStarted *time.Time
	// Received holds the event that ended a wait for an event.
	Received string `gorm:"type:text"`
}

// Wait is a parked step waiting for an event: an incoming event of EventType whose data field
// Field equals Value resumes the run.
type Wait struct {
	ID        uint   `gorm:"primaryKey"`
	RunID     string `gorm:"size:36;not null;uniqueIndex:wait_step"`
	NodeID    string `gorm:"size:64;not null;uniqueIndex:wait_step"`
	Token     string `gorm:"size:64;not null"`
	EventType string `gorm:"size:200;not null;index:wait_match"`
	Field     string `gorm:"size:200;not null;index:wait_match"`
	Value     string `gorm:"size:500;not null;index:wait_match"`
	ExpiresAt time.Time
	CreatedAt time.Time
}

// Dispatch is the outbox: a run to hand to the queue. It is written in the same transaction
// as the run, and deleted only once the queue has the task, so a crash in between loses nothing.
type Dispatch struct {
	ID        uint      `gorm:"primaryKey"`
	RunID     string    `gorm:"size:36;not null"`
	Token     string    `gorm:"size:64;not null"`
	ProcessAt time.Time `gorm:"not null"`
	CreatedAt time.Time
	// Start is the task payload's start hint of a new run (see queue.Payload); not stored.
	Start []byte `gorm:"-"`
}

// Team is a group that work is assigned to.
type Team struct {
	ID          string `gorm:"primaryKey;size:36"`
	Name        string `gorm:"size:200;not null;uniqueIndex"`
	Description string `gorm:"type:text"`
	// RRCursor counts round-robin picks.
	RRCursor  int64 `gorm:"column:rr_cursor;not null;default:0"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Member belongs to one team.
type Member struct {
	ID        string `gorm:"primaryKey;size:36"`
	TeamID    string `gorm:"size:36;not null;index"`
	Name      string `gorm:"size:200;not null"`
	Email     string `gorm:"size:320"`
	Phone     string `gorm:"size:32"`
	Active    bool   `gorm:"not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Assignment records who got a piece of work from action.assign.
type Assignment struct {
	ID        string `gorm:"primaryKey;size:36"`
	RunID     string `gorm:"size:36;not null;uniqueIndex:assignment_step"`
	NodeID    string `gorm:"size:64;not null;uniqueIndex:assignment_step"`
	TeamID    string `gorm:"size:36;not null;index"`
	MemberID  string `gorm:"size:36;not null;index"`
	Subject   string `gorm:"type:text"`
	Reason    string `gorm:"type:text"`
	Status    string `gorm:"size:16;not null"` // open, done
	DueAt     *time.Time
	CreatedAt time.Time
	DoneAt    *time.Time
}

// Credential is a secret (API keys, tokens) encrypted with AES-256-GCM; only its name and type
// ever leave the store in clear.
type Credential struct {
	ID         string `gorm:"primaryKey;size:36"`
	Name       string `gorm:"size:200;not null;uniqueIndex"`
	Type       string `gorm:"size:64;not null"`
	Ciphertext []byte `gorm:"not null"`
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Models lists every table, for migration.
var Models = []any{&Flow{}, &FlowVersion{}, &Event{}, &Run{}, &Step{}, &Dispatch{}, &Wait{}, &Team{}, &Member{}, &Assignment{}, &Credential{}}
