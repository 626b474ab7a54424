package sis

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
)

// StaticModel is a subposterior model (subpost.Model: LogPrior is the log
// prior density of the constrained parameters plus the log absolute
// Jacobian of the map from θ, LogLik the log-likelihood) whose tempered
// prior can be sampled exactly (subpost.PriorSampler: SamplePrior draws θ
// from the density proportional to exp(power·LogPrior(θ))). The sampler
// passes nil gradients. Methods must be safe for concurrent use.
type StaticModel interface {
	subpost.Model
	subpost.PriorSampler
}

// StaticConfig configures SampleStatic. The zero value runs an adaptive
// (not waste-free) sampler with 1000 particles on the full posterior.
type StaticConfig struct {
	// Particles is the number N of particles returned, at least 2; 0 means
	// 1000. In the waste-free variant it must be a multiple of ChainLength.
	Particles int
	// PriorPower is the power 1/M of the prior in the target p(θ)^{1/M}
	// L(θ) of a shard of M; 0 means 1 (the full posterior).
	PriorPower float64
	// ESSFraction is α: each tempering exponent is chosen so that the ESS
	// of the incremental weights is α·N. It must lie in (0, 1); 0 means 0.5.
	ESSFraction float64
	// Scheme is the resampling scheme.
	Scheme Scheme
	// WasteFree selects the waste-free variant (Dau & Chopin 2022): only
	// N/ChainLength particles are resampled, each starts a Metropolis chain
	// of ChainLength states, and all N states are kept. On multimodal
	// targets the masses of modes that the chains cannot cross between are
	// carried by the N/ChainLength chains, so that number must be large.
	WasteFree bool
	// ChainLength is P of the waste-free variant; 0 means 10.
	ChainLength int
	// MaxMoveSteps caps the Metropolis steps per stage of the adaptive
	// variant; 0 means 50. The steps stop earlier, once the mean squared
	// jump (in the metric of the particle covariance) from the start of
	// the move grows by less than JumpTolerance (0 means 0.1) in one step.
	MaxMoveSteps  int
	JumpTolerance float64
	// MaxStages caps the number of tempering stages; 0 means 1000.
	MaxStages int
	// Seed is the root seed; Run tells independent runs with the same seed
	// apart (SampleStaticChains uses Run = chain index).
	Seed, Run uint64
	// Workers is the number of goroutines; ≤ 0 means GOMAXPROCS. The
	// results do not depend on it.
	Workers int
	// Progress, when not nil, is called after each stage on the calling
	// goroutine.
	Progress func(Stage)
}

func (c StaticConfig) resolve() (StaticConfig, error) {
	if c.Particles == 0 {
		c.Particles = 1000
	}
	if c.Particles < 2 {
		return c, fmt.Errorf("number of particles %d is below 2", c.Particles)
	}
	if c.PriorPower == 0 {
		c.PriorPower = 1
	}
	if !(c.PriorPower > 0) || math.IsInf(c.PriorPower, 0) {
		return c, fmt.Errorf("prior power %g must be positive and finite", c.PriorPower)
	}
	if c.ESSFraction == 0 {
		c.ESSFraction = 0.5
	}
	if !(c.ESSFraction > 0 && c.ESSFraction < 1) {
		return c, fmt.Errorf("ESS fraction %g is outside (0, 1)", c.ESSFraction)
	}
	if _, err := c.Scheme.MarshalText(); err != nil {
		return c, err
	}
	if c.ChainLength == 0 {
		c.ChainLength = 10
	}
	if c.WasteFree {
		if c.ChainLength < 2 {
			return c, fmt.Errorf("waste-free chain length %d is below 2", c.ChainLength)
		}
		if c.Particles%c.ChainLength != 0 || c.Particles/c.ChainLength < 2 {
			return c, fmt.Errorf("waste-free SMC needs the number of particles (%d) to be a multiple of the chain length (%d), with at least 2 chains", c.Particles, c.ChainLength)
		}
	}
	if c.MaxMoveSteps == 0 {
		c.MaxMoveSteps = 50
	}
	if c.MaxMoveSteps < 1 {
		return c, fmt.Errorf("maximum number of move steps %d is below 1", c.MaxMoveSteps)
	}
	if c.JumpTolerance == 0 {
		c.JumpTolerance = 0.1
	}
	if !(c.JumpTolerance > 0) {
		return c, fmt.Errorf("jump tolerance %g must be positive", c.JumpTolerance)
	}
	if c.MaxStages == 0 {
		c.MaxStages = 1000
	}
	return c, nil
}

