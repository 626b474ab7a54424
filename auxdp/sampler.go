package auxdp

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/epmc/epmc/rng"
)

// Placement selects the global step that moves clusters between
// processors.
type Placement int

const (
	// Uniform redraws each selected cluster's processor from its exact
	// conditional: uniformly on 1..P for the DP (notes §2.2), from the
	// Pólya urn ∝ θ/P + d·K_k for the PY. It is a Gibbs step: every
	// proposal is accepted.
	Uniform Placement = iota
	// Balanced proposes, for each selected cluster c, a processor k with
	// probability ∝ 1/(1 + L_k/(N/P)), where L_k is the load (points) of
	// processor k without c, and accepts by Metropolis–Hastings with the
	// exact Hastings factor. Because the proposal depends only on the
	// placement of the other clusters, which a move of c leaves unchanged,
	// the reverse proposal has the same normaliser and the acceptance
	// probability is min(1, π_k w_j / (π_j w_k)) with w the proposal
	// weights and π the target conditional (π ≡ 1 for the DP). The
	// stationary placement stays the exact one; what changes is which
	// moves are tried (see the package documentation).
	Balanced
)

func (p Placement) String() string {
	switch p {
	case Uniform:
		return "uniform"
	case Balanced:
		return "balanced"
	}
	return fmt.Sprintf("Placement(%d)", int(p))
}

// Config configures a run. The zero value (with Iters set) runs the serial
// collapsed Gibbs sampler for a DP mixture of full-covariance Gaussians
// with the empirical base measure and α ~ Gamma(1, 1).
type Config struct {
	// Likelihood is the component model and base measure; nil means
	// EmpiricalNIW(x, DefaultGroups).
	Likelihood Likelihood
	Process    Process
	// Procs is P, the number of auxiliary processors ("statistical
	// shards"); 0 means 1, which is the ordinary serial sampler.
	Procs int
	// Workers is the number of goroutines running the processors' local
	// steps, at most GOMAXPROCS and Procs; 0 means as many as that allows.
	// Results do not depend on it.
	Workers int
	// Iters is the number of iterations; Burn of them are discarded
	// before draws are saved and Thin keeps every Thin-th of the rest,
	// counted back from the last iteration, which is always saved.
	// Iters 0 means 1000; Thin 0 means 1. Saved draws are kept in
	// memory, 4·N bytes each: thin long runs on large data.
	Iters, Burn, Thin int
	// Sweeps is the number of local collapsed Gibbs sweeps per iteration
	// (0 means 1).
	Sweeps int
	// Alpha > 0 fixes the concentration α of the DP, or the strength θ of
	// the PY; otherwise it is sampled under AlphaPrior (zero value:
	// Gamma(1, 1)), by Escobar–West for the DP and by slice sampling for
	// the PY.
	Alpha      float64
	AlphaPrior GammaPrior
	// Discount > 0 fixes the PY discount d < 1; otherwise d is sampled
	// under DiscountPrior (zero value: uniform on [0, 1)). Unused for DP.
	Discount      float64
	DiscountPrior BetaPrior
	// Placement is the global step; MoveFraction is the fraction of
	// clusters it considers per iteration, each chosen independently
	// (0 means 1, all clusters).
	Placement    Placement
	MoveFraction float64
	// SplitMerge is the number of sequentially-allocated merge–split
	// proposals (Dahl 2005) per processor per iteration; 0 turns them off.
	SplitMerge int
	// RefreshEvery recomputes every cluster's statistics from its points
	// every that many iterations, removing the rounding drift of the
	// incremental updates (0 means 20; negative never).
	RefreshEvery int
	Seed         uint64
	// InitLabels, if not nil, gives the initial cluster of every point
	// (any integers); otherwise the sampler starts from one sequential
	// pass of the Chinese-restaurant (Pólya-urn) predictive over the
	// points in random order.
	InitLabels []int
	// Names optionally names the data columns for messages and metadata.
	Names []string
	// OnIteration, if set, is called after every iteration.
	OnIteration func(IterStats)
}

