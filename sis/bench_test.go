package sis

import (
	"context"
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"
)

// cpuTime returns the CPU time (user + system) of the process so far: on a
// shared, loaded machine it measures the work done better than wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkBootstrapLG is the speed target of the brief: the bootstrap
// filter on the linear Gaussian model (ρ = 0.9, σX = 1, σY = 0.2), N = 10⁵,
// T = 100, reported in ns per particle-step for 1 and 2 workers.
func BenchmarkBootstrapLG(b *testing.B) {
	m := &LinearGauss{Rho: 0.9, SigmaX: 1, SigmaY: 0.2}
	_, m.Y = m.Simulate(100, rand.New(rand.NewPCG(1, 2)))
	const n = 100_000
	for _, s := range Schemes {
		for _, w := range []int{1, 2} {
			b.Run(fmt.Sprintf("%v/workers=%d", s, w), func(b *testing.B) {
				cfg := FilterConfig{Particles: n, Scheme: s, Workers: w}
				cpu0 := cpuTime()
				for b.Loop() {
					if _, err := RunFilter(context.Background(), m, cfg); err != nil {
						b.Fatal(err)
					}
				}
				steps := float64(b.N) * float64(n*len(m.Y))
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/steps, "ns/particle-step")
				// CPU time per particle-step, summed over the workers: the
				// cost per core, less sensitive to a loaded machine than the
				// wall time (equal to it times the workers when the
				// speed-up is perfect).
				b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/steps, "cpu-ns/particle-step")
			})
		}
	}
}

// BenchmarkBlockedResample measures the filter's block-wise resampling of
// N = 10⁵ particles on one goroutine.
func BenchmarkBlockedResample(b *testing.B) {
	const n = 100_000
	r := rand.New(rand.NewPCG(1, 2))
	w := make([]float64, n)
	for i := range w {
		w[i] = r.ExpFloat64()
	}
	nb := (n + BlockSize - 1) / BlockSize
	scale, sums := make([]float64, nb), make([]float64, nb)
	pcgs := make([]*rand.PCG, nb)
	total := 0.0
	for k := range nb {
		scale[k], pcgs[k] = 1, rand.NewPCG(3, uint64(k))
		for i := k * BlockSize; i < min((k+1)*BlockSize, n); i++ {
			sums[k] += w[i]
		}
		total += sums[k]
	}
	seq := func(task func(int)) {
		for k := range nb {
			task(k)
		}
	}
	dst := make([]int, n)
	for _, s := range Schemes {
		b.Run(s.String(), func(b *testing.B) {
			br := newBlockedResampler(s, n, BlockSize)
			cpu0 := cpuTime()
			for b.Loop() {
				br.resample(dst, w, scale, sums, total, pcgs, r, seq)
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Nanoseconds())/float64(b.N)/n, "cpu-ns/particle")
		})
	}
}