// Stage records one tempering stage.
type Stage struct {
	// Lambda is the tempering exponent λ reached.
	Lambda float64 `json:"lambda"`
	// ESS is the effective sample size of the incremental weights
	// L(θ)^{λ−λ_prev}: α·N, or more at the last stage.
	ESS float64 `json:"ess"`
	// LogEvidence is the running estimate of log ∫ p̃(θ) L(θ)^λ dθ, p̃ the
	// normalised tempered prior.
	LogEvidence float64 `json:"log_evidence"`
	// MoveSteps is the number of Metropolis steps per particle (per chain
	// in the waste-free variant: ChainLength − 1).
	MoveSteps int `json:"move_steps"`
	// Acceptance is the mean Metropolis acceptance rate of the moves.
	Acceptance float64 `json:"acceptance"`
	// SquaredJump is the mean squared distance moved by the particles from
	// the start of the move (in the metric of the particle covariance).
	SquaredJump float64 `json:"squared_jump"`
}

// StaticResult is the output of SampleStatic.
type StaticResult struct {
	// Dim is the dimension of θ, N the number of particles.
	Dim, N int
	// Params are the model's parameter blocks, for mapping θ to the
	// constrained scalars.
	Params []chains.Param
	// Theta holds the N equally weighted particles, row by row, in the
	// unconstrained space; LogPrior and LogLik are their model values.
	Theta            []float64
	LogPrior, LogLik []float64
	// LogEvidence is the estimate of log ∫ p̃(θ) L(θ) dθ with p̃ ∝ p^{power}
	// the normalised tempered prior: the log marginal likelihood when the
	// prior power is 1 and the log-prior is normalised.
	LogEvidence float64
	Stages      []Stage
	// Config is the configuration with defaults filled in.
	Config StaticConfig

	model StaticModel
}

// Particle returns particle i.
func (r *StaticResult) Particle(i int) []float64 { return r.Theta[i*r.Dim : (i+1)*r.Dim] }

// Schedule returns the tempering exponents 0 = λ_0 < λ_1 < … < λ_K = 1.
func (r *StaticResult) Schedule() []float64 {
	s := []float64{0}
	for _, st := range r.Stages {
		s = append(s, st.Lambda)
	}
	return s
}

// staticBlockSize is the number of particles per block of the SMC
// sampler, small because a particle costs a likelihood evaluation.
const staticBlockSize = 32

// smc is the state of one SampleStatic run.
type smc struct {
	cfg        StaticConfig
	m          StaticModel
	n, d       int
	power      float64
	lambda     float64
	theta, lp  []float64
	ll         []float64
	theta2     []float64 // resampled copies (standard) or chain output (waste-free)
	lp2, ll2   []float64
	jump       []float64 // whitened displacement since the start of the move
	anc        []int
	chol       []float64 // c·L, row-major lower triangular
	nb         int
	blockSize  int // particles per block (chains per block when waste-free)
	blocks     []smcBlock
	stage      int
	moveStep   int
	initTask   func(int)
	moveTask   func(int)
	chainsTask func(int)
}

type smcBlock struct {
	pcg      *rand.PCG
	r        *rand.Rand
	z, prop  []float64
	accepted int
	tried    int
	jump     float64
	err      error
	_        [64]byte
}

