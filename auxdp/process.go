package auxdp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Process is the random-measure prior of the mixture.
type Process int

const (
	// DP is the Dirichlet process DP(α, H).
	DP Process = iota
	// PY is the Pitman–Yor process PY(d, θ, H) with discount 0 ≤ d < 1
	// and strength θ > 0; d = 0 is DP(θ). Its cluster sizes follow a
	// power law, and its number of clusters grows like N^d.
	PY
)

func (p Process) String() string {
	switch p {
	case DP:
		return "dp"
	case PY:
		return "py"
	}
	return fmt.Sprintf("Process(%d)", int(p))
}

// GammaPrior is a Gamma(Shape, Rate) prior (Rate is an inverse scale). The
// zero value means Gamma(1, 1), an exponential prior with mean 1.
type GammaPrior struct {
	Shape, Rate float64
}

func (g GammaPrior) orDefault() GammaPrior {
	if g.Shape == 0 && g.Rate == 0 {
		return GammaPrior{1, 1}
	}
	return g
}

func (g GammaPrior) logDensity(x float64) float64 {
	return (g.Shape-1)*math.Log(x) - g.Rate*x
}

// BetaPrior is a Beta(A, B) prior; the zero value means Beta(1, 1), the
// uniform distribution.
type BetaPrior struct {
	A, B float64
}

func (b BetaPrior) orDefault() BetaPrior {
	if b.A == 0 && b.B == 0 {
		return BetaPrior{1, 1}
	}
	return b
}

func (b BetaPrior) logDensity(x float64) float64 {
	return (b.A-1)*math.Log(x) + (b.B-1)*math.Log1p(-x)
}

// logEPPF is the log exchangeable partition probability function of the
// PY(d, θ) (DP(θ) when d = 0) for clusters of the given sizes:
//
//	ln p(z) = Σ_{i=1}^{K−1} ln(θ + i d) − ln[Γ(θ+N)/Γ(θ+1)] + Σ_c ln[Γ(n_c−d)/Γ(1−d)].
//
// With the processors' placement summed out this is also the marginal of
// the auxiliary-variable model (notes, (★) and the Vandermonde identity).
func logEPPF(sizes []int, theta, d float64) float64 {
	n := 0
	for _, s := range sizes {
		n += s
	}
	k := len(sizes)
	v := -lgamma(theta+float64(n)) + lgamma(theta+1)
	for i := 1; i < k; i++ {
		v += math.Log(theta + float64(i)*d)
	}
	lg1 := lgamma(1 - d)
	for _, s := range sizes {
		v += lgamma(float64(s)-d) - lg1
	}
	return v
}

// escobarWest draws α from p(α | K, N) ∝ p(α) α^K Γ(α)/Γ(α+N) under a
// Gamma(a, b) prior by the auxiliary-variable method of Escobar & West
// (1995, JASA 90:577–588, §6): η ~ Beta(α+1, N), then α from a two-part
// gamma mixture. K and N are the global counts: with the placement of the
// clusters on processors collapsed, p(α | z, π) is exactly this.
func escobarWest(r *rand.Rand, alpha float64, k, n int, pr GammaPrior) float64 {
	eta := sampleBeta(r, alpha+1, float64(n))
	rate := pr.Rate - math.Log(eta)
	a := pr.Shape + float64(k) - 1
	shape := pr.Shape + float64(k)
	if r.Float64()*(a+float64(n)*rate) >= a {
		shape--
	}
	return sampleGamma(r, shape) / rate
}

// pyPosterior is ln p(θ, d | z) up to a constant, with the sizes given as
// distinct values and multiplicities so each evaluation costs O(#sizes).
type pyPosterior struct {
	vals, mult []int
	n, k       int
	thetaPr    GammaPrior
	discPr     BetaPrior
}

func newPYPosterior(sizes []int, thetaPr GammaPrior, discPr BetaPrior) *pyPosterior {
	p := &pyPosterior{k: len(sizes), thetaPr: thetaPr, discPr: discPr}
	sorted := slices.Clone(sizes)
	slices.Sort(sorted)
	for i, s := range sorted {
		p.n += s
		if i > 0 && s == sorted[i-1] {
			p.mult[len(p.mult)-1]++
			continue
		}
		p.vals = append(p.vals, s)
		p.mult = append(p.mult, 1)
	}
	return p
}

