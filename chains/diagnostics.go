package chains

import (
	"fmt"
	"math"
	"math/bits"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
	"gonum.org/v1/gonum/mathext"
)

// The convergence diagnostics of Vehtari, Gelman, Simpson, Carpenter &
// Bürkner (2021), "Rank-normalization, folding, and localization: an
// improved R-hat for assessing convergence of MCMC", Bayesian Analysis
// 16(2), 667–718, exactly as R's posterior package (version 1.4.0,
// R/convergence.R) computes them, including its treatment of short,
// constant and non-finite draws: where posterior returns NA these return
// NaN. The test suite compares them with posterior's output to 1e-8
// relative error on AR(1), heavy-tailed, tied, constant and very short
// chains (testdata/posterior/make_golden.R).
//
// For chains of 2 or 3 draws posterior's answers depend on how it is
// called: summarise_draws passes its functions draws_array objects, whose
// halves keep their shape, while ess_quantile (and so ess_tail,
// ess_median and mcse_quantile) converts to a plain matrix, which
// split_chains then reshapes. These functions give what summarise_draws
// gives, in every case.
//
// Every function takes the draws of one variable as x[chain][iteration];
// all chains must have the same length (a ragged x is a programming error
// and panics). Chains are split in half as posterior does: for an odd
// number of iterations the middle draw of each chain is left out of the
// split-chain diagnostics.
//
// The package-level functions each compute one value. To compute several
// values of the same variable, or to go through many variables without
// allocating, use a Diagnostics, which shares the sort, the rank
// normalisation and the autocovariances between them.

// Rhat returns the rank-normalised split R-hat: the larger of the split
// R-hat of the rank-normalised draws and of the rank-normalised folded
// draws |x − median(x)| (Vehtari et al. 2021, eq. 4–5; posterior::rhat).
func Rhat(x [][]float64) float64 { return with(x, (*Diagnostics).Rhat) }

// RhatBasic returns the classic split R-hat of the draws themselves,
// without rank normalisation or folding (posterior::rhat_basic).
func RhatBasic(x [][]float64) float64 { return with(x, (*Diagnostics).RhatBasic) }

// EssBulk returns the bulk effective sample size: the ESS of the
// rank-normalised split chains (Vehtari et al. 2021, §4.1;
// posterior::ess_bulk).
func EssBulk(x [][]float64) float64 { return with(x, (*Diagnostics).EssBulk) }

// EssTail returns the tail effective sample size: the smaller of the ESS of
// the indicators x ≤ q5 and x ≤ q95 (posterior::ess_tail).
func EssTail(x [][]float64) float64 { return with(x, (*Diagnostics).EssTail) }

// EssMean returns the ESS of the split chains themselves, the effective
// sample size for the mean (posterior::ess_mean).
func EssMean(x [][]float64) float64 { return with(x, (*Diagnostics).EssMean) }

// EssSd returns the ESS for the standard deviation as posterior 1.4.0
// defines it: the ESS of the split chains of |x − mean(x)|
// (posterior::ess_sd; posterior ≥ 1.5 uses (x − mean(x))² instead).
func EssSd(x [][]float64) float64 { return with(x, (*Diagnostics).EssSd) }

// EssMedian returns the ESS for the median, EssQuantile(x, 0.5)
// (posterior::ess_median).
func EssMedian(x [][]float64) float64 { return with(x, (*Diagnostics).EssMedian) }

// EssQuantile returns the ESS for the p-quantile: the ESS of the split
// chains of the indicator x ≤ q_p (posterior::ess_quantile). For p = 1 the
// quantile at (S − 0.5)/S of the S draws is used, as in posterior. It
// panics if p is outside [0, 1].
func EssQuantile(x [][]float64, p float64) float64 {
	return with(x, func(g *Diagnostics) float64 { return g.EssQuantile(p) })
}

// McseMean returns the Monte Carlo standard error of the mean,
// sd(x)/√EssMean(x) (posterior::mcse_mean; CmdStan's stansummary divides by
// the ESS of unsplit chains instead).
func McseMean(x [][]float64) float64 { return with(x, (*Diagnostics).McseMean) }

// McseSd returns the Monte Carlo standard error of the standard deviation
// by the delta method, with the ESS of (x − mean)² (posterior::mcse_sd).
func McseSd(x [][]float64) float64 { return with(x, (*Diagnostics).McseSd) }

// McseMedian returns McseQuantile(x, 0.5) (posterior::mcse_median).
func McseMedian(x [][]float64) float64 { return with(x, (*Diagnostics).McseMedian) }

