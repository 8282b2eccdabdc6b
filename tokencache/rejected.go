package tokencache

import (
	"context"
	"time"
)

// What a rejected token means for the cache: the whole decision of a server's "401" lives
// here, the transport only sends, asks, and replays or returns (Azure's BearerTokenPolicy
// over its temporal.Resource is the shape). A transport calls Accepted after each request a
// token served, and Rejected after each one the server refused.
//
// The rules, per key:
//   - A storm of rejections of one token costs one fetch: the first drops the token
//     (compare-and-invalidate) and fetches; the others get the new token.
//   - A token rejected without ever having worked, right after a rejection made the cache
//     fetch it, is not fetched again before RejectionInterval has passed (an API that
//     rejects every token must not cost a token request per request): the rejection goes
//     back to the caller (Stats.SuppressedRefreshes). A token that worked and is then
//     rejected (a revocation) is fetched again at once.
//   - With a Store shared by several processes, a token adopted from it may have been
//     revoked before this process used it, while it worked for another. Every process tells
//     the others which token worked (one marker per token); a rejection of a token that
//     worked anywhere is a revocation and fetches (once for the fleet, through its lock); a
//     rejection held back waits up to FleetWait for the token another process fetches. A
//     token adopted and rejected with no word that it worked, or rejected while the Store
//     does not answer, is fetched once per interval (a process alone would be).

// Attempt is what the request whose token was rejected was.
type Attempt int

// The attempts.
const (
	// FirstTry is a request's first try, which can be sent again.
	FirstTry Attempt = iota
	// Replay is a request sent again with the token Rejected gave.
	Replay
	// Final is a request that cannot be sent again (its body is gone): its token is dropped
	// if the rules allow, so that the next request has a new one, and nothing is waited for.
	Final
)

// Rejected is told that the server refused value, key's token, for a request of attempt;
// it answers with the token to send the request again with (ok), or ok false when the
// refusal should go back to the caller as it came. err is a failed fetch. It may fetch (once
// for every request refused with value), adopt another process's token, or wait up to
// FleetWait for one.
func (c *Cache) Rejected(ctx context.Context, key, value string, attempt Attempt) (tok Token, ok bool, err error) {
	e, err := c.entry(key)
	if err != nil {
		return Token{}, false, err
	}
	now := c.o.Clock.Now()
	shared := c.o.Store != nil
	switch {
	case attempt == Final:
		if c.allow(e, value, now) {
			c.Invalidate(key, value)
		} else {
			c.c.suppressed.Add(1)
			c.reload(ctx, e, value)
		}
		return Token{}, false, nil
	case attempt == Replay && !shared && !c.wouldAllow(e, value, now):
		// The token the last rejection fetched, rejected at once: the caller gets it back.
		return Token{}, false, nil
	}
	refresh := c.allow(e, value, now)
	if !refresh && shared && c.adopted(e, value) && c.blind(e, now) {
		// Another process's token, rejected here, with no word that it worked: waiting for
		// the others could have every process wait on a token none fetches (its "worked"
		// marker lost in a Redis failover). Fetched, once per interval (the budget it shares
		// with a Store that does not answer), and the fleet lock makes it one fetch.
		refresh = true
		c.record(e, value, now)
	}
	if !refresh {
		// Fetched after a rejection moments ago. Replay only if another request (or
		// process) has a newer token already, or brings one within FleetWait; fetch only if
		// the token worked for another process (a revocation).
		if tok, err = c.Token(ctx, key); err != nil || tok.Value == value {
			n := c.awaitNewer(ctx, e, value)
			switch {
			case n.ok && n.tok.Value != value:
				tok = n.tok
			case n.worked:
				refresh = true
				c.record(e, value, now)
			case n.unknown && c.blind(e, now):
				// The Store does not answer, so no process can say whether the token worked
				// (it may have been shared, and used up, before the Store went): fetched
				// once per interval instead of every request failing until it is back.
				refresh = true
				c.record(e, value, now)
			default:
				c.c.suppressed.Add(1)
				return Token{}, false, nil
			}
		}
	}
	if refresh {
		// Twice at most: a fetch already in flight as the rejection came may bring back the
		// very token rejected (read from a Store that still held it); it is dropped in turn
		// and the next fetch is the refresh.
		for try := 0; try < 2 && (try == 0 || tok.Value == value); try++ {
			c.Invalidate(key, value)
			if tok, err = c.Token(ctx, key); err != nil {
				return Token{}, false, err
			}
		}
	}
	return tok, true, nil
}

