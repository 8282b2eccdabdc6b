package tokencache

import (
	"context"
	"time"

	"github.com/finauth/finauth/internal/telemetry"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"
)

// Telemetry: the values read at collection time, the fetch span, and the Store's calls
// counted (and traced within a fetch).

// lookups are the lookup counters, for finauth.token.lookups.
func (c *Cache) lookups() telemetry.Lookups {
	return telemetry.Lookups{Hit: c.c.hits.sum(), Stale: c.c.staleHits.sum(), Miss: c.c.misses.Load(),
		Wait: c.c.waits.Load(), Negative: c.c.negativeHits.Load()}
}

// soonestExpiry is how long until the soonest token held that has not expired yet expires,
// for finauth.token.expiry. It reads every entry without a lock (a few milliseconds for a
// million keys), at collection time only.
func (c *Cache) soonestExpiry() (time.Duration, bool) {
	now := c.o.Clock.Now()
	var soonest time.Time
	c.idx.each(func(_ *slot, e *entry) bool {
		if s := e.cur.Load(); s != nil && !s.tok.Expiry.IsZero() && s.tok.Expiry.After(now) && (soonest.IsZero() || s.tok.Expiry.Before(soonest)) {
			soonest = s.tok.Expiry
		}
		return true
	})
	if soonest.IsZero() {
		return 0, false
	}
	return soonest.Sub(now), true
}

// startSpan starts the fetch's span: a child of the request that waited for it, or, for a
// background refresh, a root span linked to the request that found the token stale. The
// fetch's context gets the span only, none of the request's values.
func (c *Cache) startSpan(ctx context.Context, e *entry, why trigger) (context.Context, trace.Span) {
	attrs := []attribute.KeyValue{telemetry.AttrProvider.String(c.o.Name), telemetry.AttrBackground.Bool(why.background)}
	if c.o.LogKeys {
		attrs = append(attrs, telemetry.AttrKey.String(e.key))
	}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindInternal), trace.WithAttributes(attrs...)}
	switch {
	case why.background:
		opts = append(opts, trace.WithNewRoot())
		if why.span.IsValid() {
			opts = append(opts, trace.WithLinks(trace.Link{SpanContext: why.span}))
		}
	case why.span.IsValid():
		ctx = trace.ContextWithSpanContext(ctx, why.span)
	}
	return c.tel.Tracer().Start(ctx, telemetry.SpanFetch, opts...)
}

// endSpan ends the fetch's span with where its token came from and its outcome.
func (c *Cache) endSpan(span trace.Span, fromStore bool, err error) {
	if err == nil {
		src := "endpoint"
		if fromStore {
			src = "store"
		}
		span.SetAttributes(telemetry.AttrSource.String(src))
	}
	telemetry.EndSpan(span, err)
}

// observeStore wraps s so that each call is counted in finauth.store.operations and, when
// made within a traced fetch, gets a span of its own.
func observeStore(s Store, rec *telemetry.Recorder) Store {
	if s == nil {
		return nil
	}
	o := observed{s: s, rec: rec}
	if cl, ok := s.(Claimer); ok {
		return observedClaimer{observedFleet: observedFleet{observed: o, fs: cl}, cl: cl}
	}
	if fs, ok := s.(FleetStore); ok {
		return observedFleet{observed: o, fs: fs}
	}
	return o
}

type observed struct {
	s   Store
	rec *telemetry.Recorder
}

// call runs one Store call: counted as op, in a span when ctx carries a fetch's (or a
// request's) span.
func (o observed) call(ctx context.Context, op, name string, f func(context.Context) error) {
	var span trace.Span
	if trace.SpanContextFromContext(ctx).IsValid() {
		ctx, span = o.rec.Tracer().Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
			trace.WithAttributes(telemetry.AttrProvider.String(o.rec.Provider()), telemetry.AttrOp.String(op)))
	}
	err := f(ctx)
	o.rec.StoreOp(ctx, op, err)
	if span != nil {
		telemetry.EndSpan(span, err)
	}
}

func (o observed) Load(ctx context.Context, key string) (tok Token, ok bool, err error) {
	o.call(ctx, "load", "finauth.store.load", func(ctx context.Context) error {
		tok, ok, err = o.s.Load(ctx, key)
		return err
	})
	return tok, ok, err
}

func (o observed) Save(ctx context.Context, key string, tok Token) (err error) {
	o.call(ctx, "save", "finauth.store.save", func(ctx context.Context) error {
		err = o.s.Save(ctx, key, tok)
		return err
	})
	return err
}

func (o observed) Delete(ctx context.Context, key, rejected string) (err error) {
	o.call(ctx, "delete", "finauth.store.delete", func(ctx context.Context) error {
		err = o.s.Delete(ctx, key, rejected)
		return err
	})
	return err
}

type observedFleet struct {
	observed
	fs FleetStore
}

func (o observedFleet) Lock(ctx context.Context, key string, ttl time.Duration) (release func(), ok bool, err error) {
	o.call(ctx, "lock", "finauth.store.lock", func(ctx context.Context) error {
		release, ok, err = o.fs.Lock(ctx, key, ttl)
		return err
	})
	return release, ok, err
}

// Await is traced within a fetch, not counted: it is a wait, not an operation.
func (o observedFleet) Await(ctx context.Context, key string) error {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return o.fs.Await(ctx, key)
	}
	ctx, span := o.rec.Tracer().Start(ctx, "finauth.store.await", trace.WithAttributes(telemetry.AttrProvider.String(o.rec.Provider())))
	err := o.fs.Await(ctx, key)
	if ctx.Err() == nil {
		telemetry.EndSpan(span, err)
	} else {
		telemetry.EndSpan(span, nil) // a wait that ran out is how waits end
	}
	return err
}

type observedClaimer struct {
	observedFleet
	cl Claimer
}

func (o observedClaimer) Claim(ctx context.Context, key string, c Claim) (got Claimed, err error) {
	o.call(ctx, "claim", "finauth.store.claim", func(ctx context.Context) error {
		got, err = o.cl.Claim(ctx, key, c)
		return err
	})
	if got.Held {
		handoff := got.Handoff
		got.Handoff = func(ctx context.Context, tok Token) (err error) {
			o.call(ctx, "handoff", "finauth.store.handoff", func(ctx context.Context) error {
				err = handoff(ctx, tok)
				return err
			})
			return err
		}
	}
	return got, err
}

// AwaitToken is traced within a fetch, not counted: it is a wait, not an operation.
func (o observedClaimer) AwaitToken(ctx context.Context, key string) (tok Token, ok bool, err error) {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return o.cl.AwaitToken(ctx, key)
	}
	ctx, span := o.rec.Tracer().Start(ctx, "finauth.store.await", trace.WithAttributes(telemetry.AttrProvider.String(o.rec.Provider())))
	tok, ok, err = o.cl.AwaitToken(ctx, key)
	if ctx.Err() == nil {
		telemetry.EndSpan(span, err)
	} else {
		telemetry.EndSpan(span, nil)
	}
	return tok, ok, err
}
