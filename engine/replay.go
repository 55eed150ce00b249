package engine

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// A replay runs a recorded event through a flow version with the executor's own step function
// (execution.step: the same config evaluation, step bounds, ports, output cleaning and masking),
// but nothing leaves the machine and nothing is written:
//
//   - every outbound HTTP request (GET included) and every SMTP message goes to a recorder, which
//     keeps the exact request (secrets redacted, card numbers masked) and answers a synthetic
//     success, so downstream nodes see a stand-in answer rather than the provider's;
//   - assignments are not made: a node gets the member its real run got, or (without one) the
//     member round-robin would pick next, without moving the team's cursor;
//   - subflows are not started: the wait for them ends with what the real run's subflow returned;
//   - waits and delays end as if their time had passed; a wait for an event looks among the
//     recorded events within its window after the replayed event; event counts count the
//     recorded events of the window before it.

// RecordedRequest is a request a replay would have sent.
type RecordedRequest struct {
	NodeID  string            `json:"node_id"`
	Method  string            `json:"method"` // an HTTP method, SMTP, or SUBFLOW
	URL     string            `json:"url"`
	Headers map[string]string `json:"headers,omitempty"`
	Body    string            `json:"body,omitempty"`
}

// replayEvent is the state of one event's replay.
type replayEvent struct {
	e         *Engine
	ev        *store.Event
	realRun   *store.Run             // nil when the flow never really ran for the event
	realSteps map[string]*store.Step // node id → the real run's step

	mu       sync.Mutex // nodes may send concurrently (foreach)
	requests []RecordedRequest
	// missingCreds maps node ids to the credential they name that no longer exists.
	missingCreds map[string]string
	waits        int
}

// maxReplayWaits bounds the waits of one replayed event (a delay "until" a future date never ends).
const maxReplayWaits = 100

// maxRecordedBody bounds the body kept of one recorded request.
const maxRecordedBody = 64 << 10

// syntheticAnswer is the recorder's answer to every request: a JSON object with the fields
// providers' success answers have (ids, a status, a URL, an empty list, zero error codes).
const syntheticAnswer = `{"id":"replay","object":"replay","status":"replayed","url":"https://replay.invalid/","Code":"OK","errcode":0,"ok":true,"data":[]}`

// replayOne runs ev through cf and returns its steps in execution order and, when it failed, the
// node it failed at and why. It returns ctx's error when ctx ended first.
func (e *Engine) replayOne(ctx context.Context, cf *compile.Flow, flowID string, version int, r *replayEvent) (steps []store.Step, failedAt, failure string, err error) {
	run := store.Run{ID: "replay-" + r.ev.ID, FlowID: flowID, FlowVersion: version, EventID: r.ev.ID, Status: store.RunRunning}
	x := &execution{e: e, run: run, log: e.log.With("replay_event", r.ev.ID), replay: r}
	event := eventEnv(r.ev)
	outputs := map[string]any{}
	env := map[string]any{"event": event, "nodes": outputs}
	taken := map[string]string{}
	for _, n := range cf.Order {
		id := n.Def.ID
		if n == cf.Trigger {
			outputs[id] = event
			taken[id] = n.Spec.PortList()[0]
			x.pending = append(x.pending, triggerStep(&x.run, n, r.ev, event))
			continue
		}
		if !activated(n, taken) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, "", "", err
		}
		var prev *store.Step
		for {
			port, stop, serr := x.step(ctx, n, env, prev, firedInputs(n, taken))
			if serr != nil {
				if cerr := ctx.Err(); cerr != nil {
					return nil, "", "", cerr
				}
				return x.pending, id, mask.String(serr.Error()), nil
			}
			if stop == stopWait {
				// park recorded the wait as over: run the node again, resumed, as the executor would.
				p := *x.pendingStep(id)
				prev = &p
				continue
			}
			if stop == stopRun {
				return x.pending, "", "", nil
			}
			taken[id] = port
			break
		}
	}
	return x.pending, "", "", nil
}

// pendingStep is the pending step of a node, or nil.
func (x *execution) pendingStep(nodeID string) *store.Step {
	for i := range x.pending {
		if x.pending[i].NodeID == nodeID {
			return &x.pending[i]
		}
	}
	return nil
}

