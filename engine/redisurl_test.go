package engine_test

// REDIS_URL against real Redis servers this file starts on free loopback ports: a password-protected
// server with TLS, a Sentinel watching a master, and a three-node Cluster. Each runs a flow to the
// end through the engine: accepting, asynq's client and server, the epoch key and cancel channel.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/opsflow/opsflow/engine"
	"github.com/opsflow/opsflow/engine/enginetest"
	"github.com/opsflow/opsflow/engine/store"
)

const redisCheckFlow = `{"schema":"opsflow/v1","name":"redis check","nodes":[
	{"id":"t","type":"trigger.event","config":{"event_type":"redis.check","sample":{"n":1}}},
	{"id":"l","type":"action.log","config":{"message":"n {{ event.data.n }}"}}],
	"edges":[{"from":"t","to":"l"}]}`

// runThroughRedis opens an engine on redisURL (SQLite for the store), runs one flow to the end and
// passes a cancel notice.
func runThroughRedis(t *testing.T, redisURL, caFile string) {
	t.Helper()
	cfg := enginetest.Config(t, enginetest.Embedded)
	cfg.RedisURL, cfg.RedisCAFile, cfg.SecretKey = redisURL, caFile, keyA
	cfg.QueueName = fmt.Sprintf("redisurl-%d", time.Now().UnixNano())
	cfg.StartTimeout = 20 * time.Second
	e := enginetest.Start(t, cfg)
	if e.Queue.Embedded {
		t.Fatal("REDIS_URL ignored: the embedded queue was started")
	}
	enginetest.Publish(t, e, enginetest.MustFlow(t, redisCheckFlow))
	acc, err := e.AcceptEvent(context.Background(), "redis.check", map[string]any{"n": 7}, "")
	if err != nil || len(acc.RunIDs) != 1 {
		t.Fatalf("accept: %v %+v", err, acc)
	}
	d := enginetest.WaitRun(t, e, acc.RunIDs[0], 60*time.Second)
	if d.Run.Status != store.RunSucceeded {
		t.Fatalf("run %s: %s", d.Run.Status, d.Run.Error)
	}
	if n, err := e.Queue.Workers(); err != nil || n != 1 {
		t.Fatalf("live workers through %s: %d %v", redisURL, n, err)
	}
	// Cancel notices travel by pub/sub, through the same option.
	got := make(chan string, 1)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go e.Queue.SubscribeCancels(ctx, cfg.Logger, func(id string) {
		select {
		case got <- id:
		default:
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; {
		if err := e.Queue.PublishCancel(ctx, "probe"); err != nil {
			t.Fatalf("publish a cancel notice: %v", err)
		}
		select {
		case id := <-got:
			if id != "probe" {
				t.Fatalf("cancel notice %q", id)
			}
			return
		case <-time.After(100 * time.Millisecond): // the subscription may not be in place yet
		}
		if time.Now().After(deadline) {
			t.Fatal("no cancel notice arrived")
		}
	}
}

// redisBinary finds a Redis program, skipping without it (failing under CI, which must run these).
func redisBinary(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is needed for the REDIS_URL tests (CI must run them): apt-get install redis-server", name)
		}
		t.Skipf("%s not found: the REDIS_URL tests against TLS, Sentinel and Cluster servers are skipped", name)
	}
	return p
}

// loopbackPort returns a free loopback port whose cluster bus port (+10000) is free too.
func loopbackPort(t *testing.T) int {
	t.Helper()
	for range 200 {
		p := 20000 + mrand.IntN(25000)
		free := true
		for _, q := range []int{p, p + 10000} {
			l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", q))
			if err != nil {
				free = false
				break
			}
			l.Close()
		}
		if free {
			return p
		}
	}
	t.Fatal("no free loopback port")
	return 0
}

// startRedis runs redis-server with args until the test ends and waits until it answers on port.
func startRedis(t *testing.T, port int, args ...string) {
	t.Helper()
	bin := redisBinary(t, "redis-server")
	cmd := exec.Command(bin, args...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server %v never listened on %d:\n%s", args, port, out.String())
		}
	}
}

