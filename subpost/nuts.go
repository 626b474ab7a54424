package subpost

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
)

// Defaults of the No-U-Turn sampler, as in CmdStan.
const (
	DefaultMaxDepth   = 10
	DefaultMaxDeltaH  = 1000
	DefaultAdaptDelta = 0.8
)

// NUTSStats are the sampler statistics of one NUTS transition, Stan's
// sampler columns.
type NUTSStats struct {
	LogDensity  float64 // lp__: the log target at the returned point
	AcceptStat  float64 // accept_stat__: mean Metropolis probability over every leapfrog step built
	StepSize    float64 // stepsize__: the step size used
	TreeDepth   int     // treedepth__: successful doublings
	NumLeapfrog int     // n_leapfrog__: leapfrog steps, rejected last subtree included
	Divergent   bool    // divergent__: some step had H − H0 > MaxDeltaH
	Energy      float64 // energy__: the Hamiltonian at the returned point
}

// NUTS is one chain of the No-U-Turn sampler exactly as Stan implements it
// in stan/mcmc/hmc/nuts/base_nuts.hpp (Hoffman & Gelman 2014 with
// Betancourt's multinomial sampling, 2017, and the additional U-turn checks
// across subtrees of stan-dev/stan#2800, 2019):
//
//   - the trajectory doubles in a random direction; a new subtree is built
//     recursively, its points weighted by exp(H0 − H);
//   - inside a subtree the proposal is drawn uniformly-multinomially
//     between its two halves; at the top level the new subtree's proposal
//     replaces the current one with probability min(1, w_new/w_old)
//     (biased progressive sampling);
//   - every merge checks the generalised no-U-turn criterion on the merged
//     trajectory and on each half extended by the neighbouring point of the
//     other half, with ρ the sum of the momenta of all points;
//   - a step with H − H0 > MaxDeltaH is divergent and ends the trajectory;
//     an invalid new subtree is never sampled from;
//   - accept_stat is the mean of min(1, exp(H0 − H)) over every leapfrog
//     step built.
//
// The only departure from Stan is that the log density and gradient of
// the accepted point are kept, so a transition costs n_leapfrog gradients
// rather than n_leapfrog + 1. Transition does not allocate.
//
// A NUTS is not safe for concurrent use; run one per goroutine.
type NUTS struct {
	// StepSize is the nominal leapfrog step size ε.
	StepSize float64
	// MaxDepth is the maximum tree depth (default 10): at most
	// 2^MaxDepth − 1 leapfrog steps per transition.
	MaxDepth int
	// MaxDeltaH is the energy error H − H0 beyond which a step is
	// divergent (default 1000).
	MaxDeltaH float64

	target Target
	rng    *rand.Rand
	metric *metric
	dim    int

	cur             proposal   // the current state
	fwd, bck        phasePoint // the two ends of the trajectory
	sample, propose proposal
	vel             []float64 // scratch velocity M⁻¹p in the leapfrog

	// Momenta and sharp momenta at the ends of the forward and backward
	// subtrees, named as in base_nuts.hpp: pFwdBck is the momentum at the
	// backward end of the forward subtree.
	pFwdFwd, pSharpFwdFwd []float64
	pFwdBck, pSharpFwdBck []float64
	pBckFwd, pSharpBckFwd []float64
	pBckBck, pSharpBckBck []float64
	rho, rhoFwd, rhoBck   []float64
	rhoExt                []float64

	levels []treeLevel // scratch of the recursion, one per depth

	// State of the transition under way.
	eps          float64
	h0           float64
	nLeapfrog    int
	sumMetroProb float64
	divergent    bool

	// legacyCriterion restricts the U-turn checks to those of Stan before
	// 2.21 (one check per merge); tests use it to show what #2800 fixed.
	legacyCriterion bool
	// momentum, when set, replaces the momentum draw; trace, when set, sees
	// every U-turn check in order (tests).
	momentum func(p []float64)
	trace    func(pSharpMinus, pSharpPlus, rho []float64)
}

// phasePoint is a point of phase space with the log density and its
// gradient at q.
type phasePoint struct {
	q, p, g []float64
	lp      float64
}

// proposal is a candidate sample: position, log density and gradient (kept
// so the next transition needs no extra gradient) and its Hamiltonian.
type proposal struct {
	q, g []float64
	lp   float64
	h    float64
}

