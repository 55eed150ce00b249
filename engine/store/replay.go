package store

import "time"

// Replay statuses: queued → running → succeeded | failed | cancelled.
const (
	ReplayQueued    = "queued"
	ReplayRunning   = "running"
	ReplaySucceeded = "succeeded"
	ReplayFailed    = "failed"
	ReplayCancelled = "cancelled"
)

// Replay is a background job that runs recorded events through one version of a flow without
// side effects and compares each with what the real run did.
type Replay struct {
	ID          string `gorm:"primaryKey;size:36"`
	FlowID      string `gorm:"size:36;not null;index"`
	FlowVersion int    `gorm:"not null"`
	Draft       bool   `gorm:"not null"` // asked for as "draft" (the latest version)
	Status      string `gorm:"size:16;not null"`
	// Selection is what was asked for ({last, since, until, event_ids}); EventIDs is the resolved
	// list (JSON), fixed when the job is created so a retried task replays the same events.
	Selection string    `gorm:"type:text;not null"`
	EventIDs  string    `gorm:"type:text;not null"`
	Total     int       `gorm:"not null"`
	Done      int       `gorm:"not null;default:0"`
	Failing   int       `gorm:"not null;default:0"` // events that now fail
	Summary   string    `gorm:"type:text"`          // JSON list of outcome groups, set when finished
	Error     string    `gorm:"type:text"`
	CreatedBy string    `gorm:"size:320"`
	CreatedAt time.Time `gorm:"index"`
	UpdatedAt time.Time
	// FinishedAt is set once the job is succeeded, failed or cancelled.
	FinishedAt *time.Time
}

// ReplayResult is one event's replay compared with its real run.
type ReplayResult struct {
	ID       uint   `gorm:"primaryKey"`
	ReplayID string `gorm:"size:36;not null;uniqueIndex:replay_event"`
	EventID  string `gorm:"size:36;not null;uniqueIndex:replay_event"`
	Seq      int    `gorm:"not null"` // position in the selection
	RunID    string `gorm:"size:36"`  // the real run compared with; empty when there is none
	// Outcome groups events that changed the same way ("unchanged", "action_added:sms" …).
	Outcome string `gorm:"size:500;not null;index"`
	Failing bool   `gorm:"not null"`
	// Detail is the comparison (JSON): changes, both paths, the actions' field diffs, the recorded requests.
	Detail    string `gorm:"type:text;not null"`
	CreatedAt time.Time
}

// ReplayModels lists the replay tables (migration 8).
var ReplayModels = []any{&Replay{}, &ReplayResult{}}