// IterStats is one row of the per-iteration trace.
type IterStats struct {
	Iteration int
	K         int     // number of clusters
	Alpha     float64 // α (DP) or θ (PY)
	Discount  float64 // d (PY; 0 for DP)
	LogJoint  float64 // ln p(X, z | α or θ, d), placements summed out
	Largest   int     // size of the largest cluster
	// ProcPoints and ProcClusters are the points and clusters on each
	// processor during this iteration's local step.
	ProcPoints, ProcClusters []int
	// MaxShare is max_j N_j / N, the load of the busiest processor: the
	// local step can run at most 1/MaxShare times faster than serial.
	MaxShare float64
	// Global step: clusters considered, moves accepted (for Uniform every
	// proposal is accepted), and points whose processor changed.
	MovesProposed, MovesAccepted, PointsMoved int
	// Split–merge proposals and acceptances, summed over processors.
	SplitsProposed, SplitsAccepted, MergesProposed, MergesAccepted int
	Seconds                                                        float64
}

// Random stream tags under the root seed.
const (
	streamInit   = 0
	streamLocal  = 1
	streamGlobal = 2
)

type cluster struct {
	st    stats
	n     int
	logw  float64 // ln(n − d): the Pólya-urn weight of joining
	proc  int
	slot  int
	label int32
}

type sampler struct {
	cfg      Config
	fam      family
	n        int
	nproc    int
	workers  int
	procs    []*processor
	zc       []*cluster // cluster of every point
	all      []*cluster // non-empty clusters in processor, slot order
	alpha    float64    // α or θ
	disc     float64
	fixAlpha bool
	fixDisc  bool
	// lw[n] = ln(n − d), the urn weight of joining a cluster of size n,
	// tabulated for n ≤ N so the Gibbs step needs no logarithm for it.
	lw []float64

	masterSrc *rand.PCG
	master    *rand.Rand
	global    func(s *sampler, r *rand.Rand)

	// global-step counters of the current iteration
	moveProp, moveAcc, pointsMoved int

	// scratch
	sizes  []int
	load   []int
	cnt    []int
	pw     []float64
	order  []int
	assign [][]int
	first  []int // ProcPoints at the start of the local step
	firstK []int
}