// treeLevel is the scratch that build_tree allocates on the stack in Stan,
// here preallocated per depth so that a transition does not allocate.
type treeLevel struct {
	pInitEnd, pSharpInitEnd   []float64
	pFinalBeg, pSharpFinalBeg []float64
	rhoInit, rhoFinal         []float64
	rhoSub, rhoExt            []float64
	proposeFinal              proposal
}

// NewNUTS returns a NUTS chain on t with a unit metric of the given kind
// ("" means diagonal) drawing its randomness from r. Call SetPosition
// before the first Transition.
func NewNUTS(t Target, kind MetricKind, r *rand.Rand) *NUTS {
	d := t.Dim()
	s := &NUTS{
		StepSize: 1, MaxDepth: DefaultMaxDepth, MaxDeltaH: DefaultMaxDeltaH,
		target: t, rng: r, metric: newMetric(d, kind), dim: d,
	}
	vec := func() []float64 { return make([]float64, d) }
	s.cur = proposal{q: vec(), g: vec()}
	s.sample = proposal{q: vec(), g: vec()}
	s.propose = proposal{q: vec(), g: vec()}
	s.fwd = phasePoint{q: vec(), p: vec(), g: vec()}
	s.bck = phasePoint{q: vec(), p: vec(), g: vec()}
	s.vel = vec()
	for _, v := range []*[]float64{
		&s.pFwdFwd, &s.pSharpFwdFwd, &s.pFwdBck, &s.pSharpFwdBck,
		&s.pBckFwd, &s.pSharpBckFwd, &s.pBckBck, &s.pSharpBckBck,
		&s.rho, &s.rhoFwd, &s.rhoBck, &s.rhoExt,
	} {
		*v = vec()
	}
	return s
}

// ensureLevels allocates the recursion scratch for MaxDepth; it allocates
// only when MaxDepth grows.
func (s *NUTS) ensureLevels() {
	for len(s.levels) < s.MaxDepth {
		d := s.dim
		vec := func() []float64 { return make([]float64, d) }
		s.levels = append(s.levels, treeLevel{
			pInitEnd: vec(), pSharpInitEnd: vec(), pFinalBeg: vec(), pSharpFinalBeg: vec(),
			rhoInit: vec(), rhoFinal: vec(), rhoSub: vec(), rhoExt: vec(),
			proposeFinal: proposal{q: vec(), g: vec()},
		})
	}
}

// ErrNotFinite is returned (wrapped) when the log density or its gradient
// is not finite at a point where it must be.
var ErrNotFinite = errors.New("log density or gradient not finite")

// SetPosition moves the chain to theta (copied), evaluating the log density
// and gradient there. It fails, leaving the chain where it was, if either
// is not finite.
func (s *NUTS) SetPosition(theta []float64) error {
	if len(theta) != s.dim {
		return fmt.Errorf("position has %d coordinates, want %d", len(theta), s.dim)
	}
	g := make([]float64, s.dim)
	lp := s.target.LogDensity(theta, g)
	if err := checkFinite(lp, g); err != nil {
		return err
	}
	copy(s.cur.q, theta)
	copy(s.cur.g, g)
	s.cur.lp = lp
	return nil
}

func checkFinite(lp float64, g []float64) error {
	if math.IsNaN(lp) || math.IsInf(lp, 0) {
		return fmt.Errorf("%w: log density is %g", ErrNotFinite, lp)
	}
	for i, v := range g {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: gradient element %d is %g", ErrNotFinite, i+1, v)
		}
	}
	return nil
}

// Position returns the current point. The slice belongs to the sampler and
// changes with the next transition.
func (s *NUTS) Position() []float64 { return s.cur.q }

// LogDensity returns the log target at the current point.
func (s *NUTS) LogDensity() float64 { return s.cur.lp }

// SetInvMetric sets the inverse metric M⁻¹: its diagonal (length Dim) for a
// diagonal metric, or the full row-major matrix (length Dim²) for a dense
// one.
func (s *NUTS) SetInvMetric(v []float64) error {
	if s.metric.dense {
		if len(v) != s.dim*s.dim {
			return fmt.Errorf("dense inverse metric has %d elements, want %d", len(v), s.dim*s.dim)
		}
		return s.metric.setDense(v)
	}
	if len(v) != s.dim {
		return fmt.Errorf("diagonal inverse metric has %d elements, want %d", len(v), s.dim)
	}
	return s.metric.setDiag(v)
}

