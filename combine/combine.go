package combine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/mat"
)

// Method is one way of combining subposterior draws.
type Method interface {
	// Name is the method's name on the command line ("consensus", …).
	Name() string
	// Combine returns draws from the combined posterior. shards[m][t] is
	// draw t of shard m, a point in unconstrained ℝ^d; shards may hold
	// different numbers of draws. The input is not modified.
	Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error)
}

// Settings are the choices every method shares. The zero value asks for 4
// chains of 1000 draws with seed 0 on runtime.GOMAXPROCS workers.
type Settings struct {
	// Chains is the number of output chains: independent Markov chains for
	// the Markov-chain methods, equal blocks of draws for the others.
	Chains int
	// Draws is the number of output draws per chain.
	Draws int
	// Seed is the root of every random stream.
	Seed uint64
	// Workers bounds the goroutines used; it never changes the output.
	Workers int
	// ShardLabels, when set, names the shards (in input order) in the
	// notes of a result, such as "shard 0 (shard-0.arrow)"; by default
	// they are "shard 1", "shard 2", … in input order.
	ShardLabels []string
	// Progress, when not nil, is called from each chain's goroutine as it
	// advances, with the iterations done and the total (burn-in included;
	// the total may grow once a chain has chosen its thinning).
	Progress func(chain, done, total int)
}

// shardLabel names shard m (0-based input position) in notes.
func (s Settings) shardLabel(m int) string {
	if m < len(s.ShardLabels) && s.ShardLabels[m] != "" {
		return s.ShardLabels[m]
	}
	return fmt.Sprintf("shard %d", m+1)
}

func (s Settings) withDefaults() Settings {
	if s.Chains <= 0 {
		s.Chains = 4
	}
	if s.Draws <= 0 {
		s.Draws = 1000
	}
	if s.Workers <= 0 {
		s.Workers = runtime.GOMAXPROCS(0)
	}
	return s
}

// Result is the output of a combination.
type Result struct {
	// Draws[c][i] is draw i of chain c, a point in the same unconstrained
	// space as the input.
	Draws [][][]float64
	Info  Info
}

// Info records how a combination was made and how it went; it is written
// to the output file's metadata (chains.Meta.Combine) as JSON.
type Info struct {
	Method        string `json:"method"`
	Chains        int    `json:"chains"`
	DrawsPerChain int    `json:"draws_per_chain"`
	Seed          uint64 `json:"seed"`
	Shards        int    `json:"shards"`
	ShardDraws    []int  `json:"shard_draws"`
	Dim           int    `json:"dim"`
	// Pairing says how draws of different shards are matched.
	Pairing string `json:"pairing,omitempty"`
	// Markov-chain methods.
	Burn      int    `json:"burn,omitempty"`
	Thin      []int  `json:"thin,omitempty"`
	Whitening string `json:"whitening,omitempty"`
	// BandwidthRule, BaseBandwidth (h at iteration 1) and Bandwidth (the
	// final h, used for every kept draw) are in whitened units.
	BandwidthRule string  `json:"bandwidth_rule,omitempty"`
	BaseBandwidth float64 `json:"base_bandwidth,omitempty"`
	Bandwidth     float64 `json:"bandwidth,omitempty"`
	// BandwidthLCV is the cross-validated bandwidth the automatic rule
	// starts from; Calibration records the candidates it tried (largest
	// first). EffectiveDraws[m] is shard m's effective number of draws in
	// the product (see MarkovOptions.MinEffectiveDraws), measured at kept
	// states of the output chains, or by the calibration chain when the
	// semiparametric method returned its parametric start.
	BandwidthLCV   float64           `json:"bandwidth_lcv,omitempty"`
	Calibration    []CalibrationStep `json:"calibration,omitempty"`
	EffectiveDraws []float64         `json:"effective_draws,omitempty"`
	// ParametricStart is set when the semiparametric method could not
	// estimate its KDE correction and returned its parametric start, the
	// Gaussian product (see Notes).
	ParametricStart    bool `json:"parametric_start,omitempty"`
	Anneal             bool `json:"anneal,omitempty"`
	VarianceCorrection bool `json:"variance_correction,omitempty"`
	// Acceptance[c] is chain c's acceptance rate of index moves over its
	// kept iterations; ShardAcceptance[c][m] the same for shard m's moves.
	Acceptance      []float64   `json:"acceptance,omitempty"`
	ShardAcceptance [][]float64 `json:"shard_acceptance,omitempty"`
	// Ladder is the bandwidths of the tempering levels (whitened units);
	// SwapAcceptance[c][k] is chain c's acceptance rate of swaps between
	// levels k and k+1.
	Ladder         []float64   `json:"ladder,omitempty"`
	SwapAcceptance [][]float64 `json:"swap_acceptance,omitempty"`
	Notes          []string    `json:"notes,omitempty"`
}

