package engine

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"runtime"
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
	c := newCommitter(st.DB)
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

// A one-statement write alone in its batch runs on the pool, without BEGIN and COMMIT; several
// that arrive together while the lane is busy share one transaction; an injected fault fails it.
func TestCommitterOneStatement(t *testing.T) {
	st, c := testCommitter(t)
	ctx := context.Background()
	inTx := func(tx *gorm.DB) bool {
		_, ok := tx.Statement.ConnPool.(*sql.Tx)
		return ok
	}
	var alone bool
	if err := c.doStatement(ctx, nil, func(tx *gorm.DB) error {
		alone = inTx(tx)
		return tx.Create(&store.Team{ID: "alone", Name: "alone"}).Error
	}); err != nil {
		t.Fatal(err)
	}
	if alone {
		t.Fatal("a one-statement write alone ran in a transaction")
	}

	// Hold the lane, queue three one-statement writes behind it, then let it go.
	hold, held := make(chan struct{}), make(chan struct{})
	go c.do(ctx, func(*gorm.DB) error { close(held); <-hold; return nil })
	<-held
	var wg sync.WaitGroup
	tx := make([]bool, 3)
	for i := range tx {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.doStatement(ctx, nil, func(db *gorm.DB) error {
				tx[i] = inTx(db)
				return db.Create(&store.Team{ID: fmt.Sprint("b", i), Name: fmt.Sprint("batched ", i)}).Error
			}); err != nil {
				t.Error(err)
			}
		}()
	}
	for len(c.in) < len(tx) {
		runtime.Gosched()
	}
	close(hold)
	wg.Wait()
	for i, ok := range tx {
		if !ok {
			t.Fatalf("batched write %d ran outside a transaction", i)
		}
	}
	var count int64
	st.DB.Model(&store.Team{}).Count(&count)
	if count != 4 {
		t.Fatalf("%d teams committed, want 4", count)
	}

	boom := errors.New("injected")
	fault := func() error { return boom }
	c.fault.Store(&fault)
	if err := c.doStatement(ctx, nil, func(tx *gorm.DB) error {
		return tx.Create(&store.Team{ID: "faulted", Name: "faulted"}).Error
	}); !errors.Is(err, boom) {
		t.Fatalf("got %v, want the injected fault", err)
	}
	st.DB.Model(&store.Team{}).Count(&count)
	if count != 4 {
		t.Fatalf("%d teams committed after the fault, want 4", count)
	}
}
