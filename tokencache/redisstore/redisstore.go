// Package redisstore is a tokencache.Store on Redis, shared by the replicas of a service, so
// that the whole fleet makes one token request per key per token lifetime.
//
//   - Tokens are sealed with AES-256-GCM (crypto/cipher) before they leave the process, with
//     the Redis key name as associated data, so an entry cannot be moved to another key.
//     Several keys may be given for rotation: the first seals, every one opens. A value that
//     does not open (a wrong or rotated-out key, a damaged entry) is a miss, logged once, never
//     an error to the caller. Redis key names are a namespace and a hash of the identity
//     (provider, tenant, ...) and the cache key: no account ID appears in Redis.
//   - Fleet-wide single flight (tokencache.FleetStore): a replica that misses takes the key's
//     lock (SET NX PX, a random owner, released by compare-and-delete) and fetches; the
//     others wait for its token and load it. The lock is a lease (LockLease, 3 s) that the
//     holder extends while it fetches: a holder that dies, or whose release a failover
//     lost, loses its lock within a lease, and another replica takes over.
//   - A token a server rejected is deleted only if Redis still holds it (compare-and-delete on
//     a keyed fingerprint, in a Lua script), so a revocation seen by every replica costs one
//     token request. Entries expire with their token.
//   - Redis down or slow never fails a request: every call has a short deadline (Timeout,
//     100 ms); after FailureThreshold consecutive failures a circuit breaker makes every call
//     fail at once (the cache then works alone) and probes Redis in the background until it
//     answers. State changes are logged once; Stats counts everything.
//
// Why crypto/cipher and not go-jose's JWE (dir, A256GCM): the same cipher, without a JSON
// header and base64 around each value, and with the Redis key bound as associated data,
// which JWE's compact form cannot carry.
package redisstore

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"go.opentelemetry.io/otel/metric"

	"github.com/finauth/finauth/internal/problems"
	"github.com/finauth/finauth/internal/redact"
	"github.com/finauth/finauth/internal/telemetry"
	"github.com/finauth/finauth/tokencache"
)

// Defaults of Options.
const (
	DefaultNamespace        = "finauth"
	DefaultTimeout          = 100 * time.Millisecond
	DefaultFailureThreshold = 3
	DefaultProbeInterval    = time.Second
	DefaultPollInterval     = 20 * time.Millisecond
	DefaultSlowReply        = 20 * time.Millisecond
	DefaultSlowReplies      = 10
)

// KeySize is the size of an encryption key: AES-256.
const KeySize = 32

// Options configure a Store. Give one of URL, Universal or Client, and Keys.
type Options struct {
	// URL is redis://[user:password@]host:port[/db] (rediss:// for TLS), or
	// redis+sentinel://[user:password@]host:port[,host:port...]/master[/db] for Sentinel
	// (the sentinels' addresses and the master's name), or
	// redis+cluster://[user:password@]host:port[,host:port...] for Cluster
	// (rediss+sentinel://, rediss+cluster:// for TLS). The password is the data nodes'.
	URL string
	// SentinelPassword is the sentinels' own password, when they ask for one (a URL with
	// redis+sentinel://); FromEnv reads it from FINAUTH_REDIS_SENTINEL_PASSWORD.
	SentinelPassword string `finauth:"secret"`
	// Universal configures Sentinel (MasterName and the sentinels' Addrs) or Cluster
	// (several Addrs), instead of URL.
	Universal *redis.UniversalOptions
	// Client is a client you made, instead of URL or Universal; Close does not close it.
	Client redis.UniversalClient
	// Keys are AES-256 keys (32 bytes each): the first seals, each one opens. Required.
	Keys [][]byte `finauth:"secret"`
	// Namespace prefixes every Redis key; default DefaultNamespace.
	Namespace string
	// Timeout bounds every Redis call; default DefaultTimeout.
	Timeout time.Duration
	// FailureThreshold is how many consecutive failures open the circuit breaker; default
	// DefaultFailureThreshold.
	FailureThreshold int
	// ProbeInterval is how often an open breaker pings Redis; default DefaultProbeInterval.
	ProbeInterval time.Duration
	// SlowReply is the latency budget of a Redis reply: after SlowReplies replies in a row
	// slower than it, over at least a ProbeInterval (a brownout: Redis answers, late), the
	// breaker opens as for failures, and each process caches alone until a probe is
	// answered within it; sharing a token through a slow Redis costs more than fetching it.
	// Default DefaultSlowReply; negative turns it off (a Redis far away: set the budget
	// above its round trip instead).
	SlowReply time.Duration
	// SlowReplies is how many replies in a row over SlowReply (over at least a
	// ProbeInterval) open the breaker; default DefaultSlowReplies.
	SlowReplies int
	// LockLease is how long a fetch lock lives unless its holder extends it (every third
	// of a lease, while it fetches): how soon a lock whose holder died, or whose release a
	// failover lost, is gone; default DefaultLockLease.
	LockLease time.Duration
	// PollInterval is how often a replica waiting for another's fetch looks for its token;
	// default DefaultPollInterval.
	PollInterval time.Duration
	// Logger receives state changes (breaker open/closed, the first undecryptable value),
	// and go-redis's own connection notices at debug level (see redis.SetLogger, which is
	// process-wide: the latest Store made with a Logger gets them); default silent.
	Logger *slog.Logger
	// MeterProvider receives finauth.store.available (1 while the breaker is closed, 0 while
	// it is open); default the global one, otel.GetMeterProvider(). The caches count the
	// store's calls (finauth.store.operations) themselves.
	MeterProvider metric.MeterProvider
}

