package engine

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// How a replayed event is compared with its real run, and how the results are summarised.

// Change codes of a replayed event, compared with its real run.
const (
	ReplayUnchanged         = "unchanged"
	ReplayNoRecordedRun     = "no_recorded_run"    // the flow never really ran for the event
	ReplayEventMissing      = "event_missing"      // pruned since the replay was created
	ReplayNowFails          = "now_fails"          // fails at node (the real run did not fail there)
	ReplayNoLongerFails     = "no_longer_fails"    // the real run failed at node; the replay does not
	ReplayCredentialMissing = "credential_missing" // fails at node: its credential was deleted
	ReplayActionAdded       = "action_added"       // side-effecting node runs that did not
	ReplayActionRemoved     = "action_removed"     // side-effecting node that ran no longer does
	ReplayActionChanged     = "action_changed"     // same node, other values (fields)
	ReplayPathChanged       = "path_changed"       // other nodes or ports, no action affected
)

// ReplayChange is one difference of a replayed event.
type ReplayChange struct {
	Code       string      `json:"code"`
	Node       string      `json:"node,omitempty"`
	NodeType   string      `json:"node_type,omitempty"`
	Credential string      `json:"credential,omitempty"`
	Fields     []FieldDiff `json:"fields,omitempty"`
}

// FieldDiff is one differing field of an action's evaluated config (a dotted path).
type FieldDiff struct {
	Field string `json:"field"`
	Old   any    `json:"old"`
	New   any    `json:"new"`
}

// PathStep is a node on a run's path.
type PathStep struct {
	Node   string `json:"node"`
	Type   string `json:"type"`
	Status string `json:"status"`
	Port   string `json:"port,omitempty"`
}

// ReplayDetail is what one event's replay found (store.ReplayResult.Detail).
type ReplayDetail struct {
	Changes  []ReplayChange    `json:"changes"`
	OldPath  []PathStep        `json:"old_path"`
	NewPath  []PathStep        `json:"new_path"`
	OldError string            `json:"old_error,omitempty"`
	NewError string            `json:"new_error,omitempty"`
	Requests []RecordedRequest `json:"requests"`
}

// ReplayOutcome is one group of the summary: the events that changed the same way.
type ReplayOutcome struct {
	Outcome string         `json:"outcome"`
	Changes []ReplayChange `json:"changes"`
	Count   int            `json:"count"`
	Text    string         `json:"text"` // English; clients translate from the codes
}

// inFlowOrder sorts a real run's steps in the order the flow version runs its nodes (the replay's
// order), so that comparisons list nodes the same way every time; nodes it lacks go last.
func inFlowOrder(cf *compile.Flow, steps []store.Step) []store.Step {
	pos := map[string]int{}
	for i, n := range cf.Order {
		pos[n.Def.ID] = i
	}
	at := func(id string) int {
		if p, ok := pos[id]; ok {
			return p
		}
		return len(pos)
	}
	out := slices.Clone(steps)
	sort.SliceStable(out, func(i, j int) bool { return at(out[i].NodeID) < at(out[j].NodeID) })
	return out
}

// compareReplay compares a replay's steps with the real run's.
func compareReplay(r *replayEvent, old, steps []store.Step, failedAt, failure string) ReplayDetail {
	d := ReplayDetail{OldPath: pathOf(old), NewPath: pathOf(steps), Requests: r.requests}
	if d.Requests == nil {
		d.Requests = []RecordedRequest{}
	}
	if failedAt != "" {
		d.NewError = failedAt + ": " + failure
	}
	oldFailed := ""
	for _, s := range old {
		if s.Status == store.StepFailed {
			oldFailed = s.NodeID
			d.OldError = s.NodeID + ": " + s.Error
		}
	}
	var changes []ReplayChange
	if r.realRun == nil {
		changes = append(changes, ReplayChange{Code: ReplayNoRecordedRun})
	}
	if failedAt != "" && failedAt != oldFailed {
		if cred, ok := r.missingCreds[failedAt]; ok {
			changes = append(changes, ReplayChange{Code: ReplayCredentialMissing, Node: failedAt, Credential: cred})
		} else {
			changes = append(changes, ReplayChange{Code: ReplayNowFails, Node: failedAt})
		}
	}
	if oldFailed != "" && failedAt != oldFailed {
		changes = append(changes, ReplayChange{Code: ReplayNoLongerFails, Node: oldFailed})
	}
	if r.realRun != nil {
		changes = append(changes, actionChanges(old, steps, failedAt)...)
		if len(changes) == 0 {
			if node := firstPathDifference(d.OldPath, d.NewPath); node != "" {
				changes = append(changes, ReplayChange{Code: ReplayPathChanged, Node: node})
			}
		}
	}
	if len(changes) == 0 {
		changes = []ReplayChange{{Code: ReplayUnchanged}}
	}
	d.Changes = changes
	return d
}

func pathOf(steps []store.Step) []PathStep {
	out := make([]PathStep, 0, len(steps))
	for _, s := range steps {
		out = append(out, PathStep{Node: s.NodeID, Type: s.NodeType, Status: s.Status, Port: s.Port})
	}
	return out
}

// firstPathDifference is the first node, in the new path's order then the old's, that ran in only
// one of the two paths or left by another port; "" when the paths agree.
func firstPathDifference(old, new []PathStep) string {
	index := func(p []PathStep) map[string]PathStep {
		m := map[string]PathStep{}
		for _, s := range p {
			m[s.Node] = s
		}
		return m
	}
	o, n := index(old), index(new)
	for _, s := range new {
		if t, ok := o[s.Node]; !ok || t.Port != s.Port || t.Status != s.Status {
			return s.Node
		}
	}
	for _, s := range old {
		if _, ok := n[s.Node]; !ok {
			return s.Node
		}
	}
	return ""
}