// SampleStatic runs an SMC sampler with adaptive tempering on the target
// p(θ)^power·L(θ)^λ, λ rising from 0 to 1 (Del Moral, Doucet & Jasra 2006;
// Jasra, Stephens, Doucet & Tsagaris 2011; Chopin & Papaspiliopoulos 2020,
// ch. 17): particles start from the tempered prior; at each stage the next
// exponent is found by bisection so that the ESS of the incremental
// weights L^{λ'−λ} is α·N (or λ' = 1 if that keeps the ESS above α·N); the
// particles are resampled and moved by random-walk Metropolis with
// proposal covariance (2.38²/d)·Σ̂, Σ̂ the weighted particle covariance
// (Roberts, Gelman & Gilks 1997). The adaptive variant repeats the moves
// until the mean squared jump stops growing; the waste-free variant runs
// chains of fixed length from N/P resampled particles and keeps every
// state. The log-evidence accumulates log((1/N)·Σ L^{λ'−λ}).
//
// It returns N equally weighted particles (resampled and moved at the
// last stage). Likelihood evaluations run in parallel over fixed blocks of
// particles with per-block random streams, so results are bit-identical
// for any number of workers. ctx is checked between Metropolis steps.
func SampleStatic(ctx context.Context, model StaticModel, cfg StaticConfig) (*StaticResult, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	d := model.Dim()
	if d < 1 {
		return nil, fmt.Errorf("model dimension %d is below 1", d)
	}
	if err := checkParams(model.Params(), d); err != nil {
		return nil, err
	}
	n := cfg.Particles
	s := &smc{cfg: cfg, m: model, n: n, d: d, power: cfg.PriorPower}
	s.theta = make([]float64, n*d)
	s.theta2 = make([]float64, n*d)
	s.jump = make([]float64, n*d)
	s.lp, s.ll = make([]float64, n), make([]float64, n)
	s.lp2, s.ll2 = make([]float64, n), make([]float64, n)
	s.anc = make([]int, n)
	s.chol = make([]float64, d*d)
	s.blockSize = staticBlockSize
	units := n
	if cfg.WasteFree {
		units = n / cfg.ChainLength
		s.anc = s.anc[:units]
		s.blockSize = max(1, staticBlockSize/cfg.ChainLength)
	}
	s.nb = (units + s.blockSize - 1) / s.blockSize
	// The initial sample and the adaptive moves work on particles in
	// blocks of staticBlockSize; the waste-free chains on blocks of chains.
	nbInit := (n + staticBlockSize - 1) / staticBlockSize
	s.blocks = make([]smcBlock, max(s.nb, nbInit))
	for b := range s.blocks {
		bl := &s.blocks[b]
		bl.pcg = rand.NewPCG(0, 0)
		bl.r = rand.New(bl.pcg)
		bl.z = make([]float64, d)
		bl.prop = make([]float64, d)
	}
	s.initTask, s.moveTask, s.chainsTask = s.initBlock, s.moveBlock, s.chainBlock
	p := newPool(cfg.Workers, len(s.blocks))
	defer p.close()

	// Stage 0: the tempered prior.
	p.run(s.initTask)
	if err := s.blockErr(); err != nil {
		return nil, err
	}
	res := &StaticResult{Dim: d, N: n, Params: model.Params(), Config: cfg, model: model}
	lw := make([]float64, n)
	w := make([]float64, n)
	rs := Resampler{Scheme: cfg.Scheme}
	resPCG := rand.NewPCG(0, 0)
	resR := rand.New(resPCG)
	logZ := 0.0
	target := cfg.ESSFraction * float64(n)
	for s.stage = 1; ; s.stage++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if s.stage > cfg.MaxStages {
			return nil, fmt.Errorf("tempering did not reach λ = 1 in %d stages (λ = %.4g)", cfg.MaxStages, s.lambda)
		}
		delta, ess, err := nextExponent(s.ll, s.lambda, target, w)
		if err != nil {
			return nil, fmt.Errorf("stage %d: %w", s.stage, err)
		}
		next := s.lambda + delta
		if delta >= 1-s.lambda {
			next = 1
		}
		if next == s.lambda {
			return nil, fmt.Errorf("stage %d: tempering stalled at λ = %.17g: the likelihood varies too much among the particles", s.stage, s.lambda)
		}
		for i, l := range s.ll {
			lw[i] = delta * l
		}
		wt, err := LogWeights(w, lw)
		if err != nil {
			return nil, fmt.Errorf("stage %d: %w", s.stage, err)
		}
		logZ += wt.LogSum - math.Log(float64(n))
		s.lambda = next
		s.calibrate(wt.W)
		resPCG.Seed(rng.Seeds(cfg.Seed, cfg.Run, uint64(s.stage), resampleStream))
		rs.Resample(s.anc, wt.W, resR)
		st := Stage{Lambda: next, ESS: ess, LogEvidence: logZ}
		if cfg.WasteFree {
			s.runChains(p, &st)
		} else if err := s.move(ctx, p, &st); err != nil {
			return nil, err
		}
		if err := s.blockErr(); err != nil {
			return nil, err
		}
		res.Stages = append(res.Stages, st)
		if cfg.Progress != nil {
			cfg.Progress(st)
		}
		if next == 1 {
			break
		}
	}
	res.Theta, res.LogPrior, res.LogLik, res.LogEvidence = s.theta, s.lp, s.ll, logZ
	return res, nil
}

