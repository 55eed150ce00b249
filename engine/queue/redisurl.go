package queue

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/hibiken/asynq"
)

// RedisOption turns the Redis settings into the one connection option every Redis client of the
// queue is made from (asynq's client, server and inspector, and the go-redis client for cancel
// notices and the epoch key). addr is REDIS_ADDR (host:port), rawURL is REDIS_URL, caFile
// (OPSFLOW_REDIS_CA_FILE) a PEM file of CAs trusted for rediss://. Nothing set: nil, the embedded
// queue. The forms of REDIS_URL:
//
//	redis://[user:password@]host:port[/db]
//	rediss://[user:password@]host:port[/db]                          TLS
//	redis-sentinel://[user:password@]host:port,host:port[/db]?master=NAME[&sentinel_password=P]
//	redis-cluster://[user:password@]host:port,host:port
//
// Errors name the setting, for a one-line refusal at start.
func RedisOption(addr, rawURL, caFile string) (asynq.RedisConnOpt, error) {
	var opt asynq.RedisConnOpt // nil: the embedded queue
	switch {
	case addr != "" && rawURL != "":
		return nil, errors.New("set REDIS_ADDR or REDIS_URL, not both")
	case addr != "":
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("REDIS_ADDR must be host:port, not %q", addr)
		}
		opt = asynq.RedisClientOpt{Addr: addr}
	case rawURL != "":
		var err error
		if opt, err = parseRedisURL(rawURL); err != nil {
			// The URL may hold a password: the message names the setting, never repeats its value.
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
	}
	if caFile != "" {
		o, ok := opt.(asynq.RedisClientOpt)
		if !ok || o.TLSConfig == nil {
			return nil, errors.New("OPSFLOW_REDIS_CA_FILE needs a rediss:// REDIS_URL (TLS)")
		}
		var err error
		if o.TLSConfig.RootCAs, err = loadCAs(caFile); err != nil {
			return nil, err
		}
		opt = o
	}
	return opt, nil
}

func parseRedisURL(rawURL string) (asynq.RedisConnOpt, error) {
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return nil, errors.New("want redis://, rediss://, redis-sentinel:// or redis-cluster://")
	}
	// Several hosts separated by commas are not a URL host net/url accepts: split them off first.
	hostPart, tail := rest, ""
	if i := strings.IndexAny(rest, "/?"); i >= 0 {
		hostPart, tail = rest[:i], rest[i:]
	}
	var user *url.Userinfo
	if at := strings.LastIndex(hostPart, "@"); at >= 0 {
		u, err := url.Parse(scheme + "://" + hostPart[:at+1] + "placeholder")
		if err != nil {
			return nil, errors.New("the user:password part is not valid URL syntax (escape special characters with %XX)")
		}
		user, hostPart = u.User, hostPart[at+1:]
	}
	u, err := url.Parse("x://h" + tail)
	if err != nil {
		return nil, errors.New("the path or query is not valid URL syntax")
	}
	var username, password string
	if user != nil {
		username = user.Username()
		password, _ = user.Password()
	}
	db := 0
	if p := strings.Trim(u.Path, "/"); p != "" {
		if db, err = strconv.Atoi(p); err != nil || db < 0 {
			return nil, errors.New("the path must be a database number such as /0")
		}
	}
	hosts := strings.Split(hostPart, ",")
	for _, h := range hosts {
		if _, _, err := net.SplitHostPort(h); err != nil {
			return nil, fmt.Errorf("want host:port, not %q", h)
		}
	}
	query := u.Query()
	switch scheme {
	case "redis", "rediss":
		if len(hosts) != 1 {
			return nil, errors.New("one host:port (several: redis-sentinel:// or redis-cluster://)")
		}
		opt := asynq.RedisClientOpt{Addr: hosts[0], Username: username, Password: password, DB: db}
		if scheme == "rediss" {
			host, _, _ := net.SplitHostPort(hosts[0])
			opt.TLSConfig = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		return opt, nil
	case "redis-sentinel":
		master := query.Get("master")
		if master == "" {
			return nil, errors.New("redis-sentinel:// needs ?master=NAME (the name the sentinels monitor)")
		}
		return asynq.RedisFailoverClientOpt{MasterName: master, SentinelAddrs: hosts, SentinelPassword: query.Get("sentinel_password"),
			Username: username, Password: password, DB: db}, nil
	case "redis-cluster":
		if db != 0 {
			return nil, errors.New("a Redis Cluster has only database 0")
		}
		return asynq.RedisClusterClientOpt{Addrs: hosts, Username: username, Password: password}, nil
	}
	return nil, fmt.Errorf("unknown scheme %q: want redis://, rediss://, redis-sentinel:// or redis-cluster://", scheme)
}

func loadCAs(file string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("OPSFLOW_REDIS_CA_FILE: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("OPSFLOW_REDIS_CA_FILE: %s holds no PEM certificate", file)
	}
	return pool, nil
}

// Describe names a connection option for logs and errors, without its password.
func Describe(opt asynq.RedisConnOpt) string {
	switch o := opt.(type) {
	case asynq.RedisClientOpt:
		if o.TLSConfig != nil {
			return "rediss://" + o.Addr
		}
		return o.Addr
	case asynq.RedisFailoverClientOpt:
		return "sentinel " + strings.Join(o.SentinelAddrs, ",") + " master " + o.MasterName
	case asynq.RedisClusterClientOpt:
		return "cluster " + strings.Join(o.Addrs, ",")
	}
	return "Redis"
}