func (p *pyPosterior) logDensity(theta, d float64) float64 {
	if !(theta > 0) || !(d >= 0) || !(d < 1) || math.IsInf(theta, 0) {
		return math.Inf(-1)
	}
	v := p.thetaPr.logDensity(theta) + p.discPr.logDensity(d)
	v += -lgamma(theta+float64(p.n)) + lgamma(theta+1)
	for i := 1; i < p.k; i++ {
		v += math.Log(theta + float64(i)*d)
	}
	lg1 := lgamma(1 - d)
	for j, s := range p.vals {
		v += float64(p.mult[j]) * (lgamma(float64(s)-d) - lg1)
	}
	return v
}

// slicePY updates (θ, d) of the Pitman–Yor process by univariate slice
// sampling (Neal 2003, Ann. Statist. 31:705–767, stepping out and
// shrinkage), θ on the log scale, d on [0, 1); fixed values are kept.
func slicePY(r *rand.Rand, theta, d float64, p *pyPosterior, fixTheta, fixD bool) (float64, float64) {
	if !fixTheta {
		u := sliceStep(r, math.Log(theta), func(u float64) float64 {
			t := math.Exp(u)
			return p.logDensity(t, d) + u
		}, 1, math.Inf(-1), 30)
		theta = math.Exp(u)
	}
	if !fixD {
		d = sliceStep(r, d, func(x float64) float64 { return p.logDensity(theta, x) }, 0.1, 0, 1)
	}
	return theta, d
}

// sliceStep is one slice-sampling update of x0 under the log density logf,
// with initial width w, at most 32 step-outs, restricted to (lo, hi).
func sliceStep(r *rand.Rand, x0 float64, logf func(float64) float64, w, lo, hi float64) float64 {
	y := logf(x0) - r.ExpFloat64()
	left := x0 - w*r.Float64()
	right := left + w
	const m = 32
	j := r.IntN(m)
	k := m - 1 - j
	for j > 0 && left > lo && logf(left) > y {
		left -= w
		j--
	}
	for k > 0 && right < hi && logf(right) > y {
		right += w
		k--
	}
	left, right = max(left, lo), min(right, hi)
	for {
		x1 := left + r.Float64()*(right-left)
		if x1 > lo && x1 < hi && logf(x1) > y {
			return x1
		}
		if x1 == x0 {
			return x0
		}
		if x1 < x0 {
			left = x1
		} else {
			right = x1
		}
	}
}

// sampleGamma draws from Gamma(shape, 1) by Marsaglia & Tsang (2000, ACM
// TOMS 26:363–372), boosting shapes below 1 by U^(1/shape).
func sampleGamma(r *rand.Rand, shape float64) float64 {
	if shape < 1 {
		return sampleGamma(r, shape+1) * math.Pow(r.Float64(), 1/shape)
	}
	d := shape - 1.0/3
	c := 1 / math.Sqrt(9*d)
	for {
		x := r.NormFloat64()
		v := 1 + c*x
		if v <= 0 {
			continue
		}
		v = v * v * v
		u := r.Float64()
		if u < 1-0.0331*x*x*x*x || math.Log(u) < 0.5*x*x+d*(1-v+math.Log(v)) {
			return d * v
		}
	}
}

// sampleBeta draws from Beta(a, b) as a ratio of gammas.
func sampleBeta(r *rand.Rand, a, b float64) float64 {
	x := sampleGamma(r, a)
	y := sampleGamma(r, b)
	return x / (x + y)
}

// sampleLogWeights draws an index with probability proportional to
// exp(w[i]), overwriting w.
func sampleLogWeights(r *rand.Rand, w []float64) int {
	best := math.Inf(-1)
	for _, v := range w {
		best = max(best, v)
	}
	var tot float64
	for i, v := range w {
		e := math.Exp(v - best)
		w[i] = e
		tot += e
	}
	return sampleWeights(r, w, tot)
}

// sampleWeights draws an index with probability w[i]/tot.
func sampleWeights(r *rand.Rand, w []float64, tot float64) int {
	u := r.Float64() * tot
	last := -1
	for i, e := range w {
		if e > 0 {
			last = i
			u -= e
			if u < 0 {
				return i
			}
		}
	}
	return last
}