// InvMetric returns a copy of the inverse metric M⁻¹, as SetInvMetric takes
// it.
func (s *NUTS) InvMetric() []float64 { return s.metric.invMetric() }

func (s *NUTS) sampleMomentum(p []float64) {
	if s.momentum != nil {
		s.momentum(p)
		return
	}
	s.metric.sampleMomentum(p, s.rng)
}

// leapfrog advances z by one explicit leapfrog step of size eps (negative
// for a backward step), as Stan's expl_leapfrog: half kick, drift, full
// gradient, half kick. A NaN log density counts as −∞ (Stan's behaviour
// when the model throws), which makes the step divergent.
func (s *NUTS) leapfrog(z *phasePoint, eps float64) {
	half := 0.5 * eps
	if s.metric.dense {
		for i, g := range z.g {
			z.p[i] += half * g
		}
		s.metric.sharp(s.vel, z.p)
		for i, v := range s.vel {
			z.q[i] += eps * v
		}
	} else {
		inv, p, q := s.metric.invDiag[:len(z.g)], z.p[:len(z.g)], z.q[:len(z.g)]
		for i, g := range z.g {
			p[i] += half * g
			q[i] += eps * inv[i] * p[i]
		}
	}
	z.lp = s.target.LogDensity(z.q, z.g)
	if math.IsNaN(z.lp) {
		z.lp = math.Inf(-1)
	}
	for i, g := range z.g {
		z.p[i] += half * g
	}
}

// logSumExp returns log(exp(a) + exp(b)), as stan::math::log_sum_exp.
func logSumExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	if a > b {
		return a + math.Log1p(math.Exp(b-a))
	}
	return b + math.Log1p(math.Exp(a-b))
}

// noUTurn is Stan's compute_criterion: the trajectory with momentum sum rho
// has not turned back if both end velocities point along rho.
func noUTurn(pSharpMinus, pSharpPlus, rho []float64) bool {
	minus, plus := dot2(pSharpMinus, pSharpPlus, rho)
	return plus > 0 && minus > 0
}

func swapProposals(a, b *proposal) { *a, *b = *b, *a }

// Transition performs one NUTS transition from the current point with the
// nominal step size and returns its statistics; the new point is
// Position().
func (s *NUTS) Transition() NUTSStats {
	s.ensureLevels()
	s.eps = s.StepSize

	copy(s.fwd.q, s.cur.q)
	copy(s.fwd.g, s.cur.g)
	s.fwd.lp = s.cur.lp
	s.sampleMomentum(s.fwd.p)
	copy(s.bck.q, s.fwd.q)
	copy(s.bck.p, s.fwd.p)
	copy(s.bck.g, s.fwd.g)
	s.bck.lp = s.fwd.lp

	p := s.fwd.p
	s.metric.sharp(s.pSharpFwdFwd, p)
	s.h0 = -s.cur.lp + 0.5*dot(p, s.pSharpFwdFwd)
	for _, v := range [][]float64{s.pSharpFwdBck, s.pSharpBckFwd, s.pSharpBckBck} {
		copy(v, s.pSharpFwdFwd)
	}
	for _, v := range [][]float64{s.pFwdFwd, s.pFwdBck, s.pBckFwd, s.pBckBck, s.rho} {
		copy(v, p)
	}

	// The sample starts as the current point; its buffers are swapped in
	// rather than copied, and swapped back at the end.
	swapProposals(&s.cur, &s.sample)
	s.sample.h = s.h0

	logSumWeight := 0.0 // log(exp(H0 − H0))
	s.nLeapfrog = 0
	s.sumMetroProb = 0
	s.divergent = false
	depth := 0

	for depth < s.MaxDepth {
		clear(s.rhoFwd)
		clear(s.rhoBck)
		lswSubtree := math.Inf(-1)
		var valid bool
		if s.rng.Float64() > 0.5 {
			// Extend the trajectory forward: the old trajectory becomes
			// the backward subtree.
			copy(s.rhoBck, s.rho)
			copy(s.pBckFwd, s.pFwdFwd)
			copy(s.pSharpBckFwd, s.pSharpFwdFwd)
			valid = s.buildTree(depth, &s.fwd, &s.propose,
				s.pSharpFwdBck, s.pSharpFwdFwd, s.rhoFwd, s.pFwdBck, s.pFwdFwd, 1, &lswSubtree)
		} else {
			copy(s.rhoFwd, s.rho)
			copy(s.pFwdBck, s.pBckBck)
			copy(s.pSharpFwdBck, s.pSharpBckBck)
			valid = s.buildTree(depth, &s.bck, &s.propose,
				s.pSharpBckFwd, s.pSharpBckBck, s.rhoBck, s.pBckFwd, s.pBckBck, -1, &lswSubtree)
		}
		if !valid {
			break
		}
		depth++

		// Biased progressive sampling (Betancourt 2017, appendix A.3.2).
		if lswSubtree > logSumWeight {
			swapProposals(&s.sample, &s.propose)
		} else if s.rng.Float64() < math.Exp(lswSubtree-logSumWeight) {
			swapProposals(&s.sample, &s.propose)
		}
		logSumWeight = logSumExp(logSumWeight, lswSubtree)

		for i := range s.rho {
			s.rho[i] = s.rhoBck[i] + s.rhoFwd[i]
		}
		persist := s.criterion(s.pSharpBckBck, s.pSharpFwdFwd, s.rho, nil)
		if !s.legacyCriterion {
			// Across the merge: the backward subtree plus the first point
			// of the forward one, and the forward subtree plus the last
			// point of the backward one (stan-dev/stan#2800).
			persist = s.criterion(s.pSharpBckBck, s.pSharpFwdBck, s.rhoBck, s.pFwdBck) && persist
			persist = s.criterion(s.pSharpBckFwd, s.pSharpFwdFwd, s.rhoFwd, s.pBckFwd) && persist
		}
		if !persist {
			break
		}
	}

	swapProposals(&s.cur, &s.sample)
	return NUTSStats{
		LogDensity:  s.cur.lp,
		AcceptStat:  s.sumMetroProb / float64(s.nLeapfrog),
		StepSize:    s.eps,
		TreeDepth:   depth,
		NumLeapfrog: s.nLeapfrog,
		Divergent:   s.divergent,
		Energy:      s.cur.h,
	}
}

