//go:build faults

package faults

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// proc is one child process (an opsflow process or redis-server) that the suite can kill,
// freeze and start again with the same command line.
type proc struct {
	name string
	argv []string
	env  []string
	log  string // stdout and stderr, appended across restarts
	cmd  *exec.Cmd
	done chan struct{}
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	f, err := os.OpenFile(p.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "--- start %s %s\n", p.name, time.Now().UTC().Format(time.RFC3339Nano))
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = f, f
	// Children die with the test binary even when it is killed itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("start %s: %v", p.name, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func(done chan struct{}) {
		cmd.Wait()
		f.Close()
		close(done)
	}(p.done)
}

func (p *proc) alive() bool {
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// signal sends sig to the process (if it still runs).
func (p *proc) signal(sig syscall.Signal) {
	if p.alive() {
		p.cmd.Process.Signal(sig)
	}
}

// kill9 kills the process with SIGKILL and waits until it is gone.
func (p *proc) kill9() {
	if !p.alive() {
		return
	}
	p.cmd.Process.Signal(syscall.SIGCONT) // a frozen process must run to die promptly
	p.cmd.Process.Kill()
	<-p.done
}

// waitLog waits until the process's log contains line (after the last start) or it dies.
func (p *proc) waitLog(t *testing.T, line string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if strings.Contains(lastStart(p.log), line) {
			return
		}
		if !p.alive() {
			t.Fatalf("%s exited before %q:\n%s", p.name, line, tail(p.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: no %q within %s:\n%s", p.name, line, within, tail(p.log, 20))
}

func lastStart(path string) string {
	b, _ := os.ReadFile(path)
	s := string(b)
	if i := strings.LastIndex(s, "--- start "); i >= 0 {
		s = s[i:]
	}
	return s
}

// tail is the last n lines of a log file, to explain a failure.
func tail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}

// freePort finds a free loopback TCP port in [lo, hi], or any free port when lo is 0.
func freePort(t *testing.T, lo, hi int) int {
	t.Helper()
	if lo == 0 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	for p := lo; p <= hi; p++ {
		l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err == nil {
			l.Close()
			return p
		}
	}
	t.Fatalf("no free port in %d-%d", lo, hi)
	return 0
}

// waitTCP waits until something accepts connections on addr.
func waitTCP(addr string, within time.Duration) error {
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// buildOpsflow compiles cmd/opsflow into dir.
func buildOpsflow(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "opsflow")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/opsflow")
	cmd.Dir = ".." // the repository root: this package is faults/
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/opsflow: %v\n%s", err, out)
	}
	return bin
}

// redisServer is a redis-server of the suite's own on a port in 6400-6499, without persistence,
// so a restart brings it back empty. The shared Redis on 6379 is never touched.
type redisServer struct {
	*proc
	addr string
}

func startRedis(t *testing.T, dir string) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		need(t, "redis-server is not installed")
	}
	port := freePort(t, 6400, 6499)
	r := &redisServer{addr: "127.0.0.1:" + strconv.Itoa(port), proc: &proc{
		name: "redis",
		argv: []string{bin, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"},
		env:  os.Environ(),
		log:  filepath.Join(dir, "redis.log"),
	}}
	r.restart(t)
	t.Cleanup(r.kill9)
	return r
}

// restart starts Redis (again), empty, and waits until it accepts connections.
func (r *redisServer) restart(t *testing.T) {
	t.Helper()
	r.start(t)
	if err := waitTCP(r.addr, 10*time.Second); err != nil {
		t.Fatalf("redis at %s: %v\n%s", r.addr, err, tail(r.log, 10))
	}
}

// pgCluster is a throwaway Postgres cluster (initdb under a temp dir, own port) that the suite may
// stop for an outage. Postgres refuses to run as root, so as root it runs as the postgres user.
type pgCluster struct {
	bin  string // directory of initdb, pg_ctl, createdb
	data string
	port int
	as   []string // command prefix: runuser -u postgres -- (as root), else nothing
}

func startPostgres(t *testing.T) *pgCluster {
	t.Helper()
	// initdb on PATH may be a symbolic link into the directory that also holds createdb.
	var bins []string
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			bins = append(bins, p)
		}
	}
	more, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	bins = append(bins, more...)
	if len(bins) == 0 {
		need(t, "Postgres server binaries (initdb, pg_ctl) are not installed")
	}
	pg := &pgCluster{bin: filepath.Dir(bins[0]), port: freePort(t, 6500, 6599)}
	dir, err := os.MkdirTemp("", "opsflow-faults-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	pg.data = filepath.Join(dir, "data")
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			need(t, "running as root, Postgres needs a postgres OS user to run as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		pg.as = []string{"runuser", "-u", "postgres", "--"}
	}
	if out, err := pg.run("initdb", "-D", pg.data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	t.Cleanup(func() { pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop") })
	pg.start(t)
	return pg
}

func (pg *pgCluster) run(tool string, args ...string) ([]byte, error) {
	argv := append(append(append([]string{}, pg.as...), filepath.Join(pg.bin, tool)), args...)
	return exec.Command(argv[0], argv[1:]...).CombinedOutput()
}

// start starts the cluster (again) and waits until it accepts connections.
func (pg *pgCluster) start(t *testing.T) {
	t.Helper()
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=300",
		pg.port, pg.data)
	if out, err := pg.run("pg_ctl", "-D", pg.data, "-o", opts, "-l", filepath.Join(pg.data, "server.log"), "-w", "-t", "60", "start"); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
}

// stop stops the cluster at once, as a crash or network loss would (in-flight transactions are lost).
func (pg *pgCluster) stop(t *testing.T) {
	t.Helper()
	if out, err := pg.run("pg_ctl", "-D", pg.data, "-m", "immediate", "-w", "stop"); err != nil {
		t.Fatalf("pg_ctl stop: %v\n%s", err, out)
	}
}

// createDB makes a fresh database and returns its URL.
func (pg *pgCluster) createDB(t *testing.T, name string) string {
	t.Helper()
	if out, err := pg.run("createdb", "-h", "127.0.0.1", "-p", strconv.Itoa(pg.port), "-U", "postgres", name); err != nil {
		t.Fatalf("createdb %s: %v\n%s", name, err, out)
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/%s?sslmode=disable", pg.port, name)
}

// need skips the suite when a tool it needs is missing, and fails it instead in CI.
func need(t *testing.T, why string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(why)
	}
	t.Skip(why)
}