// ErrUnavailable is returned (and makes the cache work alone) while the breaker is open.
var ErrUnavailable = errors.New("finauth: redisstore: Redis is unavailable (circuit open); working without the shared cache")

// ConfigError says what is wrong with the Options, one Problem per field, each naming the
// variable FromEnv reads it from. It is the module's one configuration error type (the
// providers' client.ConfigError is the same type).
type ConfigError = problems.ConfigError

// provider names the store in configuration errors.
const provider = "redisstore"

// Stats are the store's counters since it was made.
type Stats struct {
	Loads, Hits, Misses   uint64 // Load calls, and their outcomes
	Undecryptable         uint64 // values that did not open with any key (counted as misses)
	Saves, Deletes        uint64 // Save calls, compare-and-deletes that deleted
	LocksTaken, LocksBusy uint64 // fetch locks taken, and found held by another replica
	Waits                 uint64 // Await calls (waits for another replica's fetch)
	Errors                uint64 // Redis calls that failed (timeouts included)
	Refused               uint64 // calls refused at once while the breaker was open
	BreakerOpens          uint64 // times the breaker opened
	SlowOpens             uint64 // of them, for replies slower than SlowReply (a brownout)
	Open                  bool   // the breaker is open now: the caches work alone
}

// Store is a tokencache.FleetStore on Redis. Scope gives views of it for other identities.
type Store struct {
	*shared
	identity string
}

type shared struct {
	observe  func() // stops the availability gauge's observation
	rdb      redis.UniversalClient
	own      bool
	ns       string
	keys     []sealKey
	timeout  time.Duration
	poll     time.Duration
	log      *slog.Logger
	breaker  breaker
	undecLog atomic.Bool
	notes    notices
	lease    time.Duration
	orphans  atomic.Int64 // lock attempts being released in the background (releaseLater)

	loads, hits, misses, undecryptable atomic.Uint64
	saves, deletes, taken, busy, waits atomic.Uint64
	errs, refused                      atomic.Uint64
}

// sealKey is one encryption key with its short ID (for picking the key that opens a value)
// and the key of the fingerprints that compare-and-delete compares.
type sealKey struct {
	id    [4]byte
	aead  cipher.AEAD
	fpKey []byte
}

