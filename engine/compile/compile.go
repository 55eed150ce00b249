// Package compile validates a flow document against the node registry and turns it into an
// executable plan: graph checks, config checks against each node type's schema, and every
// expression and {{ }} template compiled and type-checked against what its node can see.
// It runs when a flow is saved and once per flow version in a worker, never per event.
package compile

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/expr-lang/expr/types"

	"github.com/opsflow/opsflow/engine/flow"
	"github.com/opsflow/opsflow/engine/node"
)

// Limits that keep a single flow or expression from exhausting the process.
const (
	MaxNodes       = 200
	MaxEdges       = 1000
	MaxExprLen     = 4096  // characters in one expression
	MaxTemplateLen = 16384 // characters in one templated string
	MaxExprNodes   = 1000  // AST nodes in one expression
)

// Problem is one thing wrong with a flow, pointing at the node and field. Message is English;
// Code, with Params["rule"] when one code covers several checks, names the message, and Params
// holds the values it is made of, so that the builder can say it in the user's language.
type Problem struct {
	NodeID  string `json:"node_id,omitempty"`
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Params  P      `json:"params,omitempty"`
}

// P holds a problem's parameters.
type P map[string]any

// Problems is every problem found in one pass.
type Problems []Problem

func (p Problems) Error() string {
	msgs := make([]string, len(p))
	for i, q := range p {
		loc := q.NodeID
		if q.Field != "" {
			loc += "." + q.Field
		}
		if loc != "" {
			msgs[i] = loc + ": " + q.Message
		} else {
			msgs[i] = q.Message
		}
	}
	return strings.Join(msgs, "; ")
}

// Refs lets the compiler check that referenced credentials and teams exist. Optional.
type Refs interface {
	CredentialType(id string) (typ string, ok bool)
	TeamExists(id string) bool
}

// Flow is a compiled, valid flow.
type Flow struct {
	Def     *flow.Flow
	Trigger *Node
	// Order is a topological order starting at the trigger; running nodes in it guarantees every
	// node sees all of its inputs decided.
	Order []*Node
	byID  map[string]*Node
}

// Node returns the compiled node with the given id.
func (f *Flow) Node(id string) *Node { return f.byID[id] }

// Node is one compiled node.
type Node struct {
	Def  *flow.Node
	Spec *node.Spec
	// In and Out are the edges arriving at and leaving the node.
	In, Out []flow.Edge
	// Output is the shape of what the node produces.
	Output *node.Schema
	// Scope is what the node's expressions can see: event and the outputs of upstream nodes.
	Scope *node.Schema
	// Env is Scope as the type environment expressions are checked against.
	Env    types.Map
	config map[string]value
}

var idPattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// Compile checks f and compiles it. A non-empty Problems means f must not be saved or run.
func Compile(f *flow.Flow, refs Refs) (*Flow, Problems) {
	out, problems := compileAll(f, refs)
	if len(problems) > 0 {
		return nil, problems
	}
	return out, nil
}

// Scopes compiles f as far as it can, ignoring problems, so an editor can still offer every node
// the fields it may use. The result must not be run.
func Scopes(f *flow.Flow) *Flow {
	out, _ := compileAll(f, nil)
	return out
}

// ScopePaths lists the dotted paths a node's expressions may use, e.g. "event.data.amount".
func ScopePaths(n *Node) []string {
	if n.Scope == nil {
		return []string{}
	}
	paths := n.Scope.Paths("")
	for i, p := range paths {
		paths[i] = strings.TrimPrefix(p, ".")
	}
	return paths
}

func compileAll(f *flow.Flow, refs Refs) (*Flow, Problems) {
	c := &compiler{def: f, refs: refs, out: &Flow{Def: f, byID: map[string]*Node{}}}
	c.graph()
	c.configs()
	return c.out, c.problems
}

type compiler struct {
	def      *flow.Flow
	refs     Refs
	out      *Flow
	problems Problems
	vars     map[string]*node.Schema // extra names of the field being compiled
}

func (c *compiler) add(nodeID, field, code string, params P, format string, args ...any) {
	c.problems = append(c.problems, Problem{NodeID: nodeID, Field: field, Code: code, Message: fmt.Sprintf(format, args...), Params: params})
}

