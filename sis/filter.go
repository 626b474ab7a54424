package sis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/epmc/epmc/rng"
)

// StateSpace is a state-space (hidden Markov) model together with its
// observations y_0, …, y_{T−1}: X_0 ~ p_0, X_t | X_{t−1} ~ f_t and
// Y_t | X_t ~ g_t, with states in ℝ^Dim.
//
// The methods work on blocks of particles stored row by row: x holds
// len(x)/Dim particles of Dim values each, lw holds one value per particle,
// so a filter makes one call per block of particles rather than one per
// particle. They must be safe for concurrent use on disjoint blocks, must
// draw randomness only from r, and must not keep the slices.
type StateSpace interface {
	// Dim is the dimension of the state.
	Dim() int
	// Len is the number of observations T.
	Len() int
	// SampleInit draws X_0 ~ p_0 for every particle of x.
	SampleInit(x []float64, r *rand.Rand)
	// SampleTransition draws X_t ~ f_t(· | prev) for every particle, t ≥ 1:
	// particle i of x from particle i of prev.
	SampleTransition(t int, x, prev []float64, r *rand.Rand)
	// LogObs adds log g_t(y_t | x) of every particle of x to lw.
	LogObs(t int, lw, x []float64)
}

// Guided is a state-space model that also offers proposal distributions
// q_0(x_0) and q_t(x_t | x_{t−1}) (typically using y_t) and the densities
// needed to weight them; the guided filter samples from q and weights by
// p_0·g_0/q_0 and f_t·g_t/q_t (Chopin & Papaspiliopoulos 2020, §10.3). All
// Log methods add their log density of every particle to lp.
type Guided interface {
	StateSpace
	LogInit(lp, x []float64)
	LogTransition(t int, lp, x, prev []float64)
	SampleProposal0(x []float64, r *rand.Rand)
	LogProposal0(lp, x []float64)
	SampleProposal(t int, x, prev []float64, r *rand.Rand)
	LogProposal(t int, lp, x, prev []float64)
}

// FilterConfig configures a particle filter. The zero value runs a
// bootstrap filter with 1000 particles, SSP resampling when the ESS drops
// below N/2, seed 0 and one worker per CPU.
type FilterConfig struct {
	// Particles is the number of particles N (at least 2); 0 means 1000.
	Particles int
	// Scheme is the resampling scheme.
	Scheme Scheme
	// Threshold: the particles are resampled when ESS < Threshold·N; it
	// must lie in (0, 1], and 1 resamples at every step. 0 means 0.5.
	Threshold float64
	// Guided selects the guided filter, which needs a model implementing
	// Guided; otherwise the bootstrap filter (proposal = transition) runs.
	Guided bool
	// Seed is the root seed. Stream tells independent filters with the same
	// seed apart (replicate r uses Stream r): block b at step t draws from
	// rng.New(Seed, Stream, t, b).
	Seed   uint64
	Stream uint64
	// Workers is the number of goroutines; ≤ 0 means GOMAXPROCS. The results
	// do not depend on it.
	Workers int
	// Progress, when not nil, is called after every step t with t and T, on
	// the goroutine that called RunFilter.
	Progress func(t, T int)
}

// BlockSize is the number of particles per block: the unit of parallel
// work and of random streams. It is fixed so that results do not depend on
// the number of workers.
const BlockSize = 1024

// resampleStream is the last path element of the stream used by
// resampling (blocks use their index).
const resampleStream = math.MaxUint64

func (c FilterConfig) resolve() (FilterConfig, error) {
	if c.Particles == 0 {
		c.Particles = 1000
	}
	if c.Particles < 2 {
		return c, fmt.Errorf("number of particles %d is below 2", c.Particles)
	}
	if c.Threshold == 0 {
		c.Threshold = 0.5
	}
	if !(c.Threshold > 0 && c.Threshold <= 1) {
		return c, fmt.Errorf("resampling threshold %g is outside (0, 1]", c.Threshold)
	}
	if _, err := c.Scheme.MarshalText(); err != nil {
		return c, err
	}
	return c, nil
}

