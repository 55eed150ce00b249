package compile

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"

	"github.com/opsflow/opsflow/engine/node"
)

// value produces a config value at run time, under a meter that bounds its time and memory.
type value interface {
	eval(m *meter, env map[string]any) (any, error)
}

type literal struct{ v any }

func (l literal) eval(*meter, map[string]any) (any, error) { return l.v, nil }

type program struct {
	src string
	p   *vm.Program
	// metered is set when the program calls the meter (it loops or allocates), so its
	// environment must carry it.
	metered bool
	// list is set for fields that must give a list: any slice or array is given as []any, the
	// one list type nodes handle (a range such as 1..3 is an []int).
	list bool
}

func (p program) eval(m *meter, env map[string]any) (any, error) {
	out, err := m.run(p.p, p.metered, env)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", p.src, err)
	}
	if p.list {
		return asList(out), nil
	}
	return out, nil
}

// asList turns any slice or array into an []any; other values are returned as they are.
func asList(v any) any {
	if _, ok := v.([]any); ok || v == nil {
		return v
	}
	r := reflect.ValueOf(v)
	if r.Kind() != reflect.Slice && r.Kind() != reflect.Array {
		return v
	}
	out := make([]any, r.Len())
	for i := range out {
		out[i] = r.Index(i).Interface()
	}
	return out
}

// template is literal text with {{ expr }} parts.
type template struct{ parts []value }

func (t template) eval(m *meter, env map[string]any) (any, error) {
	if c, ok := constant(t); ok {
		return c, nil
	}
	// Each part's result was charged to m, so the text built here is within the budget.
	var b strings.Builder
	for _, p := range t.parts {
		v, err := p.eval(m, env)
		if err != nil {
			return nil, err
		}
		b.WriteString(Stringify(v))
	}
	return b.String(), nil
}

type keyValues map[string]template