// New connects (lazily: nothing is sent until the first call) and returns the Store.
func New(o Options) (*Store, error) {
	p := problems.New(provider)
	if len(o.Keys) == 0 {
		p.Add("Keys", EnvKey, "no encryption key: give at least one 32-byte key (FINAUTH_CACHE_KEY); tokens are never stored in clear")
	}
	sh := &shared{ns: o.Namespace, timeout: o.Timeout, poll: o.PollInterval, log: o.Logger}
	for i, k := range o.Keys {
		if len(k) != KeySize {
			p.Add("Keys", EnvKey, "key %d is %d bytes; an AES-256 key is 32 bytes (make one with: openssl rand -base64 32)", i+1, len(k))
			continue
		}
		block, _ := aes.NewCipher(k)
		aead, _ := cipher.NewGCM(block)
		sum := sha256.Sum256(k)
		fp := hmac.New(sha256.New, k)
		fp.Write([]byte("finauth redisstore fingerprint"))
		sh.keys = append(sh.keys, sealKey{id: [4]byte(sum[:4]), aead: aead, fpKey: fp.Sum(nil)})
	}
	given := 0
	for _, set := range []bool{o.URL != "", o.Universal != nil, o.Client != nil} {
		if set {
			given++
		}
	}
	if given != 1 {
		p.Add("URL", EnvURL, "give exactly one of URL (FINAUTH_REDIS_URL), Universal (Sentinel or Cluster) or Client")
	}
	if sh.ns == "" {
		sh.ns = DefaultNamespace
	}
	if strings.ContainsAny(sh.ns, " \t\r\n") {
		p.Add("Namespace", EnvNamespace, "namespace %q has white space", sh.ns)
	} else if t := sh.ns + ":token:"; strings.Contains(sh.ns, "}") && hashTag(t) == t {
		// A token's lock takes its name as hash tag, which cannot hold a "}".
		p.Add("Namespace", EnvNamespace, "namespace %q has a \"}\" outside a Redis hash tag: Redis Cluster could not keep a token and its fetch lock in one slot; leave the braces out, or make them a whole tag (e.g. \"{finauth}\")", sh.ns)
	}
	if sh.timeout <= 0 {
		sh.timeout = DefaultTimeout
	}
	if sh.poll <= 0 {
		sh.poll = DefaultPollInterval
	}
	if sh.lease = o.LockLease; sh.lease <= 0 {
		sh.lease = DefaultLockLease
	}
	if sh.log == nil {
		sh.log = slog.New(slog.DiscardHandler)
	}
	threshold, probe := o.FailureThreshold, o.ProbeInterval
	if threshold <= 0 {
		threshold = DefaultFailureThreshold
	}
	if probe <= 0 {
		probe = DefaultProbeInterval
	}
	switch {
	case p.Err() != nil:
	case o.Client != nil:
		sh.rdb = o.Client
	case o.Universal != nil:
		u := *o.Universal
		u.ContextTimeoutEnabled = true
		sh.rdb, sh.own = redis.NewUniversalClient(&u), true
	case isSentinelOrCluster(o.URL):
		u, err := parseURL(o.URL)
		if err != nil {
			p.Add("URL", EnvURL, "URL %s: %s", redact.URL(o.URL), err)
			break
		}
		sh.rdb, sh.own = u.client(o.SentinelPassword), true
	default:
		encoded, err := withEncodedUserInfo(o.URL)
		if err != nil {
			p.Add("URL", EnvURL, "URL %s: %s", redact.URL(o.URL), err)
			break
		}
		opt, err := redis.ParseURL(encoded)
		if err != nil {
			p.Add("URL", EnvURL, "URL %s does not parse: %s (use redis://[user:password@]host:port[/db], rediss:// for TLS, redis+sentinel://[:password@]host:port[,...]/master or redis+cluster://[:password@]host:port[,...])", redact.URL(o.URL), redact.URLError(encoded, err))
			break
		}
		opt.ContextTimeoutEnabled = true
		opt.DialTimeout = max(opt.DialTimeout, sh.timeout)
		opt.MaxRetries = -1 // a short deadline and a breaker, not retries: a slow Redis must not slow requests
		sh.rdb, sh.own = redis.NewClient(opt), true
	}
	if err := p.Err(); err != nil {
		return nil, err
	}
	slow, slowN := o.SlowReply, o.SlowReplies
	if slow == 0 {
		slow = DefaultSlowReply
	}
	if slowN <= 0 {
		slowN = DefaultSlowReplies
	}
	sh.breaker = breaker{threshold: threshold, probe: probe, stop: make(chan struct{}), slow: slow, slowN: int64(slowN)}
	sh.notes.init()
	routeGoRedisLogs(o.Logger)
	sh.observe = telemetry.New("", telemetry.Providers{Meter: o.MeterProvider}).Observe(telemetry.Source{
		Available: func() bool { return !sh.breaker.open.Load() }})
	return &Store{shared: sh}, nil
}