// Names lists the methods in the order the help text shows them.
func Names() []string {
	return []string{"average", "consensus-diag", "consensus", "parametric", "nonparametric", "semiparametric", "swiss"}
}

// ByName returns the method called name, with the Markov-chain options
// (ignored by the other methods).
func ByName(name string, opts MarkovOptions) (Method, error) {
	switch name {
	case "average":
		return Average{}, nil
	case "consensus-diag":
		return ConsensusDiag{}, nil
	case "consensus":
		return Consensus{}, nil
	case "parametric":
		return Parametric{}, nil
	case "nonparametric":
		return Nonparametric{MarkovOptions: opts}, nil
	case "semiparametric":
		return Semiparametric{MarkovOptions: opts}, nil
	case "swiss", "swissprod":
		return Swiss{}, nil
	}
	return nil, fmt.Errorf("unknown method %q (want one of %s)", name, strings.Join(Names(), ", "))
}

// IsMarkov tells whether the named method runs Markov chains (and so uses
// bandwidth, burn-in and thinning).
func IsMarkov(name string) bool { return name == "nonparametric" || name == "semiparametric" }

var errSingular = errors.New("matrix is not positive definite")

func singularShard(m, n int) error {
	return fmt.Errorf("shard %d: the covariance of its %d draws is singular (a stuck chain, a constant parameter, or no more draws than parameters)", m+1, n)
}

func singularProduct() error {
	return errors.New("the Gaussian product of the shards has a singular covariance")
}

// checkShards validates the input and returns the dimension.
func checkShards(shards [][][]float64, minDraws int) (int, error) {
	if len(shards) == 0 {
		return 0, errors.New("no shards")
	}
	if len(shards[0]) == 0 {
		return 0, errors.New("shard 1 has no draws")
	}
	d := len(shards[0][0])
	if d == 0 {
		return 0, errors.New("draws have no coordinates")
	}
	for m, sh := range shards {
		if len(sh) < minDraws {
			return 0, fmt.Errorf("shard %d has %d draws; this method needs at least %d for %d parameters", m+1, len(sh), minDraws, d)
		}
		for t, row := range sh {
			if len(row) != d {
				return 0, fmt.Errorf("shard %d, draw %d has %d coordinates, want %d", m+1, t+1, len(row), d)
			}
			for j, v := range row {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					return 0, fmt.Errorf("shard %d, draw %d, coordinate %d is %g", m+1, t+1, j+1, v)
				}
			}
		}
	}
	return d, nil
}

// shardStats holds a shard's sample mean and covariance with its Cholesky
// factor and precision.
type shardStats struct {
	n    int
	mean []float64
	cov  *mat.SymDense
	chol mat.Cholesky
	prec *mat.SymDense
}

// moments computes every shard's statistics; a shard whose covariance is
// not positive definite is an error naming it.
func moments(shards [][][]float64, d int) ([]shardStats, error) {
	out := make([]shardStats, len(shards))
	for m, sh := range shards {
		st := &out[m]
		st.n = len(sh)
		st.mean, st.cov = meanCov(sh, d)
		if !st.chol.Factorize(st.cov) || !wellConditioned(st.cov) {
			return nil, singularShard(m, len(sh))
		}
		st.prec = mat.NewSymDense(d, nil)
		if err := st.chol.InverseTo(st.prec); err != nil {
			return nil, fmt.Errorf("shard %d: %w", m+1, err)
		}
	}
	return out, nil
}

// wellConditioned reports whether the correlation matrix of cov is
// numerically positive definite (condition number below 1e12): scale
// differences between parameters are harmless, near-collinearity is not.
func wellConditioned(cov *mat.SymDense) bool {
	d := cov.SymmetricDim()
	corr := mat.NewSymDense(d, nil)
	for i := range d {
		if !(cov.At(i, i) > 0) {
			return false
		}
		for j := 0; j <= i; j++ {
			corr.SetSym(i, j, cov.At(i, j)/math.Sqrt(cov.At(i, i)*cov.At(j, j)))
		}
	}
	var ch mat.Cholesky
	return ch.Factorize(corr) && ch.Cond() < 1e12
}

