package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/store"
)

// InvalidFlowError carries every problem that stops a flow from being saved or published.
type InvalidFlowError struct{ Problems compile.Problems }

func (e *InvalidFlowError) Error() string { return "the flow is not valid: " + e.Problems.Error() }

// FlowInfo is a flow with one of its versions.
type FlowInfo struct {
	Flow    store.Flow
	Version store.FlowVersion
	Def     *flow.Flow
	// Problems is what stops the saved version from being published (set by create and save;
	// nil when there is none).
	Problems compile.Problems
}

// Validation is the result of checking a flow without saving it.
type Validation struct {
	Valid    bool             `json:"valid"`
	Problems compile.Problems `json:"problems"`
	// Scopes lists, per node, the paths its expressions may use (for autocomplete).
	Scopes map[string][]string `json:"scopes"`
}

// refs checks credential and team references against the store. A flow may name them by id or
// by name; names keep exported flows and templates portable between installations.
type refs struct {
	ctx context.Context
	db  *gorm.DB
}

func (r refs) CredentialType(id string) (string, bool) {
	var c store.Credential
	if err := r.db.WithContext(r.ctx).Select("id", "type").Scopes(store.ByRef(id)).Take(&c).Error; err != nil {
		return "", false
	}
	return c.Type, true
}

func (r refs) TeamExists(id string) bool {
	var n int64
	r.db.WithContext(r.ctx).Model(&store.Team{}).Scopes(store.ByRef(id)).Count(&n)
	return n > 0
}

// Compile checks a flow against the registry and the store.
func (e *Engine) Compile(ctx context.Context, f *flow.Flow) (*compile.Flow, compile.Problems) {
	return compile.Compile(f, refs{ctx, e.Store.DB})
}

// Validate checks a flow and reports its problems and each node's expression scope.
func (e *Engine) Validate(ctx context.Context, f *flow.Flow) Validation {
	v := Validation{Problems: compile.Problems{}, Scopes: map[string][]string{}}
	cf, problems := e.Compile(ctx, f)
	v.Valid = len(problems) == 0
	if problems != nil {
		v.Problems = problems
	}
	// Scopes are useful even when the flow has problems, so compute them from a lenient pass.
	if cf == nil {
		cf = compile.Scopes(f)
	}
	if cf != nil {
		for _, n := range cf.Order {
			v.Scopes[n.Def.ID] = compile.ScopePaths(n)
		}
	}
	return v
}

// CreateFlow saves a new flow as draft version 1. An incomplete flow is saved too, like any
// draft, with its problems reported: half-built work belongs on the server, and publishing
// re-checks everything.
func (e *Engine) CreateFlow(ctx context.Context, f *flow.Flow) (*FlowInfo, error) {
	_, problems := e.Compile(ctx, f)
	return e.createFlow(ctx, f, problems)
}

// createFlow stores f as version 1 of a new flow, with the problems its compilation reported.
func (e *Engine) createFlow(ctx context.Context, f *flow.Flow, problems compile.Problems) (*FlowInfo, error) {
	now := time.Now().UTC()
	info := &FlowInfo{
		Flow:     store.Flow{ID: store.NewID(), Name: f.Name, Description: f.Description, Enabled: true, LatestVersion: 1, CreatedAt: now, UpdatedAt: now},
		Def:      f,
		Problems: problems,
	}
	info.Version = store.FlowVersion{FlowID: info.Flow.ID, Version: 1, Definition: string(f.JSON()), CreatedAt: now, UpdatedAt: now}
	err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Create(&info.Flow).Error; err != nil {
			return err
		}
		return tx.Create(&info.Version).Error
	})
	if err != nil {
		return nil, err
	}
	return info, nil
}

