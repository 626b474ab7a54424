package combine

import (
	"context"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/rng"
)

// streamPairing names the random streams that pair draws across shards
// (path streamPairing, m) and order SwISS output; chains use the paths
// (chain).
const streamPairing = 1 << 40

// pairing returns, for each shard m, the index of its draw used by output
// n = 0..total−1: concatenated random permutations of 0..T_m−1, so every
// draw is used equally often and draws of different shards are matched
// independently at random (parallelMCMCcombine's shuff, repeated when
// more outputs than draws are asked for).
func pairing(shards [][][]float64, total int, seed uint64) [][]int32 {
	idx := make([][]int32, len(shards))
	for m, sh := range shards {
		idx[m] = permutations(rand.New(rng.New(seed, streamPairing, uint64(m))), len(sh), total)
	}
	return idx
}

// permutations returns total indices: random permutations of 0..t−1, one
// after another.
func permutations(r *rand.Rand, t, total int) []int32 {
	out := make([]int32, total)
	perm := make([]int32, t)
	for start := 0; start < total; start += t {
		for i := range perm {
			perm[i] = int32(i)
		}
		r.Shuffle(t, func(a, b int) { perm[a], perm[b] = perm[b], perm[a] })
		copy(out[start:], perm)
	}
	return out
}

// pairedCombine runs the draw-pairing method called name: output n of
// chain c is f(dst, draws), where draws[m] is shard m's paired draw.
func pairedCombine(ctx context.Context, name string, shards [][][]float64, s Settings, d int, f func(dst []float64, draws [][]float64)) (*Result, error) {
	idx := pairing(shards, s.Chains*s.Draws, s.Seed)
	draws, err := runChains(ctx, s, func(ctx context.Context, c int) ([][]float64, error) {
		out := newDrawBlock(s.Draws, d)
		draws := make([][]float64, len(shards))
		for i := range out {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				progress(s, c, i, s.Draws)
			}
			n := c*s.Draws + i
			for m, sh := range shards {
				draws[m] = sh[idx[m][n]]
			}
			f(out[i], draws)
		}
		progress(s, c, s.Draws, s.Draws)
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	info := baseInfo(name, shards, d, s)
	info.Pairing = "random permutations"
	return &Result{Draws: draws, Info: info}, nil
}

func progress(s Settings, chain, done, total int) {
	if s.Progress != nil {
		s.Progress(chain, done, total)
	}
}

// Average is the unweighted mean of randomly paired draws, one from each
// shard (parallelMCMCcombine's sampleAvg). It is a baseline: even for
// Gaussian subposteriors it is exact only when all shards have the same
// covariance, and it is biased whenever they differ.
type Average struct{}

// Name returns "average".
func (Average) Name() string { return "average" }

// Combine implements Method.
func (Average) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	s = s.withDefaults()
	d, err := checkShards(shards, 1)
	if err != nil {
		return nil, err
	}
	inv := 1 / float64(len(shards))
	return pairedCombine(ctx, "average", shards, s, d, func(dst []float64, x [][]float64) {
		for j := range dst {
			v := 0.0
			for _, row := range x {
				v += row[j]
			}
			dst[j] = v * inv
		}
	})
}

// ConsensusDiag is consensus Monte Carlo with inverse-variance weights
// (Scott et al. 2016; parallelMCMCcombine's consensusMCindep): coordinate
// j of an output is Σ_m w_mj θ_mj / Σ_m w_mj with w_mj = 1/var̂_mj, the
// draws θ_m paired at random. Exact for Gaussian subposteriors with
// diagonal covariances; it ignores correlations otherwise.
type ConsensusDiag struct{}

// Name returns "consensus-diag".
func (ConsensusDiag) Name() string { return "consensus-diag" }

// Combine implements Method.
func (ConsensusDiag) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	s = s.withDefaults()
	d, err := checkShards(shards, 2)
	if err != nil {
		return nil, err
	}
	M := len(shards)
	w := make([]float64, M*d) // normalised weights w[m*d+j]
	for m, sh := range shards {
		_, cov := meanCov(sh, d)
		for j := range d {
			v := cov.At(j, j)
			if !(v > 0) {
				return nil, singularShard(m, len(sh))
			}
			w[m*d+j] = 1 / v
		}
	}
	for j := range d {
		sum := 0.0
		for m := range M {
			sum += w[m*d+j]
		}
		for m := range M {
			w[m*d+j] /= sum
		}
	}
	return pairedCombine(ctx, "consensus-diag", shards, s, d, func(dst []float64, x [][]float64) {
		for j := range dst {
			v := 0.0
			for m, row := range x {
				v += w[m*d+j] * row[j]
			}
			dst[j] = v
		}
	})
}

