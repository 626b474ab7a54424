package combine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/kde"
	"github.com/epmc/epmc/rng"
)

// BandwidthRule names how the KDE methods choose their bandwidth.
type BandwidthRule string

const (
	// BandwidthAuto starts from likelihood cross-validation and raises h
	// until the product is well determined: every shard contributes at
	// least MarkovOptions.MinEffectiveDraws effective draws to the
	// product where it lies (see MarkovOptions.MinEffectiveDraws). In low
	// dimension this is the cross-validated h, which resolves several
	// modes; in five or more dimensions it is usually larger. When no
	// bandwidth in the method's range achieves it, the nonparametric
	// product keeps the best determined one and says so, and the
	// semiparametric product falls back to its parametric start.
	BandwidthAuto BandwidthRule = "auto"
	// BandwidthLCV is likelihood cross-validation (kde.LCV) alone, on the
	// whitened draws of all shards, each centred on its own mean: the
	// bandwidth that best estimates each shard's density, not the product.
	BandwidthLCV BandwidthRule = "lcv"
	// BandwidthScott is Scott's rule for T̄ points in whitened units:
	// h = T̄^{−1/(d+4)}.
	BandwidthScott BandwidthRule = "scott"
	// BandwidthSilverman is Silverman's rule in whitened units:
	// h = (4/((d+2)T̄))^{1/(d+4)}.
	BandwidthSilverman BandwidthRule = "silverman"
	// BandwidthFixed uses Bandwidth.Value as h (whitened units).
	BandwidthFixed BandwidthRule = "fixed"
)

// Bandwidth is the KDE methods' bandwidth choice. The zero value is auto.
// Every h is in whitened units (standard deviations of a typical shard),
// and is the final bandwidth, the one every kept draw uses.
type Bandwidth struct {
	Rule  BandwidthRule
	Value float64 // for BandwidthFixed
}

// ParseBandwidth reads "auto", "lcv", "scott", "silverman" or a positive
// number.
func ParseBandwidth(s string) (Bandwidth, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return Bandwidth{Rule: BandwidthAuto}, nil
	case "lcv":
		return Bandwidth{Rule: BandwidthLCV}, nil
	case "scott":
		return Bandwidth{Rule: BandwidthScott}, nil
	case "silverman":
		return Bandwidth{Rule: BandwidthSilverman}, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || !(v > 0) || math.IsInf(v, 0) {
		return Bandwidth{}, fmt.Errorf("bandwidth %q: want auto, lcv, scott, silverman or a positive number", s)
	}
	return Bandwidth{Rule: BandwidthFixed, Value: v}, nil
}

func (b Bandwidth) String() string {
	switch b.Rule {
	case "", BandwidthAuto:
		return "auto"
	case BandwidthFixed:
		return strconv.FormatFloat(b.Value, 'g', -1, 64)
	}
	return string(b.Rule)
}

// MarkovOptions configure the Markov-chain methods. The zero value is
// useful: automatic bandwidth, default burn-in, automatic thinning,
// annealing on.
type MarkovOptions struct {
	Bandwidth Bandwidth
	// Burn is the number of sweeps discarded at the start of every chain:
	// 0 chooses the default ⌈1.25·A⌉, where A = T̄ clamped to
	// [1000, 10000] is the default annealing horizon; a negative value
	// keeps every sweep (and so turns annealing off).
	Burn int
	// Thin keeps every Thin-th sweep. 0 chooses it per chain from the
	// acceptance rate a over the second half of burn-in as ⌈1/a⌉ (clamped
	// to [1, 1000]), so that on average every index is refreshed once
	// between kept draws.
	Thin int
	// NoAnneal fixes h for the whole run. By default the bandwidth is
	// annealed during burn-in as h_i = h·(A/min(i, A))^{1/(4+d)}, the
	// i^{−1/(4+d)} schedule of Neiswanger et al. (2014) scaled to reach
	// the final h at sweep A, where A is the default horizon or the
	// burn-in if that is shorter; kept draws then all use the final h, so
	// the kept chain is time-homogeneous.
	NoAnneal bool
	// Levels is the number of rungs of the bandwidth-tempering ladder; 0
	// chooses it (see below), 1 turns tempering off.
	//
	// An index chain at the target bandwidth h cannot move between modes
	// of a multimodal product: that needs every shard's index to change
	// at once. So each output chain runs K index chains at bandwidths
	// h = h_0 < h_1 < … < h_{K−1} = max(h, 1) (geometric, whitened
	// units) and after every sweep proposes to exchange the states of
	// adjacent levels (parallel tempering over the bandwidth, with the
	// deterministic even–odd swap scheme). Each level's target is the
	// exact mixture-index distribution at its bandwidth, so the swap
	// ratio needs only S and, for the semiparametric method, the
	// Gaussian term: O(1) and O(d). Only the h_0 level is emitted. The
	// default ratio between rungs is 1 + (Md/2)^{−1/2}.
	Levels int
	// MinEffectiveDraws is the number of effective draws per shard that
	// the automatic bandwidth asks for; 0 means DefaultMinEffectiveDraws.
	// It is the Kish effective sample size of a shard's conditional
	// distribution over its draws given the other shards' choices,
	// averaged over a calibration chain.
	MinEffectiveDraws int
}