// SaveFlow saves f as a new draft version of an existing flow, incomplete or not (its problems
// are reported in the result). Versions are immutable, so runs always know exactly what they ran.
func (e *Engine) SaveFlow(ctx context.Context, id string, f *flow.Flow) (*FlowInfo, error) {
	_, problems := e.Compile(ctx, f)
	info := &FlowInfo{Def: f, Problems: problems}
	err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockFlow(tx, id, &info.Flow); err != nil {
			return err
		}
		now := time.Now().UTC()
		info.Flow.LatestVersion++
		info.Flow.Name, info.Flow.Description, info.Flow.UpdatedAt = f.Name, f.Description, now
		info.Version = store.FlowVersion{FlowID: id, Version: info.Flow.LatestVersion, Definition: string(f.JSON()), CreatedAt: now, UpdatedAt: now}
		if err := tx.Create(&info.Version).Error; err != nil {
			return err
		}
		return tx.Model(&info.Flow).Select("latest_version", "name", "description", "updated_at").Updates(&info.Flow).Error
	})
	if err != nil {
		return nil, store.NotFound(err)
	}
	return info, nil
}

// lockFlow loads a flow for update. On Postgres the row lock serialises concurrent saves;
// SQLite serialises all writes anyway.
func lockFlow(tx *gorm.DB, id string, f *store.Flow) error {
	q := tx
	if tx.Dialector.Name() == "postgres" {
		q = q.Set("gorm:query_option", "FOR UPDATE")
	}
	return q.Where("id = ?", id).Take(f).Error
}

// PublishFlow makes version v (0 = latest) the one triggers run against. Publishing an older
// version is a rollback.
func (e *Engine) PublishFlow(ctx context.Context, id string, v int) (*FlowInfo, error) {
	info := &FlowInfo{}
	err := e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := lockFlow(tx, id, &info.Flow); err != nil {
			return err
		}
		if v == 0 {
			v = info.Flow.LatestVersion
		}
		if err := tx.Where("flow_id = ? AND version = ?", id, v).Take(&info.Version).Error; err != nil {
			return err
		}
		def, err := flow.Parse([]byte(info.Version.Definition))
		if err != nil {
			return err
		}
		// Re-check: a credential or team it uses may have been deleted since it was saved.
		cf, problems := compile.Compile(def, refs{ctx, tx})
		if problems != nil {
			return &InvalidFlowError{problems}
		}
		info.Def = def
		now := time.Now().UTC()
		if !info.Version.Published {
			info.Version.Published, info.Version.PublishedAt = true, &now
			if err := tx.Model(&info.Version).Select("published", "published_at").Updates(&info.Version).Error; err != nil {
				return err
			}
		}
		trig := cf.Trigger.Def
		eventType, _ := trig.Config["event_type"].(string)
		info.Flow.PublishedVersion, info.Flow.TriggerType, info.Flow.EventType, info.Flow.UpdatedAt = v, trig.Type, eventType, now
		return tx.Model(&info.Flow).Select("published_version", "trigger_type", "event_type", "updated_at").Updates(&info.Flow).Error
	})
	if err != nil {
		return nil, store.NotFound(err)
	}
	return info, nil
}

// GetFlow loads a flow with version v (0 = latest).
func (e *Engine) GetFlow(ctx context.Context, id string, v int) (*FlowInfo, error) {
	info := &FlowInfo{}
	db := e.Store.DB.WithContext(ctx)
	if err := db.Where("id = ?", id).Take(&info.Flow).Error; err != nil {
		return nil, store.NotFound(err)
	}
	if v == 0 {
		v = info.Flow.LatestVersion
	}
	if err := db.Where("flow_id = ? AND version = ?", id, v).Take(&info.Version).Error; err != nil {
		return nil, store.NotFound(err)
	}
	def, err := flow.Parse([]byte(info.Version.Definition))
	if err != nil {
		return nil, err
	}
	info.Def = def
	return info, nil
}

// Versions lists a flow's versions, newest first.
func (e *Engine) Versions(ctx context.Context, id string) ([]store.FlowVersion, error) {
	var f store.Flow
	if err := e.Store.DB.WithContext(ctx).Select("id").Where("id = ?", id).Take(&f).Error; err != nil {
		return nil, store.NotFound(err)
	}
	var vs []store.FlowVersion
	err := e.Store.DB.WithContext(ctx).Omit("definition").Where("flow_id = ?", id).Order("version desc").Find(&vs).Error
	return vs, err
}

