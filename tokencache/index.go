package tokencache

import (
	"hash/maphash"
	"math/bits"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The index maps keys to their entry's view: the entry's current token slot (or, while it
// has none, its placeholder, which never hits), from which the entry is one pointer away.
// It is an open-addressed table of buckets, each one cache line: seven view pointers and
// their one-byte hash tags in one word. A lookup reads without a lock or a write: the table
// pointer, the key's bucket (a tag word, then the pointer whose tag matches) and the slot,
// which holds the key, the state and the token: a hit at a million keys costs the bucket's
// and the slot's cache misses, not the entry's too, and writes nothing another core has to
// give back. Writers (a new key, an eviction, a new token, Close) hold the index's own mu,
// a leaf lock (taken last, under Cache.mu or an entry's mu). It takes 9 to 17 bytes a key,
// where a sync.Map took about 80 (and boxed each key).
//
// Invariants, with writers serialized: a key lives in the first bucket of its probe
// sequence (its home bucket, then the next ones) that had a free slot when it was inserted;
// a lookup stops after the first bucket with an empty slot; a removed key's slot becomes
// deleted (its tag 1), never empty, until the table is rebuilt. A reader on a table that
// was replaced meanwhile still finds every key it held, and a key added since is found by
// the slow path, which takes Cache.mu. A view may lag its entry's token by a moment (a new
// token is stored, then shown): the token it shows is still valid, and a rejected or
// dropped one is marked expired before it goes, so that no view of it hits.

const (
	bucketSlots = 7
	tagEmpty    = 0
	tagDeleted  = 1
)

// bucket is one cache line, what a hit reads: the tags and the views. The entries, which
// only the slow path reads, are in a table of their own (entries[i] is bucket i's), so that
// the lines a hit reads are dense: half the memory of one table of both, for the CPU caches
// to hold at a million keys.
type bucket struct {
	tags  atomic.Uint64 // byte i is slot i's tag: tagEmpty, tagDeleted, or the key's (2..255)
	slots [bucketSlots]atomic.Pointer[slot]
}

type bucketEntries [bucketSlots]atomic.Pointer[entry]

type table struct {
	buckets []bucket
	entries []bucketEntries
	mask    uint64
}

type index struct {
	t    atomic.Pointer[table]
	seed maphash.Seed
	live atomic.Int64 // keys held
	mu   sync.Mutex   // the writers' lock
	dead int          // deleted slots in the current table; under mu
}

func newIndex() *index {
	x := &index{seed: maphash.MakeSeed()}
	x.t.Store(newTable(1))
	return x
}

// newTable has n buckets (a power of two).
func newTable(n int) *table {
	return &table{buckets: make([]bucket, n), entries: make([]bucketEntries, n), mask: uint64(n - 1)}
}

// tagOf is the tag of hash h: its top byte, moved off the two reserved values.
func tagOf(h uint64) uint64 {
	t := h >> 56
	if t < 2 {
		t += 2
	}
	return t
}

// load returns key's entry, or nil.
func (x *index) load(key string) *entry {
	_, e := x.view(key)
	return entryOf(e, key)
}

// entryOf loads the entry at p if it is key's: the slot may have been given to another key
// since its view was read.
func entryOf(p *atomic.Pointer[entry], key string) *entry {
	if p == nil {
		return nil
	}
	if e := p.Load(); e != nil && e.key == key {
		return e
	}
	return nil
}

// slot returns key's view (its entry's current slot, or its placeholder), or nil: view
// without the entry, for the hit path. Its probe is view's, written again on purpose:
// returning one pointer instead of two made Cache.Token's hit 1.77-1.81x a map lookup at a
// million keys, beside 1.87-1.95x calling view (BenchmarkLookupAtScale/1000000/interleaved).
func (x *index) slot(key string) *slot {
	t := x.t.Load()
	h := maphash.String(x.seed, key)
	tag := tagOf(h)
	for i, n := h&t.mask, uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		b := &t.buckets[i]
		tags := b.tags.Load()
		for m := matches(tags, tag); m != 0; m &= m - 1 {
			if v := b.slots[bits.TrailingZeros64(m)/8].Load(); v != nil && sameKey(v.key, key) {
				return v
			}
		}
		if matches(tags, tagEmpty) != 0 {
			return nil
		}
	}
	return nil
}

// sameKey is a == b, with the common case checked inline: the key a caller passes is often
// the very string the cache holds (a map's key, a config's tenant ID), and then the hit
// makes no call to compare bytes.
func sameKey(a, b string) bool {
	return len(a) == len(b) && (unsafe.StringData(a) == unsafe.StringData(b) || a == b)
}

// view returns key's view (its entry's current slot, or its placeholder) and where its
// entry is (check it with entryOf), or nil.
func (x *index) view(key string) (*slot, *atomic.Pointer[entry]) {
	t := x.t.Load()
	h := maphash.String(x.seed, key)
	tag := tagOf(h)
	for i, n := h&t.mask, uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		b := &t.buckets[i]
		tags := b.tags.Load()
		for m := matches(tags, tag); m != 0; m &= m - 1 {
			j := bits.TrailingZeros64(m) / 8
			if v := b.slots[j].Load(); v != nil && sameKey(v.key, key) {
				return v, &t.entries[i][j]
			}
		}
		if matches(tags, tagEmpty) != 0 {
			return nil, nil // the probe sequence ends at a bucket with an empty slot
		}
	}
	return nil, nil
}

