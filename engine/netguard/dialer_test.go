package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
)

// Dialer finds the guarded dialer behind the client's instrumented transport: other protocols
// (SMTP) get the same policy, loopback refused unless allowed.
func TestDialerKeepsThePolicy(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	strict, _ := New(nil)
	dial, ok := Dialer(strict.Client(0))
	if !ok {
		t.Fatal("no dialer found in a guarded client")
	}
	var blocked *ErrBlocked
	if _, err := dial(context.Background(), "tcp", ln.Addr().String()); !errors.As(err, &blocked) {
		t.Errorf("strict dialer to loopback: %v, want ErrBlocked", err)
	}
	open, _ := New([]string{"127.0.0.0/8"})
	dial, _ = Dialer(open.Client(0))
	conn, err := dial(context.Background(), "tcp", ln.Addr().String())
	if err != nil {
		t.Fatalf("allowed dialer to loopback: %v", err)
	}
	conn.Close()
	if _, ok := Dialer(&http.Client{}); ok {
		t.Error("a plain client has no guarded dialer")
	}
}
