package compile

import (
	"context"
	"syscall"
	"testing"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// BenchmarkEval measures the cost of the limits: each expression is run as opsflow runs it
// ("limited") and as plain expr would, without the patches ("plain"), in the same run. Besides
// wall time it reports the process's CPU time per evaluation (cpu-ns/op), which a machine
// shared with other work distorts less.
func BenchmarkEval(b *testing.B) {
	env := map[string]any{"event": map[string]any{"data": map[string]any{"amount": 249.0, "currency": "USD", "name": "Li",
		"items": []any{1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0}}}, "nodes": map[string]any{}}
	tenv := types.Map{"event": types.Map{"data": types.Map{"amount": types.Float64, "currency": types.String, "name": types.String,
		"items": types.Array(types.Float64)}}, "nodes": types.Map{}}
	for _, bc := range []struct{ name, src string }{
		{"compare", `event.data.amount >= 100 && event.data.currency == "USD"`},
		{"concat", `"Dear " + event.data.name + ", you owe " + string(event.data.amount)`},
		{"filter", `len(filter(event.data.items, # > 3))`},
		{"loops", `count(1..1000, # % 7 == 0)`},
		{"nested", `count(1..100, any(1..100, # == -1))`},
	} {
		plain, err := expr.Compile(bc.src, expr.Env(tenv))
		if err != nil {
			b.Fatal(err)
		}
		l := &limiter{}
		limited, err := expr.Compile(bc.src, limitOptions(tenv, l)...)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(bc.name+"/plain", func(b *testing.B) {
			start := cpuTime()
			for b.Loop() {
				var m vm.VM
				if _, err := m.Run(plain, env); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
		b.Run(bc.name+"/limited", func(b *testing.B) {
			p := program{src: bc.src, p: limited, metered: l.metered}
			start := cpuTime()
			for b.Loop() {
				if _, err := evalValue(context.Background(), p, env); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuTime()-start)/float64(b.N), "cpu-ns/op")
		})
	}
}

// cpuTime is the user and system CPU time the process has used, in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}
