package tokencache

import (
	"sync/atomic"
	"unsafe"
)

// Stats are the cache's counters since it was made.
type Stats struct {
	Hits                 uint64 // fresh token served from memory
	StaleHits            uint64 // stale token served while a refresh runs
	Misses               uint64 // no usable token: the caller started a fetch and waited for it
	Waits                uint64 // no usable token: the caller joined a fetch already running
	NegativeHits         uint64 // a remembered fetch failure returned without fetching
	Fetches              uint64 // calls of the fetch function
	FetchErrors          uint64 // fetches that failed (error, empty, expired or panic)
	StoreHits            uint64 // misses answered from the Store without fetching
	FleetWaits           uint64 // waits for another process's fetch of a key (FleetStore)
	BackgroundRefreshes  uint64 // fetches started ahead of expiry (stale, prefetch, retry)
	LapsedRefreshes      uint64 // refreshes ahead that started after their token's time in the cache had ended
	InvalidationsDropped uint64 // Invalidate calls that dropped the cached token
	InvalidationsNoop    uint64 // Invalidate calls that found another token (already refreshed)
	Evictions            uint64 // keys evicted beyond MaxKeys
	SuppressedRefreshes  uint64 // rejections returned to the caller without a fetch (Rejected: fetched after a rejection within RejectionInterval)
	Keys                 int    // keys held now
}

// stripes spread the hot-path hit counters over cache lines so that goroutines on different
// cores do not fight over one counter.
const stripes = 128 // a power of two: two goroutines share one with a chance of 1 in 128

type paddedCounter struct {
	n atomic.Uint64
	_ [56]byte
}

type striped [stripes]paddedCounter

// add picks the stripe from the calling goroutine's stack address: goroutines have
// separate stacks, so concurrent callers mostly land on different lines, and it costs no
// random number. (Stacks move when they grow; the stripe then changes, which is harmless.)
func (s *striped) add() {
	var here byte
	// Stacks are aligned to their size, so the low bits carry little: mix them all
	// (Fibonacci hashing) and take the top bits.
	h := uint64(uintptr(unsafe.Pointer(&here))>>10) * 0x9E3779B97F4A7C15
	s[h>>(64-7)].n.Add(1)
}

func (s *striped) sum() uint64 {
	var t uint64
	for i := range s {
		t += s[i].n.Load()
	}
	return t
}

type counters struct {
	hits, staleHits                    striped
	misses, waits, negativeHits        atomic.Uint64
	fetches                            atomic.Uint64
	fetchErrors, storeHits, background atomic.Uint64
	fleetWaits, lapsed                 atomic.Uint64
	dropped, noop, evictions           atomic.Uint64
	suppressed                         atomic.Uint64
}
