package models

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/subpost/data"
)

// blockRows is the number of rows whose linear predictors are held at once
// (on the stack) by the logistic and Poisson likelihoods.
const blockRows = 256

// glm is the linear, logistic and Poisson regression of y on the
// predictors X with linear predictor η = alpha + X·beta. θ is
// (alpha, beta, [log sigma]), alpha only with an intercept, log sigma only
// for the linear model with unknown sigma; with standardisation alpha and
// beta are the standardised coefficients.
type glm struct {
	kind       string
	n, p       int
	intercept  bool
	x          []float64 // n×p, row-major, standardised when asked
	y          []float64
	center     []float64 // standardisation constants, nil without
	scale      []float64
	priorScale float64
	known      bool    // linear: sigma known
	sigma      float64 // known sigma
	sigmaScale float64 // half-normal scale of an unknown sigma
	params     []chains.Param

	// linear: the triangular factor of [1 X−m_x y−m_y] (see
	// linearFactor), m_x and m_y the shard means (zero without intercept).
	rAug []float64
	q    int // order of rAug
	mx   []float64
	my   float64
	// poisson: Σ_i log(y_i!)
	logFactorials float64
	scratch       sync.Pool // linear with q > 64: work vectors
	blocks        sync.Pool // logistic and Poisson: *[blockRows]float64
}

func newGLM(kind string, full *data.Table, y []float64, xs [][]float64, rows []int, r resolved) (*glm, error) {
	m := &glm{
		kind: kind, n: len(rows), p: len(xs), intercept: !r.NoIntercept,
		priorScale: r.PriorScale, known: r.knownSigma, sigma: r.Sigma, sigmaScale: r.SigmaPriorScale,
	}
	// Responses are checked over the whole data set, so that every shard
	// fails (or not) alike.
	for i, v := range y {
		switch kind {
		case "logistic":
			if v != 0 && v != 1 {
				return nil, fmt.Errorf("%s: row %d, column %q: logistic regression needs 0 or 1, have %g", source(full), i+1, r.Y[0], v)
			}
		case "poisson":
			if v < 0 || v != math.Trunc(v) || v > 1<<53 {
				return nil, fmt.Errorf("%s: row %d, column %q: Poisson regression needs a non-negative integer count, have %g", source(full), i+1, r.Y[0], v)
			}
		}
	}
	if r.Standardize {
		m.center = make([]float64, m.p)
		m.scale = make([]float64, m.p)
		for j, x := range xs {
			mean, sd := meanSD(x)
			if !(sd > 0) {
				return nil, fmt.Errorf("%s: column %q is constant, so it cannot be standardised", source(full), r.X[j])
			}
			if m.intercept {
				m.center[j] = mean
			}
			m.scale[j] = sd
		}
	}
	m.x = make([]float64, m.n*m.p)
	m.y = make([]float64, m.n)
	for k, i := range rows {
		m.y[k] = y[i]
		row := m.x[k*m.p : (k+1)*m.p]
		for j, x := range xs {
			row[j] = x[i]
			if m.scale != nil {
				row[j] = (x[i] - m.center[j]) / m.scale[j]
			}
		}
	}
	switch kind {
	case "linear":
		m.mx = make([]float64, m.p)
		if m.intercept {
			// Centring keeps the factor's entries at the scale of the
			// data's variation, not of its level: only then does RSS keep
			// its precision when responses are large and residuals small.
			for i := 0; i < m.n; i++ {
				m.my += m.y[i]
				for j := range m.mx {
					m.mx[j] += m.x[i*m.p+j]
				}
			}
			m.my /= float64(m.n)
			for j := range m.mx {
				m.mx[j] /= float64(m.n)
			}
		}
		m.rAug, m.q = linearFactor(m.x, m.y, m.mx, m.my, m.n, m.p, m.intercept)
	case "poisson":
		for _, v := range m.y {
			lg, _ := math.Lgamma(v + 1)
			m.logFactorials += lg
		}
	}
	if m.intercept {
		m.params = append(m.params, chains.Param{Name: "alpha"})
	}
	m.params = append(m.params, chains.Param{Name: "beta", Shape: []int{m.p}})
	if kind == "linear" && !m.known {
		m.params = append(m.params, chains.Param{Name: "sigma", Transform: chains.Transform{Kind: chains.Lower}})
	}
	return m, nil
}

