package engine

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// services is what nodes may use of the engine. Each step gets its own, which remembers the
// secrets the node loaded so that they can be scrubbed from anything the step records.
type services struct {
	e       *Engine
	secrets *[]string
}

func (e *Engine) services() services { return services{e: e, secrets: new([]string)} }

func (s services) HTTPClient() *http.Client { return s.e.http }

func (s services) Credential(ctx context.Context, id string) (*node.Credential, error) {
	c, err := s.e.Credential(ctx, id)
	if err == nil {
		*s.secrets = append(*s.secrets, secretForms(c)...)
		// Longest first: a form that contains a shorter one must be replaced whole.
		sort.Slice(*s.secrets, func(i, j int) bool { return len((*s.secrets)[i]) > len((*s.secrets)[j]) })
	}
	return c, err
}

// minSecret is the shortest value scrubbed: shorter ones ("tls", a port) would redact too much.
const minSecret = 6

// secretForms lists what of a credential must never be recorded: its secret fields (only those,
// so that a host name stays readable in an error) and the encodings in which nodes send them:
// URL and JSON escapes (JSON with and without <>& escaped), base64, and HTTP Basic's
// base64(user:password).
func secretForms(c *node.Credential) []string {
	secret := map[string]bool{}
	if spec := node.CredentialSpecOf(c.Type); spec != nil {
		for _, f := range spec.Fields {
			secret[f.Name] = f.Secret
		}
	} else {
		for name := range c.Data {
			secret[name] = true // unknown type: treat every value as secret
		}
	}
	var out []string
	for name, v := range c.Data {
		if !secret[name] || len(v) < minSecret {
			continue
		}
		out = append(out, v, url.QueryEscape(v), url.PathEscape(v), jsonEscape(v, true), jsonEscape(v, false),
			base64.StdEncoding.EncodeToString([]byte(v)), base64.RawURLEncoding.EncodeToString([]byte(v)))
		for _, user := range c.Data {
			out = append(out, base64.StdEncoding.EncodeToString([]byte(user+":"+v)))
		}
	}
	return out
}

// jsonEscape is v as it appears inside a JSON string.
func jsonEscape(v string, escapeHTML bool) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(escapeHTML)
	enc.Encode(v) // a string always encodes
	quoted := strings.TrimSuffix(b.String(), "\n")
	return quoted[1 : len(quoted)-1]
}

// Scrub replaces every secret the step loaded, in every form, by [redacted]. Nodes call it (see
// nodes/httpcall.go) on provider text before they cut it short, since a cut secret is not found.
func (s services) Scrub(text string) string { return s.scrub(text) }

// scrub replaces every secret the step loaded by [redacted].
func (s services) scrub(text string) string {
	for _, v := range *s.secrets {
		if v != "" {
			text = strings.ReplaceAll(text, v, "[redacted]")
		}
	}
	return text
}

// Assign picks the next active member of a team round-robin and records the assignment. The
// (run, node) pair is unique, so a retried step gets the member it got the first time.
func (s services) Assign(ctx context.Context, req node.AssignRequest) (*node.Assignment, error) {
	var out *node.Assignment
	err := s.e.Store.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var a store.Assignment
		err := tx.Where("run_id = ? AND node_id = ?", req.RunID, req.NodeID).Take(&a).Error
		if err == nil {
			out, err = assignmentView(tx, &a)
			return err
		}
		if !errors.Is(err, gorm.ErrRecordNotFound) {
			return err
		}
		var team store.Team
		// Bump the team's cursor first: on Postgres the row lock orders concurrent picks.
		res := tx.Model(&team).Clauses(clause.Returning{}).Scopes(store.ByRef(req.TeamID)).UpdateColumn("rr_cursor", gorm.Expr("rr_cursor + 1"))
		if res.Error != nil {
			return res.Error
		}
		if res.RowsAffected == 0 {
			return node.Permanentf("team %s does not exist", req.TeamID)
		}
		var members []store.Member
		if err := tx.Where("team_id = ? AND active = ?", team.ID, true).Order("created_at, id").Find(&members).Error; err != nil {
			return err
		}
		if len(members) == 0 {
			return node.Permanentf("team %s has no active members", team.Name)
		}
		m, err := pickMember(tx, req, &team, members)
		if err != nil {
			return err
		}
		now := time.Now().UTC()
		a = store.Assignment{ID: store.NewID(), RunID: req.RunID, NodeID: req.NodeID, TeamID: team.ID, MemberID: m.ID, Subject: req.Subject, Reason: req.Reason, Status: "open", CreatedAt: now}
		if req.Due > 0 {
			due := now.Add(req.Due)
			a.DueAt = &due
		}
		if err := tx.Create(&a).Error; err != nil {
			return err
		}
		out = toAssignment(&a, &team, &m)
		return nil
	})
	return out, err
}

