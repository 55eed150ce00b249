package queue

import (
	"strings"
	"testing"

	"github.com/hibiken/asynq"
)

// Each REDIS_URL form becomes the matching asynq option; the engine's own tests run flows through
// real servers of each kind (engine/redisurl_test.go).
func TestRedisOptionForms(t *testing.T) {
	opt, err := RedisOption("", "redis://ops:p%40ss@cache.internal:6380/4", "")
	if o, ok := opt.(asynq.RedisClientOpt); err != nil || !ok || o.Addr != "cache.internal:6380" || o.Username != "ops" || o.Password != "p@ss" || o.DB != 4 || o.TLSConfig != nil {
		t.Fatalf("redis://: %#v %v", opt, err)
	}
	opt, err = RedisOption("", "rediss://:pw@cache.internal:6380", "")
	if o, ok := opt.(asynq.RedisClientOpt); err != nil || !ok || o.TLSConfig == nil || o.TLSConfig.ServerName != "cache.internal" || o.Password != "pw" {
		t.Fatalf("rediss://: %#v %v", opt, err)
	}
	opt, err = RedisOption("", "redis-sentinel://:pw@s1:26379,s2:26379/1?master=main&sentinel_password=spw", "")
	if o, ok := opt.(asynq.RedisFailoverClientOpt); err != nil || !ok || o.MasterName != "main" || len(o.SentinelAddrs) != 2 ||
		o.SentinelAddrs[1] != "s2:26379" || o.Password != "pw" || o.SentinelPassword != "spw" || o.DB != 1 {
		t.Fatalf("redis-sentinel://: %#v %v", opt, err)
	}
	opt, err = RedisOption("", "redis-cluster://n1:7000,n2:7001,n3:7002", "")
	if o, ok := opt.(asynq.RedisClusterClientOpt); err != nil || !ok || len(o.Addrs) != 3 || o.Addrs[2] != "n3:7002" {
		t.Fatalf("redis-cluster://: %#v %v", opt, err)
	}
	opt, err = RedisOption("127.0.0.1:6379", "", "")
	if o, ok := opt.(asynq.RedisClientOpt); err != nil || !ok || o.Addr != "127.0.0.1:6379" {
		t.Fatalf("REDIS_ADDR: %#v %v", opt, err)
	}
	if opt, err := RedisOption("", "", ""); opt != nil || err != nil {
		t.Fatalf("nothing set is the embedded queue: %#v %v", opt, err)
	}
}

// Bad settings are one line naming the setting, never echoing a password.
func TestRedisOptionErrors(t *testing.T) {
	for _, c := range []struct{ addr, url, ca, want string }{
		{"h:1", "redis://h:1", "", "REDIS_ADDR or REDIS_URL, not both"},
		{"localhost", "", "", "REDIS_ADDR must be host:port"},
		{"", "http://u:hunter2@h:1", "", "REDIS_URL: unknown scheme"},
		{"", "cache:6379", "", "REDIS_URL: want redis://"},
		{"", "redis://u:hunter2@h:1/x", "", "REDIS_URL: the path must be a database number"},
		{"", "redis://u:hunter2@h", "", "REDIS_URL: want host:port"},
		{"", "redis://a:1,b:2", "", "REDIS_URL: one host:port"},
		{"", "redis-sentinel://u:hunter2@a:1", "", "REDIS_URL: redis-sentinel:// needs ?master=NAME"},
		{"", "redis-cluster://a:1/2", "", "REDIS_URL: a Redis Cluster has only database 0"},
		{"", "redis://h:1", "/ca.pem", "OPSFLOW_REDIS_CA_FILE needs a rediss://"},
		{"h:1", "", "/ca.pem", "OPSFLOW_REDIS_CA_FILE needs a rediss://"},
		{"", "", "/ca.pem", "OPSFLOW_REDIS_CA_FILE needs a rediss://"},
		{"", "rediss://h:1", "/no/such/ca.pem", "OPSFLOW_REDIS_CA_FILE:"},
	} {
		_, err := RedisOption(c.addr, c.url, c.ca)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q %q %q: %v, want %q", c.addr, c.url, c.ca, err, c.want)
		}
	}
}