// McseQuantile returns the Monte Carlo standard error of the p-quantile:
// half the distance between the order statistics at the 15.9% and 84.1%
// points of a Beta(ESS·p + 1, ESS·(1 − p) + 1) (Vehtari et al. 2021, §4.3;
// posterior::mcse_quantile). It panics if p is outside [0, 1].
func McseQuantile(x [][]float64, p float64) float64 {
	return with(x, func(g *Diagnostics) float64 { return g.McseQuantile(p) })
}

// Quantile returns the p-quantile of all draws by R's default definition
// (type 7, numpy's "linear"); NaN if any draw is NaN (posterior::quantile2).
// It panics if p is outside [0, 1].
func Quantile(x [][]float64, p float64) float64 {
	return with(x, func(g *Diagnostics) float64 { return g.Quantile(p) })
}

// Median returns the median of all draws (R's median).
func Median(x [][]float64) float64 { return with(x, (*Diagnostics).Median) }

// Mad returns the median absolute deviation of all draws, scaled to be
// consistent for the normal sd: 1.4826·median|x − median(x)| (R's mad).
func Mad(x [][]float64) float64 { return with(x, (*Diagnostics).Mad) }

// Mean returns the mean of all draws (R's mean).
func Mean(x [][]float64) float64 { return with(x, (*Diagnostics).Mean) }

// Sd returns the standard deviation of all draws, with the n − 1
// denominator (R's sd).
func Sd(x [][]float64) float64 { return with(x, (*Diagnostics).Sd) }

var diagPool = sync.Pool{New: func() any { return new(Diagnostics) }}

func with(x [][]float64, f func(*Diagnostics) float64) float64 {
	g := diagPool.Get().(*Diagnostics)
	g.Reset(x)
	v := f(g)
	g.x = nil // do not keep the caller's draws alive
	diagPool.Put(g)
	return v
}

// Diagnostics computes the diagnostics and summary statistics of one
// variable at a time, sharing work between them: the draws are sorted once
// (for the median, the quantiles, the MAD, the ranks and the folded ranks),
// rank-normalised once for both R-hat and bulk-ESS, and the FFT plan and
// every buffer are kept from one variable to the next, so that going
// through many variables of the same shape does not allocate.
//
// The zero value is ready to use. A Diagnostics is not safe for concurrent
// use; give each goroutine its own. Results are computed when first asked
// for and remembered until the next Reset. Each method documents the
// posterior function it matches; see the package-level functions of the
// same names.
type Diagnostics struct {
	x      [][]float64 // the caller's draws, chains × iterations; not modified
	m, n   int
	mid    int // index of the middle draw dropped by splitting, or -1
	hasNaN bool
	hasInf bool

	// Results, valid when their bit is set in done.
	done                    uint32
	mean, sd, median, mad   float64
	rhatBulk, rhatFold      float64
	rhatBasic               float64
	essBulk, essMean, essSd float64
	mcseSd                  float64
	quantileESS             []probValue // ess_quantile by probability

	// Buffers of m·n values in chain-major order (chain after chain).
	flat, zBulk, zFold []float64
	work, work2        []float64

	// The sorted draws and where each came from, and the same for the
	// folded draws; radix-sort scratch.
	sorted      []float64
	order       []int32
	foldVals    []float64
	foldPos     []int32
	keys, keys2 []uint64
	idx2        []int32

	rows, cols  [][]float64 // reusable slice headers
	means, vars []float64   // per split chain

	blom  []float64 // normal scores of ranks 1..blomS without ties
	blomS int

	fft      *fourier.FFT
	fftLen   int
	seq      []float64
	coef     []complex128
	power    []complex128
	acovOut  []float64
	yc       []float64 // centred split chains, column after column
	acov     []float64 // mean autocovariances computed so far
	acovN    int
	acovM    int
	rho      []float64
	colMeans []float64
}

type probValue struct{ p, v float64 }

const (
	doneFlat = 1 << iota
	doneMean
	doneSd
	doneSorted
	doneMedian
	doneMad
	doneFold
	doneZBulk
	doneZFold
	doneRhatBulk
	doneRhatFold
	doneRhatBasic
	doneEssBulk
	doneEssMean
	doneEssSd
	doneMcseSd
)

