package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
)

// Error is a refusal the API answers with Status and Code.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string { return e.Message }

func refuse(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrBadLogin is the one answer to a wrong email or a wrong password, so neither is revealed.
var ErrBadLogin = refuse(http.StatusUnauthorized, "bad_login", "wrong email or password")

// Config holds the timeouts and limits; zero values take the defaults.
type Config struct {
	SessionIdle time.Duration // default 1h: a session unused this long ends
	SessionMax  time.Duration // default 12h: a session ends this long after login however used
	MaxFailures int           // default 5 wrong passwords in a row lock the account...
	LockFor     time.Duration // default 15m: ...for this long
	IPAttempts  int           // default 20 login attempts per IP per IPWindow
	IPWindow    time.Duration // default 5m
	Now         func() time.Time
}

// Service is the people, keys and audit log of one store.
type Service struct {
	db  *gorm.DB
	cfg Config

	mu       sync.Mutex
	attempts map[string][]time.Time // login attempts per IP, for the rate limit
}

// New makes a Service on db (migrated by store.Open).
func New(db *gorm.DB, cfg Config) *Service {
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = time.Hour
	}
	if cfg.SessionMax <= 0 {
		cfg.SessionMax = 12 * time.Hour
	}
	if cfg.MaxFailures <= 0 {
		cfg.MaxFailures = 5
	}
	if cfg.LockFor <= 0 {
		cfg.LockFor = 15 * time.Minute
	}
	if cfg.IPAttempts <= 0 {
		cfg.IPAttempts = 20
	}
	if cfg.IPWindow <= 0 {
		cfg.IPWindow = 5 * time.Minute
	}
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return time.Now().UTC() }
	}
	return &Service{db: db, cfg: cfg, attempts: map[string][]time.Time{}}
}

// DB is the database (for tests).
func (s *Service) DB() *gorm.DB { return s.db }

// Config returns the effective configuration.
func (s *Service) Config() Config { return s.cfg }

// Hash is the SHA-256 (hex) under which tokens and keys are stored: they are random, so no salt is needed.
func Hash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func randomToken(prefix string) string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + base64.RawURLEncoding.EncodeToString(b)
}

// NormalizeEmail checks an address and lower-cases it.
func NormalizeEmail(email string) (string, error) {
	email = strings.ToLower(strings.TrimSpace(email))
	a, err := mail.ParseAddress(email)
	if err != nil || a.Address != email || len(email) > 320 {
		return "", refuse(http.StatusBadRequest, "invalid_request", "email must be an address like ana@example.com")
	}
	return email, nil
}

// CreateUser adds a user.
func (s *Service) CreateUser(ctx context.Context, email, name, role, password string) (*store.User, error) {
	email, err := NormalizeEmail(email)
	if err != nil {
		return nil, err
	}
	if !ValidRole(role) {
		return nil, refuse(http.StatusBadRequest, "invalid_request", "role must be one of admin, editor, operator, viewer")
	}
	if err := CheckPasswordPolicy(password); err != nil {
		return nil, refuse(http.StatusBadRequest, "weak_password", "%s", err.Error())
	}
	u := &store.User{ID: store.NewID(), Email: email, Name: strings.TrimSpace(name), Role: role, PasswordHash: HashPassword(password)}
	if err := s.db.WithContext(ctx).Create(u).Error; err != nil {
		if store.IsUniqueViolation(err) {
			return nil, refuse(http.StatusConflict, "conflict", "a user with that email already exists")
		}
		return nil, err
	}
	return u, nil
}

// User finds a user by id.
func (s *Service) User(ctx context.Context, id string) (*store.User, error) {
	var u store.User
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&u).Error; err != nil {
		return nil, store.NotFound(err)
	}
	return &u, nil
}

// Users lists every user by email.
func (s *Service) Users(ctx context.Context) ([]store.User, error) {
	var us []store.User
	return us, s.db.WithContext(ctx).Order("email").Find(&us).Error
}