// FlowSummary is a flow with the status of its latest run.
type FlowSummary struct {
	store.Flow
	LastRun *store.Run
}

// ListFlows lists flows by name, filtered by a case-insensitive search.
func (e *Engine) ListFlows(ctx context.Context, search string, limit, offset int) ([]FlowSummary, error) {
	var flows []store.Flow
	q := e.Store.DB.WithContext(ctx).Order("name, id").Limit(limit).Offset(offset)
	if s := strings.TrimSpace(search); s != "" {
		like := "%" + strings.ToLower(s) + "%"
		q = q.Where("LOWER(name) LIKE ? OR LOWER(description) LIKE ?", like, like)
	}
	if err := q.Find(&flows).Error; err != nil {
		return nil, err
	}
	out := make([]FlowSummary, len(flows))
	if len(flows) == 0 {
		return out, nil
	}
	ids := make([]string, len(flows))
	for i, f := range flows {
		ids[i] = f.ID
		out[i].Flow = f
	}
	// The newest run of each listed flow, in one query.
	var runs []store.Run
	sub := e.Store.DB.Model(&store.Run{}).Select("MAX(id)").Where("flow_id IN ?", ids).Group("flow_id")
	if err := e.Store.DB.WithContext(ctx).Where("id IN (?)", sub).Find(&runs).Error; err != nil {
		return nil, err
	}
	last := map[string]*store.Run{}
	for i := range runs {
		last[runs[i].FlowID] = &runs[i]
	}
	for i := range out {
		out[i].LastRun = last[out[i].ID]
	}
	return out, nil
}

// SetEnabled turns a flow's triggers on or off.
func (e *Engine) SetEnabled(ctx context.Context, id string, enabled bool) (*store.Flow, error) {
	res := e.Store.DB.WithContext(ctx).Model(&store.Flow{}).Where("id = ?", id).Updates(map[string]any{"enabled": enabled, "updated_at": time.Now().UTC()})
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, store.ErrNotFound
	}
	var f store.Flow
	err := e.Store.DB.WithContext(ctx).Where("id = ?", id).Take(&f).Error
	return &f, err
}

// DeleteFlow removes a flow and its versions. Its runs and events stay, for the audit trail.
func (e *Engine) DeleteFlow(ctx context.Context, id string) error {
	return e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Where("id = ?", id).Delete(&store.Flow{})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		if err := tx.Where("flow_id = ?", id).Delete(&store.ScheduleMark{}).Error; err != nil {
			return err
		}
		return tx.Where("flow_id = ?", id).Delete(&store.FlowVersion{}).Error
	})
}

// compiledVersion returns the compiled flow for a stored version, compiling it at most once per
// process: versions never change after they are saved.
func (e *Engine) compiledVersion(ctx context.Context, flowID string, version int) (*compile.Flow, error) {
	key := fmt.Sprintf("%s@%d", flowID, version)
	if cf, ok := e.compiled.Load(key); ok {
		return cf.(*compile.Flow), nil
	}
	var v store.FlowVersion
	if err := e.Store.DB.WithContext(ctx).Where("flow_id = ? AND version = ?", flowID, version).Take(&v).Error; err != nil {
		return nil, fmt.Errorf("flow %s version %d: %w", flowID, version, store.NotFound(err))
	}
	def, err := flow.Parse([]byte(v.Definition))
	if err != nil {
		return nil, err
	}
	// Without store refs: a deleted credential fails the step that uses it, with a clear error.
	cf, problems := compile.Compile(def, nil)
	if problems != nil {
		return nil, &InvalidFlowError{problems}
	}
	e.compiled.Store(key, cf)
	return cf, nil
}

// ExportFlow returns a flow version's document.
func (e *Engine) ExportFlow(ctx context.Context, id string, v int) ([]byte, error) {
	info, err := e.GetFlow(ctx, id, v)
	if err != nil {
		return nil, err
	}
	// Written for people to read and edit: ">=" stays ">=", not "\u003e=".
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(info.Def); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