// Nonparametric samples the product of the shards' Gaussian KDEs
// (Neiswanger, Wang & Xing 2014, §3.2):
//
//	Π_m p̂_m(θ) ∝ Σ_{t·} w_{t·} N(θ | θ̄_{t·}, (h²/M)I),  log w_{t·} = −S(t·)/(2h²) + const,
//
// with S(t·) = Σ_m ‖θ^m_{t_m} − θ̄_{t·}‖², by Metropolis-within-Gibbs over
// the mixture indices: each sweep proposes for every shard in turn a
// uniformly chosen draw and accepts it with the exact probability
// min{1, exp(−ΔS/(2h²))}; each kept sweep emits θ ~ N(θ̄, (h²/M)I).
//
// The work is in whitened coordinates z = L⁻¹(θ − μ_M), where LLᵀ is the
// mean within-shard covariance, so one isotropic h suits every direction.
// An index move costs O(d): the chain keeps s = Σ_m z^m_{t_m} and, with
// the precomputed ‖z^m_t‖², ΔS = Δ‖z‖² − (2s·δ + ‖δ‖²)/M for δ the
// change of the moved draw; it caches S, never a weight (which would go
// stale as h changes), and recomputes s from scratch every 64 sweeps.
//
// Unless NoVarianceCorrection is set, each shard's draws are first shrunk
// towards their mean so that the shard's KDE has the shard's sample
// covariance rather than that plus h²I (the "shrunk" kernel estimate of
// Silverman 1986, §6.4.1, per shard: z ↦ μ̂ + A(z − μ̂) with
// AΣ̂Aᵀ = Σ̂ − h²I). Without it the product is too wide by a factor
// about √(1+h²) in every direction.
//
// A single index chain cannot cross between the modes of a multimodal
// product, so every output chain runs a ladder of index chains at
// increasing bandwidths and swaps their states (parallel tempering over
// h; see MarkovOptions.Levels); only the target level is emitted.
//
// The automatic bandwidth (BandwidthAuto) starts from cross-validation
// and widens the kernels until every shard contributes enough effective
// draws to the product, up to the widest h at which the variance
// correction is complete, h² = ¾·λ_min of the shards' whitened
// covariances. As h approaches that limit each shrunk KDE tends to its
// shard's Gaussian fit (the shard's third cumulant is scaled by
// (1 − h²/λ)^{3/2}), so a wide kernel trades the skewness the method could
// capture for lower noise. When even the widest kernel leaves a shard too
// few effective draws, the product is kept at that h with a note.
//
// Assumes: T_m ≫ d, product-form shards, and shards that overlap: the
// product lies where all shards have draws, and in d dimensions with
// shards δ shard sds apart the draws of a shard near the product thin out
// like e^{−‖δ‖²/2} — the reason the KDE methods are limited to d ≤ 5 or
// so at T ~ 10⁴. Asymptotically exact as T → ∞ and h → 0; at finite T it
// carries KDE noise and smoothing bias O(h²). Mixing degrades as the
// shards disagree (the acceptance rates in Info show it), which burn-in,
// thinning, tempering and several chains mitigate but do not cure.
type Nonparametric struct {
	MarkovOptions
	NoVarianceCorrection bool
}

// Name returns "nonparametric".
func (Nonparametric) Name() string { return "nonparametric" }

// Semiparametric samples the product of Hjort–Glad "parametric start"
// density estimates (Hjort & Glad 1995; Neiswanger et al. 2014, §3.3):
// p̂_m(θ) = N(θ | μ̂_m, Σ̂_m)·r̂_m(θ) with r̂_m the KDE of the ratio
// p_m/N(μ̂_m, Σ̂_m). The product is the mixture Σ_{t·} W_{t·} N(μ_{t·}, Σ_{t·})
// with
//
//	Σ_{t·} = ((M/h²)I + Σ_M⁻¹)⁻¹,  μ_{t·} = Σ_{t·}((M/h²)θ̄_{t·} + Σ_M⁻¹μ_M),
//	W_{t·} = w_{t·} N(θ̄_{t·} | μ_M, Σ_M + (h²/M)I) / Π_m N(θ^m_{t_m} | μ̂_m, Σ̂_m),
//
// (h², not h, as the Gaussian-product algebra requires). It is sampled
// like Nonparametric, with the exact acceptance ratio
//
//	log α = −ΔS/(2h²) + Δ log N(θ̄ | μ_M, Σ_M + (h²/M)I) − log N(θ^m_b | μ̂_m, Σ̂_m) + log N(θ^m_a | μ̂_m, Σ̂_m),
//
// and each kept sweep emits θ ~ N(μ_{t·}, Σ_{t·}). Each move is O(d): in
// the eigenbasis of Σ_M = UΛUᵀ (whitened), (Σ_M + cI)⁻¹ is diagonal for
// every c, so with Uᵀz^m_t, ‖z^m_t‖² and log N(z^m_t | μ̂_m, Σ̂_m)
// precomputed and Uᵀs kept incrementally, the Gaussian term costs
// Σ_j (·)_j²/(λ_j + h²/M) however h changes.
//
// Large h gives the parametric product (the departure shrinks like 1/h²),
// small h the nonparametric one. For Gaussian subposteriors it is exact at
// any h in expectation (the ratio r̂_m is flat on average), so it needs no
// variance correction; for skewed ones a local correction (small h)
// removes the Gaussian product's skewness bias, which the tests check
// against exactly known products of log-gamma shards.
//
// Its weak point is the variance of r̂_m. The weights 1/N(θ^m_t | μ̂_m, Σ̂_m)
// grow like e^{‖z‖²/2} with a draw's whitened distance z from its shard's
// mean, and the product lies where the shards overlap, δ shard sds from
// each shard's mean. For Gaussian shards the relative variance of r̂_m
// there is (1/T)[Π_j e^{δ_j²/(2−h²)}/(h√(2−h²)) − 1]: exponential in
// ‖δ‖², and infinite for h ≥ √2, where wider kernels no longer smooth but
// let the shards' most extreme draws rule. So the automatic bandwidth
// (BandwidthAuto) searches h only up to 1 (a shard sd), measures the
// correction's effective draws per shard, and when no h reaches the
// target it returns the estimate's parametric start, the Gaussian product
// N(μ_M, Σ_M), drawn exactly, with a note (Info.ParametricStart). In our
// logistic-regression check (d = 6, M = 8, T = 10⁴ draws per shard, shard
// means 2–4 shard sds from the product) this is what happens: at every
// h ≤ 1 some shard offers at most a few dozen effective draws (4 and 25
// on the two data sets of the check), and at the cross-validated h the
// output was 0.6–1.8 posterior sd off (0.7 and 1.6 on the check).
//
// A fixed large bandwidth (--bandwidth 4, say) is no substitute: the
// estimate is then the Gaussian product tilted by O(1/h²) in a direction
// set by each shard's most extreme draws. It happened to cancel the
// Gaussian product's bias on one logistic data set, but on others it
// doubled it, and on log-gamma shards, whose exact product is known, it
// pushes the mean further the wrong way (−0.56 sd at h = 4 against −0.22
// for the Gaussian product and −0.02 at the automatic h). Assumptions
// otherwise as for Nonparametric.
type Semiparametric struct {
	MarkovOptions
}