// park, in a replay, ends the wait at once as if its time had passed: a delay resumes past its
// target; a wait for an event gets the first recorded event that matches within its window
// after the replayed event (or times out); a subflow's wait gets what the real run received.
func (r *replayEvent) park(ctx context.Context, x *execution, st store.Step, at time.Time, wf *node.WaitFor) error {
	r.waits++
	if r.waits > maxReplayWaits {
		return node.Permanentf("replay: node %s keeps waiting (until %s); a replay cannot pass such a wait", st.NodeID, at.UTC().Format(time.RFC3339))
	}
	window := at.Sub(st.StartedAt)
	waited := window
	st.Received = ""
	switch {
	case wf != nil && wf.EventType == runFinishedEvent:
		if real := r.realSteps[st.NodeID]; real != nil && real.Received != "" {
			st.Received = real.Received
			if real.WaitStarted != nil && real.FinishedAt != nil {
				waited = real.FinishedAt.Sub(*real.WaitStarted)
			}
		}
	case wf != nil:
		got, err := r.e.recordedMatch(ctx, wf, r.ev.CreatedAt, r.ev.CreatedAt.Add(window))
		if err != nil {
			return err
		}
		if got != nil {
			st.Received = toJSON(map[string]any{"id": got.ID, "type": got.Type, "data": fromJSON(got.Data)})
			waited = got.CreatedAt.Sub(r.ev.CreatedAt)
		}
	}
	// The node measures its wait from WaitStarted: put that far enough back for its time to have passed.
	started := time.Now().Add(-waited)
	st.WaitStarted, st.Status = &started, store.StepWaiting
	x.put(st)
	return nil
}

// recordedMatch finds the first recorded event of the awaited kind accepted between from and until.
func (e *Engine) recordedMatch(ctx context.Context, wf *node.WaitFor, from, until time.Time) (*store.Event, error) {
	var evs []store.Event
	err := e.Store.DB.WithContext(ctx).Where("type = ? AND created_at > ? AND created_at <= ?", wf.EventType, from.UTC(), until.UTC()).
		Order("created_at, id").Limit(maxCountedEvents).Find(&evs).Error
	if err != nil {
		return nil, err
	}
	for i := range evs {
		if v, ok := node.Get(fromJSON(evs[i].Data), wf.Field); ok && compile.Stringify(v) == wf.Value {
			return &evs[i], nil
		}
	}
	return nil, nil
}

// nodeServices is what a node of this execution may use: the engine's services, or in a replay
// the recording stand-ins.
func (x *execution) nodeServices(svc services, nodeID string) node.Services {
	if x.replay == nil {
		return svc
	}
	return replayServices{services: svc, r: x.replay, nodeID: nodeID}
}

// replayServices are a replayed node's services (see the top of this file).
type replayServices struct {
	services
	r      *replayEvent
	nodeID string
}

var _ node.Mailer = replayServices{}

func (s replayServices) HTTPClient() *http.Client {
	return &http.Client{Transport: recorderTransport{s}, Timeout: 10 * time.Second}
}

// Credential notes a credential that no longer exists, so the replay reports it for the event.
func (s replayServices) Credential(ctx context.Context, id string) (*node.Credential, error) {
	c, err := s.services.Credential(ctx, id)
	if err != nil {
		var n int64
		if cerr := s.e.Store.DB.WithContext(ctx).Model(&store.Credential{}).Scopes(store.ByRef(id)).Count(&n).Error; cerr == nil && n == 0 {
			s.r.mu.Lock()
			if s.r.missingCreds == nil {
				s.r.missingCreds = map[string]string{}
			}
			s.r.missingCreds[s.nodeID] = id
			s.r.mu.Unlock()
		}
	}
	return c, err
}

