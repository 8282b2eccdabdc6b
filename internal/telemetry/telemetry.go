// Package telemetry is finauth's OpenTelemetry instrumentation, through the OpenTelemetry
// API only (no SDK, no exporter): the instruments every package records into, one set per
// MeterProvider; the observable values (cache lookups, replays, the soonest expiry, the
// store's availability), read at collection time from the counters the packages keep
// anyway, so that the hot path never calls into OpenTelemetry; and the spans of token
// fetches and store calls.
//
// Nothing secret goes into an attribute: attribute values come from fixed sets (provider
// names, outcomes, reasons, algorithms, operations), never from a token, a key, a JWT, a
// secret or an account ID. The one exception is the cache key on fetch spans, only when the
// user opts in (tokencache.Options.LogKeys).
package telemetry

import (
	"context"
	"maps"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/trace"

	"github.com/finauth/finauth/internal/absent"
	"github.com/finauth/finauth/internal/version"
)

// Scope is the instrumentation scope of every meter and tracer.
const Scope = "github.com/finauth/finauth"

// Instrument and span names.
const (
	TokenFetches           = "finauth.token.fetches"
	TokenFetchDuration     = "finauth.token.fetch.duration"
	TokenLookups           = "finauth.token.lookups"
	TokenReplays           = "finauth.token.replays"
	TokenRefreshSuppressed = "finauth.token.refresh.suppressed"
	TokenRefreshLapsed     = "finauth.token.refresh.lapsed"
	TokenExpiry            = "finauth.token.expiry"
	Signatures             = "finauth.signatures"
	SignatureDuration      = "finauth.signature.duration"
	StoreOperations        = "finauth.store.operations"
	StoreAvailable         = "finauth.store.available"
	CertificateExpiry      = "finauth.certificate.expiry"

	SpanFetch = "finauth.token.fetch" // a token fetch (the store calls of a miss are its children)
)

// Attribute keys.
const (
	AttrProvider = attribute.Key("finauth.provider")
	AttrOutcome  = attribute.Key("finauth.outcome") // ok, error
	AttrReason   = attribute.Key("finauth.reason")  // on errors: ReasonOf's bounded set
	AttrResult   = attribute.Key("finauth.result")  // lookups: hit, stale, miss, wait, negative
	AttrAlg      = attribute.Key("finauth.alg")
	// AttrScheme is what a signature is for: jws (a JWT or JWS: assertions, Pismo's JWT,
	// Soldo's and Revolut's request signatures), dpop (a DPoP proof), httpsig (an RFC 9421
	// message signature), fingerprint (Soldo Business's SHA512withRSA).
	AttrScheme     = attribute.Key("finauth.scheme")
	AttrOp         = attribute.Key("finauth.op") // store operations: load, save, delete, lock
	AttrBackground = attribute.Key("finauth.background")
	AttrSource     = attribute.Key("finauth.source") // where a fetch's token came from: endpoint, store
	AttrKey        = attribute.Key("finauth.key")    // the cache key: only when the user opts in
	// AttrCertificate names a certificate a provider presents ("transport": mutual TLS), and
	// AttrCertificateSubject is its subject DN (public: it is sent in every handshake).
	AttrCertificate        = attribute.Key("finauth.certificate")
	AttrCertificateSubject = attribute.Key("finauth.certificate.subject")
)

// Certificate is a certificate a provider presents, for finauth.certificate.expiry.
type Certificate struct {
	Name, Subject string
	NotAfter      time.Time
}

// Providers are the MeterProvider and TracerProvider to record into; nil ones are the global
// providers (otel.GetMeterProvider(), otel.GetTracerProvider()), so that a service that has
// set up OpenTelemetry gets finauth's telemetry with no code.
type Providers struct {
	Meter  metric.MeterProvider
	Tracer trace.TracerProvider
}

