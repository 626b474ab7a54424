package kde

import (
	"errors"
	"fmt"
	"math"
	"strings"

	"gonum.org/v1/gonum/mat"
)

// Shape is the form of a bandwidth matrix.
type Shape int

const (
	// Isotropic: H = h²I, one bandwidth for every coordinate. Right for
	// data already whitened (or on comparable scales).
	Isotropic Shape = iota
	// Diagonal: H = diag(h_1², …, h_d²), one bandwidth per coordinate.
	Diagonal
	// Full: any symmetric positive-definite H, for correlated data.
	Full
)

func (s Shape) String() string {
	switch s {
	case Isotropic:
		return "isotropic"
	case Diagonal:
		return "diagonal"
	case Full:
		return "full"
	}
	return fmt.Sprintf("Shape(%d)", int(s))
}

// Bandwidth is a bandwidth matrix H, the covariance of the Gaussian kernel.
// Build one with Scalar, Diag or Matrix, or choose one from data with
// Select.
type Bandwidth struct {
	shape Shape
	h     []float64     // Isotropic: one sd; Diagonal: one sd per coordinate
	m     *mat.SymDense // Full: H itself
}

// Scalar returns the isotropic bandwidth H = h²I (h is a standard
// deviation, in the units of the data).
func Scalar(h float64) Bandwidth { return Bandwidth{shape: Isotropic, h: []float64{h}} }

// Diag returns the diagonal bandwidth H = diag(h_j²).
func Diag(h []float64) Bandwidth {
	return Bandwidth{shape: Diagonal, h: append([]float64(nil), h...)}
}

// Matrix returns the full bandwidth H (copied).
func Matrix(h mat.Symmetric) Bandwidth {
	m := mat.NewSymDense(h.SymmetricDim(), nil)
	m.CopySym(h)
	return Bandwidth{shape: Full, m: m}
}

// Shape returns the form of b.
func (b Bandwidth) Shape() Shape { return b.shape }

// Dense returns H as a d×d matrix.
func (b Bandwidth) Dense(d int) *mat.SymDense {
	out := mat.NewSymDense(d, nil)
	switch b.shape {
	case Isotropic:
		for j := range d {
			out.SetSym(j, j, b.h[0]*b.h[0])
		}
	case Diagonal:
		for j := range d {
			out.SetSym(j, j, b.h[j]*b.h[j])
		}
	case Full:
		out.CopySym(b.m)
	}
	return out
}

// SD returns the kernel's marginal standard deviations √H_jj.
func (b Bandwidth) SD(d int) []float64 {
	out := make([]float64, d)
	for j := range out {
		switch b.shape {
		case Isotropic:
			out[j] = b.h[0]
		case Diagonal:
			out[j] = b.h[j]
		case Full:
			out[j] = math.Sqrt(b.m.At(j, j))
		}
	}
	return out
}

// Scale returns the bandwidth f²H: every kernel standard deviation is
// multiplied by f.
func (b Bandwidth) Scale(f float64) Bandwidth {
	switch b.shape {
	case Isotropic, Diagonal:
		h := make([]float64, len(b.h))
		for j, v := range b.h {
			h[j] = f * v
		}
		return Bandwidth{shape: b.shape, h: h}
	}
	m := mat.NewSymDense(b.m.SymmetricDim(), nil)
	m.ScaleSym(f*f, b.m)
	return Bandwidth{shape: Full, m: m}
}

// String describes b: "h=0.31", "h=[0.2 0.4]" or "H=[[…]]".
func (b Bandwidth) String() string {
	switch b.shape {
	case Isotropic:
		if len(b.h) == 1 {
			return fmt.Sprintf("h=%.4g", b.h[0])
		}
	case Diagonal:
		parts := make([]string, len(b.h))
		for i, v := range b.h {
			parts[i] = fmt.Sprintf("%.4g", v)
		}
		return "h=[" + strings.Join(parts, " ") + "]"
	case Full:
		if b.m != nil {
			d := b.m.SymmetricDim()
			rows := make([]string, d)
			for i := range d {
				parts := make([]string, d)
				for j := range d {
					parts[j] = fmt.Sprintf("%.4g", b.m.At(i, j))
				}
				rows[i] = "[" + strings.Join(parts, " ") + "]"
			}
			return "H=[" + strings.Join(rows, " ") + "]"
		}
	}
	return "h=?"
}