// maxCountedEvents bounds how many events one count reads; counts saturate there.
const maxCountedEvents = 10000

func (s services) CountEvents(ctx context.Context, eventType, field, value string, since time.Time) (int, error) {
	return s.e.countEvents(ctx, eventType, field, value, since, time.Time{})
}

// countEvents counts events of a type accepted from since until until (zero: no end), optionally
// only those whose data field equals value. A replay counts up to its event's time.
func (e *Engine) countEvents(ctx context.Context, eventType, field, value string, since, until time.Time) (int, error) {
	q := e.Store.DB.WithContext(ctx).Model(&store.Event{}).Where("type = ? AND created_at >= ?", eventType, since.UTC())
	if !until.IsZero() {
		q = q.Where("created_at <= ?", until.UTC())
	}
	if field == "" {
		var n int64
		err := q.Count(&n).Error
		return int(n), err
	}
	var datas []string
	if err := q.Order("id desc").Limit(maxCountedEvents).Pluck("data", &datas).Error; err != nil {
		return 0, err
	}
	n := 0
	for _, d := range datas {
		if v, ok := node.Get(fromJSON(d), field); ok && compile.Stringify(v) == value {
			n++
		}
	}
	return n, nil
}

// maxSubflowDepth stops flows that call themselves (directly or not) from recursing forever.
const maxSubflowDepth = 5

func (s services) StartSubflow(ctx context.Context, req node.SubflowRequest) (string, error) {
	e := s.e
	db := e.Store.DB.WithContext(ctx)
	var f store.Flow
	if err := db.Scopes(store.ByRef(req.Flow)).Order("id").Take(&f).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return "", node.Permanentf("flow %q does not exist", req.Flow)
		}
		return "", err
	}
	if f.PublishedVersion == 0 {
		return "", node.Permanentf("flow %q has no published version", f.Name)
	}
	// Depth: follow the chain of subflow events upwards.
	parent := req.ParentRunID
	for depth := 1; ; depth++ {
		if depth > maxSubflowDepth {
			return "", node.Permanentf("subflows nest deeper than %d levels; does a flow call itself?", maxSubflowDepth)
		}
		var key string
		err := db.Model(&store.Event{}).Select("COALESCE(events.idempotency_key, '')").Joins("JOIN runs ON runs.event_id = events.id").
			Where("runs.id = ?", parent).Scan(&key).Error
		if err != nil {
			return "", err
		}
		rest, ok := strings.CutPrefix(key, "subflow:")
		if !ok {
			break
		}
		parent, _, _ = strings.Cut(rest, ":")
	}
	ev := &store.Event{Type: "subflow", Source: "subflow", FlowID: f.ID}
	key := "subflow:" + req.ParentRunID + ":" + req.NodeID
	ev.IdempotencyKey = &key
	acc, err := e.accept(ctx, ev, req.Data, []target{{flowID: f.ID, version: f.PublishedVersion, dryRun: req.DryRun}})
	if err != nil {
		return "", err
	}
	if len(acc.RunIDs) != 1 {
		return "", fmt.Errorf("subflow event %s has %d runs", acc.EventID, len(acc.RunIDs))
	}
	return acc.RunIDs[0], nil
}

// pickMember chooses among a team's active members (ordered by when they joined).
func pickMember(tx *gorm.DB, req node.AssignRequest, team *store.Team, members []store.Member) (store.Member, error) {
	rr := members[int((team.RRCursor-1)%int64(len(members)))]
	switch req.Strategy {
	case "", "round_robin":
		return rr, nil
	case "least_open":
		type count struct {
			MemberID string
			N        int64
		}
		var counts []count
		err := tx.Model(&store.Assignment{}).Select("member_id, COUNT(*) AS n").
			Where("team_id = ? AND status = ?", team.ID, "open").Group("member_id").Scan(&counts).Error
		if err != nil {
			return store.Member{}, err
		}
		open := map[string]int64{}
		for _, c := range counts {
			open[c.MemberID] = c.N
		}
		// Fewest open assignments wins; ties go round-robin, starting from the cursor.
		best := -1
		for i := range members {
			j := (int(team.RRCursor-1) + i) % len(members)
			if best < 0 || open[members[j].ID] < open[members[best].ID] {
				best = j
			}
		}
		return members[best], nil
	case "rule":
		want := strings.TrimSpace(req.Member)
		for _, m := range members {
			if want != "" && (m.ID == want || strings.EqualFold(m.Name, want) || strings.EqualFold(m.Email, want) || m.Phone == want) {
				return m, nil
			}
		}
		return store.Member{}, node.Permanentf("the rule chose %q, who is not an active member of team %s", want, team.Name)
	}
	return store.Member{}, node.Permanentf("unknown assignment strategy %q", req.Strategy)
}

