package subpost

import (
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"
)

// RWMBeta is the weight of the fixed isotropic component of the adaptive
// random-walk proposal (Roberts & Rosenthal 2009).
const RWMBeta = 0.05

// RWMStats are the sampler statistics of one random-walk Metropolis step.
type RWMStats struct {
	LogDensity float64 // lp__ at the returned point
	AcceptStat float64 // accept_stat__: min(1, π(y)/π(x)) for the proposal y
}

// RWM is one chain of adaptive random-walk Metropolis for targets without
// gradients (Haario, Saksman & Tamminen 2001; Roberts & Rosenthal 2009,
// "Examples of adaptive MCMC", §2). The proposal is the mixture
//
//	(1 − β)·N(x, 2.38²·Σ/d) + β·N(x, 0.1²·I/d),  β = 0.05,
//
// where Σ is the empirical covariance of the chain's own draws; while it
// rests on 2d draws or fewer only the fixed component is used.
//
// Adaptation happens only during warmup (Adapt), so the sampling phase is
// a time-homogeneous, valid Metropolis chain. Σ is estimated from the
// draws since the last window end of Stan's warmup schedule (the same
// doubling windows as the NUTS metric), so the initial transient is
// forgotten; the covariance of the last completed window is used until the
// current window holds more than 2d draws, and is the one frozen for
// sampling. Stan's regularisation (n/(n+5))·Σ + 1e-3·(5/(n+5))·I keeps it
// positive definite.
//
// An RWM is not safe for concurrent use; run one per goroutine.
type RWM struct {
	target Target
	rng    *rand.Rand
	dim    int

	x  []float64
	lp float64
	y  []float64
	z  []float64

	// chol is the lower Cholesky factor of the proposal covariance Σ in
	// use, row-major; haveChol says whether there is one.
	chol     []float64
	haveChol bool

	// Warmup adaptation state.
	win      *windows
	est      *welford
	lastWin  []float64 // regularised covariance of the last completed window
	sinceFac int       // iterations since chol was refactored
}

// NewRWM returns an adaptive random-walk Metropolis chain on t, drawing
// its randomness from r, that adapts over numWarmup warmup iterations.
// Call SetPosition before the first Step.
func NewRWM(t Target, numWarmup int, r *rand.Rand) *RWM {
	d := t.Dim()
	return &RWM{
		target: t, rng: r, dim: d,
		x: make([]float64, d), y: make([]float64, d), z: make([]float64, d),
		chol: make([]float64, d*d),
		win:  newWindows(numWarmup, DefaultInitBuffer, DefaultTermBuffer, DefaultBaseWindow),
		est:  newWelford(d, true),
	}
}

// SetPosition moves the chain to theta (copied). It fails if the log
// density is not finite there.
func (s *RWM) SetPosition(theta []float64) error {
	lp := s.target.LogDensity(theta, nil)
	if err := checkFinite(lp, nil); err != nil {
		return err
	}
	copy(s.x, theta)
	s.lp = lp
	return nil
}

// Position returns the current point; the slice belongs to the sampler.
func (s *RWM) Position() []float64 { return s.x }

// Step performs one Metropolis step. With warmup true the draw then feeds
// the adaptation of the proposal covariance.
func (s *RWM) Step(warmup bool) RWMStats {
	d := float64(s.dim)
	for i := range s.z {
		s.z[i] = s.rng.NormFloat64()
	}
	if s.haveChol && s.rng.Float64() >= RWMBeta {
		scale := 2.38 / math.Sqrt(d)
		for i := range s.y {
			row := s.chol[i*s.dim : i*s.dim+i+1]
			v := 0.0
			for j, l := range row {
				v += l * s.z[j]
			}
			s.y[i] = s.x[i] + scale*v
		}
	} else {
		scale := 0.1 / math.Sqrt(d)
		for i := range s.y {
			s.y[i] = s.x[i] + scale*s.z[i]
		}
	}
	lpy := s.target.LogDensity(s.y, nil)
	if math.IsNaN(lpy) {
		lpy = math.Inf(-1)
	}
	accept := 0.0
	if lpy-s.lp >= 0 {
		accept = 1
	} else if !math.IsInf(lpy, -1) {
		accept = math.Exp(lpy - s.lp)
	}
	if accept == 1 || s.rng.Float64() < accept {
		copy(s.x, s.y)
		s.lp = lpy
	}
	if warmup {
		s.adapt()
	}
	return RWMStats{LogDensity: s.lp, AcceptStat: accept}
}

// adapt feeds the current draw to the covariance estimate and refreshes
// the proposal.
func (s *RWM) adapt() {
	w := s.win
	if w.inWindow() {
		s.est.add(s.x)
	}
	refresh := false
	var cov []float64
	if w.endOfWindow() {
		w.computeNextWindow()
		if c, err := s.est.regularised(); err == nil {
			s.lastWin = c
			cov = c
			refresh = true
		}
		s.est.restart()
	} else if s.est.n > 2*s.dim {
		// Roberts & Rosenthal's running estimate, refactored every tenth
		// iteration: O(d³) work, negligible beside d log densities.
		s.sinceFac++
		if s.sinceFac >= 10 || !s.haveChol {
			if c, err := s.est.regularised(); err == nil {
				cov = c
				refresh = true
			}
		}
	} else if s.lastWin != nil && !s.haveChol {
		cov, refresh = s.lastWin, true
	}
	w.counter++
	if refresh {
		s.factor(cov)
	}
}

// EndWarmup freezes the proposal: the covariance of the last completed
// window, or failing that the running estimate if it rests on more than
// 2d draws, or else the fixed isotropic proposal alone.
func (s *RWM) EndWarmup() {
	switch {
	case s.lastWin != nil:
		s.factor(s.lastWin)
	case s.est.n > 2*s.dim:
		if c, err := s.est.regularised(); err == nil {
			s.factor(c)
		}
	}
}

// ProposalCov returns the covariance Σ of the adaptive component
// (row-major), or nil when only the fixed component is in use.
func (s *RWM) ProposalCov() []float64 {
	if !s.haveChol {
		return nil
	}
	d := s.dim
	out := make([]float64, d*d)
	for i := range d {
		for j := range d {
			v := 0.0
			for k := 0; k <= min(i, j); k++ {
				v += s.chol[i*d+k] * s.chol[j*d+k]
			}
			out[i*d+j] = v
		}
	}
	return out
}

func (s *RWM) factor(cov []float64) {
	var chol mat.Cholesky
	if !chol.Factorize(mat.NewSymDense(s.dim, append([]float64(nil), cov...))) {
		return
	}
	var l mat.TriDense
	chol.LTo(&l)
	d := s.dim
	for i := range d {
		for j := range d {
			s.chol[i*d+j] = l.At(i, j)
		}
	}
	s.haveChol = true
	s.sinceFac = 0
}