// Reset makes g describe the draws x[chain][iteration] and forgets every
// result about the previous variable. x is not copied or modified, and must
// not change while g uses it. Reset panics if the chains differ in length
// or hold more than 2³¹−1 draws in all.
func (g *Diagnostics) Reset(x [][]float64) {
	n := 0
	if len(x) > 0 {
		n = len(x[0])
	}
	for c, ch := range x {
		if len(ch) != n {
			panic(fmt.Sprintf("chains: chain %d has %d draws but chain 1 has %d", c+1, len(ch), n))
		}
	}
	if len(x)*n > math.MaxInt32 {
		panic("chains: more than 2³¹−1 draws of one variable")
	}
	g.x, g.m, g.n = x, len(x), n
	g.mid = -1
	if n >= 2 && n%2 == 1 {
		g.mid = n / 2
	}
	g.done = 0
	g.quantileESS = g.quantileESS[:0]
	g.hasNaN, g.hasInf = false, false
	for _, ch := range x {
		for _, v := range ch {
			if v != v {
				g.hasNaN = true
			} else if math.IsInf(v, 0) {
				g.hasInf = true
			}
		}
	}
}

// NumDraws returns the number of draws over all chains.
func (g *Diagnostics) NumDraws() int { return g.m * g.n }

func (g *Diagnostics) empty() bool { return g.m == 0 || g.n == 0 }

func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// flatDraws returns all draws chain after chain (R's column-major order).
func (g *Diagnostics) flatDraws() []float64 {
	if g.done&doneFlat == 0 {
		g.flat = grow(g.flat, g.m*g.n)
		for c, ch := range g.x {
			copy(g.flat[c*g.n:], ch)
		}
		g.done |= doneFlat
	}
	return g.flat
}

// chainsOf returns per-chain views of a chain-major buffer.
func (g *Diagnostics) chainsOf(buf []float64) [][]float64 {
	g.rows = grow(g.rows, g.m)
	for c := range g.rows {
		g.rows[c] = buf[c*g.n : (c+1)*g.n]
	}
	return g.rows
}

// split returns the split chains of src (m chains of n draws) as posterior's
// .split_chains orders them: the first halves of all chains, then the
// second halves; an odd middle draw is dropped; chains of one draw are not
// split.
func (g *Diagnostics) split(src [][]float64) [][]float64 {
	g.cols = g.cols[:0]
	if g.n < 2 {
		return append(g.cols, src...)
	}
	h := g.n / 2
	for _, ch := range src {
		g.cols = append(g.cols, ch[:h])
	}
	for _, ch := range src {
		g.cols = append(g.cols, ch[g.n-h:])
	}
	return g.cols
}

// splitCount is the number of draws in the split chains.
func (g *Diagnostics) splitCount() int {
	if g.mid >= 0 {
		return g.m * (g.n - 1)
	}
	return g.m * g.n
}

// Mean returns the mean of all draws (R's mean).
func (g *Diagnostics) Mean() float64 {
	if g.done&doneMean == 0 {
		g.mean = rMean(g.flatDraws())
		g.done |= doneMean
	}
	return g.mean
}

// Sd returns the standard deviation of all draws (R's sd, n − 1).
func (g *Diagnostics) Sd() float64 {
	if g.done&doneSd == 0 {
		g.sd = math.Sqrt(rVar(g.flatDraws()))
		g.done |= doneSd
	}
	return g.sd
}

// sortDraws sorts all draws, remembering where each came from. Callers
// check hasNaN first: NaN makes every order statistic NA in posterior.
func (g *Diagnostics) sortDraws() {
	if g.done&doneSorted != 0 {
		return
	}
	s := g.m * g.n
	g.keys = grow(g.keys, s)
	g.keys2 = grow(g.keys2, s)
	g.order = grow(g.order, s)
	g.idx2 = grow(g.idx2, s)
	p := 0
	for _, ch := range g.x {
		for _, v := range ch {
			g.keys[p] = sortKey(v)
			g.order[p] = int32(p)
			p++
		}
	}
	sortKeys(g.keys, g.order, g.keys2, g.idx2)
	g.sorted = grow(g.sorted, s)
	for i, k := range g.keys {
		g.sorted[i] = keyValue(k)
	}
	g.done |= doneSorted
}

// Median returns the median of all draws (R's median; NaN if any is NaN).
func (g *Diagnostics) Median() float64 {
	if g.done&doneMedian == 0 {
		g.median = math.NaN()
		if !g.hasNaN && !g.empty() {
			g.sortDraws()
			g.median = rMedianSorted(g.sorted)
		}
		g.done |= doneMedian
	}
	return g.median
}