func (kv keyValues) eval(m *meter, env map[string]any) (any, error) {
	out := make(map[string]any, len(kv))
	for k, t := range kv {
		v, err := t.eval(m, env)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// Stringify renders a value the way a template shows it: numbers without trailing zeros, nil as
// nothing, objects and lists as JSON.
func Stringify(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case float64:
		if t == math.Trunc(t) && math.Abs(t) < 1e15 {
			return strconv.FormatInt(int64(t), 10)
		}
		return strconv.FormatFloat(t, 'f', -1, 64)
	case int:
		return strconv.Itoa(t)
	case bool:
		return strconv.FormatBool(t)
	case time.Time:
		return t.Format(time.RFC3339)
	case map[string]any, []any:
		return toJSON(t)
	default:
		switch reflect.ValueOf(v).Kind() {
		case reflect.Map, reflect.Slice, reflect.Array, reflect.Struct:
			return toJSON(v)
		}
		return fmt.Sprint(t)
	}
}

// toJSON renders v as compact JSON without HTML escaping (a template is text, not HTML); a value
// JSON cannot encode (such as NaN) falls back to fmt's form rather than vanishing.
func toJSON(v any) string {
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Sprint(v)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// Config is ConfigCtx without a context.
func (n *Node) Config(env map[string]any) (map[string]any, error) {
	return n.ConfigCtx(context.Background(), env)
}

// ConfigCtx evaluates the node's config against env: defaults applied, templates and expressions
// run, each field within the expression limits (SetExprLimits) and stopped when ctx ends.
// Fields with their own Vars are left out: the node evaluates them with EvalFieldCtx.
func (n *Node) ConfigCtx(ctx context.Context, env map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(n.config))
	for k, v := range n.config {
		if f := n.Spec.Field(k); f != nil && len(f.Vars) > 0 {
			continue
		}
		r, err := evalValue(ctx, v, env)
		if err != nil {
			return nil, fmt.Errorf("config.%s: %w", k, err)
		}
		out[k] = r
	}
	return out, nil
}

// EvalField is EvalFieldCtx without a context.
func (n *Node) EvalField(field string, env map[string]any) (any, error) {
	return n.EvalFieldCtx(context.Background(), field, env)
}

// EvalFieldCtx evaluates one config field against env (for nodes that evaluate per item), within
// the expression limits and stopped when ctx ends.
func (n *Node) EvalFieldCtx(ctx context.Context, field string, env map[string]any) (any, error) {
	v, ok := n.config[field]
	if !ok {
		return nil, fmt.Errorf("node %s, field %q: %w", n.Def.ID, field, node.ErrNotSet)
	}
	return evalValue(ctx, v, env)
}

// evalValue evaluates one field under a meter of its own (a constant needs none).
func evalValue(ctx context.Context, v value, env map[string]any) (any, error) {
	if c, ok := constant(v); ok {
		return c, nil
	}
	return v.eval(newMeter(ctx), env)
}

// constant is v's value when it needs no evaluation: a literal, or a template of one literal part.
func constant(v value) (any, bool) {
	switch c := v.(type) {
	case literal:
		return c.v, true
	case template:
		if len(c.parts) == 1 {
			if l, ok := c.parts[0].(literal); ok {
				return l.v, true
			}
		}
	}
	return nil, false
}

// LiteralConfig is the config as written, with defaults applied.
func (n *Node) LiteralConfig() map[string]any { return withDefaults(n.Spec, n.Def.Config) }

// Literal is one field of LiteralConfig, without copying the config (the executor reads a few
// settings of every step).
func (n *Node) Literal(field string) any {
	if v, ok := n.Def.Config[field]; ok {
		return v
	}
	if f := n.Spec.Field(field); f != nil {
		return f.Default
	}
	return nil
}

func (c *compiler) node(n *Node) {
	id := n.Def.ID
	spec := n.Spec
	cfg := withDefaults(spec, n.Def.Config)
	n.config = map[string]value{}
	names := make([]string, 0, len(cfg))
	for k := range cfg {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if spec.Field(k) == nil {
			c.add(id, "config."+k, "unknown_field", P{"type": spec.Type, "field": k}, "%s has no config field %q", spec.Type, k)
		}
	}
	ok := true
	for i := range spec.Fields {
		f := &spec.Fields[i]
		v, present := cfg[f.Name]
		if !present || v == nil || v == "" {
			if f.Required {
				c.add(id, "config."+f.Name, "required", P{"rule": "field", "field": f.Name}, "%s is required", f.Title.En)
				ok = false
			}
			continue
		}
		c.vars = f.Vars
		val, err := c.field(n, f, v)
		c.vars = nil
		if err != nil {
			err.params["field"] = f.Name
			c.add(id, "config."+f.Name, err.code, err.params, "%s", err.msg)
			ok = false
			continue
		}
		n.config[f.Name] = val
	}
	if ok && spec.Check != nil {
		for _, fe := range spec.Check(cfg) {
			params := P{"rule": "check", "field": fe.Field}
			if fe.Zh != "" {
				params["zh"] = fe.Zh
			}
			c.add(id, "config."+fe.Field, "invalid_field", params, "%s", fe.Message)
		}
	}
	if spec.Category != node.Trigger {
		n.Output = spec.OutputSchema(cfg)
	}
}

// field checks one config value and returns its evaluator, or a message saying what is wrong.
func (c *compiler) field(n *Node, f *node.Field, v any) (value, *fieldErr) {
	maxLen := f.MaxLen
	switch f.Kind {
	case node.KindString, node.KindCredential, node.KindTeam:
		s, isStr := v.(string)
		if !isStr {
			return nil, invalid(P{"rule": "type", "want": "string", "got": jsonKind(v)}, "%s must be a string, not %s", f.Title.En, jsonType(v))
		}
		if maxLen == 0 {
			maxLen = MaxTemplateLen
		}
		if len(s) > maxLen {
			return nil, invalid(P{"rule": "too_long", "len": len(s), "max": maxLen}, "%s is %d characters long; at most %d are allowed", f.Title.En, len(s), maxLen)
		}
		if f.Kind == node.KindCredential && c.refs != nil {
			typ, found := c.refs.CredentialType(s)
			if !found {
				return nil, invalid(P{"rule": "no_credential", "credential": s}, "credential %q does not exist", s)
			}
			if len(f.CredentialTypes) > 0 && !contains(f.CredentialTypes, typ) {
				return nil, invalid(P{"rule": "credential_type", "credential": s, "type": typ, "types": strings.Join(f.CredentialTypes, ", ")}, "credential %q is of type %s; %s needs one of %s", s, typ, f.Title.En, strings.Join(f.CredentialTypes, ", "))
			}
		}
		if f.Kind == node.KindTeam && c.refs != nil && !c.refs.TeamExists(s) {
			return nil, invalid(P{"rule": "no_team", "team": s}, "team %q does not exist", s)
		}
		return literal{s}, nil
	case node.KindTemplate:
		s, isStr := v.(string)
		if !isStr {
			return nil, invalid(P{"rule": "type", "want": "string", "got": jsonKind(v)}, "%s must be a string, not %s", f.Title.En, jsonType(v))
		}
		if maxLen == 0 {
			maxLen = MaxTemplateLen
		}
		if len(s) > maxLen {
			return nil, invalid(P{"rule": "too_long", "len": len(s), "max": maxLen}, "%s is %d characters long; at most %d are allowed", f.Title.En, len(s), maxLen)
		}
		t, err := c.template(n, s)
		if err != nil {
			return nil, err
		}
		return t, nil
	case node.KindExpr:
		s, isStr := v.(string)
		if !isStr {
			return nil, invalid(P{"rule": "type", "want": "string", "got": jsonKind(v)}, "%s must be an expression string, not %s", f.Title.En, jsonType(v))
		}
		p, err := c.expression(n, s, f.ExprType)
		if err != nil {
			return nil, err
		}
		return p, nil
	case node.KindNumber, node.KindInteger:
		x, isNum := v.(float64)
		if !isNum {
			return nil, invalid(P{"rule": "type", "want": "number", "got": jsonKind(v)}, "%s must be a number, not %s", f.Title.En, jsonType(v))
		}
		if f.Kind == node.KindInteger && x != math.Trunc(x) {
			return nil, invalid(P{"rule": "whole"}, "%s must be a whole number", f.Title.En)
		}
		if fe := bounds(f, x); fe != nil {
			return nil, fe
		}
		return literal{x}, nil
	case node.KindBool:
		if _, isBool := v.(bool); !isBool {
			return nil, invalid(P{"rule": "type", "want": "boolean", "got": jsonKind(v)}, "%s must be true or false, not %s", f.Title.En, jsonType(v))
		}
		return literal{v}, nil
	case node.KindSelect:
		s, _ := v.(string)
		for _, o := range f.Options {
			if o.Value == s {
				return literal{s}, nil
			}
		}
		vals := make([]string, len(f.Options))
		for i, o := range f.Options {
			vals[i] = o.Value
		}
		return nil, invalid(P{"rule": "option", "options": strings.Join(vals, ", "), "got": fmt.Sprint(v)}, "%s must be one of %s, not %v", f.Title.En, strings.Join(vals, ", "), v)
	case node.KindKeyValue:
		m, isMap := v.(map[string]any)
		if !isMap {
			return nil, invalid(P{"rule": "type", "want": "object", "got": jsonKind(v)}, "%s must be an object of strings, not %s", f.Title.En, jsonType(v))
		}
		kv := keyValues{}
		for k, e := range m {
			s, isStr := e.(string)
			if !isStr {
				return nil, invalid(P{"rule": "type", "key": k, "want": "string", "got": jsonKind(e)}, "%s[%s] must be a string, not %s", f.Title.En, k, jsonType(e))
			}
			t, err := c.template(n, s)
			if err != nil {
				err.params["key"] = k
				return nil, &fieldErr{err.code, fmt.Sprintf("%s[%s]: %s", f.Title.En, k, err.msg), err.params}
			}
			kv[k] = t
		}
		return kv, nil
	case node.KindDuration:
		s, isStr := v.(string)
		if !isStr {
			return nil, invalid(P{"rule": "type", "want": "duration", "got": jsonKind(v)}, "%s must be a duration such as \"30s\", \"2h\" or \"1d\", not %s", f.Title.En, jsonType(v))
		}
		d, err := ParseDuration(s)
		if err != nil {
			return nil, invalid(P{"rule": "duration", "value": s}, "%s: %v", f.Title.En, err)
		}
		if fe := bounds(f, d.Seconds()); fe != nil {
			return nil, fe
		}
		return literal{s}, nil
	case node.KindStringList:
		l, isList := v.([]any)
		if !isList {
			return nil, invalid(P{"rule": "type", "want": "list", "got": jsonKind(v)}, "%s must be a list of strings, not %s", f.Title.En, jsonType(v))
		}
		for i, e := range l {
			if _, isStr := e.(string); !isStr {
				return nil, invalid(P{"rule": "type", "index": i, "want": "string", "got": jsonKind(e)}, "%s[%d] must be a string, not %s", f.Title.En, i, jsonType(e))
			}
		}
		return literal{l}, nil
	case node.KindJSON:
		return literal{v}, nil
	}
	return nil, invalid(P{"rule": "kind", "kind": string(f.Kind)}, "field kind %q is not supported", f.Kind)
}

func bounds(f *node.Field, x float64) *fieldErr {
	if f.Min != nil && x < *f.Min {
		return invalid(P{"rule": "min", "min": *f.Min}, "%s must be at least %v", f.Title.En, *f.Min)
	}
	if f.Max != nil && x > *f.Max {
		return invalid(P{"rule": "max", "max": *f.Max}, "%s must be at most %v", f.Title.En, *f.Max)
	}
	return nil
}

// env is the type environment for the field being compiled: the node's, plus the field's Vars.
func (c *compiler) env(n *Node) types.Map {
	if len(c.vars) == 0 {
		return n.Env
	}
	env := types.Map{}
	for k, v := range n.Env {
		env[k] = v
	}
	for k, v := range c.vars {
		env[k] = v.ExprType()
	}
	return env
}

// fieldErr is what is wrong with one config value, with the problem code and parameters to report.
type fieldErr struct {
	code, msg string
	params    P
}

func invalid(params P, format string, args ...any) *fieldErr {
	return &fieldErr{"invalid_field", fmt.Sprintf(format, args...), params}
}

func badExpr(params P, format string, args ...any) *fieldErr {
	return &fieldErr{"invalid_expression", fmt.Sprintf(format, args...), params}
}

// expression compiles one expr-lang expression against the node's environment and checks its
// result type. want is "bool", "number", "string", "list" or "" for any.
func (c *compiler) expression(n *Node, src, want string) (value, *fieldErr) {
	if strings.TrimSpace(src) == "" {
		return nil, badExpr(P{"rule": "empty"}, "the expression is empty")
	}
	if len(src) > MaxExprLen {
		return nil, badExpr(P{"rule": "too_long", "len": len(src), "max": MaxExprLen}, "the expression is %d characters long; at most %d are allowed", len(src), MaxExprLen)
	}
	l := &limiter{}
	opts := append(limitOptions(c.env(n), l), expr.MaxNodes(MaxExprNodes))
	if want == "bool" {
		opts = append(opts, expr.AsBool())
	}
	p, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, badExpr(P{"rule": "compile", "expression": src, "error": firstLine(err.Error())}, "%s", exprError(src, err))
	}
	if t := p.Node().Type(); t != nil && t.Kind() != reflect.Interface {
		k := t.Kind()
		bad := false
		switch want {
		case "number":
			bad = !(k >= reflect.Int && k <= reflect.Float64)
		case "string":
			bad = k != reflect.String
		case "list":
			bad = k != reflect.Slice && k != reflect.Array
		}
		if bad {
			return nil, badExpr(P{"rule": "result_type", "expression": src, "want": want, "got": t.String()}, "expression %q must give a %s, but gives %s", src, want, t)
		}
	}
	return program{src: src, p: p, metered: l.metered, list: want == "list"}, nil
}

