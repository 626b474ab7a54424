package subpost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/internal/progress"
	"github.com/epmc/epmc/rng"
)

// Defaults of Config.
const (
	DefaultChains = 4
	DefaultWarmup = 1000
	DefaultDraws  = 1000
)

// Config configures Run. The zero value samples 4 chains of 1000 warmup
// and 1000 draws with NUTS, a diagonal metric and Stan's defaults, seed 0,
// as the full posterior (one shard).
type Config struct {
	// Chains is the number of chains (default 4).
	Chains int
	// Warmup is the number of warmup iterations per chain (default 1000;
	// negative means none: no adaptation, only Stan's initial step-size
	// search). Draws is the number of draws kept per chain (default 1000).
	Warmup, Draws int
	// Seed is the root seed: chain c of shard m draws from the stream
	// rng.New(Seed, m, c), so the output does not depend on Threads.
	Seed uint64
	// Shard (0-based) and Shards (default 1) say which subposterior this
	// is: the prior enters the target with power 1/Shards.
	Shard, Shards int
	// Sampler is "nuts" (default) or "rwm"; Metric is "diag" (default) or
	// "dense" (NUTS only).
	Sampler string
	Metric  MetricKind
	// AdaptDelta is the target acceptance statistic of step-size
	// adaptation (default 0.8); MaxDepth the maximum tree depth (default
	// 10).
	AdaptDelta float64
	MaxDepth   int
	// StepSize is the initial step size before Stan's search (default 1).
	StepSize float64
	// InitRadius is the half-width of the uniform initialisation of every
	// unconstrained coordinate (default 2; negative means start at 0).
	InitRadius float64
	// Threads is the number of chains run at once (default GOMAXPROCS).
	Threads int
	// SaveWarmup writes the warmup iterations too, before the draws of
	// each chain, as Stan's save_warmup.
	SaveWarmup bool
	// Compression of the draws file.
	Compression chains.Compression
	// Meta supplies what the caller knows: Model spec, DataFingerprint,
	// Partition, Version and Extra. Run fills Kind, Shard, Shards,
	// PriorPower, Convention, Seed, Params and Sampler.
	Meta chains.Meta
	// Progress, when not nil, receives one progress bar per chain; pass a
	// terminal only.
	Progress io.Writer
	// OmitTiming leaves the wall-clock times out of the sampler metadata,
	// so that identical runs give byte-identical files.
	OmitTiming bool
}