// FilterResult holds the output of a particle filter over T steps.
type FilterResult struct {
	// T, Dim and Particles are the number of steps, the state dimension
	// and the number of particles N.
	T, Dim, Particles int
	// LogEvidence is log Ẑ_T, the estimate of log p(y_0, …, y_{T−1}); Ẑ is
	// unbiased, so log Ẑ is biased down by about Var(log Ẑ)/2.
	LogEvidence float64
	// Means and Vars hold the filtering means and variances E[X_t | y_0:t]
	// and Var[X_t | y_0:t] per coordinate: row t has Dim values.
	Means, Vars []float64
	// ESS is the effective sample size of the weights at step t.
	ESS []float64
	// Resampled[t] is true when the particles at step t descend from a
	// resampling of those at step t−1 (as the rs_flags of the Python
	// package particles).
	Resampled []bool
	// RunningLogEvidence[t] is log Ẑ_t, the estimate of log p(y_0:t).
	RunningLogEvidence []float64
	// X holds the particles of the last step, row by row, and LogWeights
	// their log weights (up to a constant; the largest is 0).
	X          []float64
	LogWeights []float64
}

// Mean returns the filtering mean of coordinate j at step t.
func (r *FilterResult) Mean(t, j int) float64 { return r.Means[t*r.Dim+j] }

// Var returns the filtering variance of coordinate j at step t.
func (r *FilterResult) Var(t, j int) float64 { return r.Vars[t*r.Dim+j] }

// blockState is the per-block scratch and the block's partial reductions.
type blockState struct {
	pcg *rand.PCG
	r   *rand.Rand
	tmp []float64 // log proposal densities (guided filter)
	// Reductions over the block: maximum log weight, Σ w and Σ w² with
	// w = exp(lw − max), weighted means and sums of squared deviations.
	max, sum, sumsq float64
	mean, m2        []float64
	bad             int // 1 + index of a NaN or +Inf log weight, 0 if none
	_               [64]byte
}

// filter is the state of one particle filter run.
type filter struct {
	cfg    FilterConfig
	m      StateSpace
	g      Guided
	n, d   int
	t      int
	nb     int
	cur    []float64 // X_{t−1}
	next   []float64 // X_t being built
	gather []float64 // resampled X_{t−1}
	lw     []float64 // log weights relative to shift
	w      []float64 // exp(lw − block max), then rescaled for resampling
	anc    []int
	blocks []blockState
	pcgs   []*rand.PCG
	scale  []float64 // per block: exp(block max − global max)
	sums   []float64 // per block: Σ exp(lw − block max)
	// resampled says whether anc holds the ancestors for this step; shift
	// is the maximum log weight of the previous step.
	resampled bool
	shift     float64
	step      func(block int)
}

