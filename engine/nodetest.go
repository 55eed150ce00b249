package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/opsflow/opsflow/engine/compile"
	"github.com/opsflow/opsflow/engine/mask"
	"github.com/opsflow/opsflow/engine/node"
	"github.com/opsflow/opsflow/engine/store"
)

// NodeTest asks for one node to be run on pinned input, without running its flow.
type NodeTest struct {
	// Version is the flow version whose node config is used; 0 means the latest (the draft).
	Version int
	// RunID pins the input to a recorded run of the flow: its event and its steps' outputs.
	RunID string
	// Event and Nodes are the input given directly (when RunID is empty): the trigger's event
	// ({id, type, data, ...}) and upstream nodes' outputs by node id.
	Event map[string]any
	Nodes map[string]any
}

// NodeTestResult is what the node did: its resolved config, output and port, or its error.
type NodeTestResult struct {
	NodeID    string     `json:"node_id"`
	NodeType  string     `json:"node_type"`
	Input     any        `json:"input"`
	Output    any        `json:"output"`
	Port      string     `json:"port,omitempty"`
	Error     string     `json:"error,omitempty"`
	DryRun    bool       `json:"dry_run"`
	WaitUntil *time.Time `json:"wait_until,omitempty"`
}

// errNodeTestRecords is what nodes that would record something (an assignment, a subflow run) get
// in a node test, which stores nothing.
var errNodeTestRecords = node.Permanentf("a node test stores nothing, so this node cannot run here; use a test run of the flow")

// nodeTestServices are the engine's services minus everything that writes.
type nodeTestServices struct{ services }

func (nodeTestServices) Assign(context.Context, node.AssignRequest) (*node.Assignment, error) {
	return nil, errNodeTestRecords
}

func (nodeTestServices) StartSubflow(context.Context, node.SubflowRequest) (string, error) {
	return "", errNodeTestRecords
}

// TestNode runs one node of a flow on pinned input as a dry run, through the executor's callNode:
// side-effecting actions answer with their resolved config instead of calling anyone, and nothing
// is stored. A node that fails is a result with Error, not an error.
func (e *Engine) TestNode(ctx context.Context, flowID, nodeID string, t NodeTest) (*NodeTestResult, error) {
	var f store.Flow
	if err := e.Store.DB.WithContext(ctx).Where("id = ?", flowID).Take(&f).Error; err != nil {
		return nil, store.NotFound(err)
	}
	v := t.Version
	if v == 0 {
		v = f.LatestVersion
	}
	cf, err := e.compiledVersion(ctx, f.ID, v)
	if err != nil {
		return nil, err
	}
	var n *compile.Node
	for _, c := range cf.Order {
		if c.Def.ID == nodeID {
			n = c
		}
	}
	if n == nil {
		return nil, fmt.Errorf("node %s: %w", nodeID, store.ErrNotFound)
	}
	event, outputs := t.Event, t.Nodes
	if t.RunID != "" {
		if event, outputs, err = e.pinnedRun(ctx, f.ID, t.RunID); err != nil {
			return nil, err
		}
	}
	if event == nil {
		event = map[string]any{}
	}
	if outputs == nil {
		outputs = map[string]any{}
	}
	env := map[string]any{"event": event, "nodes": outputs}
	res := &NodeTestResult{NodeID: nodeID, NodeType: n.Spec.Type, DryRun: n.Spec.SideEffect}
	if n == cf.Trigger {
		res.Input, res.Output, res.Port = map[string]any{}, mask.Value(event), n.Spec.PortList()[0]
		return res, nil
	}
	var inputs []string // the upstream nodes that have an output in the pinned input
	for _, in := range n.In {
		if _, ok := outputs[in.From]; ok {
			inputs = append(inputs, in.From)
		}
	}
	sctx, cancel := context.WithTimeoutCause(ctx, e.stepTimeout(n), errStepTimeout)
	defer cancel()
	cfg, err := n.ConfigCtx(sctx, env)
	res.Input = mask.Value(cfg)
	if err != nil {
		res.Error = mask.String(err.Error())
		return res, nil
	}
	svc := nodeTestServices{e.services()}
	in := &node.Input{
		RunID: "node-test", NodeID: nodeID, Config: cfg, Env: env, Attempt: 1, Inputs: inputs,
		DryRun: true, Services: svc, Log: e.log.With("flow_id", f.ID, "node_id", nodeID, "node_test", true),
		Eval: func(field string, env map[string]any) (any, error) { return n.EvalFieldCtx(sctx, field, env) },
	}
	out, err := callNode(sctx, n, in)
	if err != nil {
		if context.Cause(sctx) == errStepTimeout {
			err = fmt.Errorf("%w (%s)", errStepTimeout, e.stepTimeout(n))
		}
		res.Error = mask.String(scrubbed(err, svc.services).Error())
		return res, nil
	}
	if out == nil {
		out = &node.Result{}
	}
	res.Port = out.Port
	if res.Port == "" {
		res.Port = n.Spec.PortList()[0]
	}
	if !out.WaitUntil.IsZero() {
		w := out.WaitUntil.UTC()
		res.WaitUntil = &w
	}
	res.Output = map[string]any{}
	if out.Output != nil {
		res.Output = mask.Value(fromJSON(svc.scrub(toJSON(out.Output))))
	}
	return res, nil
}

// pinnedRun is a recorded run's input to its nodes: the event and every succeeded step's output.
func (e *Engine) pinnedRun(ctx context.Context, flowID, runID string) (map[string]any, map[string]any, error) {
	d, err := e.GetRun(ctx, runID)
	if err != nil {
		return nil, nil, err
	}
	if d.Run.FlowID != flowID {
		return nil, nil, fmt.Errorf("run %s is not a run of this flow: %w", runID, store.ErrNotFound)
	}
	outputs := map[string]any{}
	for _, s := range d.Steps {
		if s.Status == store.StepSucceeded {
			outputs[s.NodeID] = fromJSON(s.Output)
		}
	}
	return eventEnv(&d.Event), outputs, nil
}