// factor checks b for dimension d and returns the lower-triangular factor
// B of H = BBᵀ (d×d, row-major), whether B is diagonal, and log|det B|.
func (b Bandwidth) factor(d int) (fac []float64, diag bool, logDet float64, err error) {
	fac = make([]float64, d*d)
	switch b.shape {
	case Isotropic, Diagonal:
		if b.shape == Isotropic && len(b.h) != 1 {
			return nil, false, 0, errors.New("isotropic bandwidth needs one value")
		}
		if b.shape == Diagonal && len(b.h) != d {
			return nil, false, 0, fmt.Errorf("diagonal bandwidth has %d values for %d-dimensional data", len(b.h), d)
		}
		for j := range d {
			h := b.h[0]
			if b.shape == Diagonal {
				h = b.h[j]
			}
			if !(h > 0) || math.IsInf(h, 0) {
				return nil, false, 0, fmt.Errorf("bandwidth %g is not a positive finite number", h)
			}
			fac[j*d+j] = h
			logDet += math.Log(h)
		}
		return fac, true, logDet, nil
	case Full:
		if b.m == nil || b.m.SymmetricDim() != d {
			return nil, false, 0, fmt.Errorf("bandwidth matrix does not match %d-dimensional data", d)
		}
		var ch mat.Cholesky
		if !ch.Factorize(b.m) {
			return nil, false, 0, errors.New("bandwidth matrix is not positive definite")
		}
		var l mat.TriDense
		ch.LTo(&l)
		for i := range d {
			for j := 0; j <= i; j++ {
				fac[i*d+j] = l.At(i, j)
			}
		}
		return fac, false, ch.LogDet() / 2, nil
	}
	return nil, false, 0, fmt.Errorf("unknown bandwidth shape %d", int(b.shape))
}

// Rule is a way of choosing a bandwidth from the data.
type Rule int

const (
	// Scott's rule: kernel sd = n^{−1/(d+4)} × data sd (Scott 1992).
	Scott Rule = iota
	// Silverman's normal-reference rule: kernel sd = (4/(n(d+2)))^{1/(d+4)}
	// × data sd, the AMISE-optimal bandwidth when the data are Gaussian
	// (Silverman 1986, eq. 4.14); with a full matrix it is ks::Hns.
	Silverman
	// LCV maximises the leave-one-out log likelihood Σ_i w_i log p̂_{−i}(x_i)
	// (likelihood cross-validation; Duin 1976, Habbema et al. 1974).
	LCV
)

func (r Rule) String() string {
	switch r {
	case Scott:
		return "scott"
	case Silverman:
		return "silverman"
	case LCV:
		return "lcv"
	}
	return fmt.Sprintf("Rule(%d)", int(r))
}

// ReferenceFactor returns the factor by which the normal-reference rule
// multiplies the data's standard deviation for n (effective) points in d
// dimensions: n^{−1/(d+4)} for Scott, (4/(n(d+2)))^{1/(d+4)} for Silverman.
func ReferenceFactor(r Rule, n float64, d int) float64 {
	switch r {
	case Scott:
		return math.Pow(n, -1/float64(d+4))
	case Silverman:
		return math.Pow(4/(n*float64(d+2)), 1/float64(d+4))
	}
	return math.NaN()
}

// Select chooses a bandwidth of the given shape for the points x (rows)
// with optional weights w (nil for equal weights) by rule r.
//
// The normal-reference rules scale the weighted sample covariance Σ̂ by the
// squared ReferenceFactor with n the effective sample size (Σw)²/Σw²: a
// Full bandwidth is f²Σ̂, a Diagonal one f²diag(Σ̂), an Isotropic one
// f²|Σ̂|^{1/d}I (the isotropic matrix of the same volume as f²Σ̂).
//
// LCV maximises the cross-validated likelihood over h (Isotropic), over
// h_1..h_d (Diagonal), or over c in H = c²Σ̂ (Full), starting from
// Scott's rule. Two precautions make it usable on MCMC draws: exact
// duplicates of the left-out point (rejected Metropolis proposals) are
// left out with it, since otherwise the criterion grows without bound as
// h → 0; and above 1000 points it runs on every k-th point (a fixed,
// evenly spaced subsample, which also thins autocorrelated draws) and
// rescales the result by (n_sub/n)^{1/(d+4)}, the rate at which optimal
// bandwidths shrink. Its cost is O(n_sub²·d) per criterion evaluation.
func Select(x [][]float64, w []float64, shape Shape, r Rule) (Bandwidth, error) {
	d, err := checkData(x, w)
	if err != nil {
		return Bandwidth{}, err
	}
	wn, neff := normWeights(w, len(x))
	_, cov := moments(x, wn)
	switch r {
	case Scott, Silverman:
		return reference(cov, d, shape, ReferenceFactor(r, neff, d))
	case LCV:
		return lcv(x, w, d, shape, cov, neff)
	}
	return Bandwidth{}, fmt.Errorf("unknown bandwidth rule %d", int(r))
}

