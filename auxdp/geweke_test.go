package auxdp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/epmc/epmc/rng"
)

// This file is Geweke's (2004, JASA 99:799–804) "getting it right" test of
// the joint distribution: draws of (hyperparameters, z, X) from the prior
// (marginal-conditional simulator) must have the same distribution as the
// chain that alternates one full sampler iteration with a fresh draw of X
// given z (successive-conditional simulator). Errors anywhere in the
// sampler — local conditionals, split–merge ratios, placement, α, θ, d —
// show up as differences in the means of test functions.

// gewekeModel draws data given a partition from the base measure and
// likelihood, and a partition (with hyperparameters) from the prior.
type gewekeModel struct {
	lik  Likelihood
	proc Process
	ap   GammaPrior
	dp   BetaPrior
	n, d int
}

// drawPartition draws (α or θ, d, z) from the prior by the sequential
// (Pitman–Yor) Chinese restaurant process.
func (g gewekeModel) drawPartition(r *rand.Rand) (theta, disc float64, z []int) {
	theta = sampleGamma(r, g.ap.Shape) / g.ap.Rate
	if g.proc == PY {
		disc = sampleBeta(r, g.dp.A, g.dp.B)
	}
	z = make([]int, g.n)
	var sizes []int
	for i := range g.n {
		w := make([]float64, len(sizes)+1)
		var tot float64
		for c, s := range sizes {
			w[c] = float64(s) - disc
			tot += w[c]
		}
		w[len(sizes)] = theta + disc*float64(len(sizes))
		tot += w[len(sizes)]
		c := sampleWeights(r, w, tot)
		if c == len(sizes) {
			sizes = append(sizes, 0)
		}
		sizes[c]++
		z[i] = c
	}
	return theta, disc, z
}

// drawData draws X | z: component parameters from H, points from F.
func (g gewekeModel) drawData(r *rand.Rand, z []int) []float64 {
	k := 0
	for _, c := range z {
		k = max(k, c+1)
	}
	x := make([]float64, g.n*g.d)
	d := g.d
	switch h := g.lik.(type) {
	case NIW:
		lw := lowerCholInverse(h.Psi, d)
		for c := range k {
			sq := drawInvWishartSqrt(r, h.Nu, lw, d)
			mu := make([]float64, d)
			e := make([]float64, d)
			for a := range d {
				e[a] = r.NormFloat64() / math.Sqrt(h.Kappa)
			}
			for a := range d {
				mu[a] = h.Mean[a]
				for b := range d {
					mu[a] += sq[a*d+b] * e[b]
				}
			}
			for i, zi := range z {
				if zi != c {
					continue
				}
				for a := range d {
					e[a] = r.NormFloat64()
				}
				for a := range d {
					v := mu[a]
					for b := range d {
						v += sq[a*d+b] * e[b]
					}
					x[i*d+a] = v
				}
			}
		}
	case DiagNormalGamma:
		for c := range k {
			for a := range d {
				lam := sampleGamma(r, h.Shape) / h.Rate[a]
				mu := h.Mean[a] + r.NormFloat64()/math.Sqrt(h.Kappa*lam)
				for i, zi := range z {
					if zi == c {
						x[i*d+a] = mu + r.NormFloat64()/math.Sqrt(lam)
					}
				}
			}
		}
	case DirichletMultinomial:
		const total = 4
		for c := range k {
			p := make([]float64, d)
			var s float64
			for a := range d {
				p[a] = sampleGamma(r, h.Beta[a])
				s += p[a]
			}
			for i, zi := range z {
				if zi != c {
					continue
				}
				for range total {
					x[i*d+sampleWeights(r, p, s)]++
				}
			}
		}
	}
	return x
}

// lowerCholInverse returns the lower Cholesky factor L of Ψ⁻¹ (L Lᵀ = Ψ⁻¹).
func lowerCholInverse(psi []float64, d int) []float64 {
	r, _ := cholesky(append([]float64(nil), psi...), d) // Ψ = RᵀR
	rinv := triInverseUpper(r, d)                       // Ψ⁻¹ = R⁻¹R⁻ᵀ
	inv := make([]float64, d*d)
	for a := range d {
		for b := range d {
			for k := range d {
				inv[a*d+b] += rinv[a*d+k] * rinv[b*d+k]
			}
		}
	}
	u, _ := cholesky(inv, d)
	l := make([]float64, d*d)
	for a := range d {
		for b := range d {
			l[a*d+b] = u[b*d+a]
		}
	}
	return l
}