func plainRedisArgs(port int, dir string) []string {
	return []string{"--port", fmt.Sprint(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir}
}

// A password-protected server, reached as redis://user:password@host/db and, over TLS with a CA of
// the test's own, as rediss://; without the CA the server's certificate is refused.
func TestRedisURLPasswordAndTLS(t *testing.T) {
	dir := t.TempDir()
	caFile, certFile, keyFile := writeTestCA(t, dir)
	port, tlsPort := loopbackPort(t), loopbackPort(t)
	startRedis(t, port, append(plainRedisArgs(port, dir), "--requirepass", "s3cret",
		"--tls-port", fmt.Sprint(tlsPort), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")...)

	t.Run("redis", func(t *testing.T) { runThroughRedis(t, fmt.Sprintf("redis://default:s3cret@127.0.0.1:%d/3", port), "") })
	t.Run("rediss", func(t *testing.T) {
		runThroughRedis(t, fmt.Sprintf("rediss://default:s3cret@127.0.0.1:%d/2", tlsPort), caFile)
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := enginetest.Config(t, enginetest.Embedded)
		cfg.RedisURL, cfg.SecretKey, cfg.StartTimeout = fmt.Sprintf("redis://default:wrong@127.0.0.1:%d", port), keyA, -1
		if _, err := engine.Open(cfg); err == nil || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("wrong password: %v (and the password must not be repeated)", err)
		}
	})
	t.Run("rediss without the CA", func(t *testing.T) {
		cfg := enginetest.Config(t, enginetest.Embedded)
		cfg.RedisURL, cfg.SecretKey, cfg.StartTimeout = fmt.Sprintf("rediss://default:s3cret@127.0.0.1:%d", tlsPort), keyA, -1
		if _, err := engine.Open(cfg); err == nil || !strings.Contains(err.Error(), "certificate") {
			t.Fatalf("a certificate from an unknown CA was accepted: %v", err)
		}
	})
}

// A Sentinel monitoring a master: redis-sentinel://sentinel?master=NAME finds the master through it.
func TestRedisURLSentinel(t *testing.T) {
	dir := t.TempDir()
	master, sentinel := loopbackPort(t), loopbackPort(t)
	startRedis(t, master, plainRedisArgs(master, dir)...)
	conf := filepath.Join(dir, "sentinel.conf") // Sentinel rewrites its configuration: a file of its own
	os.WriteFile(conf, []byte(fmt.Sprintf("port %d\nbind 127.0.0.1\ndir %s\nsentinel monitor opsmaster 127.0.0.1 %d 1\n", sentinel, dir, master)), 0o600)
	startRedis(t, sentinel, conf, "--sentinel")
	runThroughRedis(t, fmt.Sprintf("redis-sentinel://127.0.0.1:%d/0?master=opsmaster", sentinel), "")
}

// A three-master Redis Cluster: redis-cluster://node,node,node.
func TestRedisURLCluster(t *testing.T) {
	cli := redisBinary(t, "redis-cli")
	var nodes []string
	for i := range 3 {
		dir := t.TempDir()
		port := loopbackPort(t)
		startRedis(t, port, append(plainRedisArgs(port, dir), "--cluster-enabled", "yes",
			"--cluster-config-file", filepath.Join(dir, fmt.Sprintf("nodes-%d.conf", i)))...)
		nodes = append(nodes, fmt.Sprintf("127.0.0.1:%d", port))
	}
	create := exec.Command(cli, append(append([]string{"--cluster", "create"}, nodes...), "--cluster-replicas", "0", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Every node must see every slot covered before clients use it.
	for _, n := range nodes {
		c := redis.NewClient(&redis.Options{Addr: n})
		for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			info, _ := c.ClusterInfo(context.Background()).Result()
			if strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster node %s never became ok:\n%s", n, info)
			}
		}
		c.Close()
	}
	runThroughRedis(t, "redis-cluster://"+strings.Join(nodes, ","), "")
}

// writeTestCA makes a CA and a server certificate for 127.0.0.1 signed by it, as PEM files in dir.
func writeTestCA(t *testing.T, dir string) (caFile, certFile, keyFile string) {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "opsflow test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: b}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", der), write("server.key", "PRIVATE KEY", keyDER)
}