// Quantile returns the type-7 p-quantile of all draws, NaN if any draw is
// NaN (posterior::quantile2). It panics if p is outside [0, 1].
func (g *Diagnostics) Quantile(p float64) float64 {
	checkProb(p)
	if g.hasNaN || g.empty() {
		return math.NaN()
	}
	g.sortDraws()
	return quantile7(g.sorted, p)
}

func checkProb(p float64) {
	if !(p >= 0 && p <= 1) {
		panic(fmt.Sprintf("chains: probability %v outside [0, 1]", p))
	}
}

// fold sorts the folded draws |x − median(x)| of all draws by merging the
// two monotone runs on either side of the median in the sorted draws. It
// reports false when the folded draws contain NaN (the median is NaN or
// infinite), for which posterior returns NA.
func (g *Diagnostics) fold() bool {
	med := g.Median()
	if math.IsNaN(med) || math.IsInf(med, 0) {
		return false
	}
	if g.done&doneFold != 0 {
		return true
	}
	s := len(g.sorted)
	g.foldVals = grow(g.foldVals, s)
	g.foldPos = grow(g.foldPos, s)
	lo, hi := 0, s // find b with sorted[:b] ≤ med < sorted[b:]
	for lo < hi {
		h := int(uint(lo+hi) >> 1)
		if g.sorted[h] <= med {
			lo = h + 1
		} else {
			hi = h
		}
	}
	l, r := lo-1, lo
	var fl, fr float64
	if l >= 0 {
		fl = math.Abs(g.sorted[l] - med)
	}
	if r < s {
		fr = math.Abs(g.sorted[r] - med)
	}
	for k := 0; k < s; k++ {
		if r >= s || (l >= 0 && fl <= fr) {
			g.foldVals[k], g.foldPos[k] = fl, g.order[l]
			if l--; l >= 0 {
				fl = math.Abs(g.sorted[l] - med)
			}
		} else {
			g.foldVals[k], g.foldPos[k] = fr, g.order[r]
			if r++; r < s {
				fr = math.Abs(g.sorted[r] - med)
			}
		}
	}
	g.done |= doneFold
	return true
}

// Mad returns 1.4826·median|x − median(x)| over all draws (R's mad).
func (g *Diagnostics) Mad() float64 {
	if g.done&doneMad == 0 {
		g.mad = math.NaN()
		if !g.hasNaN && !g.empty() && g.fold() {
			g.mad = 1.4826 * rMedianSorted(g.foldVals)
		}
		g.done |= doneMad
	}
	return g.mad
}

// blomTable returns the normal scores Φ⁻¹((r − 3/8)/(S + 1/4)) of the ranks
// r = 1..S (Blom 1958), the rank normalisation of posterior's z_scale.
// Untied ranks look their score up here instead of calling Φ⁻¹ again.
func (g *Diagnostics) blomTable(s int) []float64 {
	if g.blomS != s || len(g.blom) != s {
		g.blom = grow(g.blom, s)
		den := float64(s) - 2*0.375 + 1
		for r := range g.blom {
			g.blom[r] = mathext.NormalQuantile((float64(r+1) - 0.375) / den)
		}
		g.blomS = s
	}
	return g.blom
}

// rankNormal writes into out, at the chain-major positions pos, the normal
// scores of the average ranks (ties averaged, as R's rank) of vals, which
// are in ascending order, among the draws kept by splitting.
func (g *Diagnostics) rankNormal(out []float64, vals []float64, pos []int32) {
	s := g.splitCount()
	tab := g.blomTable(s)
	den := float64(s) - 2*0.375 + 1
	kept := func(p int32) bool { return g.mid < 0 || int(p)%g.n != g.mid }
	r := 0 // ranks assigned so far
	for i := 0; i < len(vals); {
		j := i + 1
		for j < len(vals) && vals[j] == vals[i] {
			j++
		}
		k := 0
		for t := i; t < j; t++ {
			if kept(pos[t]) {
				k++
			}
		}
		if k > 0 {
			z := tab[r]
			if k > 1 {
				// R's rank(ties.method = "average"): the mean of the
				// 1-based ranks r+1 .. r+k, exact in floating point.
				z = mathext.NormalQuantile((float64(2*r+k+1)/2 - 0.375) / den)
			}
			for t := i; t < j; t++ {
				if kept(pos[t]) {
					out[pos[t]] = z
				}
			}
		}
		r += k
		i = j
	}
}

