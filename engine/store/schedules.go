package store

import (
	"context"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"
)

// ScheduleMark is, per scheduled flow, the time up to which its fire times are handled (created
// by migration 10). Processes advance it as they fire or first see a schedule; one starting after
// every process was down catches up on the fire times after it.
type ScheduleMark struct {
	FlowID       string `gorm:"primaryKey;size:36"`
	HandledUntil int64  `gorm:"not null"` // unix seconds (fire times are whole seconds)
}

// ScheduleMarks returns the marks of the given flows; a flow without one is absent.
func (s *Store) ScheduleMarks(ctx context.Context, flowIDs []string) (map[string]time.Time, error) {
	out := map[string]time.Time{}
	if len(flowIDs) == 0 {
		return out, nil
	}
	var marks []ScheduleMark
	if err := s.DB.WithContext(ctx).Where("flow_id IN ?", flowIDs).Find(&marks).Error; err != nil {
		return nil, err
	}
	for _, m := range marks {
		out[m.FlowID] = time.Unix(m.HandledUntil, 0).UTC()
	}
	return out, nil
}

// AdvanceScheduleMark moves a flow's mark forward to t (never back: processes race).
func (s *Store) AdvanceScheduleMark(ctx context.Context, flowID string, t time.Time) error {
	db := s.DB.WithContext(ctx)
	advance := func() (*gorm.DB, error) {
		res := db.Model(&ScheduleMark{}).Where("flow_id = ? AND handled_until < ?", flowID, t.Unix()).Update("handled_until", t.Unix())
		return res, res.Error
	}
	res, err := advance()
	if err != nil || res.RowsAffected > 0 {
		return err
	}
	created := db.Clauses(clause.OnConflict{DoNothing: true}).Create(&ScheduleMark{FlowID: flowID, HandledUntil: t.Unix()})
	if created.Error != nil || created.RowsAffected > 0 {
		return created.Error
	}
	_, err = advance() // another process created it meanwhile, perhaps with an earlier time
	return err
}
