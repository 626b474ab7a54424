package auxdp

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"gonum.org/v1/gonum/integrate/quad"
	"gonum.org/v1/gonum/stat/distuv"
)

// This file checks the whole sampler — local Gibbs with α/P, split–merge,
// the global placement steps and the hyperparameter updates — against the
// exact posterior over all set partitions of tiny data sets, enumerated
// here (Bell(6) = 203 partitions).

// setPartitions returns every set partition of n points as canonical
// labels (restricted growth strings, 1-based).
func setPartitions(n int) [][]int32 {
	var out [][]int32
	cur := make([]int32, n)
	var rec func(i int, k int32)
	rec = func(i int, k int32) {
		if i == n {
			out = append(out, slices.Clone(cur))
			return
		}
		for l := int32(1); l <= k+1; l++ {
			cur[i] = l
			rec(i+1, max(k, l))
		}
	}
	rec(0, 0)
	return out
}

// partKey encodes canonical labels of up to 16 points.
func partKey(lab []int32) uint64 {
	var k uint64
	for _, l := range lab {
		k = k<<4 | uint64(l)
	}
	return k
}

func partSizes(lab []int32) []int {
	var sizes []int
	for _, l := range lab {
		for int(l) > len(sizes) {
			sizes = append(sizes, 0)
		}
		sizes[l-1]++
	}
	return sizes
}

// logPartitionPrior is ln p(z) as a function of the cluster sizes.
type logPartitionPrior func(sizes []int) float64

func fixedPrior(theta, d float64) logPartitionPrior {
	return func(sizes []int) float64 { return logEPPF(sizes, theta, d) }
}

// legendre returns Gauss–Legendre nodes and weights on [lo, hi].
func legendre(n int, lo, hi float64) (x, w []float64) {
	x, w = make([]float64, n), make([]float64, n)
	quad.Legendre{}.FixedLocations(x, w, lo, hi)
	return x, w
}

// gammaMixedPrior is ln ∫ Gamma(α; a, b) EPPF(z; α, d) dα for fixed d,
// by Gauss–Legendre quadrature on ln α.
func gammaMixedPrior(pr GammaPrior, d float64) logPartitionPrior {
	us, ws := legendre(400, -25, 8)
	return func(sizes []int) float64 {
		terms := make([]float64, len(us))
		for i, u := range us {
			a := math.Exp(u)
			terms[i] = math.Log(ws[i]) + pr.Shape*math.Log(pr.Rate) - lgamma(pr.Shape) + pr.Shape*u - pr.Rate*a + logEPPF(sizes, a, d)
		}
		return logSumExp(terms)
	}
}

// pyMixedPrior integrates θ ~ Gamma and d ~ Beta out of the PY EPPF.
func pyMixedPrior(tp GammaPrior, dp BetaPrior) logPartitionPrior {
	us, wu := legendre(200, -25, 8)
	ds, wd := legendre(200, 0, 1)
	return func(sizes []int) float64 {
		var terms []float64
		for i, u := range us {
			th := math.Exp(u)
			lt := math.Log(wu[i]) + tp.Shape*math.Log(tp.Rate) - lgamma(tp.Shape) + tp.Shape*u - tp.Rate*th
			for j, d := range ds {
				ld := math.Log(wd[j]) + (dp.A-1)*math.Log(d) + (dp.B-1)*math.Log1p(-d) + lgamma(dp.A+dp.B) - lgamma(dp.A) - lgamma(dp.B)
				terms = append(terms, lt+ld+logEPPF(sizes, th, d))
			}
		}
		return logSumExp(terms)
	}
}

func logSumExp(v []float64) float64 {
	best := math.Inf(-1)
	for _, x := range v {
		best = max(best, x)
	}
	var s float64
	for _, x := range v {
		s += math.Exp(x - best)
	}
	return best + math.Log(s)
}