// buildTree is Stan's build_tree: it extends z by a subtree of 2^depth
// leapfrog steps in direction sign, accumulating its momentum sum into rho
// and its log weight into logSumWeight, and reports whether the subtree is
// valid (no divergence, no internal U-turn). pBeg/pEnd and their sharp
// versions receive the momenta at the subtree's two ends; propose its
// multinomial draw.
func (s *NUTS) buildTree(depth int, z *phasePoint, propose *proposal,
	pSharpBeg, pSharpEnd, rho, pBeg, pEnd []float64, sign float64, logSumWeight *float64) bool {
	if depth == 0 {
		s.leapfrog(z, sign*s.eps)
		s.nLeapfrog++
		var h float64
		if s.metric.dense {
			s.metric.sharp(pSharpBeg, z.p)
			h = -z.lp + 0.5*dot(z.p, pSharpBeg)
			copy(pSharpEnd, pSharpBeg)
			for i, v := range z.p {
				rho[i] += v
			}
		} else {
			// One pass for the diagonal metric: velocity, kinetic energy,
			// momentum sum and the subtree's end momenta.
			inv := s.metric.invDiag[:len(z.p)]
			pSharpBeg, pSharpEnd, rho = pSharpBeg[:len(z.p)], pSharpEnd[:len(z.p)], rho[:len(z.p)]
			kin := 0.0
			for i, v := range z.p {
				ps := inv[i] * v
				pSharpBeg[i], pSharpEnd[i] = ps, ps
				kin += v * ps
				rho[i] += v
			}
			h = -z.lp + 0.5*kin
		}
		if math.IsNaN(h) {
			h = math.Inf(1)
		}
		if h-s.h0 > s.MaxDeltaH {
			s.divergent = true
		}
		*logSumWeight = logSumExp(*logSumWeight, s.h0-h)
		if s.h0-h > 0 {
			s.sumMetroProb++
		} else {
			s.sumMetroProb += math.Exp(s.h0 - h)
		}
		copy(propose.q, z.q)
		copy(propose.g, z.g)
		propose.lp = z.lp
		propose.h = h
		copy(pBeg, z.p)
		copy(pEnd, z.p)
		return !s.divergent
	}

	lv := &s.levels[depth]

	// The initial half, from the current end of z.
	lswInit := math.Inf(-1)
	clear(lv.rhoInit)
	if !s.buildTree(depth-1, z, propose, pSharpBeg, lv.pSharpInitEnd, lv.rhoInit, pBeg, lv.pInitEnd, sign, &lswInit) {
		return false
	}
	// The final half.
	lswFinal := math.Inf(-1)
	clear(lv.rhoFinal)
	if !s.buildTree(depth-1, z, &lv.proposeFinal, lv.pSharpFinalBeg, pSharpEnd, lv.rhoFinal, lv.pFinalBeg, pEnd, sign, &lswFinal) {
		return false
	}

	// Uniform multinomial choice between the halves.
	lswSubtree := logSumExp(lswInit, lswFinal)
	*logSumWeight = logSumExp(*logSumWeight, lswSubtree)
	if lswFinal > lswSubtree {
		swapProposals(propose, &lv.proposeFinal)
	} else if s.rng.Float64() < math.Exp(lswFinal-lswSubtree) {
		swapProposals(propose, &lv.proposeFinal)
	}

	for i := range lv.rhoSub {
		lv.rhoSub[i] = lv.rhoInit[i] + lv.rhoFinal[i]
		rho[i] += lv.rhoSub[i]
	}
	persist := s.criterion(pSharpBeg, pSharpEnd, lv.rhoSub, nil)
	if s.legacyCriterion {
		return persist
	}
	persist = s.criterion(pSharpBeg, lv.pSharpFinalBeg, lv.rhoInit, lv.pFinalBeg) && persist
	return s.criterion(lv.pSharpInitEnd, pSharpEnd, lv.rhoFinal, lv.pInitEnd) && persist
}