// template splits s into literal text and {{ expr }} parts, compiling each part.
func (c *compiler) template(n *Node, s string) (template, *fieldErr) {
	if len(s) > MaxTemplateLen {
		return template{}, badExpr(P{"rule": "too_long", "len": len(s), "max": MaxTemplateLen}, "the text is %d characters long; at most %d are allowed", len(s), MaxTemplateLen)
	}
	var t template
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			if rest != "" {
				t.parts = append(t.parts, literal{rest})
			}
			break
		}
		if i > 0 {
			t.parts = append(t.parts, literal{rest[:i]})
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return template{}, badExpr(P{"rule": "unclosed"}, "unclosed {{ in %q", s)
		}
		src := strings.TrimSpace(rest[i+2 : i+2+j])
		p, err := c.expression(n, src, "")
		if err != nil {
			return template{}, err
		}
		t.parts = append(t.parts, p)
		rest = rest[i+2+j+2:]
	}
	if len(t.parts) == 0 {
		t.parts = []value{literal{""}}
	}
	return t, nil
}

// exprError turns expr's multi-line message into one line that names the expression.
func exprError(src string, err error) string {
	return fmt.Sprintf("expression %q: %s", src, firstLine(err.Error()))
}

func firstLine(s string) string {
	if i := strings.Index(s, "\n"); i >= 0 {
		return s[:i]
	}
	return s
}