// ParseKeys reads comma-separated base64 keys (standard or URL alphabet, padded or not), as
// FINAUTH_CACHE_KEY holds them.
func ParseKeys(s string) ([][]byte, error) {
	var keys [][]byte
	for i, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var k []byte
		var err error
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if k, err = enc.DecodeString(part); err == nil {
				break
			}
		}
		if err != nil {
			return nil, problems.One(provider, "", EnvKey, "key %d is not base64 (make one with: openssl rand -base64 32)", i+1)
		}
		if len(k) != KeySize {
			return nil, problems.One(provider, "", EnvKey, "key %d is %d bytes; an AES-256 key is 32 bytes (make one with: openssl rand -base64 32)", i+1, len(k))
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, problems.One(provider, "", EnvKey, "no key given (make one with: openssl rand -base64 32)")
	}
	return keys, nil
}

// Scope returns the Store for identity (a provider's token URL, tenant, client, ...): its
// keys cannot meet another identity's. It shares the connection and the breaker.
func (s *Store) Scope(identity string) tokencache.Store {
	return &Store{shared: s.shared, identity: s.identity + "\x00" + identity}
}

// Close stops the breaker's probe and closes the client the store made.
func (s *Store) Close() error {
	s.breaker.close()
	s.notes.close()
	s.observe()
	if s.own {
		return s.rdb.Close()
	}
	return nil
}

// Stats returns the counters.
func (s *Store) Stats() Stats {
	return Stats{
		Loads: s.loads.Load(), Hits: s.hits.Load(), Misses: s.misses.Load(), Undecryptable: s.undecryptable.Load(),
		Saves: s.saves.Load(), Deletes: s.deletes.Load(), LocksTaken: s.taken.Load(), LocksBusy: s.busy.Load(),
		Waits: s.waits.Load(), Errors: s.errs.Load(), Refused: s.refused.Load(),
		BreakerOpens: s.breaker.opens.Load(), SlowOpens: s.breaker.slowOpens.Load(), Open: s.breaker.open.Load(),
	}
}

// lockHashLen is the length of the hex hash in a key name (names).
const lockHashLen = 32

// names returns the Redis keys of key's token and fetch lock.
func (s *Store) names(key string) (token, lock string) {
	sum := sha256.Sum256([]byte(s.identity + "\x00\x01" + key))
	token = s.ns + ":token:" + hex.EncodeToString(sum[:lockHashLen/2])
	return token, lockName(token)
}

// lockName is the name of the fetch lock of the token named token. Its hash tag is the
// token's name, so that Redis Cluster keeps both in one slot (Claim and the handoff touch
// both in one script): "{token}:lock", or token+":lock" when the token's name has a hash tag
// already (a namespace such as "{finauth}"). The token's name is not changed: the values
// stored under it (tokens, refresh-token records) are read after an upgrade.
func lockName(token string) string {
	if hashTag(token) != token {
		return token + ":lock"
	}
	return "{" + token + "}:lock"
}

// hashTag is the part of key Redis Cluster hashes to find its slot: the text between the
// first "{" and the first "}" after it when that is not empty, else the whole key.
func hashTag(key string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key[i+1 : i+1+j]
		}
	}
	return key
}

