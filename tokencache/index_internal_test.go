package tokencache

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
)

// The index agrees with a map through random inserts, removals (deleted slots, rebuilds
// that grow and shrink it) and lookups of present and absent keys.
func TestIndex_AgreesWithAMap(t *testing.T) {
	x := newIndex()
	ref := map[string]*entry{}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 200_000 {
		k := fmt.Sprint("k", r.IntN(20_000))
		switch e, ok := ref[k]; {
		case !ok:
			e = &entry{key: k}
			x.insert(e, 0)
			ref[k] = e
		case r.IntN(3) == 0:
			x.remove(e)
			delete(ref, k)
		}
		if i%97 == 0 {
			for probe := range 50 {
				pk := fmt.Sprint("k", (i+probe*31)%25_000)
				if got, want := x.load(pk), ref[pk]; got != want {
					t.Fatalf("step %d: load(%s) = %p, want %p", i, pk, got, want)
				}
			}
		}
	}
	if x.len() != len(ref) {
		t.Fatalf("len %d, want %d", x.len(), len(ref))
	}
	n := 0
	x.each(func(v *slot, e *entry) bool {
		if ref[v.key] != e {
			t.Fatalf("each gave %s, not in the map", v.key)
		}
		n++
		return true
	})
	if n != len(ref) {
		t.Fatalf("each gave %d entries, want %d", n, len(ref))
	}
	for k, e := range ref {
		if x.load(k) != e {
			t.Fatalf("load(%s) lost", k)
		}
	}
}

// Readers without locks never see a wrong entry while a writer inserts, removes and
// rebuilds (run with -race): a key's lookup gives its entry or nil (then the slow path,
// under the lock, decides), never another key's.
func TestIndex_LockFreeReadersDuringWrites(t *testing.T) {
	x := newIndex()
	var mu sync.Mutex // the writers' lock, as Cache.mu
	const keys = 5000
	entries := make([]*entry, keys)
	for i := range entries {
		entries[i] = &entry{key: fmt.Sprint("acct:", i)}
	}
	var stop atomic.Bool
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(g), 9))
			for !stop.Load() {
				i := r.IntN(keys)
				if e := x.load(entries[i].key); e != nil && e != entries[i] {
					wrong.Add(1)
				}
			}
		})
	}
	present := make([]bool, keys)
	r := rand.New(rand.NewPCG(7, 7))
	for range 300_000 {
		i := r.IntN(keys)
		mu.Lock()
		if present[i] {
			x.remove(entries[i])
		} else {
			x.insert(entries[i], 0)
		}
		present[i] = !present[i]
		mu.Unlock()
	}
	stop.Store(true)
	wg.Wait()
	if wrong.Load() != 0 {
		t.Fatalf("%d lookups returned another key's entry", wrong.Load())
	}
	for i, p := range present {
		if got := x.load(entries[i].key); (got != nil) != p {
			t.Fatalf("key %d: present %v, found %v", i, p, got != nil)
		}
	}
}

// The SWAR tag match flags every slot whose tag matches, and "an empty slot" exactly when
// there is one.
func TestIndex_TagMatching(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 100_000 {
		var tags uint64
		bytes := [bucketSlots]uint64{}
		for j := range bucketSlots {
			bytes[j] = uint64(r.IntN(6)) // small values: many zeros, ones and repeats
			tags |= bytes[j] << (8 * j)
		}
		for tag := range uint64(6) {
			m := matches(tags, tag)
			for j := range bucketSlots {
				if bytes[j] == tag && m&(0x80<<(8*j)) == 0 {
					t.Fatalf("tags %x: slot %d has tag %d but is not flagged (%x)", tags, j, tag, m)
				}
			}
			any := false
			for j := range bucketSlots {
				any = any || bytes[j] == tag
			}
			if any != (m != 0) {
				t.Fatalf("tags %x tag %d: flagged %x, a match %v", tags, tag, m, any)
			}
		}
	}
}