// bulkZ returns the rank-normalised draws (chain-major), posterior's
// z_scale(split_chains(x)); valid only when there is no NaN.
func (g *Diagnostics) bulkZ() []float64 {
	if g.done&doneZBulk == 0 {
		g.sortDraws()
		g.zBulk = grow(g.zBulk, g.m*g.n)
		g.rankNormal(g.zBulk, g.sorted, g.order)
		g.done |= doneZBulk
	}
	return g.zBulk
}

// foldZ returns the rank-normalised folded draws, or nil when posterior
// gives NA for them.
func (g *Diagnostics) foldZ() []float64 {
	if g.done&doneZFold == 0 {
		if !g.fold() {
			return nil
		}
		g.zFold = grow(g.zFold, g.m*g.n)
		g.rankNormal(g.zFold, g.foldVals, g.foldPos)
		g.done |= doneZFold
	}
	return g.zFold
}

// Rhat returns the rank-normalised split R-hat, the maximum of the bulk and
// folded versions (posterior::rhat).
func (g *Diagnostics) Rhat() float64 {
	if g.hasNaN || g.empty() {
		return math.NaN()
	}
	if g.done&doneRhatBulk == 0 {
		g.rhatBulk = g.rhatKernel(g.split(g.chainsOf(g.bulkZ())))
		g.done |= doneRhatBulk
	}
	if g.done&doneRhatFold == 0 {
		g.rhatFold = math.NaN()
		if z := g.foldZ(); z != nil {
			g.rhatFold = g.rhatKernel(g.split(g.chainsOf(z)))
		}
		g.done |= doneRhatFold
	}
	if math.IsNaN(g.rhatBulk) || math.IsNaN(g.rhatFold) {
		return math.NaN() // R's max() propagates NA
	}
	return math.Max(g.rhatBulk, g.rhatFold)
}

// RhatBasic returns the split R-hat of the draws themselves
// (posterior::rhat_basic).
func (g *Diagnostics) RhatBasic() float64 {
	if g.done&doneRhatBasic == 0 {
		g.rhatBasic = math.NaN()
		if !g.empty() {
			g.rhatBasic = g.rhatKernel(g.split(g.x))
		}
		g.done |= doneRhatBasic
	}
	return g.rhatBasic
}

// rhatKernel is posterior's .rhat on split chains: B = N·var(chain means),
// W = mean(chain variances), R̂ = √((B/W + N − 1)/N) (Gelman et al., BDA3
// §11.4, with the split chains of Vehtari et al. 2021).
func (g *Diagnostics) rhatKernel(cols [][]float64) float64 {
	m := len(cols)
	if m == 0 || shouldReturnNA(cols) {
		return math.NaN()
	}
	n := len(cols[0])
	if n < 2 || m < 2 {
		return math.NaN() // colVars of one row, var of one mean: NA
	}
	g.means = grow(g.means, m)
	g.vars = grow(g.vars, m)
	nf := float64(n)
	for j, col := range cols {
		mu := naiveMean(col) // matrixStats::colMeans2
		g.means[j] = mu
		// colVars(x, center = mu) = colMeans((x - mu)^2) * (n/(n-1))
		g.vars[j] = sumSqDev(col, mu) / nf * (nf / (nf - 1))
	}
	between := nf * rVar(g.means)
	within := rMean(g.vars)
	return math.Sqrt((between/within + nf - 1) / nf)
}

// EssBulk returns the bulk effective sample size (posterior::ess_bulk).
func (g *Diagnostics) EssBulk() float64 {
	if g.done&doneEssBulk == 0 {
		g.essBulk = math.NaN()
		if !g.hasNaN && !g.empty() {
			g.essBulk = g.essKernel(g.split(g.chainsOf(g.bulkZ())))
		}
		g.done |= doneEssBulk
	}
	return g.essBulk
}

// EssMean returns the ESS of the split chains (posterior::ess_mean).
func (g *Diagnostics) EssMean() float64 {
	if g.done&doneEssMean == 0 {
		g.essMean = math.NaN()
		if !g.empty() {
			g.essMean = g.essKernel(g.split(g.x))
		}
		g.done |= doneEssMean
	}
	return g.essMean
}

// EssSd returns the ESS of |x − mean(x)| (posterior 1.4.0's ess_sd).
func (g *Diagnostics) EssSd() float64 {
	if g.done&doneEssSd == 0 {
		g.essSd = math.NaN()
		if !g.empty() && !g.hasNaN && !g.hasInf {
			mu := g.Mean()
			g.work = grow(g.work, g.m*g.n)
			for i, v := range g.flatDraws() {
				g.work[i] = math.Abs(v - mu)
			}
			g.essSd = g.essKernel(g.split(g.chainsOf(g.work)))
		}
		g.done |= doneEssSd
	}
	return g.essSd
}