// RunFilter runs a particle filter on m: the bootstrap filter, or the guided
// filter when cfg.Guided is set (m must then implement Guided). Particles
// are propagated and weighted in parallel blocks of BlockSize particles;
// resampling (when the ESS falls below cfg.Threshold·N) is O(N), and
// block-parallel for SSP, systematic and stratified resampling. The steps
// allocate nothing. It checks ctx between steps.
func RunFilter(ctx context.Context, m StateSpace, cfg FilterConfig) (*FilterResult, error) {
	cfg, err := cfg.resolve()
	if err != nil {
		return nil, err
	}
	d, T := m.Dim(), m.Len()
	if d < 1 {
		return nil, fmt.Errorf("state dimension %d is below 1", d)
	}
	if T < 1 {
		return nil, errors.New("no observations")
	}
	f := &filter{cfg: cfg, m: m, n: cfg.Particles, d: d}
	if cfg.Guided {
		g, ok := m.(Guided)
		if !ok {
			return nil, fmt.Errorf("model %T offers no proposal for a guided filter", m)
		}
		f.g = g
	}
	n := f.n
	f.nb = (n + BlockSize - 1) / BlockSize
	f.cur = make([]float64, n*d)
	f.next = make([]float64, n*d)
	f.gather = make([]float64, n*d)
	f.lw = make([]float64, n)
	f.w = make([]float64, n)
	f.anc = make([]int, n)
	f.blocks = make([]blockState, f.nb)
	f.pcgs = make([]*rand.PCG, f.nb)
	f.scale = make([]float64, f.nb)
	f.sums = make([]float64, f.nb)
	for b := range f.blocks {
		bs := &f.blocks[b]
		bs.pcg = rand.NewPCG(0, 0)
		bs.r = rand.New(bs.pcg)
		f.pcgs[b] = bs.pcg
		bs.mean = make([]float64, d)
		bs.m2 = make([]float64, d)
		if f.g != nil {
			bs.tmp = make([]float64, min(BlockSize, n-b*BlockSize))
		}
	}
	res := &FilterResult{
		T: T, Dim: d, Particles: n,
		Means: make([]float64, T*d), Vars: make([]float64, T*d),
		ESS: make([]float64, T), Resampled: make([]bool, T), RunningLogEvidence: make([]float64, T),
	}
	f.step = f.stepBlock
	p := newPool(cfg.Workers, f.nb)
	defer p.close()
	br := newBlockedResampler(cfg.Scheme, n, BlockSize)
	resPCG := rand.NewPCG(0, 0)
	resR := rand.New(resPCG)
	logZ := 0.0
	prevLogSum := math.Log(float64(n)) // log Σ exp(lw_{t−1} − shift)
	mean := make([]float64, d)
	m2 := make([]float64, d)
	for t := range T {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		f.t = t
		p.run(f.step)
		// Reduce the blocks in order: global maximum, then Σ w, Σ w² and
		// the moments, merged with Chan, Golub & LeVeque's pairwise update.
		gmax := math.Inf(-1)
		for b := range f.blocks {
			bs := &f.blocks[b]
			if bs.bad != 0 {
				i := b*BlockSize + bs.bad - 1
				return nil, fmt.Errorf("step %d: log weight of particle %d is %g", t, i, f.lw[i])
			}
			gmax = max(gmax, bs.max)
		}
		if math.IsInf(gmax, -1) {
			return nil, fmt.Errorf("step %d: %w", t, ErrDegenerate)
		}
		sum, sumsq := 0.0, 0.0
		clear(mean)
		clear(m2)
		for b := range f.blocks {
			bs := &f.blocks[b]
			f.sums[b] = bs.sum
			f.scale[b] = 0
			if bs.sum == 0 {
				continue
			}
			c := math.Exp(bs.max - gmax)
			f.scale[b] = c
			wb := bs.sum * c
			tot := sum + wb
			for j := range d {
				delta := bs.mean[j] - mean[j]
				mean[j] += delta * wb / tot
				m2[j] += bs.m2[j]*c + delta*delta*sum*wb/tot
			}
			sum = tot
			sumsq += bs.sumsq * c * c
		}
		logSum := math.Log(sum)
		logZ += logSum + gmax - prevLogSum
		ess := sum * sum / sumsq
		for j := range d {
			res.Means[t*d+j] = mean[j]
			res.Vars[t*d+j] = m2[j] / sum
		}
		res.ESS[t] = ess
		res.Resampled[t] = f.resampled
		res.RunningLogEvidence[t] = logZ
		f.shift = gmax
		f.resampled = false
		prevLogSum = logSum
		if t < T-1 && (ess < cfg.Threshold*float64(n) || cfg.Threshold == 1) {
			resPCG.Seed(rng.Seeds(cfg.Seed, cfg.Stream, uint64(t), resampleStream))
			br.resample(f.anc, f.w, f.scale, f.sums, sum, f.pcgs, resR, p.run)
			f.resampled = true
			prevLogSum = math.Log(float64(n))
		}
		f.cur, f.next = f.next, f.cur
		if cfg.Progress != nil {
			cfg.Progress(t, T)
		}
	}
	res.LogEvidence = logZ
	res.X = f.cur
	res.LogWeights = f.lw
	for i := range f.lw {
		f.lw[i] -= f.shift
	}
	return res, nil
}