// Name returns "semiparametric".
func (Semiparametric) Name() string { return "semiparametric" }

// Combine implements Method.
func (n Nonparametric) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	return runIMG(ctx, shards, s, n.MarkovOptions, false, !n.NoVarianceCorrection)
}

// Combine implements Method.
func (sp Semiparametric) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	return runIMG(ctx, shards, s, sp.MarkovOptions, true, false)
}

// imgProblem is the prepared input shared by all chains (read-only once
// the bandwidth is chosen).
type imgProblem struct {
	d, M    int
	T       []int
	tbar    float64
	centre  []float64     // μ_M, raw space
	prodCov *mat.SymDense // Σ_M, raw space
	lw      []float64     // L, lower-triangular whitening factor, row-major
	stride  int
	rows    [][]float64 // per shard, T_m rows of stride floats
	semi    bool
	shrink  bool
	// Whitened draws of every shard, with their means and covariances.
	wz    [][][]float64
	wmean [][]float64
	wcov  []*mat.SymDense
	// Semiparametric: eigen-decomposition of the whitened Σ_M (U
	// row-major, columns eigenvectors) and the whitened μ_M in that basis.
	lambda []float64
	u      []float64
	nu     []float64
	// Final bandwidth, annealing and the tempering ladder (multipliers of
	// h, ladder[0] = 1).
	h       float64
	horizon int
	anneal  bool
	ladder  []float64
	// Automatic bandwidth: the cross-validated start, the calibration
	// record, each shard's effective draws at h, and whether the
	// semiparametric estimate fell back to its parametric start.
	hLCV            float64
	calibration     []CalibrationStep
	effective       []float64
	parametricStart bool
	notes           []string
}

// whiten writes L⁻¹(x − centre) to z.
func (p *imgProblem) whiten(z, x []float64) {
	d := p.d
	for j := range d {
		v := x[j] - p.centre[j]
		for k := 0; k < j; k++ {
			v -= p.lw[j*d+k] * z[k]
		}
		z[j] = v / p.lw[j*d+j]
	}
}

// unwhiten writes centre + L z to x.
func (p *imgProblem) unwhiten(x, z []float64) { lowerMulAdd(x, p.lw, z, p.centre, p.d) }

// annealFactor returns the factor by which sweep i (1-based) widens every
// level's bandwidth: (A/min(i, A))^{1/(4+d)} when annealing, else 1.
func (p *imgProblem) annealFactor(i int) float64 {
	if !p.anneal || i >= p.horizon {
		return 1
	}
	return math.Pow(float64(p.horizon)/float64(max(i, 1)), 1/float64(4+p.d))
}

// hotBandwidth is the bandwidth of the hottest tempering level in whitened
// units: kernels as wide as a typical shard, at which the shards' KDEs
// overlap whatever their modes, so the index chain moves freely.
const hotBandwidth = 1.0

// makeLadder sets the bandwidth multipliers of the tempering levels: a
// geometric ladder from h to max(h, hotBandwidth). With levels = 0 the
// ratio between rungs is about 1 + (Md/2)^{−1/2}: a swap's log ratio has
// standard deviation of order (1 − ρ⁻²)·√(Md/2), since S/h² sums about
// (M−1)·d squared whitened deviations, so this keeps swaps accepted at
// roughly constant rate as M and d grow (the usual √dimension scaling of
// tempering ladders).
func (p *imgProblem) makeLadder(levels int) {
	top := math.Max(hotBandwidth/p.h, 1)
	if levels == 0 {
		rho := 1 + 1/math.Sqrt(float64(p.M*p.d)/2)
		levels = 1
		if top > 1.0001 {
			levels = 1 + int(math.Ceil(math.Log(top)/math.Log(rho)))
		}
	}
	if top <= 1.0001 {
		levels = 1
	}
	p.ladder = make([]float64, levels)
	for k := range p.ladder {
		p.ladder[k] = 1
		if levels > 1 {
			p.ladder[k] = math.Pow(top, float64(k)/float64(levels-1))
		}
	}
}

func newIMGProblem(shards [][][]float64, opts MarkovOptions, semi, shrink bool, s Settings) (*imgProblem, error) {
	d, st, mu, prodCov, err := fitShards(shards)
	if err != nil {
		return nil, err
	}
	M := len(shards)
	p := &imgProblem{d: d, M: M, centre: mu, prodCov: prodCov, semi: semi, shrink: shrink, anneal: !opts.NoAnneal}
	for _, sh := range shards {
		p.T = append(p.T, len(sh))
		p.tbar += float64(len(sh)) / float64(M)
	}
	p.horizon = int(math.Round(min(max(p.tbar, 1000), 10000)))

	// Whitening by the mean within-shard covariance.
	mean := mat.NewSymDense(d, nil)
	for _, s := range st {
		mean.AddSym(mean, s.cov)
	}
	mean.ScaleSym(1/float64(M), mean)
	var ch mat.Cholesky
	if !ch.Factorize(mean) {
		return nil, errors.New("the mean shard covariance is not positive definite")
	}
	var l mat.TriDense
	ch.LTo(&l)
	p.lw = lowerFlat(&l, d)

	// Whitened draws, and each shard's whitened mean and covariance.
	p.wz = make([][][]float64, M)
	p.wmean = make([][]float64, M)
	p.wcov = make([]*mat.SymDense, M)
	for m, sh := range shards {
		p.wz[m] = newDrawBlock(len(sh), d)
		for t, x := range sh {
			p.whiten(p.wz[m][t], x)
		}
		p.wmean[m], p.wcov[m] = meanCov(p.wz[m], d)
	}

	if semi {
		if err := p.prepareSemi(shards, st, &l); err != nil {
			return nil, err
		}
	}

	rule := opts.rule()
	if p.h, err = p.chooseBandwidth(opts.Bandwidth); err != nil {
		return nil, err
	}
	p.hLCV = math.NaN()
	if rule == BandwidthAuto || rule == BandwidthLCV {
		p.hLCV = p.h
	}
	p.buildRows(p.h)
	if rule == BandwidthAuto {
		p.calibrate(s, float64(opts.minEffective()))
	}
	if !p.parametricStart {
		p.makeLadder(opts.Levels)
		if shrink && p.partialShrink() {
			p.notes = append(p.notes, "a shard is narrower than the bandwidth in some direction; its variance correction there is partial, so the output is too wide in that direction")
		}
	}
	return p, nil
}

