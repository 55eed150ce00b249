package auth

import (
	"context"
	"encoding/json"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
)

// Actor is who did something: a user (by session or their key), a service key, a static token,
// or nobody (a failed login).
type Actor struct {
	Kind string // user, key, token, anonymous
	ID   string // user id, key id, or "token:<n>"
	Name string // email, key name, "OPSFLOW_API_TOKENS #n"
	IP   string
}

// Entry is what an action records. Diff must never hold a secret; callers pass only safe fields.
type Entry struct {
	Action     string
	ObjectType string
	ObjectID   string
	ObjectName string
	Diff       any
}

// Record appends one row to the audit log.
func (s *Service) Record(ctx context.Context, a Actor, e Entry) error {
	return RecordTx(s.db.WithContext(ctx), s.cfg.Now(), a, e)
}

// RecordTx appends an audit row inside a caller's transaction.
func RecordTx(tx *gorm.DB, at time.Time, a Actor, e Entry) error {
	diff := ""
	if e.Diff != nil {
		b, err := json.Marshal(e.Diff)
		if err != nil {
			return err
		}
		diff = string(b)
	}
	return tx.Create(&store.AuditEntry{ID: store.NewID(), At: at, ActorID: a.ID, ActorName: a.Name, ActorKind: a.Kind, IP: a.IP,
		Action: e.Action, ObjectType: e.ObjectType, ObjectID: e.ObjectID, ObjectName: truncate(e.ObjectName, 300), Diff: diff}).Error
}

// AuditFilter selects audit rows; zero fields match everything. Cursor is the last id seen.
type AuditFilter struct {
	Actor      string // actor id or name
	Action     string // exact, or a prefix ending in "." ("flow.")
	ObjectType string
	ObjectID   string
	Since      time.Time
	Until      time.Time
	Cursor     string
	Limit      int
}

// Audit lists rows newest first.
func (s *Service) Audit(ctx context.Context, f AuditFilter) ([]store.AuditEntry, error) {
	q := s.db.WithContext(ctx).Order("id DESC")
	if f.Actor != "" {
		q = q.Where("actor_id = ? OR actor_name = ?", f.Actor, f.Actor)
	}
	if f.Action != "" {
		if f.Action[len(f.Action)-1] == '.' {
			q = q.Where("action LIKE ?", f.Action+"%")
		} else {
			q = q.Where("action = ?", f.Action)
		}
	}
	if f.ObjectType != "" {
		q = q.Where("object_type = ?", f.ObjectType)
	}
	if f.ObjectID != "" {
		q = q.Where("object_id = ?", f.ObjectID)
	}
	if !f.Since.IsZero() {
		q = q.Where("at >= ?", f.Since)
	}
	if !f.Until.IsZero() {
		q = q.Where("at < ?", f.Until)
	}
	if f.Cursor != "" {
		q = q.Where("id < ?", f.Cursor)
	}
	if f.Limit > 0 {
		q = q.Limit(f.Limit)
	}
	var rows []store.AuditEntry
	return rows, q.Find(&rows).Error
}
