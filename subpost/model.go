package subpost

import (
	"math/rand/v2"
	"sync"

	"github.com/epmc/epmc/chains"
)

// Model is a Bayesian model of one data shard in an unconstrained
// parameterisation θ ∈ ℝ^Dim.
//
// The sampled target of shard m of M is
//
//	log p_m(θ) = (1/M)·LogPrior(θ) + LogLik(θ),
//
// where LogPrior is the log prior density of the constrained parameters
// *plus the log absolute Jacobian* of the map from θ to them, so that the
// product of the M subposteriors in θ-space is the full posterior in
// θ-space. With M = 1 the target is the ordinary posterior.
//
// Both methods write their gradient with respect to θ into grad when grad
// is not nil (gradient-free samplers pass nil, and the model may then skip
// the work). Implementations must be safe for concurrent use: every chain
// calls them from its own goroutine.
type Model interface {
	// Dim is the number of unconstrained parameters.
	Dim() int
	// Params describes the parameter blocks in the order of θ: their names,
	// shapes and transforms. Their constrained scalars, named by
	// chains.Param.ScalarNames, are the columns of the draws file, and
	// chains.Transform.Constrain maps θ to them block by block.
	Params() []chains.Param
	LogPrior(theta, grad []float64) float64
	LogLik(theta, grad []float64) float64
}

// PriorSampler is implemented by models whose tempered prior p(θ)^power,
// expressed in θ-space (Jacobian included), can be sampled exactly. SMC
// samplers start from it.
type PriorSampler interface {
	SamplePrior(theta []float64, power float64, r *rand.Rand)
}

// Target is a log density on ℝ^Dim with its gradient, the thing MCMC
// samplers sample. LogDensity writes the gradient to grad unless grad is
// nil.
type Target interface {
	Dim() int
	LogDensity(theta, grad []float64) float64
}

// Subposterior returns the target (1/shards)·LogPrior + LogLik of m.
func Subposterior(m Model, shards int) Target {
	if shards < 1 {
		shards = 1
	}
	return &subposterior{m: m, power: 1 / float64(shards)}
}

type subposterior struct {
	m     Model
	power float64
	// scratch holds the likelihood-gradient buffers, so that LogDensity
	// stays allocation-free and safe for concurrent use whatever Dim is.
	scratch sync.Pool
}

func (s *subposterior) Dim() int { return s.m.Dim() }

func (s *subposterior) LogDensity(theta, grad []float64) float64 {
	if grad == nil {
		return s.power*s.m.LogPrior(theta, nil) + s.m.LogLik(theta, nil)
	}
	// The prior's gradient goes to grad first and is scaled; the
	// likelihood's is then added from a pooled buffer.
	lp := s.m.LogPrior(theta, grad)
	for i := range grad {
		grad[i] *= s.power
	}
	buf, _ := s.scratch.Get().(*[]float64)
	if buf == nil || cap(*buf) < len(grad) {
		b := make([]float64, len(grad))
		buf = &b
	}
	g := (*buf)[:len(grad)]
	clear(g)
	ll := s.m.LogLik(theta, g)
	for i := range grad {
		grad[i] += g[i]
	}
	s.scratch.Put(buf)
	return s.power*lp + ll
}

// Constrainer is implemented by models whose reported values are not the
// plain block transforms of θ, for example regression coefficients sampled
// on a standardised scale and reported on the data's own scale. Constrain
// writes the reported scalars, in the order of the Params' ScalarNames, to
// x. The reported values must still be unconstrained reals or follow the
// transforms declared in Params, so that combiners can work on them; a
// fixed linear map common to all shards keeps the product of the
// subposteriors exact. Samplers use it, when present, instead of the
// package-level Constrain.
type Constrainer interface {
	Constrain(x, theta []float64)
}

// Constrain maps θ to the constrained scalars of params, in the order of
// their ScalarNames, writing them to x.
func Constrain(params []chains.Param, x, theta []float64) {
	for _, p := range params {
		n := p.Size()
		k := p.Transform.Dim(n)
		p.Transform.Constrain(x[:n], theta[:k])
		x, theta = x[n:], theta[k:]
	}
}
