package kde

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"

	"golang.org/x/sync/errgroup"
	"gonum.org/v1/gonum/mat"
)

// KDE is a Gaussian kernel density estimate. Once built it is read-only and
// safe for concurrent use.
type KDE struct {
	dim, n int
	x      []float64 // data, n×dim row-major
	z      []float64 // whitened data z_i = B⁻¹x_i, n×dim row-major
	logw   []float64 // log normalised weights; nil when all are 1/n
	wn     []float64 // normalised weights; nil when all are 1/n
	alias  *alias    // for sampling weighted components
	bw     Bandwidth
	fac    []float64 // lower-triangular B with H = BBᵀ, dim×dim row-major
	diag   bool      // B is diagonal
	// logNorm is −(d/2)·log 2π − log|det B|, plus −log n when unweighted.
	logNorm float64
	neff    float64
}

// New returns the KDE of the points x (rows, copied) with optional
// non-negative weights w (nil for equal weights; normalised internally) and
// bandwidth bw.
func New(x [][]float64, w []float64, bw Bandwidth) (*KDE, error) {
	d, err := checkData(x, w)
	if err != nil {
		return nil, err
	}
	fac, diag, logDet, err := bw.factor(d)
	if err != nil {
		return nil, err
	}
	n := len(x)
	k := &KDE{dim: d, n: n, bw: bw, fac: fac, diag: diag}
	k.wn, k.neff = normWeights(w, n)
	k.x = make([]float64, n*d)
	k.z = make([]float64, n*d)
	for i, row := range x {
		copy(k.x[i*d:], row)
		k.whiten(k.z[i*d:(i+1)*d], row)
	}
	k.logNorm = -0.5*float64(d)*math.Log(2*math.Pi) - logDet
	if k.wn == nil {
		k.logNorm -= math.Log(float64(n))
	} else {
		k.logw = make([]float64, n)
		for i, v := range k.wn {
			k.logw[i] = math.Log(v) // −Inf for zero weights: those terms vanish
		}
		k.alias = newAlias(k.wn)
	}
	return k, nil
}

// Dim returns the dimension of the data.
func (k *KDE) Dim() int { return k.dim }

// Len returns the number of data points.
func (k *KDE) Len() int { return k.n }

// EffectiveSize returns Kish's effective sample size (Σw)²/Σw² (n when
// unweighted).
func (k *KDE) EffectiveSize() float64 { return k.neff }

// Bandwidth returns the bandwidth.
func (k *KDE) Bandwidth() Bandwidth { return k.bw }

// whiten writes B⁻¹x to z by forward substitution.
func (k *KDE) whiten(z, x []float64) {
	d := k.dim
	if k.diag {
		for j := range d {
			z[j] = x[j] / k.fac[j*d+j]
		}
		return
	}
	for j := range d {
		s := x[j]
		row := k.fac[j*d : j*d+j]
		for i, b := range row {
			s -= b * z[i]
		}
		z[j] = s / k.fac[j*d+j]
	}
}

// LogDensity returns log p̂(x). It is exact and finite for every finite x:
// the sum over the data is a streaming log-sum-exp. Cost O(n·d), with no
// allocation for d ≤ 16.
func (k *KDE) LogDensity(x []float64) float64 {
	var buf [16]float64
	var zq []float64
	if k.dim <= len(buf) {
		zq = buf[:k.dim]
	} else {
		zq = make([]float64, k.dim)
	}
	k.whiten(zq, x)
	return k.logSum(zq) + k.logNorm
}

// logSum returns log Σ_i w_i exp(−½‖zq − z_i‖²) (without the 1/n of the
// unweighted case) by a one-pass log-sum-exp: the running maximum m and
// the sum s of exp(v − m) are rescaled whenever a larger term arrives.
func (k *KDE) logSum(zq []float64) float64 {
	d := k.dim
	m := math.Inf(-1)
	s := 0.0
	z := k.z
	for i := 0; i < k.n; i++ {
		zi := z[i*d : i*d+d : i*d+d]
		q := 0.0
		for j, v := range zq {
			t := v - zi[j]
			q += t * t
		}
		v := -0.5 * q
		if k.logw != nil {
			v += k.logw[i]
		}
		if v <= m {
			s += math.Exp(v - m)
		} else if !math.IsInf(v, -1) {
			s = s*math.Exp(m-v) + 1
			m = v
		}
	}
	return m + math.Log(s)
}