func assignmentView(tx *gorm.DB, a *store.Assignment) (*node.Assignment, error) {
	var team store.Team
	var m store.Member
	if err := tx.Where("id = ?", a.TeamID).Take(&team).Error; err != nil {
		return nil, err
	}
	if err := tx.Where("id = ?", a.MemberID).Take(&m).Error; err != nil {
		return nil, err
	}
	return toAssignment(a, &team, &m), nil
}

func toAssignment(a *store.Assignment, t *store.Team, m *store.Member) *node.Assignment {
	out := &node.Assignment{ID: a.ID, TeamID: t.ID, TeamName: t.Name, Subject: a.Subject,
		Assignee: node.Member{ID: m.ID, Name: m.Name, Email: m.Email, Phone: m.Phone}}
	if a.DueAt != nil {
		out.DueAt = a.DueAt.Format(time.RFC3339)
	}
	return out
}

// Credential returns a decrypted credential, found by id or name.
func (e *Engine) Credential(ctx context.Context, id string) (*node.Credential, error) {
	var c store.Credential
	if err := e.Store.DB.WithContext(ctx).Scopes(store.ByRef(id)).Take(&c).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, node.Permanentf("credential %s does not exist", id)
		}
		return nil, err
	}
	plain, err := e.box.Open(c.Ciphertext, []byte(c.ID))
	if err != nil {
		return nil, node.Permanentf("credential %s: %v", c.Name, err)
	}
	data := map[string]string{}
	if err := json.Unmarshal(plain, &data); err != nil {
		return nil, node.Permanentf("credential %s is corrupt", c.Name)
	}
	return &node.Credential{ID: c.ID, Name: c.Name, Type: c.Type, Data: data}, nil
}

// CredentialError is credential data that does not fit its type.
type CredentialError struct{ Err error }

func (e *CredentialError) Error() string { return e.Err.Error() }

// CreateCredential encrypts and stores a secret. Only its id, name and type are ever returned.
func (e *Engine) CreateCredential(ctx context.Context, name, typ string, data map[string]string) (*store.Credential, error) {
	if name == "" || typ == "" {
		return nil, &CredentialError{errors.New("a credential needs a name and a type")}
	}
	if err := node.CheckCredential(typ, data); err != nil {
		return nil, &CredentialError{err}
	}
	plain, _ := json.Marshal(data)
	now := time.Now().UTC()
	c := &store.Credential{ID: store.NewID(), Name: name, Type: typ, CreatedAt: now, UpdatedAt: now}
	c.Ciphertext = e.box.Seal(plain, []byte(c.ID))
	if err := e.Store.DB.WithContext(ctx).Create(c).Error; err != nil {
		return nil, err
	}
	return c, nil
}

// ListCredentials lists the credentials by name, without their sealed secrets.
func (e *Engine) ListCredentials(ctx context.Context) ([]store.Credential, error) {
	var list []store.Credential
	err := e.Store.DB.WithContext(ctx).Omit("ciphertext").Order("name").Find(&list).Error
	return list, err
}

// DeleteCredential deletes a credential found by id or name and returns what it was.
func (e *Engine) DeleteCredential(ctx context.Context, ref string) (*store.Credential, error) {
	var c store.Credential
	if err := e.Store.DB.WithContext(ctx).Omit("ciphertext").Scopes(store.ByRef(ref)).Take(&c).Error; err != nil {
		return nil, store.NotFound(err)
	}
	res := e.Store.DB.WithContext(ctx).Where("id = ?", c.ID).Delete(&store.Credential{})
	if res.Error != nil {
		return nil, res.Error
	}
	if res.RowsAffected == 0 {
		return nil, store.ErrNotFound // deleted meanwhile
	}
	return &c, nil
}

// UpdateCredential replaces a credential's name and, when data is non-nil, its secret.
func (e *Engine) UpdateCredential(ctx context.Context, id, name string, data map[string]string) (*store.Credential, error) {
	var c store.Credential
	if err := e.Store.DB.WithContext(ctx).Where("id = ?", id).Take(&c).Error; err != nil {
		return nil, store.NotFound(err)
	}
	if name != "" {
		c.Name = name
	}
	if data != nil {
		if err := node.CheckCredential(c.Type, data); err != nil {
			return nil, &CredentialError{err}
		}
		plain, _ := json.Marshal(data)
		c.Ciphertext = e.box.Seal(plain, []byte(c.ID))
	}
	c.UpdatedAt = time.Now().UTC()
	if err := e.Store.DB.WithContext(ctx).Save(&c).Error; err != nil {
		return nil, err
	}
	return &c, nil
}
