package sis

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// logSqrt2Pi is log √(2π).
var logSqrt2Pi = 0.5 * math.Log(2*math.Pi)

// normLogPDF returns the log density of N(mu, sd²) at x.
func normLogPDF(x, mu, sd float64) float64 {
	z := (x - mu) / sd
	return -0.5*z*z - math.Log(sd) - logSqrt2Pi
}

// checkSeries reports the first value of y that is not finite.
func checkSeries(y []float64) error {
	if len(y) == 0 {
		return fmt.Errorf("no observations")
	}
	for t, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("observation %d is %g", t, v)
		}
	}
	return nil
}

// LinearGauss is the linear Gaussian state-space model
//
//	X_0 ~ N(0, σ_0²),  X_t = ρ·X_{t−1} + σ_X·U_t,  Y_t = X_t + σ_Y·V_t,
//
// with U_t, V_t independent standard normals, observed at Y; σ_0 defaults to
// the stationary σ_X/√(1−ρ²). It is the model of Chopin & Papaspiliopoulos
// (2020, §10.2; kalman.LinearGauss in the Python package particles), for
// which Kalman gives the exact likelihood and filtering distributions. The
// guided filter uses the locally optimal proposal p(x_t | x_{t−1}, y_t).
type LinearGauss struct {
	Rho, SigmaX, SigmaY float64
	// Sigma0 is the standard deviation of X_0; 0 means σ_X/√(1−ρ²), which
	// needs |ρ| < 1.
	Sigma0 float64
	Y      []float64
}

// Validate checks the parameters and observations.
func (m *LinearGauss) Validate() error {
	switch {
	case !(m.SigmaX > 0) || math.IsInf(m.SigmaX, 0):
		return fmt.Errorf("sigma_x = %g must be positive and finite", m.SigmaX)
	case !(m.SigmaY > 0) || math.IsInf(m.SigmaY, 0):
		return fmt.Errorf("sigma_y = %g must be positive and finite", m.SigmaY)
	case math.IsNaN(m.Rho) || math.IsInf(m.Rho, 0):
		return fmt.Errorf("rho = %g must be finite", m.Rho)
	case m.Sigma0 < 0 || math.IsNaN(m.Sigma0) || math.IsInf(m.Sigma0, 0):
		return fmt.Errorf("sigma_0 = %g must be positive and finite", m.Sigma0)
	case m.Sigma0 == 0 && !(math.Abs(m.Rho) < 1):
		return fmt.Errorf("rho = %g must lie in (-1, 1) for a stationary initial distribution (or give sigma_0)", m.Rho)
	}
	return checkSeries(m.Y)
}

// InitSD returns the standard deviation of X_0.
func (m *LinearGauss) InitSD() float64 {
	if m.Sigma0 > 0 {
		return m.Sigma0
	}
	return m.SigmaX / math.Sqrt(1-m.Rho*m.Rho)
}

func (m *LinearGauss) Dim() int { return 1 }
func (m *LinearGauss) Len() int { return len(m.Y) }

func (m *LinearGauss) SampleInit(x []float64, r *rand.Rand) {
	s := m.InitSD()
	for i := range x {
		x[i] = s * r.NormFloat64()
	}
}

func (m *LinearGauss) SampleTransition(t int, x, prev []float64, r *rand.Rand) {
	rho, s := m.Rho, m.SigmaX
	prev = prev[:len(x)]
	for i := range x {
		x[i] = rho*prev[i] + s*r.NormFloat64()
	}
}

func (m *LinearGauss) LogObs(t int, lw, x []float64) {
	y, inv := m.Y[t], 1/m.SigmaY
	c := -math.Log(m.SigmaY) - logSqrt2Pi
	x = x[:len(lw)]
	for i := range lw {
		z := (y - x[i]) * inv
		lw[i] += c - 0.5*z*z
	}
}

func (m *LinearGauss) LogInit(lp, x []float64) {
	s := m.InitSD()
	for i := range lp {
		lp[i] += normLogPDF(x[i], 0, s)
	}
}

func (m *LinearGauss) LogTransition(t int, lp, x, prev []float64) {
	for i := range lp {
		lp[i] += normLogPDF(x[i], m.Rho*prev[i], m.SigmaX)
	}
}