// EssQuantile returns the ESS of the indicator x ≤ q_p
// (posterior::ess_quantile). It panics if p is outside [0, 1].
func (g *Diagnostics) EssQuantile(p float64) float64 {
	checkProb(p)
	for _, pv := range g.quantileESS {
		if pv.p == p {
			return pv.v
		}
	}
	v := g.essQuantile(p)
	g.quantileESS = append(g.quantileESS, probValue{p, v})
	return v
}

func (g *Diagnostics) essQuantile(p float64) float64 {
	if g.empty() || g.hasNaN || g.hasInf || isConstantCols(g.x) {
		return math.NaN()
	}
	s := g.m * g.n
	if p == 1 {
		p = (float64(s) - 0.5) / float64(s)
	}
	g.sortDraws()
	q := quantile7(g.sorted, p)
	g.work = grow(g.work, s)
	for i, v := range g.flatDraws() {
		if v <= q {
			g.work[i] = 1
		} else {
			g.work[i] = 0
		}
	}
	if g.n/2 == 1 && g.m > 1 {
		// posterior's .ess_quantile turns the draws into a plain matrix,
		// and .split_chains then subsets halves of one row without
		// drop = FALSE: for chains of 2 or 3 draws the "split chains" are
		// two columns of m draws, the first draws of all chains and the
		// last draws of all chains. Reproduced so that ess_tail,
		// ess_median and mcse_quantile agree with posterior there too.
		g.work2 = grow(g.work2, 2*g.m)
		for c := range g.m {
			g.work2[c] = g.work[c*g.n]
			g.work2[g.m+c] = g.work[c*g.n+g.n-1]
		}
		g.cols = append(g.cols[:0], g.work2[:g.m], g.work2[g.m:])
		return g.essKernel(g.cols)
	}
	return g.essKernel(g.split(g.chainsOf(g.work)))
}

// EssTail returns min(EssQuantile(0.05), EssQuantile(0.95))
// (posterior::ess_tail).
func (g *Diagnostics) EssTail() float64 {
	lo, hi := g.EssQuantile(0.05), g.EssQuantile(0.95)
	if math.IsNaN(lo) || math.IsNaN(hi) {
		return math.NaN()
	}
	return math.Min(lo, hi)
}

// EssMedian returns EssQuantile(0.5) (posterior::ess_median).
func (g *Diagnostics) EssMedian() float64 { return g.EssQuantile(0.5) }

// McseMean returns sd(x)/√EssMean (posterior::mcse_mean).
func (g *Diagnostics) McseMean() float64 { return g.Sd() / math.Sqrt(g.EssMean()) }

// McseSd returns the Monte Carlo standard error of the standard deviation
// (posterior::mcse_sd): with c = x − mean(x) and e the ESS of c²,
// √(((mean(c⁴) − mean(c²)²)/e) / mean(c²) / 4).
func (g *Diagnostics) McseSd() float64 {
	if g.done&doneMcseSd != 0 {
		return g.mcseSd
	}
	g.mcseSd = math.NaN()
	g.done |= doneMcseSd
	if g.empty() || g.hasNaN || g.hasInf {
		return g.mcseSd
	}
	s := g.m * g.n
	mu := g.Mean()
	g.work = grow(g.work, s)
	g.work2 = grow(g.work2, s)
	for i, v := range g.flatDraws() {
		c := v - mu
		g.work[i] = c * c
	}
	ess := g.essKernel(g.split(g.chainsOf(g.work))) // ess_mean(sims_c^2)
	evar := rMean(g.work)
	for i, c2 := range g.work {
		g.work2[i] = c2 * c2
	}
	varvar := (rMean(g.work2) - evar*evar) / ess
	varsd := varvar / evar / 4
	g.mcseSd = math.Sqrt(varsd)
	return g.mcseSd
}