// meanSD returns the mean and the sample standard deviation (n − 1
// denominator) of x, in two passes.
func meanSD(x []float64) (mean, sd float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	ss := 0.0
	for _, v := range x {
		ss += (v - mean) * (v - mean)
	}
	if len(x) < 2 {
		return mean, 0
	}
	return mean, math.Sqrt(ss / float64(len(x)-1))
}

func (m *glm) Dim() int {
	d := m.p
	if m.intercept {
		d++
	}
	if m.kind == "linear" && !m.known {
		d++
	}
	return d
}

func (m *glm) Params() []chains.Param { return m.params }

// split returns the parts of θ (or of a gradient laid out like θ).
func (m *glm) split(theta []float64) (alpha *float64, beta []float64, logSigma *float64) {
	k := 0
	if m.intercept {
		alpha = &theta[0]
		k = 1
	}
	beta = theta[k : k+m.p]
	if m.kind == "linear" && !m.known {
		logSigma = &theta[k+m.p]
	}
	return alpha, beta, logSigma
}

func (m *glm) LogPrior(theta, grad []float64) float64 {
	nc := m.p
	if m.intercept {
		nc++
	}
	var gc, gs []float64
	if grad != nil {
		gc, gs = grad[:nc], grad[nc:]
	}
	lp := normalPrior(theta[:nc], gc, m.priorScale)
	if m.kind == "linear" && !m.known {
		lp += logSigmaPrior(theta[nc:nc+1], gs, m.sigmaScale)
	}
	return lp
}

func (m *glm) SamplePrior(theta []float64, power float64, r *rand.Rand) {
	nc := m.p
	if m.intercept {
		nc++
	}
	sampleNormalPrior(theta[:nc], m.priorScale, power, r)
	if m.kind == "linear" && !m.known {
		sampleLogSigmaPrior(theta[nc:nc+1], m.sigmaScale, power, r)
	}
}

// Constrain reports θ on the data's original scale: beta_j = b_j/s_j,
// alpha = a − Σ_j beta_j·m_j with the standardisation constants (identity
// without standardisation), and sigma = exp(log sigma).
func (m *glm) Constrain(x, theta []float64) {
	alpha, beta, logSigma := m.split(theta)
	k := 0
	if alpha != nil {
		k = 1
	}
	a := 0.0
	if alpha != nil {
		a = *alpha
	}
	for j, b := range beta {
		if m.scale != nil {
			b /= m.scale[j]
			a -= b * m.center[j]
		}
		x[k+j] = b
	}
	if alpha != nil {
		x[0] = a
	}
	if logSigma != nil {
		x[k+m.p] = math.Exp(*logSigma)
	}
}

func (m *glm) LogLik(theta, grad []float64) float64 {
	alpha, beta, logSigma := m.split(theta)
	var ga, gs *float64
	var gb []float64
	if grad != nil {
		ga, gb, gs = m.split(grad)
	}
	a := 0.0
	if alpha != nil {
		a = *alpha
	}
	switch m.kind {
	case "linear":
		return m.linearLogLik(a, beta, logSigma, ga, gb, gs)
	case "logistic":
		return m.logisticLogLik(a, beta, ga, gb)
	default:
		return m.poissonLogLik(a, beta, ga, gb)
	}
}

var impl gonum.Implementation

// etaBlock writes the linear predictors X_b·beta of rows [lo, lo+len(eta))
// to eta (gonum's assembly GEMV).
func (m *glm) etaBlock(eta []float64, lo int, beta []float64) {
	nb := len(eta)
	impl.Dgemv(blas.NoTrans, nb, m.p, 1, m.x[lo*m.p:(lo+nb)*m.p], m.p, beta, 1, 0, eta, 1)
}

