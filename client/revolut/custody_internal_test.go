package revolut

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/finauth/finauth/tokencache"
)

// A generation survives what the store does to a record and an access token (JSON: numbers
// come back as float64) exactly: a grant read back rounded up would outrank its own renewals
// (Unix nanoseconds did: 1.8e18 is past float64's exact integers, and a replica presented the
// original refresh token again).
func TestGeneration_SurvivesTheStoresJSON(t *testing.T) {
	grant := time.Date(2026, 12, 7, 12, 0, 0, 123456789, time.UTC).UnixMicro()
	rec := refreshRecord{token: "rt", gen: generation{grant: grant, n: 41}, expires: time.Unix(1_900_000_000, 0)}
	roundTrip := func(extra map[string]any) map[string]any {
		b, err := json.Marshal(extra)
		if err != nil {
			t.Fatal(err)
		}
		var back map[string]any
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		return back
	}
	st := rec.stored(time.Now(), rotationRotates)
	st.Extra = roundTrip(st.Extra)
	if got := recordOf(st); got.gen != rec.gen || !got.expires.Equal(rec.expires) {
		t.Fatalf("stored and read back: %+v, want %+v", got.gen, rec.gen)
	}
	at := carry(tokencache.Token{Value: "at"}, rec)
	at.Extra = roundTrip(at.Extra)
	if got, ok := carried(at); !ok || got.gen != rec.gen {
		t.Fatalf("carried and read back: %+v, want %+v", got.gen, rec.gen)
	}
	if next := (generation{grant: grant, n: 42}); !next.after(rec.gen) || rec.gen.after(next) {
		t.Fatal("a renewal is not after its predecessor")
	}
	if newGrant := (generation{grant: grant + 1}); !newGrant.after(generation{grant: grant, n: 1 << 40}) {
		t.Fatal("a new grant does not outrank every renewal of the older one")
	}
}
