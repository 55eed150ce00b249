package compile

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// Every evaluation of a flow's expressions is bounded in time and in memory, so that no flow can
// take a worker hostage.
//
// Time: expr's VM has no way to be interrupted, and only its loops (the predicate of all, any,
// count, filter, map, reduce, sortBy, groupBy …) can run long: everything else is bounded by the
// memory budget. So each predicate body is patched at compile time to first call a hidden
// function, which stops the evaluation (by panicking, as expr's own runtime errors do) when the
// caller's context has ended or the deadline has passed. It costs a non-blocking receive per
// iteration and a clock reading every 64; it is a plain func() bool in the environment, which
// expr calls without allocating. The deadline counts from the first loop iteration, so
// expressions without loops pay nothing.
//
// Memory: expr counts ranges, lists, maps and a few builtins (repeat, sort, concat, flatten,
// reverse) against its VM's budget; opsflow counts, against the same budget, what expr does not:
// string concatenation and the string-, JSON- and list-building builtins (before they allocate,
// from their arguments). The result of a field's evaluation (all parts of a template together)
// must fit in the budget too, measured as the text it becomes, so a list holding one large value
// many times cannot be turned into a huge text. Sizes are in expr's unit: one per byte of text,
// one per list element or map entry.

// Defaults for SetExprLimits.
const (
	DefaultExprTimeout = time.Second
	DefaultExprBudget  = 1_000_000
)

var (
	exprTimeout atomic.Int64  // nanoseconds
	exprBudget  atomic.Uint64 // units, see above
)

func init() { SetExprLimits(0, 0) }

// SetExprLimits sets, for the whole process, how long one evaluation may run and how much it may
// allocate. Zero means the default.
func SetExprLimits(timeout time.Duration, budget uint) {
	if timeout <= 0 {
		timeout = DefaultExprTimeout
	}
	if budget == 0 {
		budget = DefaultExprBudget
	}
	exprTimeout.Store(int64(timeout))
	exprBudget.Store(uint64(budget))
}

// ErrExprTimeout and ErrExprMemory are what an evaluation stopped by a limit wraps.
var (
	ErrExprTimeout = errors.New("expression ran too long")
	ErrExprMemory  = errors.New("memory budget exceeded")
)

// Hidden names: they contain a NUL byte, which no expression can spell.
const (
	meterVar = "\x00meter"
	tickVar  = "\x00tick"
	checkFn  = "\x00check"
)

// meter is the state of one evaluation of a field: its context, deadline and memory used.
type meter struct {
	parent   context.Context
	done     <-chan struct{} // parent's
	timeout  time.Duration
	deadline time.Time // set by the first loop iteration
	ticks    uint
	tickFn   func() bool
	used     uint // by what the evaluation built
	output   uint // by its results (a template's parts add up)
	budget   uint
}

func newMeter(ctx context.Context) *meter {
	return &meter{parent: ctx, done: ctx.Done(), timeout: time.Duration(exprTimeout.Load()), budget: uint(exprBudget.Load())}
}

// tick is called at every loop iteration; it panics with the reason to stop, which expr's VM
// returns as the evaluation's error.
func (m *meter) tick() bool {
	select {
	case <-m.done:
		panic(m.stopped())
	default:
	}
	m.ticks++
	if m.ticks%64 == 1 {
		now := time.Now()
		if m.deadline.IsZero() {
			m.deadline = now.Add(m.timeout)
		} else if now.After(m.deadline) {
			panic(m.stopped())
		}
	}
	return true
}

// stopped says why the evaluation's context ended: the caller's context, or the deadline.
func (m *meter) stopped() error {
	if err := m.parent.Err(); err != nil {
		return fmt.Errorf("expression stopped: %w", err)
	}
	return fmt.Errorf("%w: it was stopped after %v", ErrExprTimeout, m.timeout)
}

// charge counts n units against the budget, refusing before they would exceed it.
func (m *meter) charge(n uint) error {
	if n > m.budget-m.used {
		return fmt.Errorf("%w: an expression may build at most %d bytes of text and list elements", ErrExprMemory, m.budget)
	}
	m.used += n
	return nil
}

// left is what remains of the budget.
func (m *meter) left() uint { return m.budget - m.used }

