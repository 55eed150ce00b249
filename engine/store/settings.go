package store

import (
	"context"
	"errors"
	"time"

	"gorm.io/gorm"
)

// Setting is one value the installation keeps about itself (created by migration 2): the key
// check value, the one-time setup token's hash.
type Setting struct {
	Key       string `gorm:"primaryKey;size:64"`
	Value     string `gorm:"type:text;not null"`
	CreatedAt time.Time
	UpdatedAt time.Time
}

// GetSetting returns a setting's value, or ErrNotFound.
func (s *Store) GetSetting(ctx context.Context, key string) (string, error) {
	var st Setting
	err := s.DB.WithContext(ctx).Where("key = ?", key).Take(&st).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", ErrNotFound
	}
	return st.Value, err
}

// AddSetting stores a setting that must not exist yet; a concurrent writer's value wins
// (IsUniqueViolation), so the caller reads it back.
func (s *Store) AddSetting(ctx context.Context, key, value string) error {
	return s.DB.WithContext(ctx).Create(&Setting{Key: key, Value: value}).Error
}
