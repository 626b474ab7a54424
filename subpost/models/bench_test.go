package models

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/epmc/epmc/subpost"
)

// BenchmarkLogisticLogDensityGrad times the subposterior log density and
// gradient of the logistic model (prior + likelihood, as NUTS calls it) and
// reports ns per data row, in wall time (ns/row) and, on Linux, in CPU time
// of the benchmark's thread (cpu-ns/row), which stays meaningful on a
// loaded machine. The side-by-side with Stan needs ≤ 58 ns/row at
// N = 5,000, D = 25 (Stan's bernoulli_logit_glm on this machine class).
func BenchmarkLogisticLogDensityGrad(b *testing.B) {
	for _, c := range []struct{ n, d int }{{5000, 25}, {20000, 5}} {
		b.Run(fmt.Sprintf("N=%d/D=%d", c.n, c.d), func(b *testing.B) {
			tab, _, err := Simulate("logistic", SimConfig{N: c.n, D: c.d, Seed: 1, Rho: 0.3})
			if err != nil {
				b.Fatal(err)
			}
			rows := make([]int, c.n)
			for i := range rows {
				rows[i] = i
			}
			m, _, err := Build("logistic", tab, rows, Options{X: cols("x", c.d)})
			if err != nil {
				b.Fatal(err)
			}
			target := subpost.Subposterior(m, 1)
			theta := points(m.Dim(), 1, 3)[0]
			grad := make([]float64, m.Dim())
			b.ReportAllocs()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			cpu0, cpuOK := threadCPU()
			for b.Loop() {
				target.LogDensity(theta, grad)
			}
			cpu1, _ := threadCPU()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(c.n), "ns/row")
			if cpuOK {
				b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/float64(c.n), "cpu-ns/row")
			}
		})
	}
}
