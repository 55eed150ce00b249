package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
)

// keyA and keyB are declared in startup_test.go.

// A key rotation: processes with the new key and the old one as old read every credential,
// before and after RotateCredentials re-seals them; afterwards the new key alone suffices and
// the old one alone no longer reads anything.
func TestRotateCredentials(t *testing.T) {
	ctx := context.Background()
	for _, b := range enginetest.Backends() {
		t.Run(string(b), func(t *testing.T) {
			cfg := enginetest.Config(t, b)
			cfg.Offline = true
			open := func(key string, old ...string) *engine.Engine {
				c := cfg
				c.SecretKey, c.OldSecretKeys = key, old
				e, err := engine.Open(c)
				if err != nil {
					t.Fatal(err)
				}
				return e
			}
			e := open(keyA)
			for _, name := range []string{"crm", "sms"} {
				if _, err := e.CreateCredential(ctx, name, "http_bearer", map[string]string{"token": "tok-" + name}); err != nil {
					t.Fatal(err)
				}
			}
			e.Close()

			e = open(keyB, keyA)
			if c, err := e.Credential(ctx, "crm"); err != nil || c.Data["token"] != "tok-crm" {
				t.Fatalf("new key + old key before rotation: %v %v", c, err)
			}
			if _, err := e.CreateCredential(ctx, "new", "http_bearer", map[string]string{"token": "tok-new"}); err != nil {
				t.Fatal(err)
			}
			if n, err := e.RotateCredentials(ctx); err != nil || n != 2 {
				t.Fatalf("rotate: %d %v (want the 2 old credentials)", n, err)
			}
			if n, err := e.RotateCredentials(ctx); err != nil || n != 0 {
				t.Fatalf("second rotate: %d %v", n, err)
			}
			e.Close()

			e = open(keyB)
			for _, name := range []string{"crm", "sms", "new"} {
				if c, err := e.Credential(ctx, name); err != nil || c.Data["token"] != "tok-"+name {
					t.Errorf("new key alone after rotation, %s: %v %v", name, c, err)
				}
			}
			e.Close()
			// The key check value was re-sealed: the retired key alone is refused at start.
			c := cfg
			c.SecretKey = keyA
			if e, err := engine.Open(c); !errors.Is(err, engine.ErrWrongKey) {
				if e != nil {
					e.Close()
				}
				t.Errorf("the retired key alone started: %v", err)
			}
		})
	}
}
