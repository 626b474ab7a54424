package sis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
)

// BenchmarkBootstrapLG is the speed target of the brief: the bootstrap
// filter on the linear Gaussian model (ρ = 0.9, σX = 1, σY = 0.2), N = 10⁵,
// T = 100, reported in ns per particle-step for 1 and 2 workers.
func BenchmarkBootstrapLG(b *testing.B) {
	m := &LinearGauss{Rho: 0.9, SigmaX: 1, SigmaY: 0.2}
	_, m.Y = m.Simulate(100, rand.New(rand.NewPCG(1, 2)))
	const n = 100_000
	for _, s := range []Scheme{SSP, Systematic, Multinomial} {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/workers=%d", s, w), func(b *testing.B) {
				cfg := FilterConfig{Particles: n, Scheme: s, Workers: w}
				for b.Loop() {
					if _, err := RunFilter(context.Background(), m, cfg); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(n*len(m.Y)), "ns/particle-step")
			})
		}
	}
}