// UserCount counts users.
func (s *Service) UserCount(ctx context.Context) (int64, error) {
	var n int64
	return n, s.db.WithContext(ctx).Model(&store.User{}).Count(&n).Error
}

// UserChange is a partial update of a user; nil fields stay.
type UserChange struct {
	Name     *string
	Role     *string
	Disabled *bool
}

// UpdateUser changes a user's name, role or disabled flag. The last active admin cannot lose the
// role or be disabled (nobody could manage users any more). Disabling ends the user's sessions.
func (s *Service) UpdateUser(ctx context.Context, id string, ch UserChange) (before, after *store.User, err error) {
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var u store.User
		if err := tx.Where("id = ?", id).Take(&u).Error; err != nil {
			return store.NotFound(err)
		}
		b := u
		before = &b
		if ch.Name != nil {
			u.Name = strings.TrimSpace(*ch.Name)
		}
		if ch.Role != nil {
			if !ValidRole(*ch.Role) {
				return refuse(http.StatusBadRequest, "invalid_request", "role must be one of admin, editor, operator, viewer")
			}
			u.Role = *ch.Role
		}
		if ch.Disabled != nil {
			u.Disabled = *ch.Disabled
		}
		if before.Role == store.RoleAdmin && !before.Disabled && (u.Role != store.RoleAdmin || u.Disabled) {
			var admins int64
			if err := tx.Model(&store.User{}).Where("role = ? AND disabled = ? AND id <> ?", store.RoleAdmin, false, u.ID).Count(&admins).Error; err != nil {
				return err
			}
			if admins == 0 {
				return refuse(http.StatusConflict, "last_admin", "this is the last active admin; make another user admin first")
			}
		}
		if err := tx.Select("name", "role", "disabled", "updated_at").Save(&u).Error; err != nil {
			return err
		}
		if u.Disabled {
			if err := tx.Where("user_id = ?", u.ID).Delete(&store.Session{}).Error; err != nil {
				return err
			}
		}
		after = &u
		return nil
	})
	return before, after, err
}

// SetPassword sets a user's password (an admin's reset or the user's own change), unlocks the
// account and ends every session of the user.
func (s *Service) SetPassword(ctx context.Context, id, password string) error {
	if err := CheckPasswordPolicy(password); err != nil {
		return refuse(http.StatusBadRequest, "weak_password", "%s", err.Error())
	}
	return s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		res := tx.Model(&store.User{}).Where("id = ?", id).Updates(map[string]any{
			"password_hash": HashPassword(password), "failed_logins": 0, "locked_until": nil, "updated_at": s.cfg.Now()})
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return store.ErrNotFound
		}
		return tx.Where("user_id = ?", id).Delete(&store.Session{}).Error
	})
}

// allowIP counts a login attempt from ip and reports whether it is within the rate limit.
func (s *Service) allowIP(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.cfg.Now()
	recent := s.attempts[ip][:0]
	for _, t := range s.attempts[ip] {
		if now.Sub(t) < s.cfg.IPWindow {
			recent = append(recent, t)
		}
	}
	if len(recent) >= s.cfg.IPAttempts {
		s.attempts[ip] = recent
		return false
	}
	s.attempts[ip] = append(recent, now)
	if len(s.attempts) > 10000 { // bound memory: forget everyone (the per-account lockout still holds)
		s.attempts = map[string][]time.Time{ip: s.attempts[ip]}
	}
	return true
}