// prepareSemi computes the eigenbasis of the whitened Σ_M and each draw's
// rotated row: Uᵀz, ‖Uᵀz‖² and log N(θ | μ̂_m, Σ̂_m). None of it depends
// on the bandwidth.
func (p *imgProblem) prepareSemi(shards [][][]float64, st []shardStats, l *mat.TriDense) error {
	d := p.d
	var lInv mat.TriDense
	if err := lInv.InverseTri(l); err != nil {
		return err
	}
	var wc mat.Dense
	wc.Mul(&lInv, p.prodCov)
	wc.Mul(&wc, lInv.T())
	wsym := mat.NewSymDense(d, nil)
	for i := range d {
		for j := 0; j <= i; j++ {
			wsym.SetSym(i, j, (wc.At(i, j)+wc.At(j, i))/2)
		}
	}
	var eig mat.EigenSym
	if !eig.Factorize(wsym, true) {
		return singularProduct()
	}
	p.lambda = eig.Values(nil)
	for _, v := range p.lambda {
		if !(v > 0) {
			return singularProduct()
		}
	}
	var u mat.Dense
	eig.VectorsTo(&u)
	p.u = make([]float64, d*d)
	for i := range d {
		for j := range d {
			p.u[i*d+j] = u.At(i, j)
		}
	}
	// ν = Uᵀ L⁻¹(μ_M − centre) = 0 by the choice of centre; computed for
	// clarity and rounding.
	zmu := make([]float64, d)
	p.whiten(zmu, p.centre)
	p.nu = make([]float64, d)
	p.rotate(p.nu, zmu)

	p.stride = d + 2
	p.rows = make([][]float64, p.M)
	y := make([]float64, d)
	for m, sh := range shards {
		rows := make([]float64, len(sh)*p.stride)
		for t, x := range sh {
			r := rows[t*p.stride : (t+1)*p.stride]
			p.rotate(y, p.wz[m][t])
			copy(r, y)
			r[d] = floats.Dot(y, y)
			r[d+1] = gaussLogKernel(x, &st[m])
		}
		p.rows[m] = rows
	}
	return nil
}

// buildRows sets the nonparametric rows (z, ‖z‖²) for bandwidth h: the
// whitened draws, shrunk for h when the variance correction is on. The
// semiparametric rows do not depend on h and are built once.
func (p *imgProblem) buildRows(h float64) {
	if p.semi {
		return
	}
	d := p.d
	p.stride = d + 1
	if p.rows == nil {
		p.rows = make([][]float64, p.M)
		for m := range p.rows {
			p.rows[m] = make([]float64, len(p.wz[m])*p.stride)
		}
	}
	z := make([]float64, d)
	for m, draws := range p.wz {
		var a []float64
		if p.shrink {
			a = shrinkMatrix(p.wcov[m], h)
		}
		rows := p.rows[m]
		for t, x := range draws {
			r := rows[t*p.stride : (t+1)*p.stride]
			if a == nil {
				copy(z, x)
			} else {
				shrinkPoint(z, x, p.wmean[m], a)
			}
			copy(r, z)
			r[d] = floats.Dot(z, z)
		}
	}
}

// partialShrink reports whether some shard has a whitened variance below
// (4/3)h² in some direction, where shrinkMatrix holds its factor at ½.
func (p *imgProblem) partialShrink() bool {
	for _, c := range p.wcov {
		if minEigen(c) < p.h*p.h/(1-minShrink) {
			return true
		}
	}
	return false
}

// minEigen returns the smallest eigenvalue of a, or 0 if it cannot be
// computed.
func minEigen(a *mat.SymDense) float64 {
	var eig mat.EigenSym
	if !eig.Factorize(a, false) {
		return 0
	}
	return eig.Values(nil)[0]
}

// rotate writes Uᵀz to y.
func (p *imgProblem) rotate(y, z []float64) {
	d := p.d
	for j := range d {
		v := 0.0
		for i := range d {
			v += p.u[i*d+j] * z[i]
		}
		y[j] = v
	}
}

// rotateBack writes U y to z.
func (p *imgProblem) rotateBack(z, y []float64) {
	d := p.d
	for i := range d {
		v := 0.0
		for j := range d {
			v += p.u[i*d+j] * y[j]
		}
		z[i] = v
	}
}

// gaussLogKernel returns −½(x − μ̂)ᵀΣ̂⁻¹(x − μ̂), log N(x | μ̂, Σ̂) without
// its constant (which cancels in every acceptance ratio).
func gaussLogKernel(x []float64, s *shardStats) float64 {
	d := len(x)
	dev := make([]float64, d)
	for j := range d {
		dev[j] = x[j] - s.mean[j]
	}
	q := 0.0
	for i := range d {
		for j := range d {
			q += dev[i] * s.prec.At(i, j) * dev[j]
		}
	}
	return -0.5 * q
}