func (f *filter) blockRange(b int) (lo, hi int) {
	return b * BlockSize, min((b+1)*BlockSize, f.n)
}

// stepBlock propagates and weights the particles of block b at step f.t and
// computes the block's reductions.
func (f *filter) stepBlock(b int) {
	t, d := f.t, f.d
	lo, hi := f.blockRange(b)
	bs := &f.blocks[b]
	bs.pcg.Seed(rng.Seeds(f.cfg.Seed, f.cfg.Stream, uint64(t), uint64(b)))
	r := bs.r
	x := f.next[lo*d : hi*d]
	lw := f.lw[lo:hi]
	if t == 0 {
		clear(lw)
		if f.g != nil {
			f.g.SampleProposal0(x, r)
			f.g.LogInit(lw, x)
			tmp := bs.tmp
			clear(tmp)
			f.g.LogProposal0(tmp, x)
			for i := range lw {
				lw[i] -= tmp[i]
			}
		} else {
			f.m.SampleInit(x, r)
		}
	} else {
		prev := f.cur[lo*d : hi*d]
		if f.resampled {
			prev = f.gather[lo*d : hi*d]
			if d == 1 {
				for i, a := range f.anc[lo:hi] {
					prev[i] = f.cur[a]
				}
			} else {
				for i, a := range f.anc[lo:hi] {
					copy(prev[i*d:(i+1)*d], f.cur[a*d:(a+1)*d])
				}
			}
			clear(lw)
		} else {
			s := f.shift
			for i := range lw {
				lw[i] -= s
			}
		}
		if f.g != nil {
			f.g.SampleProposal(t, x, prev, r)
			f.g.LogTransition(t, lw, x, prev)
			tmp := bs.tmp
			clear(tmp)
			f.g.LogProposal(t, tmp, x, prev)
			for i := range lw {
				lw[i] -= tmp[i]
			}
		} else {
			f.m.SampleTransition(t, x, prev, r)
		}
	}
	f.m.LogObs(t, lw, x)
	f.reduceBlock(bs, x, lw, f.w[lo:hi])
}

// reduceBlock computes the block's maximum log weight, w = exp(lw − max),
// Σ w, Σ w² and the weighted means and squared deviations of x.
func (f *filter) reduceBlock(bs *blockState, x, lw, w []float64) {
	d := f.d
	bs.bad = 0
	bs.sum, bs.sumsq = 0, 0
	clear(bs.mean)
	clear(bs.m2)
	// The builtin max propagates NaN, and +Inf wins: both are caught
	// after the loop, which then has a single dependency chain.
	mx := math.Inf(-1)
	for _, v := range lw {
		mx = max(mx, v)
	}
	bs.max = mx
	if mx != mx || mx > math.MaxFloat64 {
		for i, v := range lw {
			if v != v || v > math.MaxFloat64 {
				bs.bad = i + 1
				break
			}
		}
		clear(w)
		return
	}
	if math.IsInf(mx, -1) {
		clear(w)
		return
	}
	if d == 1 {
		s, q, s1, s2 := expShiftMoments(w, lw, x, mx)
		bs.sum, bs.sumsq = s, q
		bs.mean[0] = x[0] + s1/s
		bs.m2[0] = max(s2-s1*s1/s, 0)
		return
	}
	s, q := expShift(w, lw, mx)
	bs.sum, bs.sumsq = s, q
	for i, e := range w {
		for j := range d {
			bs.mean[j] += e * x[i*d+j]
		}
	}
	for j := range d {
		bs.mean[j] /= s
	}
	for i, e := range w {
		for j := range d {
			dx := x[i*d+j] - bs.mean[j]
			bs.m2[j] += e * dx * dx
		}
	}
}
