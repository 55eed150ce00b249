package store

import "time"

// Roles, from most to least privileged. A role's permissions are in engine/auth.
const (
	RoleAdmin    = "admin"
	RoleEditor   = "editor"
	RoleOperator = "operator"
	RoleViewer   = "viewer"
)

// User is a person who signs in to the builder or owns API keys.
type User struct {
	ID           string `gorm:"primaryKey;size:36"`
	Email        string `gorm:"size:320;not null;uniqueIndex"` // lower-cased
	Name         string `gorm:"size:200"`
	Role         string `gorm:"size:16;not null"`
	PasswordHash string `gorm:"size:200;not null"`
	Disabled     bool   `gorm:"not null"`
	// FailedLogins counts wrong passwords since the last success; LockedUntil stops guessing.
	FailedLogins int `gorm:"not null;default:0"`
	LockedUntil  *time.Time
	LastLoginAt  *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Session is a signed-in browser. Only the SHA-256 of its cookie value is stored.
type Session struct {
	ID        string `gorm:"primaryKey;size:36"`
	TokenHash string `gorm:"size:64;not null;uniqueIndex"`
	UserID    string `gorm:"size:36;not null;index"`
	// CSRF must accompany every cookie-authenticated write (X-CSRF-Token header).
	CSRF       string `gorm:"size:64;not null"`
	IP         string `gorm:"size:64"`
	UserAgent  string `gorm:"size:300"`
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time `gorm:"not null"` // the absolute timeout
}

// APIKey authenticates a program. Only the SHA-256 of the key is stored; the key is shown once.
// UserID is empty for a service account's key.
type APIKey struct {
	ID         string `gorm:"primaryKey;size:36"`
	Name       string `gorm:"size:200;not null"`
	Prefix     string `gorm:"size:16;not null"` // the key's first characters, to recognise it
	KeyHash    string `gorm:"size:64;not null;uniqueIndex"`
	UserID     string `gorm:"size:36;index"`
	Role       string `gorm:"size:16;not null"`
	CreatedBy  string `gorm:"size:36"`
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
	RevokedAt  *time.Time
	CreatedAt  time.Time
}

// AuditEntry is one sensitive action. Rows are only ever inserted (and pruned by nothing).
type AuditEntry struct {
	ID         string    `gorm:"primaryKey;size:36"` // UUIDv7: ordered by time
	At         time.Time `gorm:"not null;index"`
	ActorID    string    `gorm:"size:36;index"` // user or key id; empty for anonymous (failed logins)
	ActorName  string    `gorm:"size:320"`      // email, "key:<name>" or "token:<n>"
	ActorKind  string    `gorm:"size:16"`       // user, key, token, system, anonymous
	IP         string    `gorm:"size:64"`
	Action     string    `gorm:"size:64;not null;index"`
	ObjectType string    `gorm:"size:32;index:audit_object"`
	ObjectID   string    `gorm:"size:64;index:audit_object"`
	ObjectName string    `gorm:"size:300"`
	Diff       string    `gorm:"type:text"` // JSON; never secrets
}

// AuthModels lists the tables of people, keys and the audit log, migrated with Models.
var AuthModels = []any{&User{}, &Session{}, &APIKey{}, &AuditEntry{}}