// chooseBandwidth returns the starting h in whitened units: the rule's
// value, with auto starting from likelihood cross-validation (calibrate
// may then raise it).
func (p *imgProblem) chooseBandwidth(b Bandwidth) (float64, error) {
	d := float64(p.d)
	switch b.Rule {
	case BandwidthScott:
		return kde.ReferenceFactor(kde.Scott, p.tbar, p.d), nil
	case BandwidthSilverman:
		return kde.ReferenceFactor(kde.Silverman, p.tbar, p.d), nil
	case BandwidthFixed:
		if !(b.Value > 0) || math.IsInf(b.Value, 0) {
			return 0, fmt.Errorf("bandwidth %g is not a positive number", b.Value)
		}
		return b.Value, nil
	case "", BandwidthAuto, BandwidthLCV:
		// Likelihood cross-validation on the pooled draws, each shard
		// centred on its own mean (the shards differ in location, not in
		// the shape the kernel must resolve). The selected h is for the
		// pooled count ΣT_m; a shard's KDE has T̄ points, so scale by
		// (ΣT_m/T̄)^{1/(d+4)} = M^{1/(d+4)}.
		// Every k-th draw of each shard, so that at most about 4000
		// points are copied (kde.Select thins further to 1000).
		total := 0
		for _, rows := range p.wz {
			total += len(rows)
		}
		step := max(1, (total+3999)/4000)
		var pooled [][]float64
		for m, rows := range p.wz {
			for t := 0; t < len(rows); t += step {
				c := make([]float64, p.d)
				for j := range c {
					c[j] = rows[t][j] - p.wmean[m][j]
				}
				pooled = append(pooled, c)
			}
		}
		bw, err := kde.Select(pooled, nil, kde.Isotropic, kde.LCV)
		if err != nil {
			return 0, fmt.Errorf("automatic bandwidth: %w", err)
		}
		return bw.SD(p.d)[0] * math.Pow(float64(len(pooled))/p.tbar, 1/(d+4)), nil
	}
	return 0, fmt.Errorf("unknown bandwidth rule %q", b.Rule)
}

// minShrink is the smallest squared shrinking factor: where a shard's
// whitened variance λ is below h²/(1 − minShrink) = (4/3)h², the factor
// √((λ − h²)/λ) is held at ½ and the variance correction is partial.
const minShrink = 0.25

// shrinkMatrix returns the d×d matrix A (row-major) that moves whitened
// draws towards their mean, z ↦ μ̂ + A(z − μ̂), so that their covariance
// Σ̂ becomes Σ̂ − h²I: with Σ̂ = V diag(λ) Vᵀ, A = V diag(√((λ_j − h²)/λ_j)) Vᵀ,
// each factor at least √minShrink.
func shrinkMatrix(cov *mat.SymDense, h float64) []float64 {
	d := cov.SymmetricDim()
	a := make([]float64, d*d)
	var eig mat.EigenSym
	if !eig.Factorize(cov, true) {
		for j := range d {
			a[j*d+j] = math.Sqrt(minShrink)
		}
		return a
	}
	vals := eig.Values(nil)
	var v mat.Dense
	eig.VectorsTo(&v)
	f := make([]float64, d)
	for j, l := range vals {
		r := (l - h*h) / l
		if !(r >= minShrink) {
			r = minShrink
		}
		f[j] = math.Sqrt(r)
	}
	for i := range d {
		for k := range d {
			s := 0.0
			for j := range d {
				s += v.At(i, j) * f[j] * v.At(k, j)
			}
			a[i*d+k] = s
		}
	}
	return a
}

// shrinkPoint writes mean + A(x − mean) to dst.
func shrinkPoint(dst, x, mean, a []float64) {
	d := len(mean)
	for i := range d {
		s := mean[i]
		for k := range d {
			s += a[i*d+k] * (x[k] - mean[k])
		}
		dst[i] = s
	}
}

// imgState is one tempering level's position: the chosen draw of every
// shard and the sufficient statistics s = Σ_m row_m[:d] and
// q = Σ_m ‖row_m[:d]‖², from which S = q − ‖s‖²/M.
type imgState struct {
	t []int
	s []float64
	q float64
}

// imgLevel is one rung of the bandwidth ladder.
type imgLevel struct {
	h float64
	g []float64 // semiparametric: 1/(λ_j + h²/M)
}

// imgChain is one output chain: a ladder of index chains at increasing
// bandwidths, the coldest of which is the target. Its methods touch only
// its own fields and the read-only problem.
type imgChain struct {
	p      *imgProblem
	src    *rand.PCG
	r      *rand.Rand // the same source, for normal variates
	states []imgState
	at     []int // at[k] is the state at level k
	levels []imgLevel
	// Moves at the target level, per shard, and swaps per adjacent pair
	// of levels.
	acc, prop         []int64
	swapAcc, swapProp []int64
	// next[k] holds level k's proposals for its next sweep, drawn one
	// sweep ahead (see propose); spare is the buffer they rotate through.
	next  [][]int
	spare []int
	sink  float64
	// coefA and coefK are sweepSP's coefficients (scratch of length d).
	coefA, coefK []float64
}

func newIMGChain(p *imgProblem, seed uint64, chain int) *imgChain {
	src := rng.New(seed, uint64(chain))
	K := len(p.ladder)
	c := &imgChain{p: p, src: src, r: rand.New(src), states: make([]imgState, K), at: make([]int, K),
		levels: make([]imgLevel, K), acc: make([]int64, p.M), prop: make([]int64, p.M),
		swapAcc: make([]int64, max(K-1, 0)), swapProp: make([]int64, max(K-1, 0)),
		next: make([][]int, K), spare: make([]int, p.M),
		coefA: make([]float64, p.d), coefK: make([]float64, p.d)}
	for k := range c.states {
		st := &c.states[k]
		st.t = make([]int, p.M)
		st.s = make([]float64, p.d)
		for m := range st.t {
			st.t[m] = c.uniform(uint64(p.T[m]))
		}
		c.recompute(st)
		c.at[k] = k
		c.levels[k].g = make([]float64, p.d)
		c.levels[k].h = math.NaN()
	}
	for k := range c.next {
		c.next[k] = make([]int, p.M)
		c.drawProposals(c.next[k])
	}
	return c
}