// withDefaults returns c with zero fields replaced by their defaults, or an
// error naming the first bad setting.
func (c Config) withDefaults() (Config, error) {
	if c.Chains == 0 {
		c.Chains = DefaultChains
	}
	switch {
	case c.Warmup == 0:
		c.Warmup = DefaultWarmup
	case c.Warmup < 0:
		c.Warmup = 0
	}
	if c.Draws == 0 {
		c.Draws = DefaultDraws
	}
	if c.Shards == 0 {
		c.Shards = 1
	}
	if c.Sampler == "" {
		c.Sampler = "nuts"
	}
	if c.Metric == "" {
		c.Metric = DiagMetric
	}
	if c.AdaptDelta == 0 {
		c.AdaptDelta = DefaultAdaptDelta
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.StepSize == 0 {
		c.StepSize = 1
	}
	switch {
	case c.InitRadius == 0:
		c.InitRadius = DefaultInitRadius
	case c.InitRadius < 0:
		c.InitRadius = 0
	}
	if c.Threads <= 0 {
		c.Threads = runtime.GOMAXPROCS(0)
	}
	switch {
	case c.Chains < 0:
		return c, fmt.Errorf("chains must be at least 1, have %d", c.Chains)
	case c.Draws < 0:
		return c, fmt.Errorf("draws must be at least 1, have %d", c.Draws)
	case c.Shards < 0:
		return c, fmt.Errorf("shards must be at least 1, have %d", c.Shards)
	case c.Shard < 0 || c.Shard >= c.Shards:
		return c, fmt.Errorf("shard %d is outside 0..%d (shards = %d)", c.Shard, c.Shards-1, c.Shards)
	case c.Sampler != "nuts" && c.Sampler != "rwm":
		return c, fmt.Errorf("unknown sampler %q (want nuts or rwm)", c.Sampler)
	case c.Metric != DiagMetric && c.Metric != DenseMetric:
		return c, fmt.Errorf("unknown metric %q (want diag or dense)", c.Metric)
	case !(c.AdaptDelta > 0 && c.AdaptDelta < 1):
		return c, fmt.Errorf("adapt delta must be in (0, 1), have %g", c.AdaptDelta)
	case c.MaxDepth < 1 || c.MaxDepth > 30:
		return c, fmt.Errorf("max depth must be in 1..30, have %d", c.MaxDepth)
	case !(c.StepSize > 0) || math.IsInf(c.StepSize, 0):
		return c, fmt.Errorf("step size must be positive and finite, have %g", c.StepSize)
	case !validInitRadius(c.InitRadius):
		return c, fmt.Errorf("init radius must be finite, have %g", c.InitRadius)
	}
	return c, nil
}

// SamplerInfo is the JSON recorded as the draws file's Meta.Sampler. Its
// keys follow those chains.ReadStanCSV records for Stan's output.
type SamplerInfo struct {
	Name       string     `json:"name"`      // "nuts" or "rwm"
	Algorithm  string     `json:"algorithm"` // what exactly ran
	Metric     MetricKind `json:"metric,omitempty"`
	NumWarmup  int        `json:"num_warmup"`
	NumSamples int        `json:"num_samples"`
	SaveWarmup bool       `json:"save_warmup"`
	AdaptDelta float64    `json:"adapt_delta,omitempty"`
	MaxDepth   int        `json:"max_depth,omitempty"`
	MaxDeltaH  float64    `json:"max_delta_h,omitempty"`
	// Stan's adaptation settings (init_buffer, term_buffer, window).
	InitBuffer int     `json:"adapt_init_buffer"`
	TermBuffer int     `json:"adapt_term_buffer"`
	Window     int     `json:"adapt_window"`
	StepSize0  float64 `json:"stepsize_init,omitempty"`
	InitRadius float64 `json:"init_radius"`
	Seed       uint64  `json:"seed"`
	// LPDefinition says what lp__ holds.
	LPDefinition string      `json:"lp"`
	Chains       []ChainInfo `json:"chains"`
}

// ChainInfo is the per-chain part of SamplerInfo: the adapted step size and
// inverse metric (a vector for a diagonal metric, rows of a matrix for a
// dense one) for NUTS, the frozen proposal covariance for RWM, and the
// wall-clock times.
type ChainInfo struct {
	Chain           int         `json:"chain"`
	StepSize        float64     `json:"stepsize,omitempty"`
	InvMetric       any         `json:"inv_metric,omitempty"`
	ProposalCov     [][]float64 `json:"proposal_cov,omitempty"`
	WarmupSeconds   *float64    `json:"warmup_seconds,omitempty"`
	SamplingSeconds *float64    `json:"sampling_seconds,omitempty"`
	// CPU time of the chain's thread (Linux), comparable with the
	// std::clock() times Stan reports and robust to machine load.
	WarmupCPUSeconds   *float64 `json:"warmup_cpu_seconds,omitempty"`
	SamplingCPUSeconds *float64 `json:"sampling_cpu_seconds,omitempty"`
}

// lpDefinition documents lp__ in every file epmc writes.
const lpDefinition = "log of the sampled target in unconstrained space: (1/shards)·(log prior + log|Jacobian|) + log likelihood of the shard, with all normalising constants the model keeps (built-in models keep them all)"

// nutsStatNames and rwmStatNames are the sampler columns, in Stan's order.
var (
	nutsStatNames = []string{chains.LP, chains.AcceptStat, chains.StepSize, chains.TreeDepth, chains.NumLeapfrog, chains.Divergent, chains.Energy}
	rwmStatNames  = []string{chains.LP, chains.AcceptStat}
)

// Run samples the subposterior of shard cfg.Shard of cfg.Shards for model m
// and writes the draws file out (Arrow IPC), which appears only when the
// run has succeeded. Chains run in parallel, at most cfg.Threads at a
// time; each draws from its own random stream, so the draws do not depend
// on Threads or scheduling. Cancelling ctx stops every chain between
// iterations and leaves no file under out.
//
// The file holds Stan's sampler columns (lp__, accept_stat__, stepsize__,
// treedepth__, n_leapfrog__, divergent__, energy__ for NUTS; lp__ and
// accept_stat__ for RWM) then the model's constrained parameters. lp__ is
// the log of the sampled target p(θ)^{1/M}·p(x_m | θ) in unconstrained
// space, Jacobian included, normalised as the model's densities are.
func Run(ctx context.Context, m Model, cfg Config, out string) (err error) {
	cfg, err = cfg.withDefaults()
	if err != nil {
		return err
	}
	params := m.Params()
	dim := 0
	var names []string
	for _, p := range params {
		if err := p.Transform.Validate(); err != nil {
			return fmt.Errorf("model parameter %s: %w", p.Name, err)
		}
		dim += p.Transform.Dim(p.Size())
		names = append(names, p.ScalarNames()...)
	}
	if dim != m.Dim() {
		return fmt.Errorf("model declares %d unconstrained parameters but its parameter blocks need %d", m.Dim(), dim)
	}
	if dim == 0 {
		return errors.New("model has no parameters")
	}
	stats := nutsStatNames
	if cfg.Sampler == "rwm" {
		stats = rwmStatNames
	}
	cols := append(append([]string(nil), stats...), names...)

	meta := cfg.Meta
	meta.Kind = chains.KindSubposterior
	if cfg.Shards == 1 {
		meta.Kind = chains.KindFull
	}
	meta.Shard, meta.Shards = cfg.Shard, cfg.Shards
	meta.PriorPower = 1 / float64(cfg.Shards)
	meta.Convention = chains.ConventionProduct
	seed := cfg.Seed
	meta.Seed = &seed
	meta.Params = params

	saved := 0
	if cfg.SaveWarmup {
		saved = cfg.Warmup
	}
	w, err := chains.Create(out, cols, meta, cfg.Chains, saved, chains.WriteOptions{Compression: cfg.Compression})
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			w.Abort()
		}
	}()

	bars := progress.New(cfg.Progress, cfg.Progress != nil)
	infos := make([]ChainInfo, cfg.Chains)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(cfg.Threads)
	for c := range cfg.Chains {
		bar := bars.Add(fmt.Sprintf("chain %d", c+1), cfg.Warmup+cfg.Draws)
		g.Go(func() error {
			info, err := runChain(gctx, m, cfg, c, len(names), w.Chain(c), bar)
			if err != nil {
				bar.Abort()
				if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
					return err
				}
				return fmt.Errorf("chain %d: %w", c+1, err)
			}
			infos[c] = info
			return nil
		})
	}
	err = g.Wait()
	bars.Wait()
	if err != nil {
		// A cancelled parent context is the cause; report it rather than
		// the derived context's error.
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return err
	}

	info := SamplerInfo{
		Name: cfg.Sampler, NumWarmup: cfg.Warmup, NumSamples: cfg.Draws, SaveWarmup: cfg.SaveWarmup,
		InitBuffer: DefaultInitBuffer, TermBuffer: DefaultTermBuffer, Window: DefaultBaseWindow,
		InitRadius: cfg.InitRadius, Seed: cfg.Seed, LPDefinition: lpDefinition, Chains: infos,
	}
	if cfg.Sampler == "nuts" {
		info.Algorithm = "NUTS as Stan's base_nuts (multinomial sampling, biased progressive sampling, U-turn checks of stan-dev/stan#2800) with Stan's windowed adaptation"
		info.Metric, info.AdaptDelta, info.MaxDepth, info.MaxDeltaH, info.StepSize0 = cfg.Metric, cfg.AdaptDelta, cfg.MaxDepth, DefaultMaxDeltaH, cfg.StepSize
	} else {
		info.Algorithm = "adaptive random-walk Metropolis (Roberts & Rosenthal 2009), adapted during warmup only"
	}
	meta.Sampler, err = json.Marshal(info)
	if err != nil {
		return err
	}
	w.SetMeta(meta)
	return w.Close()
}