// actionChanges compares the side-effecting steps that completed: added, removed, or sent with
// other values. Real runs keep each action's evaluated config (its step input), not the exact
// request sent, so that is what is compared. The node the replay failed at is reported as that
// failure, not also as a removed action.
func actionChanges(old, steps []store.Step, failedAt string) []ReplayChange {
	actions := func(list []store.Step) ([]string, map[string]*store.Step) {
		var order []string
		m := map[string]*store.Step{}
		for i := range list {
			s := &list[i]
			if spec := node.Lookup(s.NodeType); spec != nil && spec.SideEffect && s.Status == store.StepSucceeded {
				order = append(order, s.NodeID)
				m[s.NodeID] = s
			}
		}
		return order, m
	}
	oldOrder, o := actions(old)
	newOrder, n := actions(steps)
	var out []ReplayChange
	for _, id := range newOrder {
		s := n[id]
		prev, ok := o[id]
		switch {
		case !ok:
			out = append(out, ReplayChange{Code: ReplayActionAdded, Node: id, NodeType: s.NodeType})
		case prev.NodeType != s.NodeType:
			out = append(out, ReplayChange{Code: ReplayActionRemoved, Node: id, NodeType: prev.NodeType}, ReplayChange{Code: ReplayActionAdded, Node: id, NodeType: s.NodeType})
		default:
			if fields := diffFields(fromJSON(prev.Input), fromJSON(s.Input)); len(fields) > 0 {
				out = append(out, ReplayChange{Code: ReplayActionChanged, Node: id, NodeType: s.NodeType, Fields: fields})
			}
		}
	}
	for _, id := range oldOrder {
		if _, ok := n[id]; !ok && id != failedAt {
			out = append(out, ReplayChange{Code: ReplayActionRemoved, Node: id, NodeType: o[id].NodeType})
		}
	}
	return out
}

// diffFields lists the leaves (dotted paths) that differ between two JSON values.
func diffFields(a, b any) []FieldDiff {
	fa, fb := map[string]any{}, map[string]any{}
	flatten("", a, fa)
	flatten("", b, fb)
	var keys []string
	for k := range fa {
		keys = append(keys, k)
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var out []FieldDiff
	for _, k := range keys {
		if toJSON(fa[k]) != toJSON(fb[k]) {
			out = append(out, FieldDiff{Field: k, Old: fa[k], New: fb[k]})
		}
	}
	return out
}

func flatten(prefix string, v any, out map[string]any) {
	join := func(k string) string {
		if prefix == "" {
			return k
		}
		return prefix + "." + k
	}
	switch t := v.(type) {
	case map[string]any:
		if len(t) == 0 && prefix != "" {
			out[prefix] = t
		}
		for k, x := range t {
			flatten(join(k), x, out)
		}
	case []any:
		if len(t) == 0 {
			out[prefix] = t
		}
		for i, x := range t {
			flatten(join(fmt.Sprint(i)), x, out)
		}
	default:
		out[prefix] = v
	}
}

// outcomeKey names a combination of changes ("action_added:sms,now_fails:x"); fields are left out,
// so events whose actions changed in the same nodes group together.
func outcomeKey(changes []ReplayChange) string {
	parts := make([]string, len(changes))
	for i, c := range changes {
		parts[i] = c.Code
		if c.Node != "" {
			parts[i] += ":" + c.Node
		}
	}
	return strings.Join(parts, ",")
}

// parseOutcome is the changes an outcome key names (without field diffs).
func parseOutcome(key string) []ReplayChange {
	var out []ReplayChange
	for _, p := range strings.Split(key, ",") {
		code, nodeID, _ := strings.Cut(p, ":")
		out = append(out, ReplayChange{Code: code, Node: nodeID})
	}
	return out
}

// outcomeText says an outcome in English, for the summary line ("37 now also run sms").
func outcomeText(changes []ReplayChange) string {
	parts := make([]string, 0, len(changes))
	for _, c := range changes {
		switch c.Code {
		case ReplayUnchanged:
			parts = append(parts, "unchanged")
		case ReplayNoRecordedRun:
			parts = append(parts, "have no real run to compare with")
		case ReplayEventMissing:
			parts = append(parts, "are no longer stored")
		case ReplayNowFails:
			parts = append(parts, "now fail at node "+c.Node)
		case ReplayNoLongerFails:
			parts = append(parts, "no longer fail at node "+c.Node)
		case ReplayCredentialMissing:
			parts = append(parts, "fail at node "+c.Node+": its credential no longer exists")
		case ReplayActionAdded:
			parts = append(parts, "now also run "+c.Node)
		case ReplayActionRemoved:
			parts = append(parts, "no longer run "+c.Node)
		case ReplayActionChanged:
			parts = append(parts, "send other values from "+c.Node)
		case ReplayPathChanged:
			parts = append(parts, "take another path at "+c.Node)
		default:
			parts = append(parts, c.Code)
		}
	}
	return strings.Join(parts, ", ")
}

// SummaryLine is a replay's summary in one line: "412 unchanged, 37 now also run sms, …".
func SummaryLine(outcomes []ReplayOutcome) string {
	if len(outcomes) == 0 {
		return "no events replayed"
	}
	parts := make([]string, len(outcomes))
	for i, o := range outcomes {
		parts[i] = fmt.Sprintf("%d %s", o.Count, o.Text)
	}
	return strings.Join(parts, ", ")
}
