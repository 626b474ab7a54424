package auxdp

import (
	"fmt"
	"math"
	"testing"

	"github.com/epmc/epmc/rng"
)

// gaussianMixture draws n points in d dimensions from k equal-weight,
// well-separated Gaussian components: unit covariance and means on a
// lattice 12 units apart in the first two coordinates (a random
// permutation of the lattice sites), so every pair is at least 12
// standard deviations apart. It returns the points and the true labels.
func gaussianMixture(seed uint64, n, d, k int) ([][]float64, []int) {
	r := rng.NewRand(seed, 99)
	side := int(math.Ceil(math.Sqrt(float64(k))))
	sites := r.Perm(side * side)[:k]
	means := make([][]float64, k)
	for c := range k {
		means[c] = make([]float64, d)
		means[c][0] = 12 * float64(sites[c]%side)
		if d > 1 {
			means[c][1] = 12 * float64(sites[c]/side)
		}
		for a := 2; a < d; a++ {
			means[c][a] = 3 * r.NormFloat64()
		}
	}
	x := make([][]float64, n)
	truth := make([]int, n)
	for i := range n {
		c := i % k
		truth[i] = c
		x[i] = make([]float64, d)
		for a := range d {
			x[i][a] = means[c][a] + r.NormFloat64()
		}
	}
	return x, truth
}

// BenchmarkIteration times one full iteration (local sweeps on every
// processor, global step, rebuild) on N = 10,000 points from 10 equal,
// well-separated Gaussians in d = 2 and d = 10 (balanced data), started at
// the true partition so that every timed iteration is at stationarity.
// ns/point-sweep is the time per iteration divided by N; max-share is the
// average share of the busiest processor (the bound on parallel speed-up
// is its inverse).
func BenchmarkIteration(b *testing.B) {
	benchBalanced(b, 0, func(b *testing.B, s *sampler, it int) {
		n := float64(s.n)
		var share float64
		steps := 0
		for b.Loop() {
			s.step(it)
			it++
			busiest := 0
			for _, n := range s.first {
				busiest = max(busiest, n)
			}
			share += float64(busiest) / n
			steps++
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(steps)/n, "ns/point-sweep")
		b.ReportMetric(share/float64(steps), "max-share")
	})
}

// benchBalanced runs body as sub-benchmark d=D/P=P for d = 2, 10 and
// P = 1, 2, 4, 8 on the balanced problem of BenchmarkIteration, with a
// sampler (Workers as given; 0 is GOMAXPROCS) started at the true
// partition and warmed by 5 iterations; it is the next iteration number.
func benchBalanced(b *testing.B, workers int, body func(b *testing.B, s *sampler, it int)) {
	for _, d := range []int{2, 10} {
		x, truth := gaussianMixture(1, 10000, d, 10)
		h, err := EmpiricalNIW(x, DefaultGroups)
		if err != nil {
			b.Fatal(err)
		}
		for _, P := range []int{1, 2, 4, 8} {
			b.Run(fmt.Sprintf("d=%d/P=%d", d, P), func(b *testing.B) {
				s, err := newSampler(flatten(x), len(x), d, Config{Likelihood: h, Procs: P, Seed: 1, InitLabels: truth, Workers: workers})
				if err != nil {
					b.Fatal(err)
				}
				if err := s.initialize(); err != nil {
					b.Fatal(err)
				}
				it := 1
				for ; it <= 5; it++ {
					s.step(it)
				}
				body(b, s, it)
			})
		}
	}
}
