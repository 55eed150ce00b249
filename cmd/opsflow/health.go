package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// healthcheckCommand asks the local serve or worker process for /readyz and exits 0 when it is
// ready, 1 when not: the container health check (the distroless image has no curl). Its default
// address is the worker's OPSFLOW_HEALTH_ADDR when set, else serve's OPSFLOW_ADDR.
func healthcheckCommand(args []string, out io.Writer) error {
	var addr string
	var timeout time.Duration
	fs := newFlags(out, "healthcheck", "[-addr HOST:PORT]", "Exit 0 when the opsflow process at -addr answers /readyz with 200 (its database and queue answer), else 1.")
	fs.StringVar(&addr, "addr", env("OPSFLOW_HEALTH_ADDR", env("OPSFLOW_ADDR", ":8080")), "the process's address (OPSFLOW_HEALTH_ADDR for a worker, else OPSFLOW_ADDR)")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	if err := fs.parse(args, 0); err != nil {
		return err
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fs.usage("-addr must be host:port or :port, not %q", addr)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1" // a listen address: ask this machine
	}
	url := "http://" + net.JoinHostPort(host, port) + "/readyz"
	resp, err := (&http.Client{Timeout: timeout}).Get(url)
	if err != nil {
		return fmt.Errorf("not healthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("not ready: %s answered %s", url, resp.Status)
	}
	fmt.Fprintln(out, "ready")
	return nil
}