// exactPosterior returns p(z | X) ∝ p(z) Π_c m(X_c) for every partition,
// with the cluster marginals of fam.
func exactPosterior(fam family, parts [][]int32, prior logPartitionPrior) []float64 {
	lp := make([]float64, len(parts))
	cache := map[string]float64{}
	for p, lab := range parts {
		sizes := partSizes(lab)
		sk := fmt.Sprint(slices.Sorted(slices.Values(sizes)))
		pz, ok := cache[sk]
		if !ok {
			pz = prior(sizes)
			cache[sk] = pz
		}
		lp[p] = pz
		for c := range sizes {
			st := fam.newStats()
			for i, l := range lab {
				if int(l) == c+1 {
					st.add(i)
				}
			}
			lp[p] += st.logMarginal()
		}
	}
	z := logSumExp(lp)
	out := make([]float64, len(lp))
	for i, v := range lp {
		out[i] = math.Exp(v - z)
	}
	return out
}

// runPartitions runs the sampler for iters iterations and returns the
// index (into parts) of the partition after every iteration.
func runPartitions(t testing.TB, x []float64, n, d int, cfg Config, iters int, parts [][]int32, setup func(*sampler)) []int32 {
	t.Helper()
	index := map[uint64]int32{}
	for i, p := range parts {
		index[partKey(p)] = int32(i)
	}
	s, err := newSampler(x, n, d, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.initialize(); err != nil {
		t.Fatal(err)
	}
	if setup != nil {
		setup(s)
	}
	seq := make([]int32, iters)
	var lab []int32
	for it := 1; it <= iters; it++ {
		s.step(it)
		lab = s.labels(lab)
		seq[it-1] = index[partKey(lab)]
	}
	return seq
}

// batchESS estimates the effective sample size of a series by batch means
// with nb batches.
func batchESS(x []float64, nb int) float64 {
	b := len(x) / nb
	x = x[:b*nb]
	var mean float64
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	var v0 float64
	for _, v := range x {
		v0 += (v - mean) * (v - mean)
	}
	v0 /= float64(len(x) - 1)
	var vb float64
	for k := range nb {
		var m float64
		for _, v := range x[k*b : (k+1)*b] {
			m += v
		}
		m /= float64(b)
		vb += (m - mean) * (m - mean)
	}
	vb /= float64(nb - 1)
	if vb == 0 || v0 == 0 {
		return float64(len(x))
	}
	return math.Min(float64(len(x)), float64(len(x))*v0/(float64(b)*vb))
}

// freqCheck compares the partition frequencies of seq with the exact
// probabilities p by Pearson's chi-square with the sample size replaced by
// an effective sample size: the smallest batch-means ESS among the
// indicators of the partitions with p ≥ 0.02 and the number of clusters
// (so the statistic is conservative for the most autocorrelated of
// them). Cells expected to hold fewer than 5 effective draws are pooled.
// It returns the statistic, its 1 − 1e-4 chi-square quantile, the ESS and
// the total variation distance.
func freqCheck(seq []int32, p []float64, parts [][]int32) (x2, crit, ess, tv float64) {
	f := make([]float64, len(p))
	for _, s := range seq {
		f[s]++
	}
	for i := range f {
		f[i] /= float64(len(seq))
	}
	ess = math.Inf(1)
	series := make([]float64, len(seq))
	for c, pc := range p {
		if pc < 0.02 {
			continue
		}
		for t, s := range seq {
			series[t] = 0
			if int(s) == c {
				series[t] = 1
			}
		}
		ess = math.Min(ess, batchESS(series, 50))
	}
	for t, s := range seq {
		series[t] = float64(len(partSizes(parts[s])))
	}
	ess = math.Min(ess, batchESS(series, 50))
	var cells int
	var restP, restF float64
	for c := range p {
		tv += math.Abs(f[c]-p[c]) / 2
		if ess*p[c] >= 5 {
			x2 += ess * (f[c] - p[c]) * (f[c] - p[c]) / p[c]
			cells++
		} else {
			restP += p[c]
			restF += f[c]
		}
	}
	if restP > 0 {
		x2 += ess * (restF - restP) * (restF - restP) / restP
		cells++
	}
	crit = distuv.ChiSquared{K: float64(cells - 1)}.Quantile(1 - 1e-4)
	return x2, crit, ess, tv
}

// tinyData are six 2-d points in three loose groups.
var tinyData = [][]float64{{0, 0}, {0.4, 0.2}, {2.5, 2.2}, {2.8, 2.6}, {-1.5, 3}, {0.6, -0.3}}

func tinyNIW() NIW {
	return NIW{Mean: []float64{0.5, 1}, Kappa: 0.3, Nu: 4, Psi: []float64{1, 0.2, 0.2, 1}}
}

type exactCase struct {
	name  string
	x     [][]float64
	lik   Likelihood
	cfg   Config
	prior logPartitionPrior
	iters int
	setup func(*sampler)
}

func exactCases(scale int) []exactCase {
	counts := [][]float64{{3, 0, 1}, {2, 1, 0}, {0, 4, 1}, {0, 3, 2}, {1, 1, 1}, {4, 0, 0}}
	diag := DiagNormalGamma{Mean: []float64{0.5, 1}, Kappa: 0.3, Shape: 1.5, Rate: []float64{0.6, 0.6}}
	zeros := func(n int) [][]float64 {
		x := make([][]float64, n)
		for i := range x {
			x[i] = []float64{0}
		}
		return x
	}
	return []exactCase{
		{name: "dp/niw/P=2", x: tinyData, lik: tinyNIW(), cfg: Config{Procs: 2, Alpha: 1}, prior: fixedPrior(1, 0), iters: 40000 * scale},
		{name: "dp/niw/P=3/balanced", x: tinyData, lik: tinyNIW(), cfg: Config{Procs: 3, Alpha: 1.5, Placement: Balanced, MoveFraction: 0.5}, prior: fixedPrior(1.5, 0), iters: 40000 * scale},
		{name: "dp/niw/P=3/alpha-sampled/split-merge", x: tinyData, lik: tinyNIW(), cfg: Config{Procs: 3, AlphaPrior: GammaPrior{2, 2}, SplitMerge: 2}, prior: gammaMixedPrior(GammaPrior{2, 2}, 0), iters: 40000 * scale},
		{name: "dp/diag/P=2/split-merge", x: tinyData, lik: diag, cfg: Config{Procs: 2, Alpha: 0.8, SplitMerge: 3, Sweeps: 1}, prior: fixedPrior(0.8, 0), iters: 40000 * scale},
		{name: "dp/multinomial/P=3", x: counts, lik: DirichletMultinomial{Beta: []float64{0.5, 0.5, 0.5}}, cfg: Config{Procs: 3, Alpha: 1}, prior: fixedPrior(1, 0), iters: 40000 * scale},
		{name: "py/niw/P=3/fixed", x: tinyData, lik: tinyNIW(), cfg: Config{Process: PY, Procs: 3, Alpha: 1, Discount: 0.3}, prior: fixedPrior(1, 0.3), iters: 40000 * scale},
		{name: "py/niw/P=2/balanced/split-merge", x: tinyData, lik: tinyNIW(), cfg: Config{Process: PY, Procs: 2, Alpha: 0.7, Discount: 0.5, Placement: Balanced, SplitMerge: 2}, prior: fixedPrior(0.7, 0.5), iters: 40000 * scale},
		{name: "py/niw/P=3/sampled", x: tinyData, lik: tinyNIW(), cfg: Config{Process: PY, Procs: 3, AlphaPrior: GammaPrior{2, 1}, DiscountPrior: BetaPrior{1, 2}}, prior: pyMixedPrior(GammaPrior{2, 1}, BetaPrior{1, 2}), iters: 40000 * scale},
		// Prior only: all-zero count vectors carry no information, so the
		// posterior is the partition prior itself.
		{name: "prior/ewens/P=2", x: zeros(5), lik: DirichletMultinomial{}, cfg: Config{Procs: 2, Alpha: 1.5}, prior: fixedPrior(1.5, 0), iters: 40000 * scale},
		{name: "prior/pitman-yor/P=3", x: zeros(5), lik: DirichletMultinomial{}, cfg: Config{Process: PY, Procs: 3, Alpha: 1, Discount: 0.25}, prior: fixedPrior(1, 0.25), iters: 40000 * scale},
		{name: "prior/ewens/P=3/balanced", x: zeros(6), lik: DirichletMultinomial{}, cfg: Config{Procs: 3, Alpha: 2, Placement: Balanced}, prior: fixedPrior(2, 0), iters: 40000 * scale},
	}
}

func runExactCases(t *testing.T, scale int) {
	for k, tc := range exactCases(scale) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			n, d := len(tc.x), len(tc.x[0])
			cfg := tc.cfg
			cfg.Likelihood = tc.lik
			cfg.Seed = uint64(100 + k)
			cfg.Workers = 1
			fam, err := tc.lik.bind(flatten(tc.x), n, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			parts := setPartitions(n)
			p := exactPosterior(fam, parts, tc.prior)
			seq := runPartitions(t, flatten(tc.x), n, d, cfg, tc.iters, parts, tc.setup)
			x2, crit, ess, tv := freqCheck(seq, p, parts)
			t.Logf("%d iterations, ESS %.0f, chi-square %.1f (critical %.1f), TV %.4f", tc.iters, ess, x2, crit, tv)
			if x2 > crit {
				t.Errorf("partition frequencies differ from the exact posterior: chi-square %.1f > %.1f (ESS %.0f, TV %.4f)", x2, crit, ess, tv)
			}
		})
	}
}

