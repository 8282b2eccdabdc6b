package redisstore

import (
	"log/slog"
	"strings"
	"time"

	"github.com/finauth/finauth/internal/problems"
)

// Environment variables read by FromEnv (and by the finauth CLI for every profile).
const (
	EnvURL       = "FINAUTH_REDIS_URL"       // redis://[user:password@]host:port[/db] (rediss:// for TLS), redis+sentinel://, redis+cluster:// (see Options.URL)
	EnvKey       = "FINAUTH_CACHE_KEY"       // base64 32-byte keys, comma-separated: the first seals
	EnvNamespace = "FINAUTH_CACHE_NAMESPACE" // prefix of the Redis keys; default "finauth"
	EnvTimeout   = "FINAUTH_REDIS_TIMEOUT"   // bound of one Redis call, e.g. 250ms; default DefaultTimeout
	// EnvSlowReply is the latency budget of a Redis reply (Options.SlowReply), e.g. 50ms;
	// "off" turns the latency breaker off.
	EnvSlowReply = "FINAUTH_REDIS_SLOW_REPLY"
	// EnvSentinelPassword is the sentinels' own password (redis+sentinel:// URLs), when they ask for one.
	EnvSentinelPassword = "FINAUTH_REDIS_SENTINEL_PASSWORD"
)

// FromEnv builds the Store from FINAUTH_REDIS_URL, FINAUTH_CACHE_KEY,
// FINAUTH_CACHE_NAMESPACE, FINAUTH_REDIS_TIMEOUT, FINAUTH_REDIS_SLOW_REPLY and FINAUTH_REDIS_SENTINEL_PASSWORD (lookup is os.LookupEnv or a test's map). It returns nil and no
// error when FINAUTH_REDIS_URL is not set: no shared cache. A URL without a key is refused:
// tokens are never stored in clear. logger may be nil.
func FromEnv(lookup func(string) (string, bool), logger *slog.Logger) (*Store, error) {
	get := func(name string) string {
		v, _ := lookup(name)
		return strings.TrimSpace(v)
	}
	url := get(EnvURL)
	if url == "" {
		return nil, nil
	}
	raw := get(EnvKey)
	if raw == "" {
		return nil, problems.One(provider, "Keys", EnvKey, EnvURL+" is set but "+EnvKey+" is not: tokens are never stored in clear; set "+EnvKey+" to a base64 32-byte key (make one with: openssl rand -base64 32), the same on every replica")
	}
	keys, err := ParseKeys(raw)
	if err != nil {
		return nil, err
	}
	var timeout time.Duration
	if v := get(EnvTimeout); v != "" {
		if timeout, err = time.ParseDuration(v); err != nil || timeout <= 0 {
			return nil, problems.One(provider, "Timeout", EnvTimeout, "%q is not a positive duration: give e.g. 250ms (the bound of one Redis call; default %v)", v, DefaultTimeout)
		}
	}
	var slow time.Duration
	switch v := get(EnvSlowReply); v {
	case "":
	case "off":
		slow = -1
	default:
		if slow, err = time.ParseDuration(v); err != nil || slow <= 0 {
			return nil, problems.One(provider, "SlowReply", EnvSlowReply, "%q is not a positive duration or off: give e.g. 50ms (the latency budget of a Redis reply; default %v)", v, DefaultSlowReply)
		}
	}
	return New(Options{URL: url, Keys: keys, Namespace: get(EnvNamespace), Timeout: timeout, SlowReply: slow, Logger: logger, SentinelPassword: get(EnvSentinelPassword)})
}