func (p Providers) resolve() Providers {
	absent.Clear(&p) // a nil *sdkmetric.MeterProvider means "the global one"
	if p.Meter == nil {
		p.Meter = otel.GetMeterProvider()
	}
	if p.Tracer == nil {
		p.Tracer = otel.GetTracerProvider()
	}
	return p
}

// Lookups are a cache's lookups by result, cumulative.
type Lookups struct{ Hit, Stale, Miss, Wait, Negative uint64 }

// Source is what one component (a cache, a transport, a store) reports at collection time;
// nil functions report nothing.
type Source struct {
	Lookups    func() Lookups
	Replays    func() uint64
	Suppressed func() uint64
	// Lapsed counts refreshes ahead that started after their token's time in the cache.
	Lapsed func() uint64
	// Expiry is how long until the soonest token held expires; ok false when none is held.
	Expiry func() (d time.Duration, ok bool)
	// Available is a shared store's state (its circuit breaker closed).
	Available func() bool
	// Certificates are the certificates the component presents (mutual TLS).
	Certificates func() []Certificate
}

// source is a registered Source with its provider.
type source struct {
	provider string
	Source
}

// counts are a provider's cumulative observable counts.
type counts struct {
	Lookups
	replays, suppressed, lapsed uint64
}

func (c *counts) add(s Source) {
	if s.Lookups != nil {
		l := s.Lookups()
		c.Hit += l.Hit
		c.Stale += l.Stale
		c.Miss += l.Miss
		c.Wait += l.Wait
		c.Negative += l.Negative
	}
	if s.Replays != nil {
		c.replays += s.Replays()
	}
	if s.Suppressed != nil {
		c.suppressed += s.Suppressed()
	}
	if s.Lapsed != nil {
		c.lapsed += s.Lapsed()
	}
}

// meters are the instruments of one MeterProvider, shared by every Recorder on it, and the
// sources its observable instruments read (summed by provider: two transports of one
// provider are one series).
type meters struct {
	fetches    metric.Int64Counter
	fetchDur   metric.Float64Histogram
	sigs       metric.Int64Counter
	sigDur     metric.Float64Histogram
	storeOps   metric.Int64Counter
	lookups    metric.Int64ObservableCounter
	replays    metric.Int64ObservableCounter
	suppressed metric.Int64ObservableCounter
	lapsed     metric.Int64ObservableCounter
	expiry     metric.Float64ObservableGauge
	available  metric.Int64ObservableGauge
	certExpiry metric.Float64ObservableGauge

	mu      sync.Mutex
	sources map[*source]struct{}
	retired map[string]*counts // counts of sources gone, so that counters never go back
}

// registry holds the meters of each MeterProvider seen.
var registry struct {
	mu  sync.Mutex
	all []*meters
	mps []metric.MeterProvider
}

// metersOf returns mp's meters, made on first use.
func metersOf(mp metric.MeterProvider) *meters {
	comparable := reflect.TypeOf(mp).Comparable()
	registry.mu.Lock()
	defer registry.mu.Unlock()
	if comparable {
		for i, p := range registry.mps {
			if p == mp {
				return registry.all[i]
			}
		}
	}
	m := newMeters(mp)
	if comparable {
		registry.mps, registry.all = append(registry.mps, mp), append(registry.all, m)
	}
	return m
}

// durationBuckets suit token requests and signatures: 0.1 ms to 30 s.
var durationBuckets = []float64{0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}