func TestExactPartitionPosterior(t *testing.T) {
	runExactCases(t, 1)
}

// ruleB is the biased global step of the notes (§3, rule B): move a
// uniformly chosen cluster to a uniformly chosen processor and accept with
// the count-space target ratio a_{j,s}/(a_{k,s}+1), where a_{j,s} counts the
// clusters of size s on processor j, without the Hastings factor of the
// proposal. It is implemented only here, to show the frequency check
// catches it.
func ruleB(s *sampler, r *rand.Rand) {
	P := s.nproc
	count := func(j, size int) int {
		var a int
		for _, c := range s.all {
			if c.proc == j && c.n == size {
				a++
			}
		}
		return a
	}
	for range len(s.all) {
		c := s.all[r.IntN(len(s.all))]
		k := r.IntN(P)
		if k == c.proc {
			continue
		}
		ratio := float64(count(c.proc, c.n)) / float64(count(k, c.n)+1)
		if r.Float64() < ratio {
			c.proc = k
		}
	}
}

// TestBiasedRuleFails shows the check has teeth: with rule B as the global
// step the prior-only sampler (N = 4, P = 2, α = 1; the notes compute
// TV 0.031 from Ewens exactly) fails the same chi-square check that the
// exact step passes.
func TestBiasedRuleFails(t *testing.T) {
	x := [][]float64{{0}, {0}, {0}, {0}}
	cfg := Config{Procs: 2, Alpha: 1, Likelihood: DirichletMultinomial{}, Seed: 5, Workers: 1}
	fam, _ := cfg.Likelihood.bind(flatten(x), 4, 1, nil)
	parts := setPartitions(4)
	p := exactPosterior(fam, parts, fixedPrior(1, 0))
	const iters = 60000
	for _, tc := range []struct {
		name  string
		setup func(*sampler)
		fail  bool
	}{
		{"exact", nil, false},
		{"rule B", func(s *sampler) { s.global = ruleB }, true},
	} {
		seq := runPartitions(t, flatten(x), 4, 1, cfg, iters, parts, tc.setup)
		x2, crit, ess, tv := freqCheck(seq, p, parts)
		var meanK float64
		for _, s := range seq {
			meanK += float64(len(partSizes(parts[s])))
		}
		meanK /= iters
		t.Logf("%s: ESS %.0f, chi-square %.1f (critical %.1f), TV %.4f, E[K] %.4f (exact 2.0833)", tc.name, ess, x2, crit, tv, meanK)
		if failed := x2 > crit; failed != tc.fail {
			t.Errorf("%s: chi-square %.1f vs critical %.1f: failed = %v, want %v", tc.name, x2, crit, failed, tc.fail)
		}
	}
}