// runChain runs chain c and streams its rows to cw.
func runChain(ctx context.Context, m Model, cfg Config, c, nparams int, cw *chains.ChainWriter, bar *progress.Bar) (ChainInfo, error) {
	info := ChainInfo{Chain: c + 1}
	r := rng.NewRand(cfg.Seed, uint64(cfg.Shard), uint64(c))
	target := Subposterior(m, cfg.Shards)
	nuts := cfg.Sampler == "nuts"
	theta, err := initialPoint(target, r, cfg.InitRadius, nuts)
	if err != nil {
		return info, err
	}
	params := m.Params()
	constrain := func(x, theta []float64) { Constrain(params, x, theta) }
	if cs, ok := m.(Constrainer); ok {
		constrain = cs.Constrain
	}

	var step func(warmup bool) (row []float64, err error)
	var endWarmup func() error
	var finish func()
	nstats := len(nutsStatNames)
	if !nuts {
		nstats = len(rwmStatNames)
	}
	row := make([]float64, nstats+nparams)
	if nuts {
		a := newAdaptiveNUTS(target, cfg, r)
		if err := a.start(theta); err != nil {
			return info, err
		}
		step = func(warmup bool) ([]float64, error) {
			st, err := a.step(warmup)
			if err != nil {
				return nil, err
			}
			row[0], row[1], row[2] = st.LogDensity, st.AcceptStat, st.StepSize
			row[3], row[4] = float64(st.TreeDepth), float64(st.NumLeapfrog)
			row[5] = 0
			if st.Divergent {
				row[5] = 1
			}
			row[6] = st.Energy
			constrain(row[nstats:], a.s.Position())
			return row, nil
		}
		endWarmup = func() error { a.endWarmup(); return nil }
		finish = func() {
			info.StepSize = a.s.StepSize
			inv := a.s.InvMetric()
			if cfg.Metric == DenseMetric {
				info.InvMetric = rows(inv, target.Dim())
			} else {
				info.InvMetric = inv
			}
		}
	} else {
		s := NewRWM(target, cfg.Warmup, r)
		if err := s.SetPosition(theta); err != nil {
			return info, err
		}
		step = func(warmup bool) ([]float64, error) {
			st := s.Step(warmup)
			row[0], row[1] = st.LogDensity, st.AcceptStat
			constrain(row[nstats:], s.Position())
			return row, nil
		}
		endWarmup = func() error { s.EndWarmup(); return nil }
		finish = func() {
			if cov := s.ProposalCov(); cov != nil {
				info.ProposalCov = rows(cov, target.Dim())
			}
		}
	}

	// The chain keeps its OS thread so that the thread's CPU time is the
	// chain's.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu0, haveCPU := threadCPU()
	var warmCPU time.Duration
	start := time.Now()
	var warmSecs float64
	if cfg.Warmup == 0 {
		if err := endWarmup(); err != nil {
			return info, err
		}
	}
	total := cfg.Warmup + cfg.Draws
	for it := range total {
		if err := ctx.Err(); err != nil {
			return info, err
		}
		warm := it < cfg.Warmup
		row, err := step(warm)
		if err != nil {
			return info, fmt.Errorf("iteration %d: %w", it+1, err)
		}
		if !warm || cfg.SaveWarmup {
			if err := cw.Append(row); err != nil {
				return info, err
			}
		}
		bar.Increment()
		if it == cfg.Warmup-1 {
			if err := endWarmup(); err != nil {
				return info, err
			}
			warmSecs = time.Since(start).Seconds()
			start = time.Now()
			c, _ := threadCPU()
			warmCPU, cpu0 = c-cpu0, c
		}
	}
	sampSecs := time.Since(start).Seconds()
	cpu1, _ := threadCPU()
	finish()
	if !cfg.OmitTiming {
		info.WarmupSeconds, info.SamplingSeconds = &warmSecs, &sampSecs
		if haveCPU {
			w, s := warmCPU.Seconds(), (cpu1 - cpu0).Seconds()
			info.WarmupCPUSeconds, info.SamplingCPUSeconds = &w, &s
		}
	}
	return info, nil
}