// uniform returns a uniform integer in [0, n) by Lemire's multiply-shift
// with rejection (exactly uniform, one multiplication in the common case).
func (c *imgChain) uniform(n uint64) int {
	hi, lo := bits.Mul64(c.src.Uint64(), n)
	if lo < n {
		thresh := -n % n
		for lo < thresh {
			hi, lo = bits.Mul64(c.src.Uint64(), n)
		}
	}
	return int(hi)
}

// recompute sets s and q from the state's indices, removing accumulated
// rounding.
func (c *imgChain) recompute(st *imgState) {
	d, stride := c.p.d, c.p.stride
	for j := range st.s {
		st.s[j] = 0
	}
	st.q = 0
	for m, t := range st.t {
		row := c.p.rows[m][t*stride : t*stride+stride]
		for j := range d {
			st.s[j] += row[j]
		}
		st.q += row[d]
	}
}

// accept applies the Metropolis test to log α: accept when an Exp(1)
// variate E (Go's ziggurat, a few ns) satisfies E > −log α, which happens
// with probability min(1, α) — the test u < α with E = −log u, without
// computing exp or log. Nothing is drawn when α ≥ 1.
func (c *imgChain) accept(logA float64) bool {
	if logA >= 0 {
		return true
	}
	return c.r.ExpFloat64() > -logA
}

// propose returns level k's proposals for the sweep about to run and
// draws (and touches) those for its next sweep. The proposals do not
// depend on the acceptance decisions, so drawing them a sweep ahead leaves
// the Metropolis-within-Gibbs sweep unchanged; touching their rows then
// lets the cache misses on them (the dominant cost when the shards' rows
// do not fit in cache) complete while the current sweep computes.
func (c *imgChain) propose(k int) []int {
	cur := c.next[k]
	c.next[k], c.spare = c.spare, cur
	c.drawProposals(c.next[k])
	return cur
}

// drawProposals draws a uniform index per shard into dst and touches the
// first and last word of each proposed row (a row may span two cache
// lines); the loads are independent, so they are all in flight at once.
func (c *imgChain) drawProposals(dst []int) {
	p := c.p
	for m := range dst {
		dst[m] = c.uniform(uint64(p.T[m]))
	}
	// A separate loop keeps the loads close together in the instruction
	// stream, so that all M misses are outstanding at once rather than as
	// many as fit in the reorder window beside the random-number code.
	sink := 0.0
	stride := p.stride
	for m, b := range dst {
		row := p.rows[m][b*stride : (b+1)*stride]
		sink += row[0] + row[len(row)-1]
	}
	c.sink += sink
}

// setBandwidth sets level k's bandwidth and, for the semiparametric
// mixture, its Gaussian-term constants.
func (c *imgChain) setBandwidth(k int, h float64) {
	lv := &c.levels[k]
	if lv.h == h {
		return
	}
	lv.h = h
	if c.p.semi {
		cM := h * h / float64(c.p.M)
		for j, l := range c.p.lambda {
			lv.g[j] = 1 / (l + cM)
		}
	}
}

// sweepNP proposes one index move per shard for the nonparametric
// mixture at bandwidth h.
func (c *imgChain) sweepNP(k int, st *imgState, h float64, count bool) {
	p := c.p
	d, stride := p.d, p.stride
	invM := 1 / float64(p.M)
	inv2h2 := 1 / (2 * h * h)
	s := st.s[:d]
	props := c.propose(k)
	for m := range p.M {
		rows := p.rows[m]
		a := st.t[m]
		b := props[m]
		ra := rows[a*stride : a*stride+stride : a*stride+stride]
		rb := rows[b*stride : b*stride+stride : b*stride+stride]
		dq := rb[d] - ra[d]
		ra, rb = ra[:len(s)], rb[:len(s)] // lets the compiler drop bounds checks
		sd, dd := 0.0, 0.0
		for j, v := range s {
			delta := rb[j] - ra[j]
			sd += v * delta
			dd += delta * delta
		}
		dS := dq - (2*sd+dd)*invM
		ok := c.accept(-dS * inv2h2)
		if ok && a != b {
			for j := range s {
				s[j] += rb[j] - ra[j]
			}
			st.q += dq
			st.t[m] = b
		}
		if count {
			c.prop[m]++
			if ok {
				c.acc[m]++
			}
		}
	}
}

// sweepSP proposes one index move per shard for the semiparametric
// mixture at level lv.
//
// With u = s/M − ν and δ the change of one shard's row, the log acceptance
// ratio −ΔS/(2h²) − ½·Δ[(u)ᵀG(u)] − Δℓ expands to
//
//	−Δq/(2h²) − Δℓ + Σ_j δ_j·(a_j + δ_j·k_j/2),
//	a_j = (s_j/h² − g_j·u_j)/M,  k_j = (1/h² − g_j/M)/M,
//
// where k is fixed for the sweep and a changes, by δ_j·k_j, only when a
// move is accepted: one subtraction and two multiply-adds per coordinate
// and proposal.
func (c *imgChain) sweepSP(k int, st *imgState, lv *imgLevel, count bool) {
	p := c.p
	d, stride := p.d, p.stride
	invM := 1 / float64(p.M)
	invH2 := 1 / (lv.h * lv.h)
	inv2h2 := 0.5 * invH2
	s, g, nu := st.s[:d], lv.g[:d], p.nu[:d]
	a, kk := c.coefA[:d], c.coefK[:d]
	for j, v := range s {
		kk[j] = (invH2 - g[j]*invM) * invM
		a[j] = (v*invH2 - g[j]*(v*invM-nu[j])) * invM
	}
	props := c.propose(k)
	for m := range p.M {
		rows := p.rows[m]
		at := st.t[m]
		b := props[m]
		ra := rows[at*stride : at*stride+stride : at*stride+stride]
		rb := rows[b*stride : b*stride+stride : b*stride+stride]
		dq := rb[d] - ra[d]
		dl := rb[d+1] - ra[d+1]
		ra, rb = ra[:len(s)], rb[:len(s)]
		a, kk := a[:len(s)], kk[:len(s)]
		lin := 0.0
		for j := range s {
			delta := rb[j] - ra[j]
			lin += delta * (a[j] + 0.5*delta*kk[j])
		}
		logA := lin - dq*inv2h2 - dl
		ok := c.accept(logA)
		if ok && at != b {
			for j := range s {
				delta := rb[j] - ra[j]
				s[j] += delta
				a[j] += delta * kk[j]
			}
			st.q += dq
			st.t[m] = b
		}
		if count {
			c.prop[m]++
			if ok {
				c.acc[m]++
			}
		}
	}
}