// McseQuantile returns the Monte Carlo standard error of the p-quantile
// (posterior::mcse_quantile). It panics if p is outside [0, 1].
func (g *Diagnostics) McseQuantile(p float64) float64 {
	ess := g.EssQuantile(p)
	if math.IsNaN(ess) {
		return math.NaN()
	}
	a1 := mathext.InvRegIncBeta(ess*p+1, ess*(1-p)+1, 0.1586553)
	a2 := mathext.InvRegIncBeta(ess*p+1, ess*(1-p)+1, 0.8413447)
	g.sortDraws()
	s := len(g.sorted)
	sf := float64(s)
	i1 := int(math.Max(math.Floor(a1*sf), 1))
	i2 := int(math.Min(math.Ceil(a2*sf), sf))
	return (g.sorted[i2-1] - g.sorted[i1-1]) / 2
}

// McseMedian returns McseQuantile(0.5) (posterior::mcse_median).
func (g *Diagnostics) McseMedian() float64 { return g.McseQuantile(0.5) }

// essKernel is posterior's .ess on split chains: within-chain
// autocovariances (by FFT) averaged over chains and combined with the
// between-chain variance (Vehtari et al. 2021, eq. 10), Geyer's initial
// positive and monotone sequence estimators of the autocorrelation time
// (Geyer 1992), and the cap ESS ≤ S·log10(S).
func (g *Diagnostics) essKernel(cols [][]float64) float64 {
	m := len(cols)
	if m == 0 {
		return math.NaN()
	}
	n := len(cols[0])
	if n < 3 || shouldReturnNA(cols) {
		return math.NaN()
	}
	g.acovStart(cols)
	acov := g.acovAt
	nf := float64(n)
	meanVar := acov(0) * nf / (nf - 1)
	varPlus := meanVar * (nf - 1) / nf
	if m > 1 {
		g.colMeans = grow(g.colMeans, m)
		for j, col := range cols {
			g.colMeans[j] = naiveMean(col)
		}
		varPlus += rVar(g.colMeans)
	}
	rho := grow(g.rho, n)
	g.rho = rho
	clear(rho)
	t := 0
	rhoEven := 1.0
	rho[0] = rhoEven
	rhoOdd := 1 - (meanVar-acov(1))/varPlus
	rho[1] = rhoOdd
	for t < n-5 && !math.IsNaN(rhoEven+rhoOdd) && rhoEven+rhoOdd > 0 {
		t += 2
		rhoEven = 1 - (meanVar-acov(t))/varPlus
		rhoOdd = 1 - (meanVar-acov(t+1))/varPlus
		if rhoEven+rhoOdd >= 0 {
			rho[t] = rhoEven
			rho[t+1] = rhoOdd
		}
	}
	maxT := t
	// The improved (antithetic-aware) truncation of Vehtari et al. 2021:
	// keep the last even-lag estimate if it is positive.
	if rhoEven > 0 {
		rho[maxT] = rhoEven
	}
	// Geyer's initial monotone sequence.
	t = 0
	for t <= maxT-4 {
		t += 2
		if rho[t]+rho[t+1] > rho[t-2]+rho[t-1] {
			rho[t] = (rho[t-2] + rho[t-1]) / 2
			rho[t+1] = rho[t]
		}
	}
	// posterior sums rho_hat_t[1:max_t]; for max_t = 0 R's 1:0 is c(1, 0),
	// which selects the first element only.
	sum := rho[0]
	if maxT > 0 {
		sum = accurateSum(rho[:maxT])
	}
	s := float64(m * n)
	tau := -1 + 2*sum + rho[maxT]
	if bound := 1 / math.Log10(s); tau < bound {
		tau = bound
	}
	return s / tau
}

// The autocovariances of the ESS are posterior's: per column, centre,
// pad with zeros to 2·nextn(n), |FFT|², inverse FFT, biased (1/n) scaling,
// then the mean over columns. Geyer's sequence usually stops after a few
// lags, so they are handed out lazily: the first lags are summed directly
// (O(n) each), and once more than directLags(n) are needed all lags come
// from one FFT pass, so the cost stays O(n log n). Both give the same
// numbers up to rounding (~1e-16 of the lag-0 autocovariance); the golden
// tests check the result against posterior either way.

// directLags returns how many lags are summed directly before switching to
// the FFT: about where the two costs meet (one real FFT of length L costs
// about as much as 2·log2(L) lags of n products, and there are m + 1 of
// them against m series).
func directLags(n int) int {
	return 2 * bits.Len(uint(2*nextn(n)))
}

// acovStart centres the columns for acovAt. Constant columns contribute
// zeros, as in posterior's autocovariance (var(x) == 0).
func (g *Diagnostics) acovStart(cols [][]float64) {
	n, m := len(cols[0]), len(cols)
	g.yc = grow(g.yc, n*m)
	for j, col := range cols {
		y := g.yc[j*n : (j+1)*n]
		if allEqual(col) {
			clear(y)
			continue
		}
		mu := rMean(col)
		for i, v := range col {
			y[i] = v - mu
		}
	}
	g.acovN, g.acovM = n, m
	g.acov = g.acov[:0]
}