// Login checks an email and password and opens a session. It returns the user even on a wrong
// password (for the audit log) together with the error.
func (s *Service) Login(ctx context.Context, email, password, ip, userAgent string) (*store.User, *store.Session, string, error) {
	if !s.allowIP(ip) {
		return nil, nil, "", refuse(http.StatusTooManyRequests, "rate_limited", "too many login attempts from this address; wait a few minutes")
	}
	email = strings.ToLower(strings.TrimSpace(email))
	var u store.User
	err := s.db.WithContext(ctx).Where("email = ?", email).Take(&u).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		VerifyPassword(dummyHash, password)
		return nil, nil, "", ErrBadLogin
	}
	if err != nil {
		return nil, nil, "", err
	}
	now := s.cfg.Now()
	if u.LockedUntil != nil && now.Before(*u.LockedUntil) {
		return &u, nil, "", refuse(http.StatusTooManyRequests, "locked",
			"too many wrong passwords: this account is locked until %s (or until an admin resets its password)", u.LockedUntil.Format(time.RFC3339))
	}
	if !VerifyPassword(u.PasswordHash, password) {
		u.FailedLogins++
		upd := map[string]any{"failed_logins": gorm.Expr("failed_logins + 1")}
		if u.FailedLogins >= s.cfg.MaxFailures {
			until := now.Add(s.cfg.LockFor)
			upd["locked_until"], upd["failed_logins"] = until, 0
		}
		if err := s.db.WithContext(ctx).Model(&store.User{}).Where("id = ?", u.ID).Updates(upd).Error; err != nil {
			return nil, nil, "", err
		}
		return &u, nil, "", ErrBadLogin
	}
	if u.Disabled {
		return &u, nil, "", refuse(http.StatusForbidden, "disabled", "this account is disabled")
	}
	token := randomToken("")
	sess := &store.Session{ID: store.NewID(), TokenHash: Hash(token), UserID: u.ID, CSRF: randomToken("")[:43], IP: ip,
		UserAgent: truncate(userAgent, 300), CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.cfg.SessionMax)}
	err = s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&store.User{}).Where("id = ?", u.ID).Updates(map[string]any{"failed_logins": 0, "locked_until": nil, "last_login_at": now}).Error; err != nil {
			return err
		}
		return tx.Create(sess).Error
	})
	if err != nil {
		return nil, nil, "", err
	}
	return &u, sess, token, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// Session finds the live session of a cookie value and its (enabled) user, touching its last-seen
// time. An expired session is deleted.
func (s *Service) Session(ctx context.Context, token string) (*store.Session, *store.User, error) {
	var sess store.Session
	if err := s.db.WithContext(ctx).Where("token_hash = ?", Hash(token)).Take(&sess).Error; err != nil {
		return nil, nil, store.NotFound(err)
	}
	now := s.cfg.Now()
	if now.After(sess.ExpiresAt) || now.Sub(sess.LastSeenAt) > s.cfg.SessionIdle {
		s.db.WithContext(ctx).Delete(&store.Session{}, "id = ?", sess.ID)
		return nil, nil, store.ErrNotFound
	}
	u, err := s.User(ctx, sess.UserID)
	if err != nil || u.Disabled {
		return nil, nil, store.ErrNotFound
	}
	if now.Sub(sess.LastSeenAt) > time.Minute { // one write a minute is enough for the idle timeout
		sess.LastSeenAt = now
		s.db.WithContext(ctx).Model(&store.Session{}).Where("id = ?", sess.ID).Update("last_seen_at", now)
	}
	return &sess, u, nil
}

// Sessions lists a user's live sessions, newest first.
func (s *Service) Sessions(ctx context.Context, userID string) ([]store.Session, error) {
	var list []store.Session
	idleSince := s.cfg.Now().Add(-s.cfg.SessionIdle)
	err := s.db.WithContext(ctx).Where("user_id = ? AND expires_at > ? AND last_seen_at > ?", userID, s.cfg.Now(), idleSince).
		Order("created_at DESC").Find(&list).Error
	return list, err
}

// RevokeSession ends one of a user's sessions.
func (s *Service) RevokeSession(ctx context.Context, userID, id string) error {
	res := s.db.WithContext(ctx).Where("id = ? AND user_id = ?", id, userID).Delete(&store.Session{})
	if res.Error == nil && res.RowsAffected == 0 {
		return store.ErrNotFound
	}
	return res.Error
}

