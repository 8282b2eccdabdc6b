package redisstore

import (
	"crypto/tls"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// The URL forms, as FINAUTH_REDIS_URL takes them (every replica of a fleet, and the CLI,
// configured by one variable):
//
//	redis://[user:password@]host:port[/db]                      one server (rediss:// for TLS)
//	redis+sentinel://[user:password@]host:port[,...]/master[/db] Sentinel: the sentinels' addresses,
//	                                                             the master's name; the password is
//	                                                             the data nodes' (master, replicas)
//	redis+cluster://[user:password@]host:port[,...]              Cluster: some of the nodes' addresses
//
// (rediss+sentinel:// and rediss+cluster:// for TLS.) Several addresses are separated by
// commas. Sentinels that ask for a password of their own get it from
// FINAUTH_REDIS_SENTINEL_PASSWORD (Options.SentinelPassword); the password is never put in
// a query string, where logs would show it.

// urlKind is what a URL's scheme asks for.
type urlKind int

const (
	oneServer urlKind = iota
	sentinel
	cluster
)

// parsedURL is a FINAUTH_REDIS_URL taken apart.
type parsedURL struct {
	kind     urlKind
	tls      bool
	addrs    []string
	user     string
	password string
	master   string
	db       int
}

// parseURL reads the Sentinel and Cluster forms (the one-server form is go-redis's own
// ParseURL). The error never holds the password.
func parseURL(raw string) (parsedURL, error) {
	var p parsedURL
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return p, fmt.Errorf("no scheme: the URL starts redis://, rediss://, redis+sentinel:// or redis+cluster://")
	}
	switch strings.ToLower(scheme) {
	case "redis+sentinel":
		p.kind = sentinel
	case "rediss+sentinel":
		p.kind, p.tls = sentinel, true
	case "redis+cluster":
		p.kind = cluster
	case "rediss+cluster":
		p.kind, p.tls = cluster, true
	default:
		return p, fmt.Errorf("scheme %q is not one of redis, rediss, redis+sentinel, rediss+sentinel, redis+cluster, rediss+cluster", scheme)
	}
	info, hostPart, err := splitUserInfo(rest)
	if err != nil {
		return p, err
	}
	p.user, p.password = info.user, info.password
	if i := strings.IndexAny(hostPart, "?#"); i >= 0 {
		return p, fmt.Errorf("a query or fragment (%q...) is not read in a %s URL: give the addresses in the host part, separated by commas", hostPart[i:i+1], scheme)
	}
	hosts, path, _ := strings.Cut(hostPart, "/")
	for _, h := range strings.Split(hosts, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		host, port, err := net.SplitHostPort(h)
		if err != nil || host == "" {
			return p, fmt.Errorf("address %q is not host:port", h)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return p, fmt.Errorf("address %q: port %q is not a number from 1 to 65535", h, port)
		}
		p.addrs = append(p.addrs, h)
	}
	if len(p.addrs) == 0 {
		return p, fmt.Errorf("no address: give host:port (several separated by commas)")
	}
	parts := strings.FieldsFunc(path, func(r rune) bool { return r == '/' })
	switch p.kind {
	case sentinel:
		if len(parts) == 0 || len(parts) > 2 {
			return p, fmt.Errorf("a Sentinel URL names its master after the addresses: redis+sentinel://[:password@]host:port[,...]/mymaster[/db]")
		}
		p.master = parts[0]
		parts = parts[1:]
	case cluster:
		if len(parts) != 0 {
			return p, fmt.Errorf("a Cluster URL has no path (a cluster has one database): redis+cluster://[:password@]host:port[,...]")
		}
	}
	if len(parts) == 1 {
		db, err := strconv.Atoi(parts[0])
		if err != nil || db < 0 {
			return p, fmt.Errorf("database %q is not a number", parts[0])
		}
		p.db = db
	}
	return p, nil
}

// client makes the go-redis client for a parsed Sentinel or Cluster URL. Calls are bounded
// by the store's deadline (ContextTimeoutEnabled) and not retried within one call: the
// breaker, not retries, keeps a failing Redis from slowing requests. A Cluster client
// still follows MOVED and ASK redirections (MaxRedirects), which is how it learns a
// failover's new master.
func (p parsedURL) client(sentinelPassword string) redis.UniversalClient {
	var tc *tls.Config
	if p.tls {
		host, _, _ := net.SplitHostPort(p.addrs[0])
		tc = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	if p.kind == sentinel {
		return redis.NewFailoverClient(&redis.FailoverOptions{
			MasterName: p.master, SentinelAddrs: p.addrs, SentinelPassword: sentinelPassword,
			Username: p.user, Password: p.password, DB: p.db, TLSConfig: tc,
			ContextTimeoutEnabled: true, MaxRetries: -1,
		})
	}
	return redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: p.addrs, Username: p.user, Password: p.password, TLSConfig: tc,
		ContextTimeoutEnabled: true, MaxRetries: -1,
	})
}

// userInfo is a URL's user name and password, %-decoded.
type userInfo struct {
	user, password   string
	has, hasPassword bool
}

// splitUserInfo takes the part of a URL after "://" apart at its last "@": whatever lies
// before it is user info, a user name and, after the first ":", a password, whatever they
// hold ("/", "?", "#", "@" and ":" included, as `openssl rand -base64 32` makes them: half
// of its passwords hold a "/", which a parser ending the authority there reads as a path).
// A "%" followed by two hex digits is an escape, as in any URL. The error never shows any
// part of the user info.
func splitUserInfo(rest string) (info userInfo, hostPart string, err error) {
	at := strings.LastIndex(rest, "@")
	if at < 0 {
		return userInfo{}, rest, nil
	}
	user, pass, hasPass := strings.Cut(rest[:at], ":")
	info = userInfo{has: true, hasPassword: hasPass}
	if info.user, err = url.PathUnescape(user); err != nil {
		return userInfo{}, "", fmt.Errorf("the user name is not %%-encoded correctly (a %% in it is written %%25)")
	}
	if hasPass {
		if info.password, err = url.PathUnescape(pass); err != nil {
			return userInfo{}, "", fmt.Errorf("the password is not %%-encoded correctly (a %% in it is written %%25)")
		}
	}
	return info, rest[at+1:], nil
}

// withEncodedUserInfo rewrites a one-server URL so that net/url reads its user info as
// splitUserInfo does: "redis://:ab/cd@host:6379/0" becomes "redis://:ab%2Fcd@host:6379/0",
// which go-redis's ParseURL reads (its url.Parse would take ":ab" for the host).
func withEncodedUserInfo(raw string) (string, error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return raw, nil // go-redis's own error says what is wrong
	}
	info, hostPart, err := splitUserInfo(rest)
	if err != nil || !info.has {
		return raw, err
	}
	u := url.User(info.user)
	if info.hasPassword {
		u = url.UserPassword(info.user, info.password)
	}
	return scheme + "://" + u.String() + "@" + hostPart, nil
}

// isSentinelOrCluster tells the URL forms parseURL reads from the one-server ones.
func isSentinelOrCluster(raw string) bool {
	scheme, _, _ := strings.Cut(raw, "://")
	return strings.Contains(strings.ToLower(scheme), "+")
}
