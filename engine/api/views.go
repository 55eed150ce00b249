package api

import (
	"encoding/json"
	"time"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/store"
)

// The JSON shapes the API returns. They are separate from the store's models so that nothing
// is exposed by accident (credential ciphertext, run tokens).

type runRef struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
}

type flowView struct {
	ID               string `json:"id"`
	Name             string `json:"name"`
	Description      string `json:"description"`
	Enabled          bool   `json:"enabled"`
	LatestVersion    int    `json:"latest_version"`
	PublishedVersion int    `json:"published_version"`
	TriggerType      string `json:"trigger_type"`
	EventType        string `json:"event_type"`
	WebhookURL       string `json:"webhook_url,omitempty"`
	// RejectedDeliveries counts webhook deliveries refused by verification.
	RejectedDeliveries int64           `json:"rejected_deliveries"`
	CreatedAt          time.Time       `json:"created_at"`
	UpdatedAt          time.Time       `json:"updated_at"`
	LastRun            *runRef         `json:"last_run"`
	Version            *versionV       `json:"version,omitempty"`
	Definition         json.RawMessage `json:"definition,omitempty"` // written by flowJSON
}

type versionV struct {
	Version     int        `json:"version"`
	Published   bool       `json:"published"`
	Live        bool       `json:"live"`
	PublishedAt *time.Time `json:"published_at"`
	CreatedAt   time.Time  `json:"created_at"`
	// CreatedBy and PublishedBy name who saved and last published the version (from the audit log).
	CreatedBy   string          `json:"created_by,omitempty"`
	PublishedBy string          `json:"published_by,omitempty"`
	Definition  json.RawMessage `json:"definition,omitempty"` // written by flowJSON
}

func toFlowView(f *store.Flow, last *store.Run) flowView {
	v := flowView{ID: f.ID, Name: f.Name, Description: f.Description, Enabled: f.Enabled, LatestVersion: f.LatestVersion,
		PublishedVersion: f.PublishedVersion, TriggerType: f.TriggerType, EventType: f.EventType, RejectedDeliveries: f.RejectedDeliveries,
		CreatedAt: f.CreatedAt, UpdatedAt: f.UpdatedAt}
	if f.TriggerType == "trigger.webhook" {
		v.WebhookURL = "/api/v1/hooks/" + f.ID
	}
	if last != nil {
		v.LastRun = &runRef{ID: last.ID, Status: last.Status, CreatedAt: last.CreatedAt}
	}
	return v
}

func toVersionView(fv *store.FlowVersion, f *store.Flow) versionV {
	return versionV{Version: fv.Version, Published: fv.Published, Live: f != nil && f.PublishedVersion == fv.Version, PublishedAt: fv.PublishedAt, CreatedAt: fv.CreatedAt}
}

func flowInfoView(info *engine.FlowInfo) flowView {
	v := toFlowView(&info.Flow, nil)
	vv := toVersionView(&info.Version, &info.Flow)
	v.Version = &vv
	v.Definition = flowJSON(info.Def)
	return v
}

type runView struct {
	ID          string     `json:"id"`
	FlowID      string     `json:"flow_id"`
	FlowName    string     `json:"flow_name,omitempty"`
	FlowVersion int        `json:"flow_version"`
	EventID     string     `json:"event_id"`
	Status      string     `json:"status"`
	DryRun      bool       `json:"dry_run"`
	Error       string     `json:"error,omitempty"`
	WakeAt      *time.Time `json:"wake_at,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
}

// runDetailView is one run with its steps (always a list, [] before the first step) and event.
type runDetailView struct {
	runView
	Steps []stepView `json:"steps"`
	Event *eventView `json:"event"`
	// History is who started, retried or cancelled the run (from the audit log).
	History []historyItem `json:"history,omitempty"`
}

type stepView struct {
	NodeID     string     `json:"node_id"`
	NodeType   string     `json:"node_type"`
	Status     string     `json:"status"`
	Port       string     `json:"port,omitempty"`
	Input      any        `json:"input"`
	Output     any        `json:"output"`
	Error      string     `json:"error,omitempty"`
	Attempt    int        `json:"attempt"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at"`
	DurationMs int64      `json:"duration_ms"`
}

type eventView struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	Source    string    `json:"source"`
	FlowID    string    `json:"flow_id,omitempty"`
	Data      any       `json:"data"`
	Headers   any       `json:"headers,omitempty"`
	CreatedAt time.Time `json:"created_at"`
}

// flowJSON is a flow as the API shows it: Flow.JSON, whose lists are [] even in a draft without them.
func flowJSON(f *flow.Flow) json.RawMessage {
	if f == nil {
		return nil
	}
	return f.JSON()
}

func toRunView(r *store.Run, flowName string) runView {
	v := runView{ID: r.ID, FlowID: r.FlowID, FlowName: flowName, FlowVersion: r.FlowVersion, EventID: r.EventID, Status: r.Status, DryRun: r.DryRun,
		Error: r.Error, CreatedAt: r.CreatedAt, StartedAt: r.StartedAt, FinishedAt: r.FinishedAt}
	if r.Status == store.RunWaiting {
		v.WakeAt = r.WakeAt
	}
	return v
}

func toEventView(e *store.Event) *eventView {
	v := &eventView{ID: e.ID, Type: e.Type, Source: e.Source, FlowID: e.FlowID, Data: rawJSON(e.Data), CreatedAt: e.CreatedAt}
	if e.Headers != "" {
		v.Headers = rawJSON(e.Headers)
	}
	return v
}

func rawJSON(s string) any {
	if s == "" {
		return nil
	}
	return json.RawMessage(s)
}

type teamView struct {
	ID          string       `json:"id"`
	Name        string       `json:"name"`
	Description string       `json:"description"`
	Members     []memberView `json:"members"`
	CreatedAt   time.Time    `json:"created_at"`
}

type memberView struct {
	ID     string `json:"id"`
	TeamID string `json:"team_id"`
	Name   string `json:"name"`
	Email  string `json:"email"`
	Phone  string `json:"phone"`
	Active bool   `json:"active"`
}

func toMemberView(m *store.Member) memberView {
	return memberView{ID: m.ID, TeamID: m.TeamID, Name: m.Name, Email: m.Email, Phone: m.Phone, Active: m.Active}
}

type credentialView struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func toCredentialView(c *store.Credential) credentialView {
	return credentialView{ID: c.ID, Name: c.Name, Type: c.Type, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
}