// KeyPrefix starts every API key, so a leaked one is recognisable (and secret scanners can find it).
const KeyPrefix = "ofk_"

// CreateKey makes an API key for a user (userID set) or a service account (empty). The key itself
// is returned only here.
func (s *Service) CreateKey(ctx context.Context, name, role, userID, createdBy string, expires *time.Time) (*store.APIKey, string, error) {
	name = strings.TrimSpace(name)
	if name == "" || len(name) > 200 {
		return nil, "", refuse(http.StatusBadRequest, "invalid_request", "name is required (at most 200 characters)")
	}
	if !ValidRole(role) {
		return nil, "", refuse(http.StatusBadRequest, "invalid_request", "role must be one of admin, editor, operator, viewer")
	}
	if expires != nil && !expires.After(s.cfg.Now()) {
		return nil, "", refuse(http.StatusBadRequest, "invalid_request", "expires_at must be in the future")
	}
	key := randomToken(KeyPrefix)
	k := &store.APIKey{ID: store.NewID(), Name: name, Prefix: key[:len(KeyPrefix)+6], KeyHash: Hash(key), UserID: userID, Role: role,
		CreatedBy: createdBy, ExpiresAt: expires, CreatedAt: s.cfg.Now()}
	if err := s.db.WithContext(ctx).Create(k).Error; err != nil {
		return nil, "", err
	}
	return k, key, nil
}

// Key finds the usable API key for a presented key and the role it acts with: the key's role,
// and never more than its owner's current role. It records the time of use.
func (s *Service) Key(ctx context.Context, key string) (*store.APIKey, *store.User, error) {
	var k store.APIKey
	if err := s.db.WithContext(ctx).Where("key_hash = ?", Hash(key)).Take(&k).Error; err != nil {
		return nil, nil, store.NotFound(err)
	}
	now := s.cfg.Now()
	if k.RevokedAt != nil || (k.ExpiresAt != nil && now.After(*k.ExpiresAt)) {
		return nil, nil, store.ErrNotFound
	}
	var owner *store.User
	if k.UserID != "" {
		u, err := s.User(ctx, k.UserID)
		if err != nil || u.Disabled {
			return nil, nil, store.ErrNotFound
		}
		owner = u
		if !Covers(u.Role, k.Role) {
			k.Role = u.Role // the owner was demoted: the key follows
		}
	}
	if k.LastUsedAt == nil || now.Sub(*k.LastUsedAt) > time.Minute {
		s.db.WithContext(ctx).Model(&store.APIKey{}).Where("id = ?", k.ID).Update("last_used_at", now)
		k.LastUsedAt = &now
	}
	return &k, owner, nil
}

// Keys lists API keys: a user's (userID set) or all.
func (s *Service) Keys(ctx context.Context, userID string, all bool) ([]store.APIKey, error) {
	q := s.db.WithContext(ctx).Order("created_at DESC")
	if !all {
		q = q.Where("user_id = ?", userID)
	}
	var list []store.APIKey
	return list, q.Find(&list).Error
}

// GetKey finds a key by id.
func (s *Service) GetKey(ctx context.Context, id string) (*store.APIKey, error) {
	var k store.APIKey
	if err := s.db.WithContext(ctx).Where("id = ?", id).Take(&k).Error; err != nil {
		return nil, store.NotFound(err)
	}
	return &k, nil
}

// RevokeKey revokes a key for good (the row stays, for the audit trail).
func (s *Service) RevokeKey(ctx context.Context, id string) error {
	res := s.db.WithContext(ctx).Model(&store.APIKey{}).Where("id = ? AND revoked_at IS NULL", id).Update("revoked_at", s.cfg.Now())
	if res.Error == nil && res.RowsAffected == 0 {
		return store.ErrNotFound
	}
	return res.Error
}
