package auth

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/opsflow/opsflow/engine/store"
)

const setupSetting = "setup_token_hash"

// SetupTokenTTL is how long a setup token printed at start-up stays valid.
const SetupTokenTTL = 24 * time.Hour

// NewSetupToken returns a fresh one-time token that lets whoever holds it create the first admin,
// or "" when users already exist. A new token replaces the previous one.
func (s *Service) NewSetupToken(ctx context.Context) (string, error) {
	if n, err := s.UserCount(ctx); err != nil || n > 0 {
		return "", err
	}
	token := randomToken("")
	value := Hash(token) + " " + s.cfg.Now().Add(SetupTokenTTL).Format(time.RFC3339)
	err := s.db.WithContext(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "key"}}, DoUpdates: clause.AssignmentColumns([]string{"value", "updated_at"})}).
		Create(&store.Setting{Key: setupSetting, Value: value}).Error
	return token, err
}

// NeedsSetup reports whether there are no users yet.
func (s *Service) NeedsSetup(ctx context.Context) (bool, error) {
	n, err := s.UserCount(ctx)
	return n == 0, err
}

// Setup creates the first admin with the setup token, once: afterwards the token is gone.
func (s *Service) Setup(ctx context.Context, token, email, name, password string) (*store.User, error) {
	var u *store.User
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var set store.Setting
		err := tx.Where("key = ?", setupSetting).Take(&set).Error
		if err != nil && err != gorm.ErrRecordNotFound {
			return err
		}
		var n int64
		if err := tx.Model(&store.User{}).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return refuse(http.StatusConflict, "already_set_up", "opsflow is already set up; sign in instead")
		}
		hash, exp, _ := strings.Cut(set.Value, " ")
		expires, _ := time.Parse(time.RFC3339, exp)
		if set.Value == "" || subtle.ConstantTimeCompare([]byte(hash), []byte(Hash(token))) != 1 || s.cfg.Now().After(expires) {
			return refuse(http.StatusForbidden, "bad_setup_token", "the setup token is wrong or expired; restart opsflow serve for a new one")
		}
		sub := &Service{db: tx, cfg: s.cfg}
		if u, err = sub.CreateUser(ctx, email, name, store.RoleAdmin, password); err != nil {
			return err
		}
		return tx.Where("key = ?", setupSetting).Delete(&store.Setting{}).Error
	})
	return u, err
}