func newMeters(mp metric.MeterProvider) *meters {
	mt := mp.Meter(Scope, metric.WithInstrumentationVersion(version.Module()))
	nm := noop.NewMeterProvider().Meter(Scope)
	m := &meters{sources: map[*source]struct{}{}, retired: map[string]*counts{}}
	var err error
	if m.fetches, err = mt.Int64Counter(TokenFetches, metric.WithUnit("{fetch}"), metric.WithDescription("Token requests made (fetches of the token cache), by outcome and, on errors, reason.")); err != nil {
		m.fetches, _ = nm.Int64Counter(TokenFetches)
	}
	if m.fetchDur, err = mt.Float64Histogram(TokenFetchDuration, metric.WithUnit("s"), metric.WithDescription("Duration of token requests."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		m.fetchDur, _ = nm.Float64Histogram(TokenFetchDuration)
	}
	if m.sigs, err = mt.Int64Counter(Signatures, metric.WithUnit("{signature}"), metric.WithDescription("Signatures made (JWTs, JWSs), by algorithm.")); err != nil {
		m.sigs, _ = nm.Int64Counter(Signatures)
	}
	if m.sigDur, err = mt.Float64Histogram(SignatureDuration, metric.WithUnit("s"), metric.WithDescription("Duration of signatures."), metric.WithExplicitBucketBoundaries(durationBuckets...)); err != nil {
		m.sigDur, _ = nm.Float64Histogram(SignatureDuration)
	}
	if m.storeOps, err = mt.Int64Counter(StoreOperations, metric.WithUnit("{operation}"), metric.WithDescription("Calls of the shared token store, by operation and outcome.")); err != nil {
		m.storeOps, _ = nm.Int64Counter(StoreOperations)
	}
	if m.lookups, err = mt.Int64ObservableCounter(TokenLookups, metric.WithUnit("{lookup}"), metric.WithDescription("Token cache lookups by result: hit (fresh), stale (served while a refresh runs), miss (started a fetch), wait (joined a running fetch), negative (a remembered failure).")); err != nil {
		m.lookups, _ = nm.Int64ObservableCounter(TokenLookups)
	}
	if m.replays, err = mt.Int64ObservableCounter(TokenReplays, metric.WithUnit("{request}"), metric.WithDescription("Requests answered 401, then replayed with a new token.")); err != nil {
		m.replays, _ = nm.Int64ObservableCounter(TokenReplays)
	}
	if m.suppressed, err = mt.Int64ObservableCounter(TokenRefreshSuppressed, metric.WithUnit("{request}"), metric.WithDescription("401s returned without a new token request: the key's token had been refreshed after a 401 within the refresh interval.")); err != nil {
		m.suppressed, _ = nm.Int64ObservableCounter(TokenRefreshSuppressed)
	}
	if m.lapsed, err = mt.Int64ObservableCounter(TokenRefreshLapsed, metric.WithUnit("{refresh}"), metric.WithDescription("Refreshes ahead that started after their token's time in the cache had ended: MaxConcurrentFetches cannot keep up with the keys' refreshes.")); err != nil {
		m.lapsed, _ = nm.Int64ObservableCounter(TokenRefreshLapsed)
	}
	if m.expiry, err = mt.Float64ObservableGauge(TokenExpiry, metric.WithUnit("s"), metric.WithDescription("Seconds until the soonest cached token that has not expired yet expires.")); err != nil {
		m.expiry, _ = nm.Float64ObservableGauge(TokenExpiry)
	}
	if m.available, err = mt.Int64ObservableGauge(StoreAvailable, metric.WithUnit("1"), metric.WithDescription("1 while every shared token store answers (its circuit breaker is closed), 0 otherwise.")); err != nil {
		m.available, _ = nm.Int64ObservableGauge(StoreAvailable)
	}
	if m.certExpiry, err = mt.Float64ObservableGauge(CertificateExpiry, metric.WithUnit("s"), metric.WithDescription("Seconds until a certificate a provider presents (mutual TLS) expires; negative once it has.")); err != nil {
		m.certExpiry, _ = nm.Float64ObservableGauge(CertificateExpiry)
	}
	// One callback for every source: the registration lives as long as the MeterProvider.
	_, _ = mt.RegisterCallback(m.observe, m.lookups, m.replays, m.suppressed, m.lapsed, m.expiry, m.available, m.certExpiry)
	return m
}

// observe reports every source, summed by provider.
func (m *meters) observe(_ context.Context, o metric.Observer) error {
	m.mu.Lock()
	srcs := make([]*source, 0, len(m.sources))
	for s := range m.sources {
		srcs = append(srcs, s)
	}
	byProvider := map[string]*counts{}
	for p, c := range m.retired {
		cc := *c
		byProvider[p] = &cc
	}
	m.mu.Unlock()
	soonest := map[string]time.Duration{}
	type certKey struct{ provider, name, subject string }
	certs := map[certKey]time.Time{} // one series per certificate; two transports of one, once
	stores, available := 0, true
	for _, s := range srcs {
		c := byProvider[s.provider]
		if c == nil {
			c = &counts{}
			byProvider[s.provider] = c
		}
		c.add(s.Source)
		if s.Expiry != nil {
			if d, ok := s.Expiry(); ok {
				if cur, seen := soonest[s.provider]; !seen || d < cur {
					soonest[s.provider] = d
				}
			}
		}
		if s.Available != nil {
			stores++
			available = available && s.Available()
		}
		if s.Certificates != nil {
			for _, c := range s.Certificates() {
				k := certKey{s.provider, c.Name, c.Subject}
				if cur, seen := certs[k]; !seen || c.NotAfter.Before(cur) {
					certs[k] = c.NotAfter
				}
			}
		}
	}
	now := time.Now()
	for k, notAfter := range certs {
		o.ObserveFloat64(m.certExpiry, notAfter.Sub(now).Seconds(), metric.WithAttributes(AttrProvider.String(k.provider), AttrCertificate.String(k.name), AttrCertificateSubject.String(k.subject)))
	}
	for p, c := range byProvider {
		prov := AttrProvider.String(p)
		hasLookups := c.Hit+c.Stale+c.Miss+c.Wait+c.Negative > 0
		if hasLookups {
			for _, r := range []struct {
				name string
				n    uint64
			}{{"hit", c.Hit}, {"stale", c.Stale}, {"miss", c.Miss}, {"wait", c.Wait}, {"negative", c.Negative}} {
				o.ObserveInt64(m.lookups, int64(r.n), metric.WithAttributes(prov, AttrResult.String(r.name)))
			}
			o.ObserveInt64(m.lapsed, int64(c.lapsed), metric.WithAttributes(prov))
		}
		if c.replays > 0 || c.suppressed > 0 || hasLookups {
			o.ObserveInt64(m.replays, int64(c.replays), metric.WithAttributes(prov))
			o.ObserveInt64(m.suppressed, int64(c.suppressed), metric.WithAttributes(prov))
		}
	}
	for p, d := range soonest {
		o.ObserveFloat64(m.expiry, d.Seconds(), metric.WithAttributes(AttrProvider.String(p)))
	}
	if stores > 0 {
		v := int64(0)
		if available {
			v = 1
		}
		o.ObserveInt64(m.available, v)
	}
	return nil
}

// Recorder is one component's telemetry: its provider attribute over the meters and tracer
// of its providers.
type Recorder struct {
	provider string
	m        *meters
	tracer   trace.Tracer
	fetchOK  metric.MeasurementOption
	attrs    sync.Map // attribute sets by reason, op+outcome: built once
	// sigOpts are the options of Signed by algorithm, built once: a map replaced, never
	// changed (a signature per request allocates nothing to record).
	sigOpts atomic.Pointer[map[string]sigOptions]
	sigMu   sync.Mutex // sigOpts' writers
}

type sigOptions struct {
	add []metric.AddOption
	rec []metric.RecordOption
}

// New returns the Recorder of provider (the finauth.provider attribute) over p.
func New(provider string, p Providers) *Recorder {
	p = p.resolve()
	r := &Recorder{provider: provider, m: metersOf(p.Meter), tracer: p.Tracer.Tracer(Scope, trace.WithInstrumentationVersion(version.Module()))}
	r.fetchOK = metric.WithAttributeSet(attribute.NewSet(AttrProvider.String(provider), AttrOutcome.String("ok")))
	return r
}

// Provider is the provider attribute's value.
func (r *Recorder) Provider() string { return r.provider }

// Tracer is the Recorder's tracer.
func (r *Recorder) Tracer() trace.Tracer { return r.tracer }

// option returns the attribute set of key, made by build once.
func (r *Recorder) option(key string, build func() attribute.Set) metric.MeasurementOption {
	if v, ok := r.attrs.Load(key); ok {
		return v.(metric.MeasurementOption)
	}
	v, _ := r.attrs.LoadOrStore(key, metric.WithAttributeSet(build()))
	return v.(metric.MeasurementOption)
}

// Fetched records one token request: its outcome (reason, one of ReasonOf's, on errors)
// and duration.
func (r *Recorder) Fetched(ctx context.Context, d time.Duration, reason string) {
	opt := r.fetchOK
	if reason != "" {
		opt = r.option("fetch:"+reason, func() attribute.Set {
			return attribute.NewSet(AttrProvider.String(r.provider), AttrOutcome.String("error"), AttrReason.String(reason))
		})
	}
	r.m.fetches.Add(ctx, 1, opt)
	r.m.fetchDur.Record(ctx, d.Seconds(), opt)
}

// Signed records one JWS signature (scheme jws) with alg and its duration.
func (r *Recorder) Signed(alg string, d time.Duration) { r.SignedWith("jws", alg, d) }

// SignedWith records one signature of scheme (AttrScheme) with alg and its duration.
func (r *Recorder) SignedWith(scheme, alg string, d time.Duration) {
	var o sigOptions
	ok := false
	key := scheme + "\x00" + alg
	if m := r.sigOpts.Load(); m != nil {
		o, ok = (*m)[key]
	}
	if !ok {
		o = r.newSigOptions(scheme, alg)
	}
	ctx := context.Background()
	r.m.sigs.Add(ctx, 1, o.add...)
	r.m.sigDur.Record(ctx, d.Seconds(), o.rec...)
}

// newSigOptions builds alg's options and adds them to sigOpts.
func (r *Recorder) newSigOptions(scheme, alg string) sigOptions {
	r.sigMu.Lock()
	defer r.sigMu.Unlock()
	key := scheme + "\x00" + alg
	next := map[string]sigOptions{}
	if m := r.sigOpts.Load(); m != nil {
		if o, ok := (*m)[key]; ok {
			return o
		}
		maps.Copy(next, *m)
	}
	opt := metric.WithAttributeSet(attribute.NewSet(AttrProvider.String(r.provider), AttrAlg.String(alg), AttrScheme.String(scheme)))
	o := sigOptions{add: []metric.AddOption{opt}, rec: []metric.RecordOption{opt}}
	next[key] = o
	r.sigOpts.Store(&next)
	return o
}

// StoreOp records one store call: op is load, save, delete, lock, claim or handoff.
func (r *Recorder) StoreOp(ctx context.Context, op string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	opt := r.option("store:"+op+":"+outcome, func() attribute.Set {
		return attribute.NewSet(AttrProvider.String(r.provider), AttrOp.String(op), AttrOutcome.String(outcome))
	})
	r.m.storeOps.Add(ctx, 1, opt)
}

// Observe registers src, read at each collection, until the returned function is called;
// after that its last counts stay in the counters' totals.
func (r *Recorder) Observe(src Source) (stop func()) {
	s := &source{provider: r.provider, Source: src}
	r.m.mu.Lock()
	r.m.sources[s] = struct{}{}
	r.m.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			var final counts
			final.add(src)
			r.m.mu.Lock()
			defer r.m.mu.Unlock()
			delete(r.m.sources, s)
			c := r.m.retired[s.provider]
			if c == nil {
				c = &counts{}
				r.m.retired[s.provider] = c
			}
			c.Hit += final.Hit
			c.Stale += final.Stale
			c.Miss += final.Miss
			c.Wait += final.Wait
			c.Negative += final.Negative
			c.replays += final.replays
			c.suppressed += final.suppressed
			c.lapsed += final.lapsed
		})
	}
}
