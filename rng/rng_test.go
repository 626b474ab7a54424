package rng

import (
	"fmt"
	"testing"
)

func TestStreamsDifferAndRepeat(t *testing.T) {
	seen := map[uint64]string{}
	for seed := uint64(0); seed < 4; seed++ {
		for a := uint64(0); a < 8; a++ {
			for b := uint64(0); b < 8; b++ {
				x := New(seed, a, b).Uint64()
				if y := New(seed, a, b).Uint64(); x != y {
					t.Fatalf("stream (%d,%d,%d) not reproducible", seed, a, b)
				}
				key := fmt.Sprint(seed, a, b)
				if prev, ok := seen[x]; ok {
					t.Fatalf("streams %s and %s start alike", prev, key)
				}
				seen[x] = key
			}
		}
	}
	// A path is not the same as its prefix or its permutation.
	if New(1, 2).Uint64() == New(1, 2, 0).Uint64() || New(1, 2, 3).Uint64() == New(1, 3, 2).Uint64() {
		t.Fatal("paths collide")
	}
}

func ExampleNewRand() {
	// Chain 2 of shard 5 under root seed 42 always sees the same numbers.
	r := NewRand(42, 5, 2)
	a := r.Float64()
	b := NewRand(42, 5, 2).Float64()
	fmt.Println(a == b)
	// Output: true
}