// Consensus is consensus Monte Carlo with inverse-covariance weights
// (Scott, Blocker, Bonassi, Chipman, George & McCulloch 2016): an output is
// (Σ_m W_m)⁻¹ Σ_m W_m θ_m with W_m = Σ̂_m⁻¹ and the draws θ_m paired by
// independent random permutations of each shard. Exact when every
// subposterior is Gaussian (up to the error in Σ̂_m, which needs T ≫ d);
// keeps some non-Gaussian shape, but not multimodality.
type Consensus struct{}

// Name returns "consensus".
func (Consensus) Name() string { return "consensus" }

// Combine implements Method.
func (Consensus) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	s = s.withDefaults()
	d, st, _, cov, err := fitShards(shards)
	if err != nil {
		return nil, err
	}
	// A_m = Σ_M W_m, so an output is Σ_m A_m θ_m: O(M·d²) per draw.
	M := len(shards)
	a := make([]float64, M*d*d)
	for m := range st {
		var am mat.Dense
		am.Mul(cov, st[m].prec)
		for i := range d {
			for j := range d {
				a[m*d*d+i*d+j] = am.At(i, j)
			}
		}
	}
	return pairedCombine(ctx, "consensus", shards, s, d, func(dst []float64, x [][]float64) {
		for i := range dst {
			v := 0.0
			for m, row := range x {
				am := a[m*d*d+i*d : m*d*d+(i+1)*d]
				for j, aij := range am {
					v += aij * row[j]
				}
			}
			dst[i] = v
		}
	})
}

// Parametric draws independently from N(μ_M, Σ_M), the product of Gaussian
// fits to the shards (Neiswanger, Wang & Xing 2014, §3.1). Exact only if
// every subposterior is Gaussian: asymptotically exact in the data size
// (Bernstein–von Mises), not in the number of draws; it cannot represent
// skewness or several modes.
type Parametric struct{}

// Name returns "parametric".
func (Parametric) Name() string { return "parametric" }

// Combine implements Method.
func (Parametric) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	s = s.withDefaults()
	d, _, mu, cov, err := fitShards(shards)
	if err != nil {
		return nil, err
	}
	var ch mat.Cholesky
	if !ch.Factorize(cov) {
		return nil, singularProduct()
	}
	var l mat.TriDense
	ch.LTo(&l)
	lf := lowerFlat(&l, d)
	draws, err := runChains(ctx, s, func(ctx context.Context, c int) ([][]float64, error) {
		r := rng.NewRand(s.Seed, uint64(c))
		out := newDrawBlock(s.Draws, d)
		eps := make([]float64, d)
		for i, dst := range out {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				progress(s, c, i, s.Draws)
			}
			for j := range eps {
				eps[j] = r.NormFloat64()
			}
			lowerMulAdd(dst, lf, eps, mu, d)
		}
		progress(s, c, s.Draws, s.Draws)
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	return &Result{Draws: draws, Info: baseInfo("parametric", shards, d, s)}, nil
}

// Swiss is SwISS (Vyner, Nemeth & Sherlock 2023, "SwISS: a scalable Markov
// chain Monte Carlo divide-and-conquer strategy", Stat 12(1):e523) in its
// swissprod form for product-form shards: each shard's draws are moved by
// the affine map θ ↦ μ_M + A_m(θ − μ̂_m), A_m = S (S⁻¹Σ̂_m S⁻¹)^{−1/2} S⁻¹
// with S = Σ_M^{1/2}, so that every shard's draws get the mean and
// covariance of the Gaussian product (A_m Σ̂_m A_mᵀ = Σ_M) while keeping
// their own shape; the output pools the moved draws of all shards in equal
// numbers (the map as in the authors' benchmark code, ctrojan/DiffusionDnC).
// Exact for Gaussian subposteriors; for non-Gaussian ones the output has
// the right first two moments and a shard-averaged shape, so it cannot
// sharpen modes that the product would.
type Swiss struct{}