const (
	lowBits   = 0x0101010101010101
	slotsMask = 0x0080808080808080 // the high bit of each of the 7 slot bytes
)

// matches has the high bit of byte i set when slot i's tag is tag (SWAR: the zero bytes of
// tags^tag*lowBits). The zero-byte test may also flag a byte just above a true match (a
// borrow), never a word without one: a tag match is confirmed by the entry's key, and "an
// empty slot" is true whenever anything is flagged. The eighth byte, always zero, is masked
// out; being the top byte, its borrow reaches no other.
func matches(tags, tag uint64) uint64 {
	x := tags ^ (tag * lowBits)
	return (x - lowBits) &^ x & slotsMask
}

// insert adds e under e.key, which is not in the index, its view its placeholder (it has no
// token yet) last used at gen.
func (x *index) insert(e *entry, gen uint64) {
	x.mu.Lock()
	defer x.mu.Unlock()
	v := e.placeholder()
	v.mark.Store(uint32(gen) & markGen)
	t := x.t.Load()
	if n := int(x.live.Load()) + x.dead + 1; n*8 > len(t.buckets)*bucketSlots*6 { // load above 3/4
		t = x.rebuild(max(int(x.live.Load())+1, 1))
	}
	h := maphash.String(x.seed, e.key)
	tag := tagOf(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		b := &t.buckets[i]
		tags := b.tags.Load()
		for j := range bucketSlots {
			if old := (tags >> (8 * j)) & 0xff; old == tagEmpty || old == tagDeleted {
				if old == tagDeleted {
					x.dead--
				}
				t.entries[i][j].Store(e)
				b.slots[j].Store(v) // before its tag: a reader matching the tag finds it
				b.tags.Store(tags&^(0xff<<(8*j)) | tag<<(8*j))
				x.live.Add(1)
				return
			}
		}
	}
}

// find returns the bucket and slot number of e's view in t, or nil.
func (x *index) find(t *table, e *entry) (*bucket, int) {
	h := maphash.String(x.seed, e.key)
	for i, n := h&t.mask, uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		b := &t.buckets[i]
		tags := b.tags.Load()
		for j := range bucketSlots {
			if t.entries[i][j].Load() == e {
				return b, j
			}
		}
		if matches(tags, tagEmpty) != 0 {
			return nil, 0
		}
	}
	return nil, 0
}