// checkParams checks that the parameter blocks cover the dimension.
func checkParams(params []chains.Param, d int) error {
	k := 0
	for _, p := range params {
		if err := p.Transform.Validate(); err != nil {
			return fmt.Errorf("parameter %s: %w", p.Name, err)
		}
		k += p.Transform.Dim(p.Size())
	}
	if k != d {
		return fmt.Errorf("the model's parameters have %d unconstrained dimensions, but Dim is %d", k, d)
	}
	return nil
}

func (s *smc) blockErr() error {
	for b := range s.blocks {
		if err := s.blocks[b].err; err != nil {
			return err
		}
	}
	return nil
}

// nextExponent returns the increment δ ∈ (0, 1−λ] of the tempering
// exponent for which the ESS of the weights exp(δ·ll) is target (or 1−λ
// when even that keeps the ESS at or above target), and that ESS. w is
// scratch. The ESS is decreasing in δ, so bisection on δ finds the root.
func nextExponent(ll []float64, lambda, target float64, w []float64) (delta, ess float64, err error) {
	top := math.Inf(-1)
	for i, l := range ll {
		if l != l || math.IsInf(l, 1) {
			return 0, 0, fmt.Errorf("log-likelihood of particle %d is %g", i, l)
		}
		top = max(top, l)
	}
	if math.IsInf(top, -1) {
		return 0, 0, fmt.Errorf("the likelihood is zero at every particle: %w", ErrDegenerate)
	}
	w = w[:len(ll)]
	essAt := func(delta float64) float64 {
		for i, l := range ll {
			w[i] = delta * (l - top)
		}
		sum, sumsq := expShift(w, w, 0)
		return sum * sum / sumsq
	}
	hi := 1 - lambda
	if e := essAt(hi); e >= target {
		return hi, e, nil
	}
	lo := 0.0
	for range 300 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if essAt(mid) >= target {
			lo = mid
		} else {
			hi = mid
		}
		if hi-lo <= 1e-10*hi {
			break
		}
	}
	delta = lo
	if lo == 0 {
		delta = hi
	}
	return delta, essAt(delta), nil
}

