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
			perRow(b, c.n, func() { target.LogDensity(theta, grad) })
		})
	}
}

// BenchmarkLogDensityGrad times the log density and gradient of every
// model at N = 20,000 rows (D = 5 predictors, or d = 2 dimensions and
// K = 3 components), in ns per row.
func BenchmarkLogDensityGrad(b *testing.B) {
	const n = 20000
	for _, c := range []struct {
		model string
		sim   SimConfig
		opts  Options
	}{
		{"normal", SimConfig{N: n, D: 2}, Options{Y: cols("y", 2)}},
		{"linear", SimConfig{N: n, D: 5}, Options{X: cols("x", 5)}},
		{"logistic", SimConfig{N: n, D: 5}, Options{X: cols("x", 5)}},
		{"poisson", SimConfig{N: n, D: 5}, Options{X: cols("x", 5)}},
		{"mixture", SimConfig{N: n, D: 2, K: 3}, Options{Y: cols("y", 2), Components: 3}},
	} {
		b.Run(c.model, func(b *testing.B) {
			tab, _, err := Simulate(c.model, c.sim)
			if err != nil {
				b.Fatal(err)
			}
			rows := make([]int, n)
			for i := range rows {
				rows[i] = i
			}
			m, _, err := Build(c.model, tab, rows, c.opts)
			if err != nil {
				b.Fatal(err)
			}
			target := subpost.Subposterior(m, 1)
			theta := points(m.Dim(), 1, 3)[0]
			grad := make([]float64, m.Dim())
			perRow(b, n, func() { target.LogDensity(theta, grad) })
		})
	}
}

// perRow runs f in a b.Loop on a locked OS thread and reports wall and
// thread CPU time per data row.
func perRow(b *testing.B, rows int, f func()) {
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, cpuOK := threadCPU()
	for b.Loop() {
		f()
	}
	cpu1, _ := threadCPU()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(rows), "ns/row")
	if cpuOK {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/float64(rows), "cpu-ns/row")
	}
}
