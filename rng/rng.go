package rng

import "math/rand/v2"

// SplitMix64 is the output function of Steele, Lea & Flood's SplitMix64
// generator (2014) applied to x + 0x9e3779b97f4a7c15: a bijective mixer
// that maps nearby integers to unrelated 64-bit values, which is what
// seeding needs. It is also the hash of subpost/data's hash partition.
func SplitMix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Seeds returns the two 64-bit PCG seed words of the stream named by path
// under the root seed. Different paths give unrelated streams; the empty
// path is the root stream itself.
func Seeds(seed uint64, path ...uint64) (hi, lo uint64) {
	hi = SplitMix64(seed)
	lo = SplitMix64(hi ^ 0x5851f42d4c957f2d)
	for _, p := range path {
		hi = SplitMix64(hi ^ SplitMix64(p+0x632be59bd9b4e019))
		lo = SplitMix64(lo + hi)
	}
	return hi, lo
}

// New returns a PCG source for the stream named by path under seed.
func New(seed uint64, path ...uint64) *rand.PCG {
	return rand.NewPCG(Seeds(seed, path...))
}

// NewRand is New wrapped in a *rand.Rand.
func NewRand(seed uint64, path ...uint64) *rand.Rand {
	return rand.New(New(seed, path...))
}