// run evaluates a compiled program under m.
func (m *meter) run(p *vm.Program, metered bool, env map[string]any) (any, error) {
	if err := m.parent.Err(); err != nil {
		return nil, fmt.Errorf("expression stopped: %w", err)
	}
	if metered {
		e := make(map[string]any, len(env)+2)
		for k, v := range env {
			e[k] = v
		}
		if m.tickFn == nil {
			m.tickFn = m.tick
		}
		e[meterVar], e[tickVar] = m, m.tickFn
		env = e
	}
	machine := vm.VM{MemoryBudget: m.budget}
	out, err := machine.Run(p, env)
	if err != nil {
		return nil, err
	}
	// The result counts on its own (what was built for it is already counted above).
	m.output += sizeOf(out, m.budget-m.output+1)
	if m.output > m.budget {
		return nil, fmt.Errorf("%w: an expression's result may hold at most %d bytes of text and list elements", ErrExprMemory, m.budget)
	}
	return out, nil
}

// limitOptions are the compile options that make a program honour its meter; env is the field's
// type environment (not modified), l the patcher that records whether the program uses the meter.
func limitOptions(env types.Map, l *limiter) []expr.Option {
	withMeter := make(types.Map, len(env)+1)
	for k, v := range env {
		withMeter[k] = v
	}
	withMeter[meterVar] = types.TypeOf(&meter{})
	withMeter[tickVar] = types.TypeOf(func() bool { return true })
	return []expr.Option{
		expr.Env(withMeter),
		expr.Function(checkFn, func(args ...any) (any, error) {
			m := args[0].(*meter)
			return true, m.charge(allocation(args[1].(string), args[2:], m.left()+1))
		}, new(func(*meter, string, ...any) bool)),
		expr.Patch(l),
	}
}

// allocating lists the builtins expr does not count that can build large values.
var allocating = map[string]bool{
	"repeat": true, "replace": true, "join": true, "split": true, "splitAfter": true,
	"upper": true, "lower": true, "toJSON": true, "fromJSON": true, "string": true,
	"toBase64": true, "fromBase64": true, "keys": true, "values": true, "toPairs": true,
	"fromPairs": true, "uniq": true, "median": true,
}

// limiter patches a program's syntax tree: a tick at the start of every predicate body, and a
// check before every string concatenation and allocating builtin.
type limiter struct {
	vars    int
	metered bool
}

func (l *limiter) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		l.metered = true
		tick := located(n, &ast.CallNode{Callee: located(n, &ast.IdentifierNode{Value: tickVar})})
		n.Node = located(n, &ast.SequenceNode{Nodes: []ast.Node{tick, n.Node}})
	case *ast.BinaryNode:
		if n.Operator == "+" && maybeString(n.Left) && maybeString(n.Right) {
			ast.Patch(node, l.checked(n, "+", []ast.Node{n.Left, n.Right}, func(a []ast.Node) ast.Node {
				return &ast.BinaryNode{Operator: "+", Left: a[0], Right: a[1]}
			}))
		}
	case *ast.BuiltinNode:
		if allocating[n.Name] {
			ast.Patch(node, l.checked(n, n.Name, n.Arguments, func(a []ast.Node) ast.Node {
				return &ast.BuiltinNode{Name: n.Name, Arguments: a, Throws: n.Throws}
			}))
		}
	}
}

// checked rewrites op(args) as `let v1 = arg1; …; check(meter, op, v1, …); op(v1, …)`, so the
// arguments are evaluated once and the allocation is checked before it happens.
func (l *limiter) checked(at ast.Node, op string, args []ast.Node, rebuild func([]ast.Node) ast.Node) ast.Node {
	names := make([]ast.Node, len(args))
	for i := range args {
		l.vars++
		names[i] = located(at, &ast.IdentifierNode{Value: fmt.Sprintf("\x00v%d", l.vars)})
	}
	check := l.call(at, checkFn, append([]ast.Node{located(at, &ast.StringNode{Value: op})}, names...)...)
	var out ast.Node = located(at, &ast.SequenceNode{Nodes: []ast.Node{check, located(at, rebuild(names))}})
	for i := len(args) - 1; i >= 0; i-- {
		out = located(at, &ast.VariableDeclaratorNode{Name: names[i].(*ast.IdentifierNode).Value, Value: args[i], Expr: out})
	}
	return out
}

// call builds fn(meter, args...).
func (l *limiter) call(at ast.Node, fn string, args ...ast.Node) ast.Node {
	l.metered = true
	all := append([]ast.Node{located(at, &ast.IdentifierNode{Value: meterVar})}, args...)
	return located(at, &ast.CallNode{Callee: located(at, &ast.IdentifierNode{Value: fn}), Arguments: all})
}