// optimalGaussian returns the variance v of the locally optimal proposal and the
// weights of the prior mean and of y in its mean: for a N(μ, σ²) prior,
// q = N(v(μ/σ² + y/σ_Y²), v) with 1/v = 1/σ² + 1/σ_Y².
func optimalGaussian(priorVar, obsVar float64) (v, a, b float64) {
	v = 1 / (1/priorVar + 1/obsVar)
	return v, v / priorVar, v / obsVar
}

func (m *LinearGauss) SampleProposal0(x []float64, r *rand.Rand) {
	s0 := m.InitSD()
	v, _, b := optimalGaussian(s0*s0, m.SigmaY*m.SigmaY)
	mu, sd := b*m.Y[0], math.Sqrt(v)
	for i := range x {
		x[i] = mu + sd*r.NormFloat64()
	}
}

func (m *LinearGauss) LogProposal0(lp, x []float64) {
	s0 := m.InitSD()
	v, _, b := optimalGaussian(s0*s0, m.SigmaY*m.SigmaY)
	mu, sd := b*m.Y[0], math.Sqrt(v)
	for i := range lp {
		lp[i] += normLogPDF(x[i], mu, sd)
	}
}

func (m *LinearGauss) SampleProposal(t int, x, prev []float64, r *rand.Rand) {
	v, a, b := optimalGaussian(m.SigmaX*m.SigmaX, m.SigmaY*m.SigmaY)
	by, sd := b*m.Y[t], math.Sqrt(v)
	for i := range x {
		x[i] = a*m.Rho*prev[i] + by + sd*r.NormFloat64()
	}
}

func (m *LinearGauss) LogProposal(t int, lp, x, prev []float64) {
	v, a, b := optimalGaussian(m.SigmaX*m.SigmaX, m.SigmaY*m.SigmaY)
	by, sd := b*m.Y[t], math.Sqrt(v)
	for i := range lp {
		lp[i] += normLogPDF(x[i], a*m.Rho*prev[i]+by, sd)
	}
}

// Simulate draws states and observations of length T from the model (its
// Y is ignored).
func (m *LinearGauss) Simulate(T int, r *rand.Rand) (x, y []float64) {
	x, y = make([]float64, T), make([]float64, T)
	for t := range T {
		if t == 0 {
			x[0] = m.InitSD() * r.NormFloat64()
		} else {
			x[t] = m.Rho*x[t-1] + m.SigmaX*r.NormFloat64()
		}
		y[t] = x[t] + m.SigmaY*r.NormFloat64()
	}
	return x, y
}

// KalmanResult is the exact output of the Kalman filter.
type KalmanResult struct {
	// LogLik is log p(y_0, …, y_{T−1}).
	LogLik float64
	// Means and Vars are the filtering means and variances of X_t given
	// y_0:t; RunningLogLik[t] is log p(y_0:t).
	Means, Vars, RunningLogLik []float64
}

// Kalman runs the Kalman filter (Kalman 1960; the prediction-error
// decomposition of the likelihood, Harvey 1989 §3.4) on the model's
// observations.
func (m *LinearGauss) Kalman() KalmanResult {
	T := len(m.Y)
	res := KalmanResult{Means: make([]float64, T), Vars: make([]float64, T), RunningLogLik: make([]float64, T)}
	s0 := m.InitSD()
	mean, v := 0.0, s0*s0 // predictive moments of X_t given y_0:t−1
	obs := m.SigmaY * m.SigmaY
	ll := 0.0
	for t, y := range m.Y {
		s := v + obs
		e := y - mean
		ll += -0.5*(math.Log(2*math.Pi*s)) - 0.5*e*e/s
		k := v / s
		mean += k * e
		v *= 1 - k
		res.Means[t], res.Vars[t], res.RunningLogLik[t] = mean, v, ll
		mean = m.Rho * mean
		v = m.Rho*m.Rho*v + m.SigmaX*m.SigmaX
	}
	res.LogLik = ll
	return res
}

// StochVol is the stochastic volatility model of Pitt & Shephard (1999) in
// the parameterisation of the Python package particles (StochVol):
//
//	X_0 ~ N(μ, σ²/(1−ρ²)),  X_t = μ + ρ(X_{t−1} − μ) + σ·U_t,
//	Y_t | X_t ~ N(0, exp(X_t)),
//
// with |ρ| < 1 and σ > 0. The guided filter proposes from the Gaussian
// whose log density is the prior plus the second-order Taylor expansion of
// log g(y_t | x) about the prior mean, a Laplace-type proposal in the
// spirit of Pitt & Shephard (1999).
type StochVol struct {
	Mu, Rho, Sigma float64
	Y              []float64
}