// newSampler validates the configuration and binds the data.
func newSampler(x []float64, n, d int, cfg Config) (*sampler, error) {
	if cfg.Procs < 0 {
		return nil, fmt.Errorf("number of processors must be at least 1, got %d", cfg.Procs)
	}
	if cfg.Procs == 0 {
		cfg.Procs = 1
	}
	if cfg.Workers < 0 {
		return nil, fmt.Errorf("number of workers must be at least 1, got %d", cfg.Workers)
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	cfg.Workers = min(cfg.Workers, cfg.Procs, runtime.GOMAXPROCS(0))
	if cfg.Iters < 0 || cfg.Burn < 0 || cfg.Thin < 0 || cfg.Sweeps < 0 || cfg.SplitMerge < 0 {
		return nil, errors.New("iterations, burn-in, thinning, sweeps and split–merge proposals must not be negative")
	}
	if cfg.Iters == 0 {
		cfg.Iters = 1000
	}
	if cfg.Burn >= cfg.Iters {
		return nil, fmt.Errorf("burn-in %d leaves no draws from %d iterations", cfg.Burn, cfg.Iters)
	}
	if cfg.Thin == 0 {
		cfg.Thin = 1
	}
	if cfg.Sweeps == 0 {
		cfg.Sweeps = 1
	}
	if cfg.RefreshEvery == 0 {
		cfg.RefreshEvery = 20
	}
	if cfg.MoveFraction == 0 {
		cfg.MoveFraction = 1
	}
	if !(cfg.MoveFraction > 0 && cfg.MoveFraction <= 1) {
		return nil, fmt.Errorf("move fraction must be in (0, 1], got %v", cfg.MoveFraction)
	}
	if cfg.Process != DP && cfg.Process != PY {
		return nil, fmt.Errorf("unknown process %v", cfg.Process)
	}
	if cfg.Placement != Uniform && cfg.Placement != Balanced {
		return nil, fmt.Errorf("unknown placement %v", cfg.Placement)
	}
	if math.IsNaN(cfg.Alpha) || cfg.Alpha < 0 || math.IsInf(cfg.Alpha, 0) {
		return nil, fmt.Errorf("concentration must be positive and finite, got %v", cfg.Alpha)
	}
	cfg.AlphaPrior = cfg.AlphaPrior.orDefault()
	if !(cfg.AlphaPrior.Shape > 0 && cfg.AlphaPrior.Rate > 0) || math.IsInf(cfg.AlphaPrior.Shape+cfg.AlphaPrior.Rate, 0) {
		return nil, fmt.Errorf("gamma prior of the concentration needs positive finite shape and rate, got %v, %v", cfg.AlphaPrior.Shape, cfg.AlphaPrior.Rate)
	}
	cfg.DiscountPrior = cfg.DiscountPrior.orDefault()
	if !(cfg.DiscountPrior.A > 0 && cfg.DiscountPrior.B > 0) || math.IsInf(cfg.DiscountPrior.A+cfg.DiscountPrior.B, 0) {
		return nil, fmt.Errorf("beta prior of the discount needs positive finite parameters, got %v, %v", cfg.DiscountPrior.A, cfg.DiscountPrior.B)
	}
	if cfg.Process == PY && !(cfg.Discount >= 0 && cfg.Discount < 1) {
		return nil, fmt.Errorf("Pitman–Yor discount must be in [0, 1), got %v", cfg.Discount)
	}
	if cfg.Process == DP && cfg.Discount != 0 {
		return nil, errors.New("a discount needs the Pitman–Yor process")
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: no rows", errBadData)
	}
	fam, err := cfg.Likelihood.bind(x, n, d, cfg.Names)
	if err != nil {
		return nil, err
	}
	s := &sampler{cfg: cfg, fam: fam, n: n, nproc: cfg.Procs, workers: cfg.Workers}
	s.zc = make([]*cluster, n)
	for j := range s.nproc {
		p := &processor{s: s, j: j, newK: -1}
		p.r = rand.New(&p.src)
		for k := range p.scratch {
			p.scratch[k] = fam.newStats()
		}
		s.procs = append(s.procs, p)
	}
	s.masterSrc = rand.NewPCG(0, 0)
	s.master = rand.New(s.masterSrc)
	switch cfg.Placement {
	case Uniform:
		s.global = globalGibbs
	case Balanced:
		s.global = globalBalanced
	}
	s.fixAlpha = cfg.Alpha > 0
	s.alpha = cfg.Alpha
	if !s.fixAlpha {
		s.alpha = cfg.AlphaPrior.Shape / cfg.AlphaPrior.Rate
	}
	if cfg.Process == PY {
		s.fixDisc = cfg.Discount > 0
		s.disc = cfg.Discount
		if !s.fixDisc {
			s.disc = cfg.DiscountPrior.A / (cfg.DiscountPrior.A + cfg.DiscountPrior.B)
		}
	} else {
		s.fixDisc = true
	}
	s.lw = make([]float64, n+1)
	s.setLogWeights()
	s.load = make([]int, s.nproc)
	s.cnt = make([]int, s.nproc)
	s.pw = make([]float64, s.nproc)
	s.first = make([]int, s.nproc)
	s.firstK = make([]int, s.nproc)
	s.assign = make([][]int, s.workers)
	return s, nil
}

// setLogWeights fills lw for the current discount.
func (s *sampler) setLogWeights() {
	s.lw[0] = math.Inf(-1)
	for n := 1; n < len(s.lw); n++ {
		s.lw[n] = math.Log(float64(n) - s.disc)
	}
}

// initialize builds the starting state: clusters from InitLabels or one
// sequential urn pass over a random permutation (with the full α, as if
// serial), then an exact draw of their placement.
func (s *sampler) initialize() error {
	r := rng.NewRand(s.cfg.Seed, streamInit)
	p0 := s.procs[0]
	if lab := s.cfg.InitLabels; lab != nil {
		if len(lab) != s.n {
			return fmt.Errorf("%d initial labels for %d points", len(lab), s.n)
		}
		byLabel := map[int]*cluster{}
		for i, l := range lab {
			c := byLabel[l]
			if c == nil {
				c = p0.newCluster()
				byLabel[l] = c
			}
			p0.join(i, c)
		}
	} else {
		own := p0.r
		p0.r = r
		p0.newK = -1
		for _, i := range r.Perm(s.n) {
			p0.join(i, p0.choose(i, s.alpha, s.disc))
		}
		p0.r = own
		p0.newK = -1
	}
	s.gather()
	if s.nproc > 1 {
		frac := s.cfg.MoveFraction
		s.cfg.MoveFraction = 1
		globalGibbs(s, r)
		s.cfg.MoveFraction = frac
	}
	s.rebuild()
	return nil
}

// step runs one iteration: the local steps of all processors in parallel,
// then the master's hyperparameter update and global placement step.
func (s *sampler) step(it int) {
	s.localPhase(it)
	s.gather()
	s.masterSrc.Seed(rng.Seeds(s.cfg.Seed, streamGlobal, uint64(it)))
	s.updateHyper(s.master)
	s.moveProp, s.moveAcc, s.pointsMoved = 0, 0, 0
	if s.nproc > 1 {
		s.global(s, s.master)
	}
	s.rebuild()
}

// localPhase runs every processor's local step. Processors are packed onto
// the workers by longest-processing-time-first on their estimated Gibbs
// cost N_j(K_j+1); every processor draws from its own stream
// rng(seed, local, iteration, processor), so the packing cannot change
// the result.
func (s *sampler) localPhase(it int) {
	refresh := s.cfg.RefreshEvery > 0 && it%s.cfg.RefreshEvery == 0
	for j, p := range s.procs {
		s.first[j] = len(p.points)
		s.firstK[j] = p.k
	}
	if s.workers <= 1 {
		for _, p := range s.procs {
			p.local(it, refresh)
		}
		return
	}
	cost := func(j int) int { return len(s.procs[j].points) * (s.procs[j].k + 1) }
	s.order = s.order[:0]
	for j := range s.procs {
		s.order = append(s.order, j)
	}
	slices.SortStableFunc(s.order, func(a, b int) int { return cost(b) - cost(a) })
	loads := s.load[:0]
	for w := range s.workers {
		s.assign[w] = s.assign[w][:0]
		loads = append(loads, 0)
	}
	for _, j := range s.order {
		w := 0
		for v := range loads {
			if loads[v] < loads[w] {
				w = v
			}
		}
		s.assign[w] = append(s.assign[w], j)
		loads[w] += cost(j)
	}
	var g errgroup.Group
	for w := range s.workers {
		list := s.assign[w]
		if len(list) == 0 {
			continue
		}
		g.Go(func() error {
			for _, j := range list {
				s.procs[j].local(it, refresh)
			}
			return nil
		})
	}
	_ = g.Wait() // local steps cannot fail
}

// gather lists the non-empty clusters in processor, slot order.
func (s *sampler) gather() {
	s.all = s.all[:0]
	for _, p := range s.procs {
		for _, c := range p.clusters {
			if c.n > 0 {
				s.all = append(s.all, c)
			}
		}
	}
}

// rebuild rebuilds every processor's cluster slots and point list from the
// clusters' placement; empty clusters become spares of their processor.
func (s *sampler) rebuild() {
	for _, p := range s.procs {
		for _, c := range p.clusters {
			if c.n == 0 {
				p.spare = append(p.spare, c)
			}
		}
		p.clusters = p.clusters[:0]
		p.free = p.free[:0]
		p.points = p.points[:0]
	}
	for _, c := range s.all {
		p := s.procs[c.proc]
		c.slot = len(p.clusters)
		p.clusters = append(p.clusters, c)
	}
	for _, p := range s.procs {
		p.k = len(p.clusters)
	}
	for i, c := range s.zc {
		p := s.procs[c.proc]
		p.points = append(p.points, int32(i))
	}
}

func (s *sampler) clusterSizes() []int {
	s.sizes = s.sizes[:0]
	for _, c := range s.all {
		s.sizes = append(s.sizes, c.n)
	}
	return s.sizes
}

// updateHyper resamples α (DP, Escobar–West) or (θ, d) (PY, slice
// sampling) from their conditional given the global partition.
func (s *sampler) updateHyper(r *rand.Rand) {
	switch s.cfg.Process {
	case DP:
		if !s.fixAlpha {
			s.alpha = escobarWest(r, s.alpha, len(s.all), s.n, s.cfg.AlphaPrior)
		}
	case PY:
		if !s.fixAlpha || !s.fixDisc {
			post := newPYPosterior(s.clusterSizes(), s.cfg.AlphaPrior, s.cfg.DiscountPrior)
			s.alpha, s.disc = slicePY(r, s.alpha, s.disc, post, s.fixAlpha, s.fixDisc)
			s.setLogWeights()
			for _, c := range s.all {
				c.logw = s.lw[c.n]
			}
		}
	}
}

// logJoint is ln p(X, z | α, d) = ln EPPF(z) + Σ_c ln m(X_c) + const.
func (s *sampler) logJoint() float64 {
	v := logEPPF(s.clusterSizes(), s.alpha, s.disc) + s.fam.constant()
	for _, c := range s.all {
		v += c.st.logMarginal()
	}
	return v
}

// labels writes the partition as 1-based labels in order of first
// appearance, the canonical form of a set partition.
func (s *sampler) labels(dst []int32) []int32 {
	dst = dst[:0]
	for _, c := range s.all {
		c.label = 0
	}
	var next int32
	for _, c := range s.zc {
		if c.label == 0 {
			next++
			c.label = next
		}
		dst = append(dst, c.label)
	}
	return dst
}

func (s *sampler) iterStats(it int, lj float64, dt time.Duration) IterStats {
	st := IterStats{
		Iteration: it, K: len(s.all), Alpha: s.alpha, Discount: s.disc, LogJoint: lj,
		ProcPoints: slices.Clone(s.first), ProcClusters: slices.Clone(s.firstK),
		MovesProposed: s.moveProp, MovesAccepted: s.moveAcc, PointsMoved: s.pointsMoved,
		Seconds: dt.Seconds(),
	}
	for _, c := range s.all {
		st.Largest = max(st.Largest, c.n)
	}
	for _, n := range st.ProcPoints {
		st.MaxShare = max(st.MaxShare, float64(n)/float64(s.n))
	}
	for _, p := range s.procs {
		st.SplitsProposed += p.smProp[0]
		st.SplitsAccepted += p.smAcc[0]
		st.MergesProposed += p.smProp[1]
		st.MergesAccepted += p.smAcc[1]
	}
	return st
}

// Run samples the mixture posterior of the rows of x (n points of d values
// each) and returns the trace, the saved draws and what is needed for
// summaries and prediction. It stops with ctx's error, between iterations,
// when ctx is cancelled.
func Run(ctx context.Context, x [][]float64, cfg Config) (*Result, error) {
	if len(x) == 0 {
		return nil, fmt.Errorf("%w: no rows", errBadData)
	}
	d := len(x[0])
	if d == 0 {
		return nil, fmt.Errorf("%w: no columns", errBadData)
	}
	flat := make([]float64, 0, len(x)*d)
	for i, row := range x {
		if len(row) != d {
			return nil, fmt.Errorf("%w: row %d has %d values, want %d", errBadData, i+1, len(row), d)
		}
		flat = append(flat, row...)
	}
	if cfg.Likelihood == nil {
		h, err := EmpiricalNIW(x, DefaultGroups)
		if err != nil {
			return nil, err
		}
		cfg.Likelihood = h
	}
	s, err := newSampler(flat, len(x), d, cfg)
	if err != nil {
		return nil, err
	}
	if err := s.initialize(); err != nil {
		return nil, err
	}
	res := &Result{Config: s.cfg, N: s.n, Dim: d, fam: s.fam}
	for it := 1; it <= s.cfg.Iters; it++ {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("stopped at iteration %d of %d: %w", it, s.cfg.Iters, err)
		}
		t0 := time.Now()
		s.step(it)
		lj := s.logJoint()
		st := s.iterStats(it, lj, time.Since(t0))
		res.Trace = append(res.Trace, st)
		if it > s.cfg.Burn && (s.cfg.Iters-it)%s.cfg.Thin == 0 {
			res.Draws = append(res.Draws, Draw{
				Iteration: it, K: len(s.all), Alpha: s.alpha, Discount: s.disc, LogJoint: lj,
				Labels: s.labels(make([]int32, 0, s.n)),
			})
		}
		if s.cfg.OnIteration != nil {
			s.cfg.OnIteration(st)
		}
	}
	return res, nil
}
