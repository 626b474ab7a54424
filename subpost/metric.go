package subpost

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"gonum.org/v1/gonum/floats"
	"gonum.org/v1/gonum/mat"
)

// MetricKind selects the form of the Euclidean metric (mass matrix) M of
// Hamiltonian Monte Carlo.
type MetricKind string

const (
	// DiagMetric is a diagonal M, Stan's diag_e (the default).
	DiagMetric MetricKind = "diag"
	// DenseMetric is a full M, Stan's dense_e.
	DenseMetric MetricKind = "dense"
)

// metric is the Gaussian kinetic energy τ(p) = ½ pᵀM⁻¹p with the inverse
// metric M⁻¹ that Stan adapts and reports ("inverse mass matrix"). Its
// methods do not allocate.
type metric struct {
	dim   int
	dense bool
	// diag case: M⁻¹ and 1/√(M⁻¹), the scale of a momentum draw.
	invDiag  []float64
	momScale []float64
	// dense case: M⁻¹ (row-major d×d) and U, the upper Cholesky factor
	// with M⁻¹ = UᵀU (row-major), used to draw p = U⁻¹z ~ N(0, M) as
	// Stan's dense_e_metric::sample_p does.
	inv []float64
	u   []float64
}

// newMetric returns the unit metric of the given kind.
func newMetric(dim int, kind MetricKind) *metric {
	m := &metric{dim: dim, dense: kind == DenseMetric}
	if m.dense {
		m.inv = make([]float64, dim*dim)
		m.u = make([]float64, dim*dim)
		for i := range dim {
			m.inv[i*dim+i] = 1
			m.u[i*dim+i] = 1
		}
		return m
	}
	m.invDiag = make([]float64, dim)
	m.momScale = make([]float64, dim)
	for i := range dim {
		m.invDiag[i] = 1
		m.momScale[i] = 1
	}
	return m
}

// setDiag sets a diagonal M⁻¹.
func (m *metric) setDiag(v []float64) error {
	for i, x := range v {
		if !(x > 0) || math.IsInf(x, 1) {
			return fmt.Errorf("inverse metric element %d is %g, not a positive finite number", i+1, x)
		}
	}
	for i, x := range v {
		m.invDiag[i] = x
		m.momScale[i] = 1 / math.Sqrt(x)
	}
	return nil
}

// setDense sets a full M⁻¹ (row-major, symmetric positive definite).
func (m *metric) setDense(v []float64) error {
	d := m.dim
	for _, x := range v {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return errors.New("inverse metric has a non-finite element")
		}
	}
	sym := mat.NewSymDense(d, append([]float64(nil), v...))
	var chol mat.Cholesky
	if ok := chol.Factorize(sym); !ok {
		return errors.New("inverse metric is not positive definite")
	}
	var u mat.TriDense
	chol.UTo(&u)
	copy(m.inv, v)
	for i := range d {
		for j := range d {
			m.u[i*d+j] = u.At(i, j)
		}
	}
	return nil
}

// sampleMomentum draws p ~ N(0, M).
func (m *metric) sampleMomentum(p []float64, r *rand.Rand) {
	if !m.dense {
		for i := range p {
			p[i] = r.NormFloat64() * m.momScale[i]
		}
		return
	}
	// Solve U p = z by back substitution: Cov(p) = U⁻¹U⁻ᵀ = (UᵀU)⁻¹ = M.
	d := m.dim
	for i := range p {
		p[i] = r.NormFloat64()
	}
	for i := d - 1; i >= 0; i-- {
		row := m.u[i*d : (i+1)*d]
		s := p[i]
		for j := i + 1; j < d; j++ {
			s -= row[j] * p[j]
		}
		p[i] = s / row[i]
	}
}

// sharp writes the velocity p♯ = M⁻¹p = ∂τ/∂p to dst.
func (m *metric) sharp(dst, p []float64) {
	if !m.dense {
		for i, v := range p {
			dst[i] = m.invDiag[i] * v
		}
		return
	}
	d := m.dim
	for i := range d {
		dst[i] = floats.Dot(m.inv[i*d:(i+1)*d], p)
	}
}

// invMetric returns a copy of M⁻¹: the diagonal, or the row-major matrix.
func (m *metric) invMetric() []float64 {
	if m.dense {
		return append([]float64(nil), m.inv...)
	}
	return append([]float64(nil), m.invDiag...)
}

// dot returns a·b with four partial sums, so the additions need not wait
// on each other (a single accumulator makes a dot product latency-bound,
// and the sampler's U-turn checks take several per leapfrog step).
func dot(a, b []float64) float64 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// dot2 returns a·r and b·r in one pass.
func dot2(a, b, r []float64) (ar, br float64) {
	a, b = a[:len(r)], b[:len(r)]
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(r); i += 2 {
		a0 += a[i] * r[i]
		b0 += b[i] * r[i]
		a1 += a[i+1] * r[i+1]
		b1 += b[i+1] * r[i+1]
	}
	for ; i < len(r); i++ {
		a0 += a[i] * r[i]
		b0 += b[i] * r[i]
	}
	return a0 + a1, b0 + b1
}

// dot2Sum returns a·(r+e) and b·(r+e) in one pass, without forming r+e.
func dot2Sum(a, b, r, e []float64) (ar, br float64) {
	a, b, e = a[:len(r)], b[:len(r)], e[:len(r)]
	var a0, a1, b0, b1 float64
	i := 0
	for ; i+2 <= len(r); i += 2 {
		x0, x1 := r[i]+e[i], r[i+1]+e[i+1]
		a0 += a[i] * x0
		b0 += b[i] * x0
		a1 += a[i+1] * x1
		b1 += b[i+1] * x1
	}
	for ; i < len(r); i++ {
		x := r[i] + e[i]
		a0 += a[i] * x
		b0 += b[i] * x
	}
	return a0 + a1, b0 + b1
}