// gradBlock adds X_bᵀ·r to gb for rows [lo, lo+len(r)).
func (m *glm) gradBlock(gb []float64, lo int, r []float64) {
	nb := len(r)
	impl.Dgemv(blas.Trans, nb, m.p, 1, m.x[lo*m.p:(lo+nb)*m.p], m.p, r, 1, 1, gb, 1)
}

// etaBuffer returns a block buffer for the linear predictors. gonum's
// assembly kernels make their slice arguments escape, so a stack array
// would move to the heap on every call; pooled buffers keep evaluations
// allocation-free and safe for concurrent use.
func (m *glm) etaBuffer() *[blockRows]float64 {
	if b, ok := m.blocks.Get().(*[blockRows]float64); ok {
		return b
	}
	return new([blockRows]float64)
}

// logisticLogLik is Σ_i y_i·η_i − log(1 + e^{η_i}). Each row takes one
// exponential, e = exp(−|η|), shared by log(1 + e^η) = max(η, 0) + log(1 + e)
// and the residual y − logit⁻¹(η). The logarithms are taken once per block
// of rows, of the product Π(1 + e_i) ≤ 2^256 (no overflow), which costs
// about 3·10⁻¹⁴ absolute per block — far below what matters for a sum of
// thousands of terms — and saves a log1p per row. The products with X run
// blockwise through gonum's assembly GEMV, as Stan's bernoulli_logit_glm
// does with Eigen.
func (m *glm) logisticLogLik(alpha float64, beta []float64, ga *float64, gb []float64) float64 {
	buf := m.etaBuffer()
	defer m.blocks.Put(buf)
	if gb != nil {
		clear(gb)
	}
	ll, sumR := 0.0, 0.0
	for lo := 0; lo < m.n; lo += blockRows {
		eta := buf[:min(blockRows, m.n-lo)]
		m.etaBlock(eta, lo, beta)
		y := m.y[lo : lo+len(eta)]
		prod := 1.0
		for i, e := range eta {
			e += alpha
			ex := math.Exp(-math.Abs(e))
			prod *= 1 + ex
			// logit⁻¹(η) = 1/(1 + e) for η ≥ 0, e/(1 + e) otherwise. (A
			// branch-free form with Copysign measured slower.)
			s := 1 / (1 + ex)
			if e >= 0 {
				ll += (y[i] - 1) * e
			} else {
				ll += y[i] * e
				s *= ex
			}
			r := y[i] - s
			eta[i] = r
			sumR += r
		}
		ll -= math.Log(prod)
		if gb != nil {
			m.gradBlock(gb, lo, eta)
		}
	}
	if ga != nil {
		*ga = sumR
	}
	return ll
}

// poissonLogLik is Σ_i y_i·η_i − e^{η_i} − log(y_i!), blockwise like the
// logistic.
func (m *glm) poissonLogLik(alpha float64, beta []float64, ga *float64, gb []float64) float64 {
	buf := m.etaBuffer()
	defer m.blocks.Put(buf)
	if gb != nil {
		clear(gb)
	}
	ll, sumR := -m.logFactorials, 0.0
	for lo := 0; lo < m.n; lo += blockRows {
		eta := buf[:min(blockRows, m.n-lo)]
		m.etaBlock(eta, lo, beta)
		y := m.y[lo : lo+len(eta)]
		for i, e := range eta {
			e += alpha
			mu := math.Exp(e)
			ll += y[i]*e - mu
			r := y[i] - mu
			eta[i] = r
			sumR += r
		}
		if gb != nil {
			m.gradBlock(gb, lo, eta)
		}
	}
	if ga != nil {
		*ga = sumR
	}
	return ll
}