// Validate checks the parameters and observations.
func (m *StochVol) Validate() error {
	switch {
	case math.IsNaN(m.Mu) || math.IsInf(m.Mu, 0):
		return fmt.Errorf("mu = %g must be finite", m.Mu)
	case !(math.Abs(m.Rho) < 1):
		return fmt.Errorf("rho = %g must lie in (-1, 1)", m.Rho)
	case !(m.Sigma > 0) || math.IsInf(m.Sigma, 0):
		return fmt.Errorf("sigma = %g must be positive and finite", m.Sigma)
	}
	return checkSeries(m.Y)
}

func (m *StochVol) Dim() int { return 1 }
func (m *StochVol) Len() int { return len(m.Y) }

func (m *StochVol) initSD() float64 { return m.Sigma / math.Sqrt(1-m.Rho*m.Rho) }

func (m *StochVol) SampleInit(x []float64, r *rand.Rand) {
	s := m.initSD()
	for i := range x {
		x[i] = m.Mu + s*r.NormFloat64()
	}
}

func (m *StochVol) SampleTransition(t int, x, prev []float64, r *rand.Rand) {
	mu, rho, s := m.Mu, m.Rho, m.Sigma
	prev = prev[:len(x)]
	for i := range x {
		x[i] = mu + rho*(prev[i]-mu) + s*r.NormFloat64()
	}
}

func (m *StochVol) LogObs(t int, lw, x []float64) {
	h := -0.5 * m.Y[t] * m.Y[t]
	x = x[:len(lw)]
	for i := range lw {
		lw[i] += -logSqrt2Pi - 0.5*x[i] + h*math.Exp(-x[i])
	}
}

func (m *StochVol) LogInit(lp, x []float64) {
	s := m.initSD()
	for i := range lp {
		lp[i] += normLogPDF(x[i], m.Mu, s)
	}
}

func (m *StochVol) LogTransition(t int, lp, x, prev []float64) {
	for i := range lp {
		lp[i] += normLogPDF(x[i], m.Mu+m.Rho*(prev[i]-m.Mu), m.Sigma)
	}
}

// svTaylor returns the mean and standard deviation of the proposal for prior
// N(center, sd²) and observation y: log g(y | x) = −x/2 − y²e^{−x}/2 + c is
// expanded to second order about center.
func svTaylor(center, sd, y float64) (mean, psd float64) {
	a := 0.5 * y * y * math.Exp(-center)
	prec := 1/(sd*sd) + a
	return center + (a-0.5)/prec, 1 / math.Sqrt(prec)
}

func (m *StochVol) SampleProposal0(x []float64, r *rand.Rand) {
	mean, sd := svTaylor(m.Mu, m.initSD(), m.Y[0])
	for i := range x {
		x[i] = mean + sd*r.NormFloat64()
	}
}

func (m *StochVol) LogProposal0(lp, x []float64) {
	mean, sd := svTaylor(m.Mu, m.initSD(), m.Y[0])
	for i := range lp {
		lp[i] += normLogPDF(x[i], mean, sd)
	}
}

func (m *StochVol) SampleProposal(t int, x, prev []float64, r *rand.Rand) {
	y := m.Y[t]
	for i := range x {
		mean, sd := svTaylor(m.Mu+m.Rho*(prev[i]-m.Mu), m.Sigma, y)
		x[i] = mean + sd*r.NormFloat64()
	}
}

func (m *StochVol) LogProposal(t int, lp, x, prev []float64) {
	y := m.Y[t]
	for i := range lp {
		mean, sd := svTaylor(m.Mu+m.Rho*(prev[i]-m.Mu), m.Sigma, y)
		lp[i] += normLogPDF(x[i], mean, sd)
	}
}

// Simulate draws log-volatilities and observations of length T from the
// model (its Y is ignored).
func (m *StochVol) Simulate(T int, r *rand.Rand) (x, y []float64) {
	x, y = make([]float64, T), make([]float64, T)
	for t := range T {
		if t == 0 {
			x[0] = m.Mu + m.initSD()*r.NormFloat64()
		} else {
			x[t] = m.Mu + m.Rho*(x[t-1]-m.Mu) + m.Sigma*r.NormFloat64()
		}
		y[t] = math.Exp(x[t]/2) * r.NormFloat64()
	}
	return x, y
}

var (
	_ Guided = (*LinearGauss)(nil)
	_ Guided = (*StochVol)(nil)
)