// show makes e's view its current token (or its placeholder when it has none), keeping the
// view's record of the key's last use. It reads e.cur under the index's lock, so that the
// last show after a change of token shows the token current then.
func (x *index) show(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	b, j := x.find(x.t.Load(), e)
	if b == nil {
		return // removed
	}
	v := e.cur.Load()
	if v == nil {
		v = e.placeholder()
	} else {
		e.hole = nil // a reader may still hold it; the next lack of a token makes another
	}
	if old := b.slots[j].Load(); old != v {
		// The new view keeps the key's last use, whichever of the two saw it later.
		for {
			m, o := v.mark.Load(), old.mark.Load()
			if (m-o)&markGen < markGen/2 || v.mark.CompareAndSwap(m, m&^markGen|o&markGen) {
				break // v's is as recent (a wrapped difference under half the range), or now o's
			}
		}
		b.slots[j].Store(v)
	}
}

// remove takes e out of the index.
func (x *index) remove(e *entry) {
	x.mu.Lock()
	defer x.mu.Unlock()
	t := x.t.Load()
	h := maphash.String(x.seed, e.key)
	for i, n := h&t.mask, uint64(0); n <= t.mask; i, n = (i+1)&t.mask, n+1 {
		b := &t.buckets[i]
		tags := b.tags.Load()
		for j := range bucketSlots {
			if t.entries[i][j].Load() == e {
				b.tags.Store(tags&^(0xff<<(8*j)) | tagDeleted<<(8*j)) // before the pointer goes
				b.slots[j].Store(nil)
				t.entries[i][j].Store(nil)
				x.live.Add(-1)
				x.dead++
				if x.dead > len(t.buckets)*bucketSlots/4 {
					x.rebuild(int(x.live.Load()))
				}
				return
			}
		}
		if matches(tags, tagEmpty) != 0 {
			return
		}
	}
}

// rebuild makes a table for n keys at most half full and moves every key into it; the old
// table stays valid for the readers still on it. mu is held.
func (x *index) rebuild(n int) *table {
	old := x.t.Load()
	nb := 1
	for nb*bucketSlots < 2*n {
		nb *= 2
	}
	t := newTable(nb)
	for i := range old.buckets {
		for j := range bucketSlots {
			if v := old.buckets[i].slots[j].Load(); v != nil {
				place(t, maphash.String(x.seed, v.key), v, old.entries[i][j].Load())
			}
		}
	}
	x.dead = 0
	x.t.Store(t)
	return t
}

// place puts v in the first free slot of its probe sequence in t, which no reader sees yet.
func place(t *table, h uint64, v *slot, e *entry) {
	tag := tagOf(h)
	for i := h & t.mask; ; i = (i + 1) & t.mask {
		b := &t.buckets[i]
		tags := b.tags.Load()
		for j := range bucketSlots {
			if (tags>>(8*j))&0xff == tagEmpty {
				t.entries[i][j].Store(e)
				b.slots[j].Store(v)
				b.tags.Store(tags | tag<<(8*j))
				return
			}
		}
	}
}

// each calls f with every view and its entry, until f returns false.
func (x *index) each(f func(*slot, *entry) bool) {
	t := x.t.Load()
	for i := range t.buckets {
		b := &t.buckets[i]
		for j := range bucketSlots {
			if v, e := b.slots[j].Load(), t.entries[i][j].Load(); v != nil && e != nil && !f(v, e) {
				return
			}
		}
	}
}

// sample returns a view and its entry at random (the first after a random slot), or nils
// when empty.
func (x *index) sample() (*slot, *entry) {
	t := x.t.Load()
	if x.live.Load() == 0 {
		return nil, nil
	}
	n := len(t.buckets) * bucketSlots
	start := rand.IntN(n)
	for k := range n {
		s := (start + k) % n
		b, j := &t.buckets[s/bucketSlots], s%bucketSlots
		if v, e := b.slots[j].Load(), t.entries[s/bucketSlots][j].Load(); v != nil && e != nil {
			return v, e
		}
	}
	return nil, nil
}

// len is how many keys the index holds.
func (x *index) len() int { return int(x.live.Load()) }