// rows splits a row-major n×n matrix into rows.
func rows(v []float64, n int) [][]float64 {
	out := make([][]float64, n)
	for i := range out {
		out[i] = v[i*n : (i+1)*n]
	}
	return out
}

// adaptiveNUTS is NUTS with Stan's warmup: dual averaging of the step size
// every warmup iteration and the metric re-estimated at the end of each
// slow window, as in Stan's adapt_diag_e_nuts / adapt_dense_e_nuts.
type adaptiveNUTS struct {
	s      *NUTS
	da     *DualAveraging
	win    *windows
	est    *welford
	warmup int
}

func newAdaptiveNUTS(t Target, cfg Config, r *rand.Rand) *adaptiveNUTS {
	s := NewNUTS(t, cfg.Metric, r)
	s.MaxDepth = cfg.MaxDepth
	s.StepSize = cfg.StepSize
	return &adaptiveNUTS{
		s:      s,
		da:     NewDualAveraging(cfg.AdaptDelta, cfg.StepSize),
		win:    newWindows(cfg.Warmup, DefaultInitBuffer, DefaultTermBuffer, DefaultBaseWindow),
		est:    newWelford(t.Dim(), cfg.Metric == DenseMetric),
		warmup: cfg.Warmup,
	}
}

// start places the chain at theta and searches an initial step size, as
// Stan's run_adaptive_sampler does before the first warmup iteration.
func (a *adaptiveNUTS) start(theta []float64) error {
	if err := a.s.SetPosition(theta); err != nil {
		return err
	}
	return a.s.InitStepSize()
}

