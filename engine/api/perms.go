package api

import "github.com/opsflow/opsflow/engine/auth"

// rule is what one route needs and, when it succeeds, what it writes to the audit log.
type rule struct {
	perm auth.Permission
	// action is the audit log's name for a successful call; empty records nothing (reads).
	// Handlers may add the object's name and a diff with s.note.
	action string
	object string // the kind of object the path's :id names
}

// routes is the ONE table of who may call what, keyed by method and gin path. A route missing
// here is refused with a 500 and fails TestEveryRouteHasARule.
var routes = map[string]rule{
	"GET /healthz":                 {perm: auth.Public},
	"GET /readyz":                  {perm: auth.Public},
	"GET /api/v1/healthz":          {perm: auth.Public},
	"GET /api/v1/readyz":           {perm: auth.Public},
	"GET /api/v1/openapi.json":     {perm: auth.Public},
	"GET /api/v1/schema/flow.json": {perm: auth.Public},
	"POST /api/v1/hooks/:flow_id":  {perm: auth.Public}, // webhooks carry signatures
	"PUT /api/v1/hooks/:flow_id":   {perm: auth.Public},
	"GET /api/v1/setup":            {perm: auth.Public},
	"POST /api/v1/setup":           {perm: auth.Public, action: "user.created", object: "user"}, // needs the setup token
	"POST /api/v1/auth/login":      {perm: auth.Public},                                         // records login and failed_login itself

	"GET /api/v1/auth/me":              {perm: auth.Self},
	"POST /api/v1/auth/logout":         {perm: auth.Self, action: "logout", object: "session"},
	"POST /api/v1/auth/password":       {perm: auth.Self, action: "user.password_changed", object: "user"},
	"GET /api/v1/auth/sessions":        {perm: auth.Self},
	"DELETE /api/v1/auth/sessions/:id": {perm: auth.Self, action: "session.revoked", object: "session"},
	"GET /api/v1/keys":                 {perm: auth.Self},
	"POST /api/v1/keys":                {perm: auth.Self, action: "key.created", object: "key"},
	"DELETE /api/v1/keys/:id":          {perm: auth.Self, action: "key.revoked", object: "key"}, // own keys; others' need users:write

	"GET /api/v1/users":                       {perm: auth.ManageUsers},
	"POST /api/v1/users":                      {perm: auth.ManageUsers, action: "user.created", object: "user"},
	"PATCH /api/v1/users/:id":                 {perm: auth.ManageUsers, action: "user.changed", object: "user"},
	"POST /api/v1/users/:id/password":         {perm: auth.ManageUsers, action: "user.password_reset", object: "user"},
	"GET /api/v1/audit":                       {perm: auth.ReadAudit},
	"GET /api/v1/node-types":                  {perm: auth.ReadFlows},
	"GET /api/v1/flows":                       {perm: auth.ReadFlows},
	"POST /api/v1/flows":                      {perm: auth.WriteFlows, action: "flow.created", object: "flow"},
	"POST /api/v1/flows/validate":             {perm: auth.ReadFlows},
	"GET /api/v1/flows/:id":                   {perm: auth.ReadFlows},
	"PUT /api/v1/flows/:id":                   {perm: auth.WriteFlows, action: "flow.changed", object: "flow"},
	"PATCH /api/v1/flows/:id":                 {perm: auth.PublishFlows, action: "flow.changed", object: "flow"}, // enabling is going live
	"DELETE /api/v1/flows/:id":                {perm: auth.WriteFlows, action: "flow.deleted", object: "flow"},
	"GET /api/v1/flows/:id/export":            {perm: auth.ReadFlows},
	"POST /api/v1/flows/:id/publish":          {perm: auth.PublishFlows, action: "flow.published", object: "flow"},
	"GET /api/v1/flows/:id/versions":          {perm: auth.ReadFlows},
	"GET /api/v1/flows/:id/versions/:version": {perm: auth.ReadFlows},
	"POST /api/v1/flows/:id/run":              {perm: auth.RunFlows, action: "run.started_manually", object: "flow"},
	"GET /api/v1/flows/:id/template":          {perm: auth.ReadFlows},
	"POST /api/v1/flows/:id/replay":           {perm: auth.RunFlows, action: "replay.started", object: "flow"}, // editors test, operators replay
	"GET /api/v1/flows/:id/replays":           {perm: auth.ReadFlows},
	"GET /api/v1/replays/:id":                 {perm: auth.ReadFlows},
	"GET /api/v1/replays/:id/results":         {perm: auth.ReadFlows},
	"POST /api/v1/replays/:id/cancel":         {perm: auth.RunFlows, action: "replay.cancelled", object: "replay"},
	"POST /api/v1/events":                     {perm: auth.SendEvents},
	"GET /api/v1/events":                      {perm: auth.ReadFlows},
	"GET /api/v1/runs":                        {perm: auth.ReadFlows},
	"GET /api/v1/runs/:id":                    {perm: auth.ReadFlows},
	"GET /api/v1/runs/:id/steps/:node_id":     {perm: auth.ReadFlows},
	"GET /api/v1/status":                      {perm: auth.ReadFlows},
	"POST /api/v1/runs/:id/cancel":            {perm: auth.OperateRuns, action: "run.cancelled", object: "run"},
	"POST /api/v1/runs/:id/retry":             {perm: auth.OperateRuns, action: "run.retried", object: "run"},
	"GET /api/v1/teams":                       {perm: auth.ReadFlows},
	"POST /api/v1/teams":                      {perm: auth.ManageTeams, action: "team.created", object: "team"},
	"GET /api/v1/teams/:id":                   {perm: auth.ReadFlows},
	"PUT /api/v1/teams/:id":                   {perm: auth.ManageTeams, action: "team.changed", object: "team"},
	"DELETE /api/v1/teams/:id":                {perm: auth.ManageTeams, action: "team.deleted", object: "team"},
	"GET /api/v1/teams/:id/members":           {perm: auth.ReadFlows},
	"POST /api/v1/teams/:id/members":          {perm: auth.ManageTeams, action: "member.created", object: "team"},
	"PUT /api/v1/members/:id":                 {perm: auth.ManageTeams, action: "member.changed", object: "member"},
	"DELETE /api/v1/members/:id":              {perm: auth.ManageTeams, action: "member.deleted", object: "member"},
	"GET /api/v1/assignments":                 {perm: auth.ReadFlows},
	"POST /api/v1/assignments/:id/done":       {perm: auth.WorkAssignments, action: "assignment.done", object: "assignment"},
	"GET /api/v1/templates":                   {perm: auth.ReadFlows},
	"GET /api/v1/templates/:id":               {perm: auth.ReadFlows},
	"POST /api/v1/templates/import":           {perm: auth.WriteFlows, action: "template.imported", object: "flow"},
	"GET /api/v1/credential-types":            {perm: auth.ReadFlows},
	"GET /api/v1/credentials":                 {perm: auth.ReadFlows}, // names and types only: editors pick credentials by name
	"POST /api/v1/credentials":                {perm: auth.ManageCreds, action: "credential.created", object: "credential"},
	"PUT /api/v1/credentials/:id":             {perm: auth.ManageCreds, action: "credential.changed", object: "credential"},
	"DELETE /api/v1/credentials/:id":          {perm: auth.ManageCreds, action: "credential.deleted", object: "credential"},

	// The dashboard and node tests (a dry run that stores nothing, so nothing to audit).
	"GET /api/v1/stats":                          {perm: auth.ReadFlows},
	"POST /api/v1/flows/:id/nodes/:node_id/test": {perm: auth.WriteFlows},
}