// linearFactor returns the upper-triangular q×q factor R (row-major) of
// the augmented design A = [1 X−m_x y−m_y] (without the column of ones when
// there is no intercept), AᵀA = RᵀR, built one row at a time with Givens
// rotations (Gentleman 1973, "Least squares computations by Givens
// transformations without square roots", AS 75), so that no n×q copy is
// needed and rank deficiency is harmless. For v = (−a, −beta, 1), with
// a = alpha − m_y + m_x·beta, the residual sum of squares is then
// Σ_i (y_i − alpha − x_i·beta)² = ‖A·v‖² = ‖R·v‖²: an O(q²) evaluation
// whatever n, and a sum of squares, so it does not lose precision to
// cancellation as the expanded form yᵀy − 2βᵀXᵀy + βᵀXᵀXβ would. The column
// of ones absorbs exactly whatever rounding the centring leaves.
func linearFactor(x, y, mx []float64, my float64, n, p int, intercept bool) ([]float64, int) {
	q := p + 1
	off := 0
	if intercept {
		q++
		off = 1
	}
	r := make([]float64, q*q)
	row := make([]float64, q)
	for i := 0; i < n; i++ {
		if intercept {
			row[0] = 1
		}
		for j, v := range x[i*p : (i+1)*p] {
			row[off+j] = v - mx[j]
		}
		row[q-1] = y[i] - my
		for j := 0; j < q; j++ {
			a := row[j]
			if a == 0 {
				continue
			}
			rj := r[j*q : (j+1)*q]
			d := rj[j]
			if d == 0 {
				copy(rj[j:], row[j:])
				break
			}
			h := math.Hypot(d, a)
			c, s := d/h, a/h
			rj[j] = h
			for k := j + 1; k < q; k++ {
				rk, ak := rj[k], row[k]
				rj[k] = c*rk + s*ak
				row[k] = c*ak - s*rk
			}
		}
	}
	return r, q
}

// linearLogLik is −n·log(σ√(2π)) − RSS/(2σ²) with RSS = ‖R·v‖² (see
// linearFactor); the gradient of RSS in v is 2·Rᵀ(R·v), and a depends on
// alpha and beta through a = (alpha − m_y) + m_x·beta.
func (m *glm) linearLogLik(alpha float64, beta []float64, logSigma, ga *float64, gb []float64, gs *float64) float64 {
	q := m.q
	off := 0
	if m.intercept {
		off = 1
	}
	var vbuf, ubuf [64]float64
	var v, u []float64
	if q <= len(vbuf) {
		v, u = vbuf[:q], ubuf[:q]
	} else {
		// Many predictors: pooled scratch keeps evaluations allocation-free.
		b, _ := m.scratch.Get().(*[]float64)
		if b == nil {
			s := make([]float64, 2*q)
			b = &s
		}
		defer m.scratch.Put(b)
		v, u = (*b)[:q], (*b)[q:2*q]
	}
	if m.intercept {
		a := alpha - m.my
		for j, b := range beta {
			a += m.mx[j] * b
		}
		v[0] = -a
	}
	for j, b := range beta {
		v[off+j] = -b
	}
	v[q-1] = 1
	rss := 0.0
	for i := 0; i < q; i++ {
		ri := m.rAug[i*q : (i+1)*q]
		s := 0.0
		for k := i; k < q; k++ {
			s += ri[k] * v[k]
		}
		u[i] = s
		rss += s * s
	}
	n := float64(m.n)
	var logS, inv float64
	if logSigma != nil {
		logS = *logSigma
		inv = math.Exp(-2 * logS)
	} else {
		logS = math.Log(m.sigma)
		inv = 1 / (m.sigma * m.sigma)
	}
	ll := -n*(halfLog2Pi+logS) - 0.5*rss*inv
	if gb != nil {
		// ∂ll/∂v = −inv·Rᵀu; ∂v/∂(alpha, beta) = −1.
		clear(v)
		for i := 0; i < q; i++ {
			ri := m.rAug[i*q : (i+1)*q]
			for k := i; k < q; k++ {
				v[k] += ri[k] * u[i]
			}
		}
		if ga != nil {
			*ga = inv * v[0]
		}
		for j := range gb {
			gb[j] = inv * (v[off+j] + v[0]*m.mx[j])
		}
		if gs != nil {
			*gs = rss*inv - n
		}
	}
	return ll
}