// Name returns "swiss".
func (Swiss) Name() string { return "swiss" }

// Combine implements Method.
func (Swiss) Combine(ctx context.Context, shards [][][]float64, s Settings) (*Result, error) {
	s = s.withDefaults()
	d, st, mu, cov, err := fitShards(shards)
	if err != nil {
		return nil, err
	}
	sq, err := symSqrt(cov, 1)
	if err != nil {
		return nil, singularProduct()
	}
	sqInv, err := symSqrt(cov, -1)
	if err != nil {
		return nil, singularProduct()
	}
	M := len(shards)
	maps := make([]float64, M*d*d)
	for m := range st {
		var v mat.Dense
		v.Mul(sqInv, st[m].cov)
		v.Mul(&v, sqInv)
		vs := mat.NewSymDense(d, nil)
		for i := range d {
			for j := 0; j <= i; j++ {
				vs.SetSym(i, j, (v.At(i, j)+v.At(j, i))/2)
			}
		}
		root, err := symSqrt(vs, -1)
		if err != nil {
			return nil, singularShard(m, len(shards[m]))
		}
		var a mat.Dense
		a.Mul(sq, root)
		a.Mul(&a, sqInv)
		for i := range d {
			for j := range d {
				maps[m*d*d+i*d+j] = a.At(i, j)
			}
		}
	}
	// Output n comes from shard n mod M, which walks through a random
	// permutation of its draws.
	total := s.Chains * s.Draws
	perShard := (total + M - 1) / M
	order := make([][]int32, M)
	for m := range shards {
		order[m] = permutations(rand.New(rng.New(s.Seed, streamPairing, uint64(m))), len(shards[m]), perShard)
	}
	draws, err := runChains(ctx, s, func(ctx context.Context, c int) ([][]float64, error) {
		out := newDrawBlock(s.Draws, d)
		dev := make([]float64, d)
		for i, dst := range out {
			if i%1024 == 0 {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				progress(s, c, i, s.Draws)
			}
			n := c*s.Draws + i
			m := n % M
			x := shards[m][order[m][n/M]]
			for j := range dev {
				dev[j] = x[j] - st[m].mean[j]
			}
			am := maps[m*d*d : (m+1)*d*d]
			for j := range dst {
				v := mu[j]
				for k, a := range am[j*d : (j+1)*d] {
					v += a * dev[k]
				}
				dst[j] = v
			}
		}
		progress(s, c, s.Draws, s.Draws)
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	info := baseInfo("swiss", shards, d, s)
	info.Pairing = "shards in turn, random permutation within each"
	return &Result{Draws: draws, Info: info}, nil
}

// symSqrt returns a^p for p = ±1 (as a square root: a^{1/2} or a^{−1/2})
// of a symmetric positive-definite a, by eigendecomposition.
func symSqrt(a mat.Symmetric, p int) (*mat.Dense, error) {
	d := a.SymmetricDim()
	var e mat.EigenSym
	if !e.Factorize(a, true) {
		return nil, errSingular
	}
	vals := e.Values(nil)
	var u mat.Dense
	e.VectorsTo(&u)
	scaled := mat.NewDense(d, d, nil)
	for j, v := range vals {
		if !(v > 0) {
			return nil, errSingular
		}
		f := math.Sqrt(v)
		if p < 0 {
			f = 1 / f
		}
		for i := range d {
			scaled.Set(i, j, u.At(i, j)*f)
		}
	}
	var out mat.Dense
	out.Mul(scaled, u.T())
	return &out, nil
}

// lowerFlat copies a lower-triangular matrix to a row-major slice.
func lowerFlat(l mat.Matrix, d int) []float64 {
	out := make([]float64, d*d)
	for i := range d {
		for j := 0; j <= i; j++ {
			out[i*d+j] = l.At(i, j)
		}
	}
	return out
}

// lowerMulAdd sets dst = base + L·x for row-major lower-triangular L.
func lowerMulAdd(dst, l, x, base []float64, d int) {
	for i := range d {
		v := base[i]
		for j, lij := range l[i*d : i*d+i+1] {
			v += lij * x[j]
		}
		dst[i] = v
	}
}