// do runs one Redis call with the store's deadline, through the breaker.
func (s *Store) do(ctx context.Context, call func(context.Context) error) error {
	if s.breaker.open.Load() {
		s.refused.Add(1)
		return ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	start := time.Now()
	err := call(ctx)
	if err != nil && !errors.Is(err, redis.Nil) {
		s.errs.Add(1)
		s.breaker.failed(s.shared, err)
		return fmt.Errorf("finauth: redisstore: %w", err)
	}
	s.breaker.answered(s.shared, time.Since(start))
	return nil
}

// sealed is what a token becomes in Redis.
type sealed struct {
	Value        string         `json:"v"`
	Type         string         `json:"t,omitempty"`
	Expiry       int64          `json:"e,omitempty"` // Unix milliseconds; 0 none
	Issued       int64          `json:"i,omitempty"` // Unix milliseconds; 0 unknown
	RefreshToken string         `json:"r,omitempty"`
	Extra        map[string]any `json:"x,omitempty"`
}

// Value layout, version 2: fingerprint (16) | '2' (1) | expiry (13) | issued (13) | key ID (4) |
// nonce (12) | AES-GCM(JSON). The expiry and issue times are Unix milliseconds in ASCII
// digits (0: none), in clear so that a script judges whether a token is worth adopting
// without decrypting it (Claim); they are part of the associated data, so a changed one
// does not decrypt. Version 1 (fingerprint | 1 | key ID | nonce | AES-GCM), which replicas of
// earlier releases wrote, is still read.
const (
	fpSize     = 16
	timeSize   = 13
	header1    = fpSize + 1 + 4
	header2    = fpSize + 1 + 2*timeSize + 4
	version2   = '2'
	timeFormat = "%013d"
)

func (k *sealKey) fingerprint(value string) string {
	m := hmac.New(sha256.New, k.fpKey)
	m.Write([]byte(value))
	return string(m.Sum(nil)[:fpSize])
}

// Load returns key's token; a value that does not open is a miss.
func (s *Store) Load(ctx context.Context, key string) (tokencache.Token, bool, error) {
	s.loads.Add(1)
	name, _ := s.names(key)
	var raw []byte
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		raw, err = s.rdb.Get(ctx, name).Bytes()
		return err
	})
	if err != nil || raw == nil {
		s.misses.Add(1)
		return tokencache.Token{}, false, err
	}
	tok, ok := s.open(name, raw)
	if !ok {
		s.notOpened()
		return tokencache.Token{}, false, nil
	}
	s.hits.Add(1)
	return tok, true, nil
}

// notOpened counts (and logs, once) a stored value that does not open: a miss.
func (s *Store) notOpened() {
	s.misses.Add(1)
	s.undecryptable.Add(1)
	if s.undecLog.CompareAndSwap(false, true) {
		s.log.Warn("finauth: redisstore: a stored token does not decrypt with the configured keys (a wrong or rotated-out FINAUTH_CACHE_KEY?); treated as a miss: the token is fetched again (logged once)")
	}
}

func (s *Store) open(name string, raw []byte) (tokencache.Token, bool) {
	var id [4]byte
	var body, ad []byte
	switch {
	case len(raw) >= header2 && raw[fpSize] == version2:
		id, body = [4]byte(raw[header2-4:header2]), raw[header2:]
		ad = append([]byte(name+"\x00"), raw[fpSize+1:header2-4]...)
	case len(raw) >= header1 && raw[fpSize] == 1:
		id, body, ad = [4]byte(raw[fpSize+1:header1]), raw[header1:], []byte(name)
	default:
		return tokencache.Token{}, false
	}
	for i := range s.keys {
		k := &s.keys[i]
		if k.id != id {
			continue
		}
		ns := k.aead.NonceSize()
		if len(body) < ns {
			return tokencache.Token{}, false
		}
		plain, err := k.aead.Open(nil, body[:ns], body[ns:], ad)
		if err != nil {
			return tokencache.Token{}, false
		}
		var v sealed
		if json.Unmarshal(plain, &v) != nil || v.Value == "" {
			return tokencache.Token{}, false
		}
		tok := tokencache.Token{Value: v.Value, Type: v.Type, RefreshToken: v.RefreshToken, Extra: v.Extra}
		if v.Expiry != 0 {
			tok.Expiry = time.UnixMilli(v.Expiry)
		}
		if v.Issued != 0 {
			tok.Issued = time.UnixMilli(v.Issued)
		}
		return tok, true
	}
	return tokencache.Token{}, false
}

// noExpiryTTL is how long a token without expiry stays in Redis.
const noExpiryTTL = 24 * time.Hour