// calibrate sets the random-walk proposal to (2.38²/d)·Σ̂ with Σ̂ the
// covariance of the particles under the weights W, regularised if it is
// not positive definite.
func (s *smc) calibrate(W []float64) {
	d := s.d
	mean := make([]float64, d)
	for i, wi := range W {
		if wi == 0 {
			continue
		}
		x := s.theta[i*d : (i+1)*d]
		for j := range d {
			mean[j] += wi * x[j]
		}
	}
	cov := mat.NewSymDense(d, nil)
	dev := make([]float64, d)
	for i, wi := range W {
		if wi == 0 {
			continue
		}
		x := s.theta[i*d : (i+1)*d]
		for j := range d {
			dev[j] = x[j] - mean[j]
		}
		for j := range d {
			for k := j; k < d; k++ {
				cov.SetSym(j, k, cov.At(j, k)+wi*dev[j]*dev[k])
			}
		}
	}
	scale := 0.0
	for j := range d {
		scale = max(scale, cov.At(j, j))
	}
	if !(scale > 0) || math.IsInf(scale, 0) {
		scale = 1
	}
	var chol mat.Cholesky
	ok := chol.Factorize(cov)
	for jitter := 1e-10 * scale; !ok && jitter <= scale; jitter *= 10 {
		reg := mat.NewSymDense(d, nil)
		reg.CopySym(cov)
		for j := range d {
			reg.SetSym(j, j, reg.At(j, j)+jitter)
		}
		ok = chol.Factorize(reg)
	}
	c := 2.38 / math.Sqrt(float64(d))
	clear(s.chol)
	if !ok {
		for j := range d {
			s.chol[j*d+j] = c * math.Sqrt(max(cov.At(j, j), 1e-12*scale))
		}
		return
	}
	var l mat.TriDense
	chol.LTo(&l)
	for j := range d {
		for k := 0; k <= j; k++ {
			s.chol[j*d+k] = c * l.At(j, k)
		}
	}
}

// initBlock draws the particles of block b from the tempered prior.
func (s *smc) initBlock(b int) {
	bl := &s.blocks[b]
	bl.err = nil
	bl.pcg.Seed(rng.Seeds(s.cfg.Seed, s.cfg.Run, 0, 0, uint64(b)))
	lo, hi := b*staticBlockSize, min((b+1)*staticBlockSize, s.n)
	d := s.d
	for i := lo; i < hi; i++ {
		x := s.theta[i*d : (i+1)*d]
		s.m.SamplePrior(x, s.power, bl.r)
		lp := s.m.LogPrior(x, nil)
		if math.IsNaN(lp) || math.IsInf(lp, 0) {
			bl.err = fmt.Errorf("the log prior is %g at a draw from the prior (θ = %v)", lp, x)
			return
		}
		ll := s.m.LogLik(x, nil)
		if math.IsNaN(ll) || math.IsInf(ll, 1) {
			bl.err = fmt.Errorf("the log-likelihood is %g at a draw from the prior (θ = %v)", ll, x)
			return
		}
		s.lp[i], s.ll[i] = lp, ll
	}
}

// mhStep makes one random-walk Metropolis step of the current target from
// (x, lp, ll), writing the new state to y (which may be x) and adding the
// whitened displacement to u when it is not nil; it reports acceptance.
func (s *smc) mhStep(bl *smcBlock, y, x []float64, lp, ll *float64, u []float64) bool {
	d := s.d
	r := bl.r
	z, prop := bl.z, bl.prop
	for j := range d {
		z[j] = r.NormFloat64()
	}
	for j := range d {
		v := x[j]
		row := s.chol[j*d : j*d+j+1]
		for k, c := range row {
			v += c * z[k]
		}
		prop[j] = v
	}
	accept := false
	lp2 := s.m.LogPrior(prop, nil)
	ll2 := math.Inf(-1)
	if !math.IsNaN(lp2) && !math.IsInf(lp2, 0) {
		ll2 = s.m.LogLik(prop, nil)
		if !math.IsNaN(ll2) && !math.IsInf(ll2, 1) {
			logA := s.power*(lp2-*lp) + s.lambda*(ll2-*ll)
			accept = logA >= 0 || r.Float64() < math.Exp(logA)
		}
	}
	if accept {
		copy(y, prop)
		*lp, *ll = lp2, ll2
		if u != nil {
			c := 2.38 / math.Sqrt(float64(d))
			for j := range d {
				u[j] += c * z[j]
			}
		}
	} else if &y[0] != &x[0] {
		copy(y, x)
	}
	return accept
}