// criterion is Stan's compute_criterion(pSharpMinus, pSharpPlus, ρ) for
// ρ = rho + ext (ext nil: ρ = rho), computed in one pass without forming
// ρ; the test hook, when set, sees ρ.
func (s *NUTS) criterion(pSharpMinus, pSharpPlus, rho, ext []float64) bool {
	if s.trace != nil {
		r := rho
		if ext != nil {
			r = s.rhoExt
			for i := range r {
				r[i] = rho[i] + ext[i]
			}
		}
		s.trace(pSharpMinus, pSharpPlus, r)
	}
	var minus, plus float64
	if ext == nil {
		minus, plus = dot2(pSharpMinus, pSharpPlus, rho)
	} else {
		minus, plus = dot2Sum(pSharpMinus, pSharpPlus, rho, ext)
	}
	return plus > 0 && minus > 0
}

// InitStepSize is Stan's base_hmc::init_stepsize: from the current point,
// one leapfrog step with fresh momentum decides whether the acceptance
// log ratio H0 − H is above log 0.8; the step size is then doubled (or
// halved) until a further trial lands on the other side. One gradient per
// trial. Extreme step sizes (0, NaN, > 1e7) are left alone, as in Stan.
func (s *NUTS) InitStepSize() error {
	if s.StepSize == 0 || s.StepSize > 1e7 || math.IsNaN(s.StepSize) {
		return nil
	}
	logTarget := math.Log(0.8)
	deltaH := s.trialDeltaH()
	direction := -1
	if deltaH > logTarget {
		direction = 1
	}
	for {
		deltaH = s.trialDeltaH()
		if direction == 1 && !(deltaH > logTarget) {
			break
		}
		if direction == -1 && !(deltaH < logTarget) {
			break
		}
		if direction == 1 {
			s.StepSize *= 2
		} else {
			s.StepSize *= 0.5
		}
		if s.StepSize > 1e7 {
			return errors.New("posterior is improper: the step size grew beyond 1e7 while searching for an acceptable one; check the model")
		}
		if s.StepSize == 0 {
			return errors.New("no acceptably small step size could be found; perhaps the posterior is not continuous")
		}
	}
	return nil
}

// trialDeltaH takes one leapfrog step of the nominal size from the current
// point with fresh momentum and returns H0 − H (−∞ when H is NaN).
func (s *NUTS) trialDeltaH() float64 {
	z := &s.fwd
	copy(z.q, s.cur.q)
	copy(z.g, s.cur.g)
	z.lp = s.cur.lp
	s.sampleMomentum(z.p)
	s.metric.sharp(s.pSharpFwdFwd, z.p)
	h0 := -z.lp + 0.5*dot(z.p, s.pSharpFwdFwd)
	s.leapfrog(z, s.StepSize)
	s.metric.sharp(s.pSharpFwdFwd, z.p)
	h := -z.lp + 0.5*dot(z.p, s.pSharpFwdFwd)
	if math.IsNaN(h) {
		h = math.Inf(1)
	}
	return h0 - h
}