// Save seals tok and stores it until its expiry.
func (s *Store) Save(ctx context.Context, key string, tok tokencache.Token) error {
	ttl := noExpiryTTL
	if !tok.Expiry.IsZero() {
		if ttl = time.Until(tok.Expiry); ttl < time.Millisecond {
			return nil // already expired: nothing worth sharing
		}
	}
	name, _ := s.names(key)
	raw, err := s.seal(name, tok)
	if err != nil {
		return err
	}
	err = s.do(ctx, func(ctx context.Context) error { return s.rdb.Set(ctx, name, raw, ttl).Err() })
	if err == nil {
		s.saves.Add(1)
	}
	return err
}

// seal makes the value of tok under the Redis key name (version 2): fingerprint, version,
// expiry and issue times, key ID, nonce, and the AES-GCM sealed JSON with name and the times
// as associated data.
func (s *Store) seal(name string, tok tokencache.Token) ([]byte, error) {
	v := sealed{Value: tok.Value, Type: tok.Type, RefreshToken: tok.RefreshToken, Extra: tok.Extra}
	if !tok.Expiry.IsZero() {
		v.Expiry = tok.Expiry.UnixMilli()
	}
	if !tok.Issued.IsZero() {
		v.Issued = tok.Issued.UnixMilli()
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("finauth: redisstore: the token's Extra does not encode: %w", err)
	}
	k := &s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	rand.Read(nonce)
	raw := make([]byte, 0, header2+len(nonce)+len(plain)+k.aead.Overhead())
	raw = append(raw, k.fingerprint(tok.Value)...)
	raw = append(raw, version2)
	raw = fmt.Appendf(raw, timeFormat+timeFormat, max(v.Expiry, 0), max(v.Issued, 0))
	ad := append([]byte(name+"\x00"), raw[fpSize+1:]...)
	raw = append(raw, k.id[:]...)
	raw = append(raw, nonce...)
	return k.aead.Seal(raw, nonce, plain, ad), nil
}

// deleteIfFingerprint deletes KEYS[1] if its value starts with one of ARGV (the rejected
// token's fingerprint under each key).
var deleteIfFingerprint = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local fp = string.sub(v, 1, ` + fmt.Sprint(fpSize) + `)
for i = 1, #ARGV do
  if fp == ARGV[i] then return redis.call('DEL', KEYS[1]) end
end
return 0`)

// Delete removes key's token only if it is still rejected.
func (s *Store) Delete(ctx context.Context, key, rejected string) error {
	name, _ := s.names(key)
	fps := make([]any, len(s.keys))
	for i := range s.keys {
		fps[i] = s.keys[i].fingerprint(rejected)
	}
	var n int64
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		n, err = deleteIfFingerprint.Run(ctx, s.rdb, []string{name}, fps...).Int64()
		return err
	})
	if n > 0 {
		s.deletes.Add(1)
	}
	return err
}

// releaseIfOwner deletes KEYS[1] if it holds ARGV[1], and announces it on channel ARGV[2].
var releaseIfOwner = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  redis.call('PUBLISH', ARGV[2], KEYS[1])
  return 1
end
return 0`)

// Lock takes key's fetch lock for ttl (SET NX PX with a random owner), as a lease of
// LockLease extended while the holder fetches (see lease.go), or for the whole ttl at once
// when ctx is marked by tokencache.LockForWholeTTL.
func (s *Store) Lock(ctx context.Context, key string, ttl time.Duration) (func(), bool, error) {
	_, name := s.names(key)
	var b [16]byte
	rand.Read(b[:])
	owner := hex.EncodeToString(b[:])
	lease := min(s.lease, ttl)
	if tokencache.LocksForWholeTTL(ctx) {
		lease = ttl
	}
	var ok bool
	s.subscribe()
	seq := s.notes.mark()
	err := s.do(ctx, func(ctx context.Context) error {
		var err error
		ok, err = s.rdb.SetNX(ctx, name, owner, lease).Result()
		return err
	})
	if err != nil {
		if !errors.Is(err, ErrUnavailable) {
			// The SET may have reached Redis and its reply come late: a lock nobody holds
			// would stand for its whole lease (a renewal lock, 31 s, blocked every replica's
			// renewal of that consent). It is released as soon as Redis answers.
			s.releaseLater(name, owner, lease)
		}
		return nil, false, err
	}
	if !ok {
		s.busy.Add(1)
		s.notes.busy(name, seq)
		return nil, false, nil
	}
	s.taken.Add(1)
	stop := make(chan struct{})
	if ttl > lease {
		go s.hold(name, owner, lease, ttl, stop)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			close(stop)
			// A release that fails leaves the lock to its lease: the others wait at most that.
			s.do(context.Background(), func(ctx context.Context) error {
				return releaseIfOwner.Run(ctx, s.rdb, []string{name}, owner, s.channel()).Err()
			})
		})
	}, true, nil
}