// logTarget returns the part of log W(t·) at level lv that differs between
// levels: −S/(2h²), plus for the semiparametric mixture the quadratic form
// of log N(θ̄ | μ_M, Σ_M + (h²/M)I). (The shards' denominators are the
// same at every level and cancel in a swap.)
func (c *imgChain) logTarget(st *imgState, lv *imgLevel) float64 {
	invM := 1 / float64(c.p.M)
	S := st.q - floats.Dot(st.s, st.s)*invM
	v := -S / (2 * lv.h * lv.h)
	if c.p.semi {
		for j, sj := range st.s {
			u := sj*invM - c.p.nu[j]
			v -= 0.5 * lv.g[j] * u * u
		}
	}
	return v
}

// swaps proposes exchanging the states of adjacent levels: the pairs
// (0,1), (2,3), … after even sweeps and (1,2), (3,4), … after odd ones,
// the deterministic even–odd scheme of non-reversible parallel tempering
// (Syed, Bouchard-Côté, Deligiannidis & Doucet 2022).
func (c *imgChain) swaps(i int, count bool) {
	for k := i % 2; k+1 < len(c.levels); k += 2 {
		x, y := &c.states[c.at[k]], &c.states[c.at[k+1]]
		lk, lk1 := &c.levels[k], &c.levels[k+1]
		logR := c.logTarget(y, lk) + c.logTarget(x, lk1) - c.logTarget(x, lk) - c.logTarget(y, lk1)
		ok := c.accept(logR)
		if ok {
			c.at[k], c.at[k+1] = c.at[k+1], c.at[k]
		}
		if count {
			c.swapProp[k]++
			if ok {
				c.swapAcc[k]++
			}
		}
	}
}

// sweep runs sweep i (1-based) of every level and the swaps after it.
func (c *imgChain) sweep(i int, count bool) {
	p := c.p
	f := p.annealFactor(i)
	for k := range c.levels {
		c.setBandwidth(k, p.h*p.ladder[k]*f)
	}
	for k := range c.levels {
		st := &c.states[c.at[k]]
		if p.semi {
			c.sweepSP(k, st, &c.levels[k], count && k == 0)
		} else {
			c.sweepNP(k, st, c.levels[k].h, count && k == 0)
		}
	}
	if len(c.levels) > 1 {
		c.swaps(i, count)
	}
	if i%64 == 0 {
		for k := range c.states {
			c.recompute(&c.states[k])
		}
	}
}

// emit writes a draw of θ from the target level's mixture component; z
// and y are scratch of length d.
func (c *imgChain) emit(dst []float64, z, y []float64) {
	p := c.p
	st := &c.states[c.at[0]]
	h := c.levels[0].h
	M := float64(p.M)
	if !p.semi {
		sd := h / math.Sqrt(M)
		for j := range z {
			z[j] = st.s[j]/M + sd*c.r.NormFloat64()
		}
		p.unwhiten(dst, z)
		return
	}
	a := M / (h * h)
	for j, l := range p.lambda {
		prec := a + 1/l
		mean := (a*st.s[j]/M + p.nu[j]/l) / prec
		y[j] = mean + c.r.NormFloat64()/math.Sqrt(prec)
	}
	p.rotateBack(z, y)
	p.unwhiten(dst, z)
}

// targetRate returns the target level's acceptance rate so far.
func (c *imgChain) targetRate() (float64, int64) {
	var acc, prop int64
	for m := range c.acc {
		acc += c.acc[m]
		prop += c.prop[m]
	}
	return float64(acc) / float64(max(prop, 1)), prop
}

func (c *imgChain) resetCounts() {
	for m := range c.acc {
		c.acc[m], c.prop[m] = 0, 0
	}
	for k := range c.swapAcc {
		c.swapAcc[k], c.swapProp[k] = 0, 0
	}
}