// reference builds the normal-reference bandwidth of the given shape.
func reference(cov *mat.SymDense, d int, shape Shape, f float64) (Bandwidth, error) {
	for j := range d {
		if !(cov.At(j, j) > 0) {
			return Bandwidth{}, fmt.Errorf("coordinate %d has zero variance: no bandwidth can be chosen from the data", j+1)
		}
	}
	switch shape {
	case Isotropic:
		var ch mat.Cholesky
		if !ch.Factorize(cov) {
			return Bandwidth{}, errors.New("the data's covariance matrix is singular")
		}
		return Scalar(f * math.Exp(ch.LogDet()/float64(2*d))), nil
	case Diagonal:
		h := make([]float64, d)
		for j := range h {
			h[j] = f * math.Sqrt(cov.At(j, j))
		}
		return Diag(h), nil
	case Full:
		m := mat.NewSymDense(d, nil)
		m.ScaleSym(f*f, cov)
		var ch mat.Cholesky
		if !ch.Factorize(m) {
			return Bandwidth{}, errors.New("the data's covariance matrix is singular")
		}
		return Bandwidth{shape: Full, m: m}, nil
	}
	return Bandwidth{}, fmt.Errorf("unknown bandwidth shape %d", int(shape))
}

// checkData validates points and weights and returns the dimension.
func checkData(x [][]float64, w []float64) (int, error) {
	if len(x) == 0 {
		return 0, errors.New("no data points")
	}
	d := len(x[0])
	if d == 0 {
		return 0, errors.New("data points have no coordinates")
	}
	for i, row := range x {
		if len(row) != d {
			return 0, fmt.Errorf("point %d has %d coordinates, point 1 has %d", i+1, len(row), d)
		}
		for j, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("point %d, coordinate %d is %g", i+1, j+1, v)
			}
		}
	}
	if w != nil {
		if len(w) != len(x) {
			return 0, fmt.Errorf("%d weights for %d points", len(w), len(x))
		}
		sum := 0.0
		for i, v := range w {
			if !(v >= 0) || math.IsInf(v, 0) {
				return 0, fmt.Errorf("weight %d is %g; weights must be finite and non-negative", i+1, v)
			}
			sum += v
		}
		if !(sum > 0) {
			return 0, errors.New("weights sum to zero")
		}
	}
	return d, nil
}

// normWeights returns the weights normalised to sum 1 (nil when w is nil)
// and Kish's effective sample size (Σw)²/Σw².
func normWeights(w []float64, n int) ([]float64, float64) {
	if w == nil {
		return nil, float64(n)
	}
	sum := 0.0
	for _, v := range w {
		sum += v
	}
	out := make([]float64, len(w))
	sq := 0.0
	for i, v := range w {
		out[i] = v / sum
		sq += out[i] * out[i]
	}
	return out, 1 / sq
}

// moments returns the weighted mean and covariance of x (wn normalised, or
// nil for equal weights). The covariance has the unbiased denominator
// 1 − Σw² (n − 1 for equal weights).
func moments(x [][]float64, wn []float64) ([]float64, *mat.SymDense) {
	n, d := len(x), len(x[0])
	mean := make([]float64, d)
	wt := func(i int) float64 {
		if wn == nil {
			return 1 / float64(n)
		}
		return wn[i]
	}
	for i, row := range x {
		for j, v := range row {
			mean[j] += wt(i) * v
		}
	}
	c := make([]float64, d*d)
	sq := 0.0
	for i, row := range x {
		wi := wt(i)
		sq += wi * wi
		for j := range d {
			dj := row[j] - mean[j]
			for k := 0; k <= j; k++ {
				c[j*d+k] += wi * dj * (row[k] - mean[k])
			}
		}
	}
	cov := mat.NewSymDense(d, nil)
	den := 1 - sq
	if den <= 0 {
		den = 1
	}
	for j := range d {
		for k := 0; k <= j; k++ {
			cov.SetSym(j, k, c[j*d+k]/den)
		}
	}
	return mean, cov
}