// graph checks node ids, types, edges, the single trigger, cycles and reachability.
func (c *compiler) graph() {
	f := c.def
	if f.Schema != flow.SchemaVersion {
		c.add("", "schema", "unsupported_schema", P{"schema": f.Schema, "want": flow.SchemaVersion}, "schema %q is not supported; use %q", f.Schema, flow.SchemaVersion)
	}
	if strings.TrimSpace(f.Name) == "" {
		c.add("", "name", "required", P{"rule": "flow_name"}, "the flow needs a name")
	}
	if len(f.Nodes) == 0 {
		c.add("", "nodes", "required", P{"rule": "no_nodes"}, "the flow has no nodes; it needs exactly one trigger")
		return
	}
	if len(f.Nodes) > MaxNodes {
		c.add("", "nodes", "too_many", P{"rule": "nodes", "n": len(f.Nodes), "max": MaxNodes}, "the flow has %d nodes; at most %d are allowed", len(f.Nodes), MaxNodes)
		return
	}
	if len(f.Edges) > MaxEdges {
		c.add("", "edges", "too_many", P{"rule": "edges", "n": len(f.Edges), "max": MaxEdges}, "the flow has %d edges; at most %d are allowed", len(f.Edges), MaxEdges)
		return
	}
	var triggers []string
	for i := range f.Nodes {
		n := &f.Nodes[i]
		if !idPattern.MatchString(n.ID) {
			c.add(n.ID, "id", "invalid_id", P{"id": n.ID}, "node id %q must start with a letter or _ and contain only letters, digits and _ (at most 64)", n.ID)
			continue
		}
		if _, dup := c.out.byID[n.ID]; dup {
			c.add(n.ID, "id", "duplicate_id", P{"id": n.ID}, "node id %q is used more than once", n.ID)
			continue
		}
		spec := node.Lookup(n.Type)
		if spec == nil {
			c.add(n.ID, "type", "unknown_node_type", P{"type": n.Type}, "unknown node type %q", n.Type)
		}
		cn := &Node{Def: n, Spec: spec}
		c.out.byID[n.ID] = cn
		if spec != nil && spec.Category == node.Trigger {
			triggers = append(triggers, n.ID)
			c.out.Trigger = cn
		}
	}
	switch len(triggers) {
	case 0:
		c.add("", "nodes", "no_trigger", nil, "the flow needs exactly one trigger node; it has none")
	case 1:
	default:
		c.add("", "nodes", "many_triggers", P{"n": len(triggers), "nodes": strings.Join(triggers, ", ")}, "the flow needs exactly one trigger node; it has %d (%s)", len(triggers), strings.Join(triggers, ", "))
		c.out.Trigger = nil
	}

	seen := map[flow.Edge]bool{}
	for i, e := range f.Edges {
		where := fmt.Sprintf("edges[%d]", i)
		from, to := c.out.byID[e.From], c.out.byID[e.To]
		switch {
		case from == nil:
			c.add(e.From, where, "dangling_edge", P{"rule": "from", "from": e.From, "to": e.To}, "edge %s → %s starts at a node that does not exist", e.From, e.To)
			continue
		case to == nil:
			c.add(e.To, where, "dangling_edge", P{"rule": "to", "from": e.From, "to": e.To}, "edge %s → %s ends at a node that does not exist", e.From, e.To)
			continue
		case e.From == e.To:
			c.add(e.From, where, "cycle", P{"rule": "self", "node": e.From}, "edge %s → %s connects the node to itself", e.From, e.To)
			continue
		}
		if to.Spec != nil && to.Spec.Category == node.Trigger {
			c.add(e.To, where, "edge_into_trigger", P{"from": e.From, "to": e.To}, "edge %s → %s points into a trigger; triggers start flows and take no input", e.From, e.To)
			continue
		}
		if from.Spec != nil {
			ports := from.Spec.PortList()
			switch {
			case e.Port == "" && len(ports) > 1:
				c.add(e.From, where, "missing_port", P{"from": e.From, "to": e.To, "type": from.Spec.Type, "ports": strings.Join(ports, ", ")}, "edge %s → %s must name one of the ports of %s: %s", e.From, e.To, from.Spec.Type, strings.Join(ports, ", "))
				continue
			case e.Port != "" && !from.Spec.HasPort(e.Port):
				c.add(e.From, where, "unknown_port", P{"node": e.From, "type": from.Spec.Type, "port": e.Port, "ports": strings.Join(ports, ", ")}, "node %s (%s) has no port %q; its ports are %s", e.From, from.Spec.Type, e.Port, strings.Join(ports, ", "))
				continue
			case e.Port == "":
				e.Port = ports[0]
			}
		}
		if seen[e] {
			c.add(e.From, where, "duplicate_edge", P{"from": e.From, "to": e.To, "port": e.Port}, "edge %s → %s (port %s) appears twice", e.From, e.To, e.Port)
			continue
		}
		seen[e] = true
		from.Out = append(from.Out, e)
		to.In = append(to.In, e)
	}

	// Kahn's algorithm gives the run order and finds cycles.
	indeg := map[string]int{}
	for _, n := range c.out.byID {
		indeg[n.Def.ID] = len(n.In)
	}
	var queue []string
	for i := range f.Nodes {
		if id := f.Nodes[i].ID; c.out.byID[id] != nil && c.out.byID[id].Def == &f.Nodes[i] && indeg[id] == 0 {
			queue = append(queue, id)
		}
	}
	var order []*Node
	for len(queue) > 0 {
		id := queue[0]
		queue = queue[1:]
		n := c.out.byID[id]
		order = append(order, n)
		for _, e := range n.Out {
			indeg[e.To]--
			if indeg[e.To] == 0 {
				queue = append(queue, e.To)
			}
		}
	}
	if len(order) < len(c.out.byID) {
		// What Kahn's algorithm left is the cycles plus whatever hangs below them; peel off nodes
		// with no edge back into the rest so only the nodes on a cycle are named.
		rest := map[string]bool{}
		for id, d := range indeg {
			if d > 0 {
				rest[id] = true
			}
		}
		for changed := true; changed; {
			changed = false
			for id := range rest {
				leaf := true
				for _, e := range c.out.byID[id].Out {
					if rest[e.To] {
						leaf = false
						break
					}
				}
				if leaf {
					delete(rest, id)
					changed = true
				}
			}
		}
		var inCycle []string
		for id := range rest {
			inCycle = append(inCycle, id)
		}
		sort.Strings(inCycle)
		for _, id := range inCycle {
			c.add(id, "", "cycle", P{"rule": "nodes", "node": id, "nodes": strings.Join(inCycle, ", ")}, "node %s is part of a cycle (%s); flows must be acyclic — use logic.foreach to repeat work", id, strings.Join(inCycle, ", "))
		}
	}
	c.out.Order = order

	if t := c.out.Trigger; t != nil {
		reach := map[string]bool{t.Def.ID: true}
		stack := []*Node{t}
		for len(stack) > 0 {
			n := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			for _, e := range n.Out {
				if !reach[e.To] {
					reach[e.To] = true
					stack = append(stack, c.out.byID[e.To])
				}
			}
		}
		for i := range f.Nodes {
			id := f.Nodes[i].ID
			if n := c.out.byID[id]; n != nil && n.Def == &f.Nodes[i] && !reach[id] {
				c.add(id, "", "unreachable", P{"node": id, "trigger": t.Def.ID}, "node %s cannot be reached from the trigger %s; connect it or remove it", id, t.Def.ID)
			}
		}
	}
}