// located gives a new node the position of the node it stands for, so errors point there.
func located(at, n ast.Node) ast.Node {
	n.SetLocation(at.Location())
	return n
}

// maybeString reports whether an operand may be a string at run time.
func maybeString(n ast.Node) bool {
	t := n.Type()
	return t == nil || t.Kind() == reflect.Interface || t.Kind() == reflect.String
}

// allocation is how many units op will allocate given its arguments; it stops counting past limit.
func allocation(op string, args []any, limit uint) uint {
	str := func(i int) (string, bool) {
		if i >= len(args) {
			return "", false
		}
		s, ok := args[i].(string)
		return s, ok
	}
	s, isStr := str(0)
	switch op {
	case "+":
		if t, ok := str(1); ok && isStr {
			return uint(len(s)) + uint(len(t))
		}
	case "repeat":
		n, ok := toInt(args[1])
		if !isStr || !ok || n <= 0 || len(s) == 0 {
			return 0
		}
		if uint(n) > limit/uint(len(s)) {
			return limit
		}
		return uint(len(s)) * uint(n)
	case "replace":
		old, ok1 := str(1)
		repl, ok2 := str(2)
		if !isStr || !ok1 || !ok2 {
			return 0
		}
		count := strings.Count(s, old)
		if len(args) == 4 {
			if n, ok := toInt(args[3]); ok && n >= 0 && n < count {
				count = n
			}
		}
		grow := len(repl) - len(old)
		if grow <= 0 {
			return uint(len(s))
		}
		if uint(count) > limit/uint(grow) {
			return limit
		}
		return uint(len(s)) + uint(count)*uint(grow)
	case "join":
		sep, _ := str(1)
		v := reflect.ValueOf(args[0])
		if v.Kind() != reflect.Slice {
			return 0
		}
		total := uint(v.Len()) * uint(len(sep))
		for i := 0; i < v.Len() && total < limit; i++ {
			if e, ok := v.Index(i).Interface().(string); ok {
				total += uint(len(e))
			}
		}
		return total
	case "split", "splitAfter":
		sep, ok := str(1)
		if !isStr || !ok {
			return 0
		}
		if sep == "" {
			return uint(utf8.RuneCountInString(s))
		}
		return uint(strings.Count(s, sep)) + 1
	case "upper", "lower", "fromJSON", "fromBase64":
		return uint(len(s))
	case "toBase64":
		return uint(len(s))/3*4 + 4
	case "toJSON", "string":
		if len(args) > 0 {
			return sizeOf(args[0], limit)
		}
	default: // collections: keys, values, toPairs, fromPairs, uniq, median
		if len(args) > 0 {
			if v := reflect.ValueOf(args[0]); v.Kind() == reflect.Map || v.Kind() == reflect.Slice || v.Kind() == reflect.Array {
				return uint(v.Len())
			}
		}
	}
	return 0
}

func toInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int64:
		return int(n), true
	case float64:
		return int(n), true
	}
	return 0, false
}

// sizeOf measures v in budget units (bytes of text, list elements and map entries), counting a
// value held several times each time, since that is what turning it into text costs. It stops
// once the size passes limit.
func sizeOf(v any, limit uint) uint {
	var size uint
	var walk func(v any)
	walk = func(v any) {
		if size > limit {
			return
		}
		switch t := v.(type) {
		case nil, bool, int, float64:
			size++
		case string:
			size += uint(len(t)) + 1
		case []any:
			size += uint(len(t))
			for _, e := range t {
				walk(e)
			}
		case map[string]any:
			for k, e := range t {
				size += uint(len(k)) + 1
				walk(e)
			}
		default:
			r := reflect.ValueOf(v)
			switch r.Kind() {
			case reflect.Slice, reflect.Array:
				size += uint(r.Len())
				if r.Type().Elem().Kind() == reflect.Interface || r.Type().Elem().Kind() >= reflect.Array {
					for i := 0; i < r.Len() && size <= limit; i++ {
						walk(r.Index(i).Interface())
					}
				}
			case reflect.Map:
				size += uint(r.Len())
				for it := r.MapRange(); it.Next() && size <= limit; {
					walk(it.Key().Interface())
					walk(it.Value().Interface())
				}
			default:
				size++
			}
		}
	}
	walk(v)
	return size
}
