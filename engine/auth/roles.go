// Package auth is opsflow's people and access: users with argon2id passwords, browser sessions,
// API keys, roles and their permissions, login lockout, the one-time setup token and the audit log.
package auth

import (
	"slices"

	"github.com/opsflow/opsflow/engine/store"
)

// Permission is what a route needs. The API maps every route to exactly one (engine/api/perms.go).
type Permission string

const (
	// Public routes need nobody: health, the API description, webhooks (signed), login, setup.
	Public Permission = "public"
	// Self is any signed-in user or key: who am I, my sessions, my keys, my password.
	Self Permission = "self"

	ReadFlows       Permission = "flows:read" // flows, versions, runs, events, teams, assignments, templates, node types, credential names
	WriteFlows      Permission = "flows:write"
	PublishFlows    Permission = "flows:publish"
	RunFlows        Permission = "flows:run"    // manual and test runs
	SendEvents      Permission = "events:send"  // POST /events
	OperateRuns     Permission = "runs:operate" // cancel, retry, replay
	WorkAssignments Permission = "assignments:work"
	ManageTeams     Permission = "teams:write"
	ManageCreds     Permission = "credentials:write"
	ManageUsers     Permission = "users:write" // users, other people's keys, service keys
	ReadAudit       Permission = "audit:read"
)

var viewer = []Permission{Self, ReadFlows}

// rolePerms is the role matrix (docs/security.md shows it; a test checks the two agree).
var rolePerms = map[string][]Permission{
	store.RoleViewer:   viewer,
	store.RoleOperator: append(slices.Clone(viewer), RunFlows, SendEvents, OperateRuns, WorkAssignments),
	store.RoleEditor:   append(slices.Clone(viewer), WriteFlows, PublishFlows, RunFlows, SendEvents),
	store.RoleAdmin: append(slices.Clone(viewer), WriteFlows, PublishFlows, RunFlows, SendEvents, OperateRuns, WorkAssignments,
		ManageTeams, ManageCreds, ManageUsers, ReadAudit),
}

// Roles lists the roles from most to least privileged.
var Roles = []string{store.RoleAdmin, store.RoleEditor, store.RoleOperator, store.RoleViewer}

// ValidRole reports whether r is a role.
func ValidRole(r string) bool { _, ok := rolePerms[r]; return ok }

// Allows reports whether role has permission p.
func Allows(role string, p Permission) bool {
	return p == Public || slices.Contains(rolePerms[role], p)
}

// Covers reports whether role a has every permission of role b (a key may not outrank its owner).
func Covers(a, b string) bool {
	for _, p := range rolePerms[b] {
		if !Allows(a, p) {
			return false
		}
	}
	return ValidRole(a) && ValidRole(b)
}