// triInverseUpper inverts an upper-triangular matrix.
func triInverseUpper(r []float64, d int) []float64 {
	inv := make([]float64, d*d)
	for j := range d {
		inv[j*d+j] = 1 / r[j*d+j]
		for i := j - 1; i >= 0; i-- {
			var s float64
			for k := i + 1; k <= j; k++ {
				s += r[i*d+k] * inv[k*d+j]
			}
			inv[i*d+j] = -s / r[i*d+i]
		}
	}
	return inv
}

// drawInvWishartSqrt draws Σ ~ IW(ν, Ψ) and returns S with S Sᵀ = Σ, by the
// Bartlett decomposition of Σ⁻¹ ~ Wishart(ν, Ψ⁻¹) = (LA)(LA)ᵀ, so that
// S = (LA)⁻ᵀ; lw is L.
func drawInvWishartSqrt(r *rand.Rand, nu float64, lw []float64, d int) []float64 {
	a := make([]float64, d*d)
	for i := range d {
		a[i*d+i] = math.Sqrt(2 * sampleGamma(r, (nu-float64(i))/2))
		for j := range i {
			a[i*d+j] = r.NormFloat64()
		}
	}
	// M = L A is lower triangular; Mᵀ is upper triangular.
	mt := make([]float64, d*d)
	for i := range d {
		for j := 0; j <= i; j++ {
			var s float64
			for k := j; k <= i; k++ {
				s += lw[i*d+k] * a[k*d+j]
			}
			mt[j*d+i] = s
		}
	}
	return triInverseUpper(mt, d) // (Mᵀ)⁻¹ = M⁻ᵀ
}

// gewekeStats are the test functions g(θ, d, z, X).
func gewekeStats(theta, disc float64, z []int, x []float64, d int) []float64 {
	n := len(z)
	k := 0
	for _, c := range z {
		k = max(k, c+1)
	}
	sizes := make([]int, k)
	means := make([]float64, k*d)
	for i, c := range z {
		sizes[c]++
		for a := range d {
			means[c*d+a] += x[i*d+a]
		}
	}
	largest := 0
	for c, s := range sizes {
		largest = max(largest, s)
		for a := range d {
			means[c*d+a] /= float64(s)
		}
	}
	var m0, m02, within float64
	for i, c := range z {
		m0 += x[i*d]
		m02 += x[i*d] * x[i*d]
		for a := range d {
			u := x[i*d+a] - means[c*d+a]
			within += u * u
		}
	}
	nf := float64(n)
	return []float64{theta, disc, float64(k), float64(largest), m0 / nf, m02 / nf, within / nf}
}

var gewekeNames = []string{"alpha|theta", "discount", "K", "largest", "mean x1", "mean x1²", "within-cluster SS"}

// canonical returns the labels of the sampler's state as 0-based ints.
func canonical(s *sampler) []int {
	lab := s.labels(nil)
	z := make([]int, len(lab))
	for i, l := range lab {
		z[i] = int(l) - 1
	}
	return z
}

// resetData gives the sampler new data and recomputes every cluster.
func resetData(t testing.TB, s *sampler, x []float64) {
	if err := s.fam.setData(x); err != nil {
		t.Fatal(err)
	}
	for _, c := range s.all {
		c.st.clear()
	}
	for i, c := range s.zc {
		c.st.add(i)
	}
}