// acovAt returns the mean over columns of the autocovariance at lag t.
func (g *Diagnostics) acovAt(t int) float64 {
	for t >= len(g.acov) {
		if len(g.acov) >= directLags(g.acovN) {
			g.acovFFT()
			break
		}
		g.acov = append(g.acov, g.directLag(len(g.acov)))
	}
	return g.acov[t]
}

// directLag sums Σ_j Σ_i y_j[i]·y_j[i+t] / (n·m) with four accumulators.
func (g *Diagnostics) directLag(t int) float64 {
	n := g.acovN
	var s0, s1, s2, s3 float64
	for j := range g.acovM {
		y := g.yc[j*n : (j+1)*n]
		a, b := y[:n-t], y[t:]
		b = b[:len(a)]
		i := 0
		for ; i+4 <= len(a); i += 4 {
			s0 += a[i] * b[i]
			s1 += a[i+1] * b[i+1]
			s2 += a[i+2] * b[i+2]
			s3 += a[i+3] * b[i+3]
		}
		for ; i < len(a); i++ {
			s0 += a[i] * b[i]
		}
	}
	return ((s0 + s1) + (s2 + s3)) / (float64(n) * float64(g.acovM))
}

// acovFFT fills every remaining lag from one FFT pass. Since the inverse
// FFT is linear, the power spectra of the columns are summed and
// transformed back once.
func (g *Diagnostics) acovFFT() {
	n, m := g.acovN, g.acovM
	l := 2 * nextn(n)
	if g.fft == nil || g.fftLen != l {
		if g.fft == nil {
			g.fft = fourier.NewFFT(l)
		} else {
			g.fft.Reset(l)
		}
		g.fftLen = l
		g.seq = grow(g.seq, l)
		g.coef = grow(g.coef, l/2+1)
		g.power = grow(g.power, l/2+1)
		g.acovOut = grow(g.acovOut, l)
	}
	clear(g.power)
	for j := range m {
		copy(g.seq, g.yc[j*n:(j+1)*n])
		clear(g.seq[n:])
		g.fft.Coefficients(g.coef, g.seq)
		for k, c := range g.coef {
			re, im := real(c), imag(c)
			g.power[k] += complex(re*re+im*im, 0)
		}
	}
	g.fft.Sequence(g.acovOut, g.power)
	scale := 1 / (float64(l) * float64(n) * float64(m))
	done := len(g.acov)
	if cap(g.acov) < n {
		g.acov = append(make([]float64, 0, n), g.acov...)
	}
	g.acov = g.acov[:n]
	for k := done; k < n; k++ {
		g.acov[k] = g.acovOut[k] * scale
	}
}

// EBFMI returns the energy Bayesian fraction of missing information of one
// chain's energy__ draws (Betancourt 2016, "Diagnosing suboptimal
// cotangent disintegrations in Hamiltonian Monte Carlo", arXiv:1604.00695):
// Σ(E_t − E_{t−1})²/n divided by the sample variance of E, as
// rstan::get_bfmi and cmdstanr compute it. Values below 0.3 (CmdStan) or
// 0.2 (rstan) suggest the momentum resampling explores the energy levels
// poorly. NaN for fewer than two draws or constant energy.
func EBFMI(energy []float64) float64 {
	n := len(energy)
	if n < 2 {
		return math.NaN()
	}
	var s, c float64
	for i := 1; i < n; i++ {
		s, c = neumaier(s, c, (energy[i]-energy[i-1])*(energy[i]-energy[i-1]))
	}
	return ((s + c) / float64(n)) / rVar(energy)
}

// EBFMIPooled returns E-BFMI the way CmdStan's diagnose computes it: once,
// over all chains' energy__ draws concatenated chain after chain (the
// differences across chain boundaries included), as the mean of the n − 1
// squared differences over the pooled sample variance.
func EBFMIPooled(energy [][]float64) float64 {
	var all []float64
	for _, e := range energy {
		all = append(all, e...)
	}
	n := len(all)
	if n < 2 {
		return math.NaN()
	}
	d := make([]float64, n-1)
	for i := range d {
		d[i] = (all[i+1] - all[i]) * (all[i+1] - all[i])
	}
	return rMean(d) / rVar(all)
}
