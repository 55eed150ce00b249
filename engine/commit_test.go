package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"gorm.io/gorm"

	"github.com/opsflow/opsflow/engine/store"
)

func testCommitter(t *testing.T) (*store.Store, *committer) {
	st, err := store.Connect("", t.TempDir(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	c := newCommitter(st.DB, 1)
	t.Cleanup(func() {
		c.Close()
		st.Close()
	})
	return st, c
}

// Concurrent writes are all committed, in fewer transactions than writes, and a write that fails
// fails alone: the others in its batch are committed.
func TestCommitterBatchesAndIsolatesFailures(t *testing.T) {
	st, c := testCommitter(t)
	var txs sync.Map
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			errs[i] = c.do(context.Background(), func(tx *gorm.DB) error {
				txs.Store(fmt.Sprintf("%p", tx.Statement.ConnPool), true)
				if i == 17 {
					// A unique key taken twice: this write alone must fail.
					if err := tx.Create(&store.Team{ID: "dup", Name: "dup"}).Error; err != nil {
						return err
					}
					return tx.Create(&store.Team{ID: "dup2", Name: "dup"}).Error
				}
				return tx.Create(&store.Team{ID: fmt.Sprint("t", i), Name: fmt.Sprint("team ", i)}).Error
			})
		}(i)
	}
	wg.Wait()
	for i, err := range errs {
		if (i == 17) != (err != nil) {
			t.Fatalf("write %d: %v", i, err)
		}
	}
	var count int64
	st.DB.Model(&store.Team{}).Count(&count)
	if count != n-1 {
		t.Fatalf("%d teams committed, want %d", count, n-1)
	}
	batches := 0
	txs.Range(func(_, _ any) bool { batches++; return true })
	t.Logf("%d writes in %d transactions", n, batches)
}

// After Close, writes are refused rather than left waiting, and closing again is harmless.
func TestCommitterClosed(t *testing.T) {
	_, c := testCommitter(t)
	c.Close()
	if err := c.do(context.Background(), func(*gorm.DB) error { return nil }); !errors.Is(err, errCommitterClosed) {
		t.Fatalf("got %v", err)
	}
}