// Density returns p̂(x), which underflows to 0 far from the data; use
// LogDensity there.
func (k *KDE) Density(x []float64) float64 { return math.Exp(k.LogDensity(x)) }

// LogDensities writes log p̂ at each of the points to dst (allocated when
// nil or too short) and returns it, spreading the points over
// runtime.GOMAXPROCS goroutines. Each value is computed exactly as
// LogDensity would, so the result does not depend on the schedule.
func (k *KDE) LogDensities(dst []float64, points [][]float64) ([]float64, error) {
	for _, p := range points {
		if len(p) != k.dim {
			return nil, errors.New("kde: a point's dimension differs from the data's")
		}
	}
	if len(dst) < len(points) {
		dst = make([]float64, len(points))
	}
	dst = dst[:len(points)]
	workers := runtime.GOMAXPROCS(0)
	chunk := (len(points) + workers - 1) / workers
	if chunk < 16 {
		chunk = 16
	}
	g, _ := errgroup.WithContext(context.Background())
	for lo := 0; lo < len(points); lo += chunk {
		hi := min(lo+chunk, len(points))
		g.Go(func() error {
			for i := lo; i < hi; i++ {
				dst[i] = k.LogDensity(points[i])
			}
			return nil
		})
	}
	return dst, g.Wait()
}

// Sample writes one draw from p̂ to dst (allocated when nil) and returns
// it: a data point chosen with probability w_i, plus B·ε with ε ~ N(0, I).
func (k *KDE) Sample(dst []float64, r *rand.Rand) []float64 {
	if len(dst) < k.dim {
		dst = make([]float64, k.dim)
	}
	dst = dst[:k.dim]
	var i int
	if k.alias != nil {
		i = k.alias.draw(r)
	} else {
		i = r.IntN(k.n)
	}
	d := k.dim
	var buf [16]float64
	var eps []float64
	if d <= len(buf) {
		eps = buf[:d]
	} else {
		eps = make([]float64, d)
	}
	for j := range eps {
		eps[j] = r.NormFloat64()
	}
	for j := range d {
		s := k.x[i*d+j]
		if k.diag {
			s += k.fac[j*d+j] * eps[j]
		} else {
			for l := 0; l <= j; l++ {
				s += k.fac[j*d+l] * eps[l]
			}
		}
		dst[j] = s
	}
	return dst
}

// Cov returns the covariance of p̂: the weighted covariance of the data
// (with denominator 1, as a mixture's) plus H.
func (k *KDE) Cov() *mat.SymDense {
	rows := make([][]float64, k.n)
	for i := range rows {
		rows[i] = k.x[i*k.dim : (i+1)*k.dim]
	}
	_, c := moments(rows, k.wn)
	sq := 1 / k.neff
	out := mat.NewSymDense(k.dim, nil)
	out.ScaleSym(1-sq, c)
	out.AddSym(out, k.bw.Dense(k.dim))
	return out
}

// alias is Walker's alias table (Vose's construction) for O(1) draws from
// a discrete distribution.
type alias struct {
	prob  []float64
	alias []int
}

func newAlias(p []float64) *alias {
	n := len(p)
	a := &alias{prob: make([]float64, n), alias: make([]int, n)}
	scaled := make([]float64, n)
	var small, large []int
	for i, v := range p {
		scaled[i] = v * float64(n)
		if scaled[i] < 1 {
			small = append(small, i)
		} else {
			large = append(large, i)
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, l := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s], a.alias[s] = scaled[s], l
		scaled[l] -= 1 - scaled[s]
		if scaled[l] < 1 {
			large = large[:len(large)-1]
			small = append(small, l)
		}
	}
	for _, i := range large {
		a.prob[i], a.alias[i] = 1, i
	}
	for _, i := range small { // rounding leftovers
		a.prob[i], a.alias[i] = 1, i
	}
	return a
}

func (a *alias) draw(r *rand.Rand) int {
	i := r.IntN(len(a.prob))
	if r.Float64() < a.prob[i] {
		return i
	}
	return a.alias[i]
}