// configs checks and compiles every node's config in run order, so each node's expressions are
// type-checked against the event and the outputs of the nodes upstream of it.
func (c *compiler) configs() {
	trigger := c.out.Trigger
	event := node.AnyObject()
	if trigger != nil {
		cfg := withDefaults(trigger.Spec, trigger.Def.Config)
		trigger.Output = trigger.Spec.OutputSchema(cfg)
		event = trigger.Output
	}
	ancestors := map[string]map[string]bool{}
	for _, n := range c.out.Order {
		anc := map[string]bool{}
		for _, e := range n.In {
			anc[e.From] = true
			for a := range ancestors[e.From] {
				anc[a] = true
			}
		}
		ancestors[n.Def.ID] = anc
		if n.Spec == nil {
			continue
		}
		upstream := map[string]*node.Schema{}
		for a := range anc {
			if out := c.out.byID[a].Output; out != nil {
				upstream[a] = out
			}
		}
		n.Scope = node.Object(map[string]*node.Schema{"event": event, "nodes": node.Object(upstream)})
		n.Env = n.Scope.ExprType().(types.Map)
		c.node(n)
	}
}

func withDefaults(spec *node.Spec, cfg map[string]any) map[string]any {
	out := make(map[string]any, len(spec.Fields))
	for k, v := range cfg {
		out[k] = v
	}
	for _, f := range spec.Fields {
		if _, ok := out[f.Name]; !ok && f.Default != nil {
			out[f.Name] = f.Default
		}
	}
	return out
}