func runGeweke(t *testing.T, g gewekeModel, cfg Config, m int, seed uint64) {
	r := rng.NewRand(seed, 1)
	// Marginal-conditional: independent draws from the joint prior.
	var marg [][]float64
	for range m {
		th, dc, z := g.drawPartition(r)
		marg = append(marg, gewekeStats(th, dc, z, g.drawData(r, z), g.d))
	}
	// Successive-conditional: sampler step, then X | z.
	th, dc, z := g.drawPartition(r)
	x := g.drawData(r, z)
	cfg.Likelihood = g.lik
	cfg.Process = g.proc
	cfg.AlphaPrior, cfg.DiscountPrior = g.ap, g.dp
	cfg.Seed = seed
	cfg.Workers = 1
	cfg.InitLabels = z
	s, err := newSampler(x, g.n, g.d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.alpha, s.disc = th, dc
	if err := s.initialize(); err != nil {
		t.Fatal(err)
	}
	var succ [][]float64
	for it := 1; it <= m; it++ {
		s.step(it)
		z := canonical(s)
		x = g.drawData(r, z)
		resetData(t, s, x)
		succ = append(succ, gewekeStats(s.alpha, s.disc, z, x, g.d))
	}
	for j, name := range gewekeNames {
		if g.proc == DP && name == "discount" {
			continue
		}
		a := column(marg, j)
		b := column(succ, j)
		ma, va := meanVar(a)
		mb, vb := meanVar(b)
		essB := batchESS(b, 50)
		se := math.Sqrt(va/float64(len(a)) + vb/essB)
		zs := (ma - mb) / se
		t.Logf("%-18s prior %9.4f  sampler %9.4f  z %6.2f  (ESS %.0f)", name, ma, mb, zs, essB)
		// Seven test functions: |z| > 4.5 has probability ≈ 5e-5 in all.
		if math.Abs(zs) > 4.5 {
			t.Errorf("%s: joint-distribution means differ by %.2f standard errors", name, zs)
		}
	}
}

func column(rows [][]float64, j int) []float64 {
	out := make([]float64, len(rows))
	for i, r := range rows {
		out[i] = r[j]
	}
	return out
}

func meanVar(x []float64) (m, v float64) {
	for _, u := range x {
		m += u
	}
	m /= float64(len(x))
	for _, u := range x {
		v += (u - m) * (u - m)
	}
	return m, v / float64(len(x)-1)
}

func gewekeCases() []struct {
	name string
	g    gewekeModel
	cfg  Config
} {
	niw := NIW{Mean: []float64{0, 1}, Kappa: 0.5, Nu: 5, Psi: []float64{2, 0.5, 0.5, 1}}
	diag := DiagNormalGamma{Mean: []float64{0, 1, -1}, Kappa: 0.5, Shape: 3, Rate: []float64{2, 1, 3}}
	dm := DirichletMultinomial{Beta: []float64{0.5, 1, 2}}
	return []struct {
		name string
		g    gewekeModel
		cfg  Config
	}{
		{"dp/niw/P=3/split-merge", gewekeModel{lik: niw, proc: DP, ap: GammaPrior{2, 1}, n: 8, d: 2}, Config{Procs: 3, SplitMerge: 2}},
		{"dp/diag/P=2/balanced", gewekeModel{lik: diag, proc: DP, ap: GammaPrior{1, 1}, n: 8, d: 3}, Config{Procs: 2, Placement: Balanced, SplitMerge: 1}},
		{"dp/multinomial/P=2", gewekeModel{lik: dm, proc: DP, ap: GammaPrior{2, 2}, n: 8, d: 3}, Config{Procs: 2, SplitMerge: 1}},
		{"py/niw/P=2/split-merge", gewekeModel{lik: niw, proc: PY, ap: GammaPrior{2, 1}, dp: BetaPrior{1, 1}, n: 8, d: 2}, Config{Procs: 2, SplitMerge: 2}},
		{"py/diag/P=3/balanced", gewekeModel{lik: diag, proc: PY, ap: GammaPrior{3, 2}, dp: BetaPrior{2, 3}, n: 8, d: 3}, Config{Procs: 3, Placement: Balanced, MoveFraction: 0.5}},
	}
}

func TestGeweke(t *testing.T) {
	for k, tc := range gewekeCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runGeweke(t, tc.g, tc.cfg, 10000, uint64(200+k))
		})
	}
}

func TestGewekeStatsNames(t *testing.T) {
	if got := len(gewekeStats(1, 0, []int{0}, []float64{1}, 1)); got != len(gewekeNames) {
		t.Fatal(fmt.Sprint(got, len(gewekeNames)))
	}
}
