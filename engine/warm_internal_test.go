package engine

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestWarmStacksRunsAndWaits(t *testing.T) {
	w := newWarmStacks(2)
	defer w.Close()
	for i := range 100 {
		got := -1
		w.run(func() { got = i })
		if got != i {
			t.Fatalf("run %d returned before its function ran (saw %d)", i, got)
		}
	}
}

func TestWarmStacksRaisesPanicInCaller(t *testing.T) {
	w := newWarmStacks(1)
	defer w.Close()
	defer func() {
		p := recover()
		if p == nil {
			t.Fatal("a panic in the function did not reach the caller")
		}
		if err, ok := p.(error); !ok || !strings.Contains(err.Error(), "node exploded") || !strings.Contains(err.Error(), "warm_internal_test.go") {
			t.Fatalf("panic value %v: want the original value and the stack where it happened", p)
		}
	}()
	w.run(func() { panic("node exploded") })
}

// When every warm goroutine is busy (a task asynq gave up on still runs), or they have stopped,
// the function runs on the caller's goroutine instead of waiting.
func TestWarmStacksRunsHereWhenNoneIsFree(t *testing.T) {
	w := newWarmStacks(1)
	release := make(chan struct{})
	started := make(chan struct{})
	go w.run(func() { close(started); <-release })
	<-started
	done := make(chan struct{})
	go func() { w.run(func() {}); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("run waited for a busy goroutine instead of running the function itself")
	}
	close(release)
	w.Close()
	ran := false
	w.run(func() { ran = true })
	if !ran {
		t.Fatal("run after Close did not run the function")
	}
}

// deep uses about 64 KB of stack, as a run does through pgx, gorm, net/http and expr.
//
//go:noinline
func deep(n int) byte {
	var pad [512]byte
	pad[n%512] = byte(n)
	if n == 0 {
		return pad[0]
	}
	return deep(n-1) + pad[n%512]
}

// BenchmarkWarmStacks compares a deep call on a new goroutine per call (what asynq does for each
// task) with the same call on a warm goroutine (what handleTask does).
func BenchmarkWarmStacks(b *testing.B) {
	b.Run("new goroutine", func(b *testing.B) {
		for b.Loop() {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() { defer wg.Done(); deep(120) }()
			wg.Wait()
		}
	})
	b.Run("warm goroutine", func(b *testing.B) {
		w := newWarmStacks(1)
		defer w.Close()
		for b.Loop() {
			w.run(func() { deep(120) })
		}
	})
}