// step is one iteration: the transition, then (during warmup) the
// step-size update, the metric estimator and, at a window end, the new
// metric, a fresh step-size search, μ = log(10ε) and a restarted dual
// averaging.
func (a *adaptiveNUTS) step(warmup bool) (NUTSStats, error) {
	st := a.s.Transition()
	if !warmup {
		return st, nil
	}
	a.s.StepSize = a.da.Learn(st.AcceptStat)
	update := false
	if a.win.inWindow() {
		a.est.add(a.s.Position())
	}
	if a.win.endOfWindow() {
		a.win.computeNextWindow()
		inv, err := a.est.regularised()
		if err != nil {
			return st, err
		}
		if err := a.s.SetInvMetric(inv); err != nil {
			return st, fmt.Errorf("metric adaptation: %w", err)
		}
		a.est.restart()
		update = true
	}
	a.win.counter++
	if update {
		if err := a.s.InitStepSize(); err != nil {
			return st, err
		}
		a.da.Mu = math.Log(10 * a.s.StepSize)
		a.da.Restart()
	}
	return st, nil
}

// endWarmup fixes the step size at exp(x̄), Stan's complete_adaptation.
func (a *adaptiveNUTS) endWarmup() {
	if a.warmup > 0 {
		a.s.StepSize = a.da.Final(a.s.StepSize)
	}
}