// move runs the adaptive variant's Metropolis steps on the resampled
// particles until the mean squared jump settles.
func (s *smc) move(ctx context.Context, p *pool, st *Stage) error {
	d := s.d
	for i, a := range s.anc {
		copy(s.theta2[i*d:(i+1)*d], s.theta[a*d:(a+1)*d])
		s.lp2[i], s.ll2[i] = s.lp[a], s.ll[a]
	}
	s.theta, s.theta2 = s.theta2, s.theta
	s.lp, s.lp2 = s.lp2, s.lp
	s.ll, s.ll2 = s.ll2, s.ll
	clear(s.jump)
	prev := 0.0
	accepted, tried := 0, 0
	for s.moveStep = 1; s.moveStep <= s.cfg.MaxMoveSteps; s.moveStep++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		p.run(s.moveTask)
		jump := 0.0
		for b := range s.blocks[:s.nb] {
			bl := &s.blocks[b]
			accepted += bl.accepted
			tried += bl.tried
			jump += bl.jump
		}
		jump /= float64(s.n)
		st.MoveSteps, st.SquaredJump = s.moveStep, jump
		if jump < (1+s.cfg.JumpTolerance)*prev {
			break
		}
		prev = jump
	}
	st.Acceptance = float64(accepted) / float64(tried)
	return nil
}

// moveBlock makes one Metropolis step for the particles of block b.
func (s *smc) moveBlock(b int) {
	bl := &s.blocks[b]
	bl.pcg.Seed(rng.Seeds(s.cfg.Seed, s.cfg.Run, uint64(s.stage), uint64(s.moveStep), uint64(b)))
	bl.accepted, bl.tried, bl.jump = 0, 0, 0
	d := s.d
	lo, hi := b*staticBlockSize, min((b+1)*staticBlockSize, s.n)
	for i := lo; i < hi; i++ {
		x := s.theta[i*d : (i+1)*d]
		u := s.jump[i*d : (i+1)*d]
		if s.mhStep(bl, x, x, &s.lp[i], &s.ll[i], u) {
			bl.accepted++
		}
		bl.tried++
		for _, v := range u {
			bl.jump += v * v
		}
	}
}

// runChains is the waste-free move: chain c starts at resampled particle
// anc[c] and its ChainLength states become particles c·P, …, c·P+P−1.
func (s *smc) runChains(p *pool, st *Stage) {
	p.run(s.chainsTask)
	accepted, tried := 0, 0
	jump := 0.0
	for b := range s.blocks[:s.nb] {
		bl := &s.blocks[b]
		accepted += bl.accepted
		tried += bl.tried
		jump += bl.jump
	}
	s.theta, s.theta2 = s.theta2, s.theta
	s.lp, s.lp2 = s.lp2, s.lp
	s.ll, s.ll2 = s.ll2, s.ll
	st.MoveSteps = s.cfg.ChainLength - 1
	st.Acceptance = float64(accepted) / float64(tried)
	st.SquaredJump = jump / float64(s.n)
}

// chainBlock runs the waste-free chains of block b, writing to theta2.
func (s *smc) chainBlock(b int) {
	bl := &s.blocks[b]
	bl.pcg.Seed(rng.Seeds(s.cfg.Seed, s.cfg.Run, uint64(s.stage), 0, uint64(b)))
	bl.accepted, bl.tried, bl.jump = 0, 0, 0
	d, P := s.d, s.cfg.ChainLength
	lo, hi := b*s.blockSize, min((b+1)*s.blockSize, len(s.anc))
	for c := lo; c < hi; c++ {
		a := s.anc[c]
		base := c * P
		u := s.jump[base*d : (base+1)*d] // one displacement per chain
		clear(u)
		copy(s.theta2[base*d:(base+1)*d], s.theta[a*d:(a+1)*d])
		lp, ll := s.lp[a], s.ll[a]
		s.lp2[base], s.ll2[base] = lp, ll
		for k := 1; k < P; k++ {
			x := s.theta2[(base+k-1)*d : (base+k)*d]
			y := s.theta2[(base+k)*d : (base+k+1)*d]
			if s.mhStep(bl, y, x, &lp, &ll, u) {
				bl.accepted++
			}
			bl.tried++
			s.lp2[base+k], s.ll2[base+k] = lp, ll
			for _, v := range u {
				bl.jump += v * v
			}
		}
	}
}