// maxOrphans bounds the lock attempts being released in the background at once; past it an
// attempt's lock, if it was taken, is left to expire with its lease.
const maxOrphans = 1024

// releaseLater releases, once Redis answers, the lock an attempt that failed may have taken
// (owner is the attempt's own random value: a lock another process took is never touched).
// It tries until it gets an answer or the lease has passed (then the lock is gone anyway).
func (s *Store) releaseLater(name, owner string, lease time.Duration) {
	if s.orphans.Add(1) > maxOrphans {
		s.orphans.Add(-1)
		return
	}
	go func() {
		defer s.orphans.Add(-1)
		end := time.Now().Add(lease)
		wait := 50 * time.Millisecond
		for time.Now().Before(end) {
			select {
			case <-s.breaker.stop: // the store was closed
				return
			case <-time.After(wait):
			}
			err := s.do(context.Background(), func(ctx context.Context) error {
				return releaseIfOwner.Run(ctx, s.rdb, []string{name}, owner, s.channel()).Err()
			})
			if err == nil {
				return
			}
			wait = min(2*wait, time.Second)
		}
	}()
}

// Await returns when key's lock is gone: released by its holder (after it saved its token;
// the release is announced, see notify.go) or expired (its holder died), or when ctx ends.
// It watches the lock, not the token: a token already stored may be one the waiter cannot
// use (about to expire, or rejected). After a Lock that found the lock busy, it costs no
// command until the release is announced; it looks at the lock every 250 ms besides (and
// every PollInterval when the subscription is not live).
func (s *Store) Await(ctx context.Context, key string) error {
	s.waits.Add(1)
	_, lock := s.names(key)
	s.subscribe()
	ch, released, known := s.notes.wait(lock)
	if released {
		return nil
	}
	defer s.notes.forget(lock, ch)
	every := slowPoll
	if !known {
		every = s.poll // the attempt is not on record, or no live subscription: look now and often
	}
	first := every
	if !known {
		first = 0
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-ch:
			return nil
		case <-t.C:
		}
		var locked int64
		err := s.do(ctx, func(ctx context.Context) error {
			var err error
			locked, err = s.rdb.Exists(ctx, lock).Result()
			return err
		})
		if err != nil {
			return err
		}
		if locked == 0 {
			return nil
		}
		t.Reset(every)
	}
}

// String describes the options without the keys or the URL's password.
func (o Options) String() string { return fmt.Sprint(o) }

// Format shows the options with the keys and URL passwords redacted, for every verb.
func (o Options) Format(f fmt.State, verb rune) { redact.Format(f, verb, o) }

// MarshalJSON marshals the options with the keys and URL passwords redacted.
func (o Options) MarshalJSON() ([]byte, error) { return redact.JSON(o) }

// LogValue logs the options with the keys and URL passwords redacted.
func (o Options) LogValue() slog.Value { return redact.LogValue(o) }

// String describes the store without its keys.
func (s *Store) String() string {
	return redact.Summary{Name: "redisstore.Store", Fields: struct {
		Namespace string
		Keys      int
		Open      bool
	}{s.ns, len(s.keys), s.breaker.open.Load()}}.String()
}

// Format keeps every fmt verb on String.
func (s *Store) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }

// LogValue keeps slog output on String.
func (s *Store) LogValue() slog.Value { return slog.StringValue(s.String()) }