// Accepted is told that value, key's token, served a request the server accepted: a later
// rejection of it is a revocation, not a token refused at once. With a shared Store the
// other processes are told too, once per token (in the background). Without a Store, and
// while no rejection is on record, it costs two atomic loads.
func (c *Cache) Accepted(key, value string) {
	if c.o.Store == nil && c.rejections.Load() == 0 {
		return
	}
	if e := c.idx.load(key); e != nil {
		c.accepted(e, value)
	}
}

// Accepted is Cache.Accepted for the handle's key.
func (h *Handle) Accepted(value string) {
	if h.c.o.Store == nil && h.c.rejections.Load() == 0 {
		return
	}
	if e := h.e.Load(); e != nil {
		h.c.accepted(e, value)
	}
}

func (c *Cache) accepted(e *entry, value string) {
	if e.has(flagRejectionOnRecord) {
		e.mu.Lock()
		if r := e.t; r != nil && !r.lastRejection.IsZero() && r.refreshedFor != value {
			r.acceptedSince = true
			e.clear(flagRejectionOnRecord)
		}
		e.mu.Unlock()
	}
	if c.o.Store != nil {
		c.confirm(e, value)
	}
}

// allow reports whether a rejection of value may fetch key's token: yes when no rejection
// fetched it within the interval, when value is the token whose rejection did (the same
// storm shares that fetch), or when a newer token was accepted since (a revocation of a
// token that worked); the fetch is then on record. No only for a token rejected without
// ever having worked, within the interval of the last fetch a rejection made.
func (c *Cache) allow(e *entry, value string, now time.Time) bool {
	interval := c.o.RejectionInterval
	if interval < 0 {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if r := e.t; r != nil && !r.lastRejection.IsZero() {
		if now.Sub(r.lastRejection) < interval && !r.acceptedSince {
			return r.refreshedFor == value
		}
		if r.refreshedFor == value {
			return true
		}
	}
	c.recordLocked(e, value, now, false)
	return true
}

// wouldAllow is allow without putting anything on record.
func (c *Cache) wouldAllow(e *entry, value string, now time.Time) bool {
	if c.o.RejectionInterval < 0 {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.t
	if r == nil || r.lastRejection.IsZero() {
		return true
	}
	return now.Sub(r.lastRejection) >= c.o.RejectionInterval || r.acceptedSince || r.refreshedFor == value
}

// record puts on record a fetch after a rejection of value that allow did not grant (the
// token had worked for another process): the rejections of the same token share it.
func (c *Cache) record(e *entry, value string, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	c.recordLocked(e, value, now, true)
}

// recordLocked puts a fetch after a rejection of value on record, keeping the time of the
// last blind fetch when keepBlind. e.mu is held.
func (c *Cache) recordLocked(e *entry, value string, now time.Time, keepBlind bool) {
	r := e.rare()
	if r.lastRejection.IsZero() {
		c.rejections.Add(1)
	}
	if !keepBlind {
		r.blindAt = time.Time{}
	}
	r.lastRejection, r.refreshedFor, r.acceptedSince = now, value, false
	e.set(flagRejectionOnRecord)
}

// blind reports whether key may be fetched without the fleet's word that its rejected
// token worked (another process's token, or a Store that does not answer): once per
// interval, remembered across records.
func (c *Cache) blind(e *entry, now time.Time) bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	r := e.t
	if r == nil || r.lastRejection.IsZero() {
		return true
	}
	if !r.blindAt.IsZero() && now.Sub(r.blindAt) < c.o.RejectionInterval {
		return false
	}
	r.blindAt = now
	return true
}