func runIMG(ctx context.Context, shards [][][]float64, s Settings, opts MarkovOptions, semi, shrink bool) (*Result, error) {
	s = s.withDefaults()
	if opts.Thin < 0 {
		return nil, fmt.Errorf("thinning %d is negative", opts.Thin)
	}
	if opts.Levels < 0 {
		return nil, fmt.Errorf("number of tempering levels %d is negative", opts.Levels)
	}
	if opts.MinEffectiveDraws < 0 {
		return nil, fmt.Errorf("minimum effective draws %d is negative", opts.MinEffectiveDraws)
	}
	p, err := newIMGProblem(shards, opts, semi, shrink, s)
	if err != nil {
		return nil, err
	}
	name := "nonparametric"
	if semi {
		name = "semiparametric"
	}
	if p.parametricStart {
		return p.parametricStartResult(ctx, shards, s, opts)
	}
	burn := opts.Burn
	switch {
	case burn == 0:
		burn = (5*p.horizon + 3) / 4
	case burn < 0:
		burn = 0
	}
	// Annealing ends with burn-in, so that every kept draw uses the final
	// h: a shorter burn-in shortens the schedule, and none turns it off.
	p.horizon = min(p.horizon, burn)
	p.anneal = p.anneal && burn > 0
	K := len(p.ladder)
	thins := make([]int, s.Chains)
	rates := make([]float64, s.Chains)
	shardRates := make([][]float64, s.Chains)
	swapRates := make([][]float64, s.Chains)
	effective := make([][]float64, s.Chains)
	draws, err := runChains(ctx, s, func(ctx context.Context, chain int) ([][]float64, error) {
		c := newIMGChain(p, s.Seed, chain)
		thin := opts.Thin
		total := burn + s.Draws*max(thin, 1)
		tick := func(i int) error {
			if i%256 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
				progress(s, chain, i, total)
			}
			return nil
		}
		for i := 1; i <= burn; i++ {
			if err := tick(i); err != nil {
				return nil, err
			}
			c.sweep(i, i > burn/2)
		}
		if thin == 0 {
			thin = 1
			if a, prop := c.targetRate(); burn >= 20 && prop > 0 {
				thin = 1000
				if a > 1e-3 {
					thin = min(int(math.Ceil(1/a)), 1000)
				}
			}
			total = burn + s.Draws*thin
		}
		c.resetCounts()
		out := newDrawBlock(s.Draws, p.d)
		z, y := make([]float64, p.d), make([]float64, p.d)
		// The effective draws of every shard, measured at effectiveProbes
		// evenly spaced kept states (O(ΣT_m·d) each).
		eff := make([]float64, p.M)
		probes := 0
		every := max(1, s.Draws/effectiveProbes)
		buf := make([]float64, slices.Max(p.T))
		i := burn
		for k := range out {
			for range thin {
				i++
				if err := tick(i); err != nil {
					return nil, err
				}
				c.sweep(i, true)
			}
			c.emit(out[k], z, y)
			if k%every == every-1 {
				for m := range eff {
					eff[m] += c.conditionalESS(m, buf, z)
				}
				probes++
			}
		}
		for m := range eff {
			eff[m] /= float64(max(probes, 1))
		}
		effective[chain] = eff
		progress(s, chain, total, total)
		shardRates[chain] = make([]float64, p.M)
		for m := range c.acc {
			shardRates[chain][m] = float64(c.acc[m]) / float64(max(c.prop[m], 1))
		}
		rates[chain], _ = c.targetRate()
		swapRates[chain] = make([]float64, K-1)
		for k := range swapRates[chain] {
			swapRates[chain][k] = float64(c.swapAcc[k]) / float64(max(c.swapProp[k], 1))
		}
		thins[chain] = thin
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	info := baseInfo(name, shards, p.d, s)
	info.Pairing = "Metropolis-within-Gibbs over mixture indices"
	info.Burn = burn
	info.Thin = thins
	p.bandwidthInfo(&info, opts)
	info.Bandwidth = p.h
	info.BaseBandwidth = p.h * p.annealFactor(1)
	info.Anneal = p.anneal
	info.VarianceCorrection = shrink
	info.Ladder = make([]float64, K)
	for k, f := range p.ladder {
		info.Ladder[k] = p.h * f
	}
	info.Acceptance = rates
	info.ShardAcceptance = shardRates
	if K > 1 {
		info.SwapAcceptance = swapRates
	}
	// Effective draws per shard, averaged over the chains in chain order.
	info.EffectiveDraws = make([]float64, p.M)
	for _, eff := range effective {
		for m, v := range eff {
			info.EffectiveDraws[m] += v / float64(len(effective))
		}
	}
	target := opts.minEffective()
	if lo := slices.Min(info.EffectiveDraws); lo < float64(target) && opts.rule() != BandwidthAuto {
		m := slices.Index(info.EffectiveDraws, lo)
		p.notes = append(p.notes, fmt.Sprintf("at h = %.3g %s contributes only %.0f effective draws to the product (--bandwidth auto asks for %d): the estimate is noisy", p.h, s.shardLabel(m), lo, target))
	}
	info.Notes = p.notes
	return &Result{Draws: draws, Info: info}, nil
}

// rule returns the bandwidth rule, auto for the zero value.
func (o MarkovOptions) rule() BandwidthRule {
	if o.Bandwidth.Rule == "" {
		return BandwidthAuto
	}
	return o.Bandwidth.Rule
}

// minEffective returns the automatic bandwidth's target of effective
// draws per shard, DefaultMinEffectiveDraws for 0.
func (o MarkovOptions) minEffective() int {
	if o.MinEffectiveDraws == 0 {
		return DefaultMinEffectiveDraws
	}
	return o.MinEffectiveDraws
}

// effectiveProbes is the number of kept states per chain at which the
// shards' effective draws are measured.
const effectiveProbes = 8

// bandwidthInfo fills the bandwidth rule, whitening and calibration record.
func (p *imgProblem) bandwidthInfo(info *Info, opts MarkovOptions) {
	info.Whitening = "Cholesky factor of the mean within-shard covariance, centred on the Gaussian-product mean"
	rule := opts.rule()
	info.BandwidthRule = string(rule)
	switch rule {
	case BandwidthAuto:
		info.BandwidthRule = fmt.Sprintf("auto (from likelihood cross-validation, raised to %d effective draws per shard)", opts.minEffective())
	case BandwidthLCV:
		info.BandwidthRule = "lcv (likelihood cross-validation)"
	}
	if !math.IsNaN(p.hLCV) {
		info.BandwidthLCV = p.hLCV
	}
	info.Calibration = p.calibration
	info.EffectiveDraws = p.effective
}

// parametricStartResult returns the semiparametric estimate's parametric
// start, N(μ_M, Σ_M), drawn exactly: chain c from rng.New(seed, c), as
// Parametric draws it.
func (p *imgProblem) parametricStartResult(ctx context.Context, shards [][][]float64, s Settings, opts MarkovOptions) (*Result, error) {
	res, err := Parametric{}.Combine(ctx, shards, s)
	if err != nil {
		return nil, err
	}
	info := baseInfo("semiparametric", shards, p.d, s)
	info.Pairing = "none: the parametric start (Gaussian product), drawn independently"
	info.ParametricStart = true
	p.bandwidthInfo(&info, opts)
	info.Notes = p.notes
	res.Info = info
	return res, nil
}