// meanCov returns the sample mean and the covariance with denominator
// n − 1, by a two-pass algorithm.
func meanCov(x [][]float64, d int) ([]float64, *mat.SymDense) {
	n := len(x)
	mean := make([]float64, d)
	for _, row := range x {
		for j, v := range row {
			mean[j] += v
		}
	}
	for j := range mean {
		mean[j] /= float64(n)
	}
	c := make([]float64, d*d)
	dev := make([]float64, d)
	for _, row := range x {
		for j, v := range row {
			dev[j] = v - mean[j]
		}
		for j := range d {
			for k := 0; k <= j; k++ {
				c[j*d+k] += dev[j] * dev[k]
			}
		}
	}
	cov := mat.NewSymDense(d, nil)
	den := float64(max(n-1, 1))
	for j := range d {
		for k := 0; k <= j; k++ {
			cov.SetSym(j, k, c[j*d+k]/den)
		}
	}
	return mean, cov
}

// product returns the Gaussian product of the shards' moment fits:
// Σ_M = (Σ_m Σ̂_m⁻¹)⁻¹ and μ_M = Σ_M Σ_m Σ̂_m⁻¹ μ̂_m.
func product(st []shardStats, d int) ([]float64, *mat.SymDense, error) {
	precSum := mat.NewSymDense(d, nil)
	rhs := mat.NewVecDense(d, nil)
	for _, s := range st {
		precSum.AddSym(precSum, s.prec)
		var v mat.VecDense
		v.MulVec(s.prec, mat.NewVecDense(d, s.mean))
		rhs.AddVec(rhs, &v)
	}
	var ch mat.Cholesky
	if !ch.Factorize(precSum) {
		return nil, nil, errors.New("the summed shard precisions are not positive definite")
	}
	cov := mat.NewSymDense(d, nil)
	if err := ch.InverseTo(cov); err != nil {
		return nil, nil, err
	}
	var mu mat.VecDense
	if err := ch.SolveVecTo(&mu, rhs); err != nil {
		return nil, nil, err
	}
	return append([]float64(nil), mu.RawVector().Data...), cov, nil
}

// GaussianProduct returns the mean μ_M and covariance Σ_M of the product
// of Gaussian fits to the shards (§2 of Neiswanger et al. 2014): the
// parametric method's target and the consensus method's limit. Users who
// want moments rather than draws call it directly.
func GaussianProduct(shards [][][]float64) ([]float64, *mat.SymDense, error) {
	_, _, mu, cov, err := fitShards(shards)
	return mu, cov, err
}

// fitShards checks the shards and returns the dimension, every shard's
// moments and their Gaussian product (see product): what the Gaussian and
// kernel methods all start from.
func fitShards(shards [][][]float64) (d int, st []shardStats, mu []float64, cov *mat.SymDense, err error) {
	if d, err = checkShards(shards, 2); err != nil {
		return 0, nil, nil, nil, err
	}
	if st, err = moments(shards, d); err != nil {
		return 0, nil, nil, nil, err
	}
	if mu, cov, err = product(st, d); err != nil {
		return 0, nil, nil, nil, err
	}
	return d, st, mu, cov, nil
}

// baseInfo fills the fields every method reports.
func baseInfo(name string, shards [][][]float64, d int, s Settings) Info {
	info := Info{Method: name, Chains: s.Chains, DrawsPerChain: s.Draws, Seed: s.Seed, Shards: len(shards), Dim: d}
	for _, sh := range shards {
		info.ShardDraws = append(info.ShardDraws, len(sh))
	}
	return info
}

// runChains calls f for every chain on at most s.Workers goroutines and
// collects the draws. f must depend only on its chain index and inputs.
func runChains(ctx context.Context, s Settings, f func(ctx context.Context, chain int) ([][]float64, error)) ([][][]float64, error) {
	out := make([][][]float64, s.Chains)
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.Workers)
	for c := range s.Chains {
		g.Go(func() error {
			draws, err := f(ctx, c)
			out[c] = draws
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// newDrawBlock allocates n draws of dimension d in one slab.
func newDrawBlock(n, d int) [][]float64 {
	buf := make([]float64, n*d)
	out := make([][]float64, n)
	for i := range out {
		out[i] = buf[i*d : (i+1)*d : (i+1)*d]
	}
	return out
}

// sortedCopy returns a sorted copy of x.
func sortedCopy(x []float64) []float64 {
	out := append([]float64(nil), x...)
	sort.Float64s(out)
	return out
}
