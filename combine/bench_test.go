package combine

import (
	"fmt"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// benchProblem prepares a combination problem of M Gaussian shards of T
// draws in d dimensions at a fixed (Silverman) bandwidth without
// annealing or tempering, so that a sweep is exactly M index updates.
func benchProblem(tb testing.TB, M, T, d int, semi bool) *imgProblem {
	tb.Helper()
	shards, _, _ := gaussianShards(tb, M, T, d, 77, false, false)
	p, err := newIMGProblem(shards, MarkovOptions{Bandwidth: Bandwidth{Rule: BandwidthSilverman}, NoAnneal: true, Levels: 1}, semi, !semi, Settings{Seed: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return p
}

// BenchmarkIndexUpdates measures mixture-index updates (one proposal and
// Metropolis test each) per second of the O(d) samplers, M = 16 shards of
// 5,000 draws.
func BenchmarkIndexUpdates(b *testing.B) {
	for _, semi := range []bool{false, true} {
		for _, d := range []int{2, 10, 50} {
			name := "nonparametric"
			if semi {
				name = "semiparametric"
			}
			b.Run(fmt.Sprintf("%s/d=%d", name, d), func(b *testing.B) {
				const M = 16
				p := benchProblem(b, M, 5000, d, semi)
				c := newIMGChain(p, 1, 0)
				i := 0
				for b.Loop() {
					i++
					c.sweep(i, true)
				}
				rate, _ := c.targetRate()
				b.ReportMetric(float64(M*i)/b.Elapsed().Seconds(), "updates/s")
				b.ReportMetric(rate, "acceptance")
			})
		}
	}
}

// naiveSP is the straightforward semiparametric index sampler, written as
// a baseline: every proposal recomputes log W(t·) from the M whitened
// draws — θ̄ and S in O(M·d), the Gaussian term as a dense quadratic form
// with (Σ_M + (h²/M)I)⁻¹ refactorised every sweep, and the M shard
// densities log N(z_m | μ̂_m, Σ̂_m) as dense quadratic forms, O(M·d²) —
// as parallelMCMCcombine's semiparamDPE does (which moreover calls
// dmvnorm, a Cholesky factorisation per density). It shares the chain's
// random stream, so it makes the same decisions as the O(d) sampler.
type naiveSP struct {
	c      *imgChain
	z      [][][]float64 // whitened draws z = U y
	wmean  [][]float64
	wprec  [][]float64 // whitened shard precisions, d×d row-major
	mu     []float64   // whitened μ_M
	sigmaM *mat.SymDense
	gprec  []float64 // (Σ_M + (h²/M)I)⁻¹ for the current h
	h      float64
	bar    []float64
	dev    []float64
}

func newNaiveSP(c *imgChain) *naiveSP {
	p := c.p
	d := p.d
	n := &naiveSP{c: c, bar: make([]float64, d), dev: make([]float64, d), h: -1}
	y := make([]float64, d)
	for m, rows := range p.rows {
		var zs [][]float64
		for t := range p.T[m] {
			copy(y, rows[t*p.stride:t*p.stride+d])
			z := make([]float64, d)
			p.rotateBack(z, y)
			zs = append(zs, z)
		}
		n.z = append(n.z, zs)
		mean, cov := meanCov(zs, d)
		var ch mat.Cholesky
		ch.Factorize(cov)
		var prec mat.SymDense
		ch.InverseTo(&prec)
		flat := make([]float64, d*d)
		for i := range d {
			for j := range d {
				flat[i*d+j] = prec.At(i, j)
			}
		}
		n.wmean = append(n.wmean, mean)
		n.wprec = append(n.wprec, flat)
	}
	n.mu = make([]float64, d)
	p.rotateBack(n.mu, p.nu)
	u := mat.NewDense(d, d, p.u)
	var ul mat.Dense
	ul.Mul(u, mat.NewDiagDense(d, p.lambda))
	var s mat.Dense
	s.Mul(&ul, u.T())
	n.sigmaM = mat.NewSymDense(d, nil)
	for i := range d {
		for j := 0; j <= i; j++ {
			n.sigmaM.SetSym(i, j, (s.At(i, j)+s.At(j, i))/2)
		}
	}
	n.gprec = make([]float64, d*d)
	return n
}

func (n *naiveSP) setBandwidth(h float64) {
	d := n.c.p.d
	a := mat.NewSymDense(d, nil)
	a.CopySym(n.sigmaM)
	for j := range d {
		a.SetSym(j, j, a.At(j, j)+h*h/float64(n.c.p.M))
	}
	var ch mat.Cholesky
	ch.Factorize(a)
	var inv mat.SymDense
	ch.InverseTo(&inv)
	for i := range d {
		for j := range d {
			n.gprec[i*d+j] = inv.At(i, j)
		}
	}
	n.h = h
}

// logW returns log W(t·) up to a constant, from scratch.
func (n *naiveSP) logW(t []int) float64 {
	p := n.c.p
	d, M := p.d, p.M
	for j := range n.bar {
		n.bar[j] = 0
	}
	for m, tm := range t {
		for j, v := range n.z[m][tm] {
			n.bar[j] += v / float64(M)
		}
	}
	S := 0.0
	for m, tm := range t {
		for j, v := range n.z[m][tm] {
			e := v - n.bar[j]
			S += e * e
		}
	}
	for j := range n.dev {
		n.dev[j] = n.bar[j] - n.mu[j]
	}
	g := 0.0
	for i := range d {
		for j := range d {
			g += n.dev[i] * n.gprec[i*d+j] * n.dev[j]
		}
	}
	den := 0.0
	for m, tm := range t {
		z := n.z[m][tm]
		for i := range d {
			for j := range d {
				den += (z[i] - n.wmean[m][i]) * n.wprec[m][i*d+j] * (z[j] - n.wmean[m][j])
			}
		}
	}
	return -S/(2*n.h*n.h) - 0.5*g + 0.5*den
}

func (n *naiveSP) sweep(h float64) {
	c := n.c
	n.setBandwidth(h) // once per sweep, as h may change every sweep
	t := c.states[0].t
	cur := n.logW(t)
	props := c.propose(0)
	for m := range c.p.M {
		a := t[m]
		b := props[m]
		t[m] = b
		prop := n.logW(t)
		if c.accept(prop - cur) {
			cur = prop
		} else {
			t[m] = a
		}
	}
}

// The O(d) sampler and the O(M·d²) baseline make the same moves from the
// same random stream.
func TestNaiveBaselineAgrees(t *testing.T) {
	p := benchProblem(t, 6, 800, 4, true)
	fast := newIMGChain(p, 3, 0)
	slow := newIMGChain(p, 3, 0)
	naive := newNaiveSP(slow)
	for i := 1; i <= 300; i++ {
		fast.sweep(i, false)
		naive.sweep(p.h)
		if fmt.Sprint(fast.states[0].t) != fmt.Sprint(slow.states[0].t) {
			t.Fatalf("sweep %d: indices %v vs baseline %v", i, fast.states[0].t, slow.states[0].t)
		}
	}
}

// BenchmarkBaselineComparison runs the O(d) semiparametric sampler and the
// naive baseline on the same inputs (d = 10, M = 8, T = 5,000, the
// published parallelMCMCcombine comparison point) and reports both rates
// and their ratio.
func BenchmarkBaselineComparison(b *testing.B) {
	const M = 8
	p := benchProblem(b, M, 5000, 10, true)
	fast := newIMGChain(p, 1, 0)
	slow := newIMGChain(p, 1, 0)
	naive := newNaiveSP(slow)
	const sweeps = 2000
	var fastSec, slowSec float64
	for b.Loop() {
		start := b.Elapsed()
		for i := 1; i <= sweeps; i++ {
			fast.sweep(i, false)
		}
		mid := b.Elapsed()
		for range sweeps {
			naive.sweep(p.h)
		}
		fastSec += (mid - start).Seconds()
		slowSec += (b.Elapsed() - mid).Seconds()
	}
	n := float64(M * sweeps * b.N)
	b.ReportMetric(n/fastSec, "fast-updates/s")
	b.ReportMetric(n/slowSec, "naive-updates/s")
	b.ReportMetric(slowSec/fastSec, "speedup")
}