// Assign returns the real run's assignment for this node or, without one, the member round-robin
// would pick next; it records nothing and moves no cursor.
func (s replayServices) Assign(ctx context.Context, req node.AssignRequest) (*node.Assignment, error) {
	db := s.e.Store.DB.WithContext(ctx)
	if s.r.realRun != nil {
		var a []store.Assignment
		if err := db.Where("run_id = ? AND node_id = ?", s.r.realRun.ID, req.NodeID).Limit(1).Find(&a).Error; err != nil {
			return nil, err
		}
		if len(a) == 1 {
			return assignmentView(db, &a[0])
		}
	}
	var team store.Team
	if err := db.Scopes(store.ByRef(req.TeamID)).Take(&team).Error; err != nil {
		if errors.Is(err, gorm.ErrRecordNotFound) {
			return nil, node.Permanentf("team %s does not exist", req.TeamID)
		}
		return nil, err
	}
	var members []store.Member
	if err := db.Where("team_id = ? AND active = ?", team.ID, true).Order("created_at, id").Find(&members).Error; err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, node.Permanentf("team %s has no active members", team.Name)
	}
	team.RRCursor++ // what the real pick's bump would make it
	m, err := pickMember(db, req, &team, members)
	if err != nil {
		return nil, err
	}
	a := store.Assignment{ID: "replay", TeamID: team.ID, MemberID: m.ID, Subject: req.Subject}
	if req.Due > 0 {
		due := s.r.ev.CreatedAt.Add(req.Due)
		a.DueAt = &due
	}
	return toAssignment(&a, &team, &m), nil
}

// StartSubflow records the subflow it would start; its wait ends with the real run's result.
func (s replayServices) StartSubflow(_ context.Context, req node.SubflowRequest) (string, error) {
	s.record(RecordedRequest{Method: "SUBFLOW", URL: "flow:" + req.Flow, Body: toJSON(req.Data)})
	return "replay-subflow-" + req.NodeID, nil
}

// CountEvents counts the recorded events of the window that ended when the replayed event came.
func (s replayServices) CountEvents(ctx context.Context, eventType, field, value string, since time.Time) (int, error) {
	until := s.r.ev.CreatedAt
	return s.e.countEvents(ctx, eventType, field, value, until.Add(-time.Since(since)), until)
}

// SendMail records the message instead of delivering it.
func (s replayServices) SendMail(_ context.Context, addr, from string, rcpts []string, msg []byte) error {
	s.record(RecordedRequest{Method: "SMTP", URL: "smtp://" + addr,
		Headers: map[string]string{"mail-from": from, "rcpt-to": strings.Join(rcpts, ", ")}, Body: string(msg)})
	return nil
}

// record keeps a request with the step's secrets redacted and card numbers masked.
func (s replayServices) record(req RecordedRequest) {
	clean := func(t string) string { return mask.String(s.scrub(t)) }
	req.NodeID = s.nodeID
	req.URL = clean(redactQuery(req.URL))
	if len(req.Body) > maxRecordedBody {
		req.Body = req.Body[:maxRecordedBody] + "…"
	}
	req.Body = strings.ToValidUTF8(clean(req.Body), "\uFFFD")
	for k, v := range req.Headers {
		if secretHeader(strings.ToLower(k)) {
			req.Headers[k] = "[redacted]"
		} else {
			req.Headers[k] = clean(v)
		}
	}
	s.r.mu.Lock()
	s.r.requests = append(s.r.requests, req)
	s.r.mu.Unlock()
}

// redactQuery replaces the values of query parameters named like secrets (tokens, keys,
// signatures) by [redacted]: a webhook URL may carry its credential there.
func redactQuery(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.RawQuery == "" {
		return raw
	}
	q := u.Query()
	changed := false
	for k := range q {
		lk := strings.ToLower(k)
		if secretHeader(lk) || strings.Contains(lk, "key") || strings.Contains(lk, "secret") || strings.Contains(lk, "sig") || strings.Contains(lk, "password") {
			q[k] = []string{"[redacted]"}
			changed = true
		}
	}
	if !changed {
		return raw
	}
	u.RawQuery = strings.ReplaceAll(q.Encode(), url.QueryEscape("[redacted]"), "[redacted]")
	return u.String()
}

// recorderTransport is the replay's HTTP transport: it records and answers, and never dials.
type recorderTransport struct{ s replayServices }

func (t recorderTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, fmt.Errorf("replay: reading the request body: %w", err)
		}
		body = b
	}
	headers := map[string]string{}
	for k, v := range req.Header {
		headers[strings.ToLower(k)] = strings.Join(v, ", ")
	}
	t.s.record(RecordedRequest{Method: req.Method, URL: req.URL.String(), Headers: headers, Body: string(body)})
	return &http.Response{
		StatusCode: http.StatusOK, Status: "200 OK", Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:  http.Header{"Content-Type": {"application/json"}},
		Body:    io.NopCloser(bytes.NewReader([]byte(syntheticAnswer))),
		Request: req, ContentLength: int64(len(syntheticAnswer)),
	}, nil
}