// jsonKind names a JSON value's type in one word, for problem parameters.
func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "string"
	case float64:
		return "number"
	case bool:
		return "boolean"
	case []any:
		return "list"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// ParseDuration accepts Go durations plus a "d" (day) unit: "30s", "2h", "1d12h".
// Negative durations are refused.
func ParseDuration(s string) (time.Duration, error) {
	in := s
	s = strings.TrimSpace(s)
	bad := func() (time.Duration, error) {
		return 0, fmt.Errorf("invalid duration %q: use a number with a unit, such as 30s, 15m, 2h or 1d", in)
	}
	if strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("duration %q is negative", in)
	}
	var days time.Duration
	if i := strings.Index(s, "d"); i >= 0 {
		digits := s[:i]
		if digits == "" || strings.Trim(digits, "0123456789") != "" || len(digits) > 5 {
			return bad()
		}
		n, err := strconv.Atoi(digits)
		if err != nil {
			return bad()
		}
		days = time.Duration(n) * 24 * time.Hour
		s = s[i+1:]
		if s == "" {
			return days, nil
		}
		if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
			return bad() // "1d-12h" is not a duration anyone means
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return bad()
	}
	if d < 0 {
		return 0, fmt.Errorf("duration %q is negative", in)
	}
	if days > 0 && d > math.MaxInt64-days {
		return bad()
	}
	return days + d, nil
}
