package kde

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// lcvMaxPoints caps the points used by likelihood cross-validation; its
// cost grows as the square of the number of points.
const lcvMaxPoints = 1000

// lcv chooses a bandwidth by likelihood cross-validation (see Select).
func lcv(x [][]float64, w []float64, d int, shape Shape, cov *mat.SymDense, neff float64) (Bandwidth, error) {
	// Evenly spaced subsample.
	step := (len(x) + lcvMaxPoints - 1) / lcvMaxPoints
	var xs [][]float64
	var ws []float64
	for i := 0; i < len(x); i += step {
		xs = append(xs, x[i])
		if w != nil {
			ws = append(ws, w[i])
		}
	}
	wsn, neffSub := normWeights(ws, len(xs)) // nil when w is
	rescale := math.Pow(neffSub/neff, 1/float64(d+4))
	start, err := reference(cov, d, Diagonal, ReferenceFactor(Scott, neffSub, d))
	if err != nil {
		return Bandwidth{}, err
	}

	switch shape {
	case Isotropic, Full:
		// One scale parameter: isotropic h on the raw coordinates, or c in
		// H = c²Σ̂, which is isotropic c on data whitened by Σ̂.
		// For Full the log-determinant of Σ̂ adds a constant to the
		// criterion, which does not move its maximum.
		ys := xs
		var h0 float64
		if shape == Full {
			var ch mat.Cholesky
			if !ch.Factorize(cov) {
				return Bandwidth{}, errors.New("the data's covariance matrix is singular")
			}
			var l mat.TriDense
			ch.LTo(&l)
			ys = make([][]float64, len(xs))
			for i, row := range xs {
				v := mat.NewVecDense(d, nil)
				if err := v.SolveVec(&l, mat.NewVecDense(d, append([]float64(nil), row...))); err != nil {
					return Bandwidth{}, err
				}
				ys[i] = v.RawVector().Data
			}
			h0 = ReferenceFactor(Scott, neffSub, d)
		} else {
			iso, err := reference(cov, d, Isotropic, ReferenceFactor(Scott, neffSub, d))
			if err != nil {
				return Bandwidth{}, err
			}
			h0 = iso.h[0]
		}
		dist := pairDistances(ys)
		c := newLCVIso(dist, wsn, len(ys), d)
		if c.usable == 0 {
			return Bandwidth{}, errors.New("likelihood cross-validation: every point is a duplicate of every other")
		}
		h := c.maximise(h0)
		if shape == Full {
			m := mat.NewSymDense(d, nil)
			m.ScaleSym(h*h*rescale*rescale, cov)
			return Bandwidth{shape: Full, m: m}, nil
		}
		return Scalar(h * rescale), nil
	case Diagonal:
		h, err := lcvDiag(xs, wsn, d, start.h)
		if err != nil {
			return Bandwidth{}, err
		}
		for j := range h {
			h[j] *= rescale
		}
		return Diag(h), nil
	}
	return Bandwidth{}, fmt.Errorf("unknown bandwidth shape %d", int(shape))
}

// pairDistances returns the n×n matrix of squared Euclidean distances.
func pairDistances(x [][]float64) []float64 {
	n := len(x)
	out := make([]float64, n*n)
	for i := range n {
		for k := i + 1; k < n; k++ {
			q := 0.0
			for j, v := range x[i] {
				t := v - x[k][j]
				q += t * t
			}
			out[i*n+k], out[k*n+i] = q, q
		}
	}
	return out
}

// lcvIso is the isotropic cross-validated log likelihood as a function of
// h, given the pairwise squared distances.
type lcvIso struct {
	dist   []float64
	w      []float64 // normalised weights or nil
	n, d   int
	dmin   []float64 // nearest non-duplicate squared distance of each point
	usable int       // points with at least one non-duplicate neighbour
}

func newLCVIso(dist, w []float64, n, d int) *lcvIso {
	c := &lcvIso{dist: dist, w: w, n: n, d: d, dmin: make([]float64, n)}
	for i := range n {
		m := math.Inf(1)
		for k, v := range dist[i*n : (i+1)*n] {
			if k != i && v > 0 && v < m && c.weight(k) > 0 {
				m = v
			}
		}
		c.dmin[i] = m
		if !math.IsInf(m, 1) {
			c.usable++
		}
	}
	return c
}

func (c *lcvIso) weight(i int) float64 {
	if c.w == nil {
		return 1
	}
	return c.w[i]
}

// derivs returns the criterion Σ_i w_i log p̂_{−i}(x_i) at h = e^τ and its
// first two derivatives in τ, leaving out every exact duplicate of x_i
// together with it. With u_ik = D_ik/(2h²), ∂(−u)/∂τ = 2u, so for
// A_i = Σ_k w_k e^{−u_ik}, B_i = Σ_k w_k e^{−u_ik}·2u_ik and
// C_i = Σ_k w_k e^{−u_ik}(4u_ik² − 4u_ik): the i-th term
// log A_i − dτ has derivatives B_i/A_i − d and C_i/A_i − (B_i/A_i)².
func (c *lcvIso) derivs(tau float64) (f, f1, f2 float64) {
	h := math.Exp(tau)
	inv := 1 / (2 * h * h)
	type acc struct{ f, f1, f2 float64 }
	terms := make([]acc, c.n)
	d := float64(c.d)
	parallelRange(c.n, func(lo, hi int) {
		for i := lo; i < hi; i++ {
			if math.IsInf(c.dmin[i], 1) || c.weight(i) == 0 {
				continue
			}
			umin := c.dmin[i] * inv
			A, B, C, ws := 0.0, 0.0, 0.0, 0.0
			for k, v := range c.dist[i*c.n : (i+1)*c.n] {
				if k == i || v == 0 {
					continue
				}
				wk := c.weight(k)
				ws += wk
				u := v * inv
				// Terms below e^{−40} of the nearest one cannot change
				// the sums in double precision.
				if u-umin < 40 {
					e := wk * math.Exp(umin-u)
					A += e
					B += e * 2 * u
					C += e * (4*u*u - 4*u)
				}
			}
			wi := c.weight(i)
			r := B / A
			terms[i] = acc{
				f:  wi * (math.Log(A/ws) - umin - d*tau),
				f1: wi * (r - d),
				f2: wi * (C/A - r*r),
			}
		}
	})
	for _, t := range terms {
		f += t.f
		f1 += t.f1
		f2 += t.f2
	}
	return f, f1, f2
}

// maximise finds the τ = log h maximising the criterion by safeguarded
// Newton steps from h0 (at most one unit of τ per step, backtracking when
// the criterion falls); the criterion is smooth and in practice unimodal
// in τ, and a handful of steps converge.
func (c *lcvIso) maximise(h0 float64) float64 {
	tau := math.Log(h0)
	f, f1, f2 := c.derivs(tau)
	for range 60 {
		var step float64
		if f2 < 0 {
			step = -f1 / f2
		} else {
			step = math.Copysign(1, f1) // not concave here: move uphill
		}
		step = math.Max(-1, math.Min(1, step))
		for range 30 {
			nf, nf1, nf2 := c.derivs(tau + step)
			if nf >= f || math.Abs(step) < 1e-10 {
				tau, f, f1, f2 = tau+step, nf, nf1, nf2
				break
			}
			step /= 2
		}
		if math.Abs(step) < 1e-7 || math.Abs(f1) < 1e-9*math.Max(1, math.Abs(f)) {
			break
		}
	}
	return math.Exp(tau)
}

// lcvDiag maximises the cross-validated log likelihood over per-coordinate
// bandwidths with BFGS on log h, using the analytic gradient
// ∂/∂log h_j log p̂_{−i}(x_i) = Σ_k r_ik Δ²_ikj/h_j² − 1, r_ik the
// responsibilities of the other points.
func lcvDiag(x [][]float64, w []float64, d int, start []float64) ([]float64, error) {
	n := len(x)
	flat := make([]float64, n*d)
	for i, row := range x {
		copy(flat[i*d:], row)
	}
	weight := func(i int) float64 {
		if w == nil {
			return 1
		}
		return w[i]
	}
	// Duplicates are left out: mark each pair as duplicate or not once.
	dup := make([]bool, n*n)
	usable := 0
	for i := range n {
		other := false
		for k := range n {
			if k == i {
				continue
			}
			same := true
			for j := range d {
				if flat[i*d+j] != flat[k*d+j] {
					same = false
					break
				}
			}
			dup[i*n+k] = same
			if !same && weight(k) > 0 {
				other = true
			}
		}
		if other {
			usable++
		}
	}
	if usable == 0 {
		return nil, errors.New("likelihood cross-validation: every point is a duplicate of every other")
	}
	eval := func(logh, grad []float64) float64 {
		inv := make([]float64, d)
		for j, v := range logh {
			inv[j] = math.Exp(-2 * v)
		}
		vals := make([]float64, n)
		grads := make([]float64, n*d)
		parallelRange(n, func(lo, hi int) {
			v := make([]float64, n)
			for i := lo; i < hi; i++ {
				if weight(i) == 0 {
					continue
				}
				m := math.Inf(-1)
				for k := range n {
					v[k] = math.Inf(-1)
					if k == i || dup[i*n+k] || weight(k) == 0 {
						continue
					}
					q := 0.0
					for j := range d {
						t := flat[i*d+j] - flat[k*d+j]
						q += t * t * inv[j]
					}
					v[k] = -0.5 * q
					if v[k] > m {
						m = v[k]
					}
				}
				if math.IsInf(m, -1) {
					continue
				}
				s, ws := 0.0, 0.0
				g := grads[i*d : (i+1)*d]
				for k := range n {
					if math.IsInf(v[k], -1) {
						continue
					}
					e := weight(k) * math.Exp(v[k]-m)
					s += e
					ws += weight(k)
					for j := range d {
						t := flat[i*d+j] - flat[k*d+j]
						g[j] += e * t * t * inv[j]
					}
				}
				wi := weight(i)
				lp := m + math.Log(s/ws)
				for j := range d {
					lp -= logh[j]
					g[j] = wi * (g[j]/s - 1)
				}
				vals[i] = wi * lp
			}
		})
		total := 0.0
		for _, t := range vals {
			total += t
		}
		if grad != nil {
			for j := range grad {
				grad[j] = 0
			}
			for i := range n {
				for j := range d {
					grad[j] -= grads[i*d+j]
				}
			}
		}
		return -total
	}
	x0 := make([]float64, d)
	for j, h := range start {
		x0[j] = math.Log(h)
	}
	p := optimize.Problem{
		Func: func(v []float64) float64 { return eval(v, nil) },
		Grad: func(grad, v []float64) { eval(v, grad) },
	}
	res, err := optimize.Minimize(p, x0, &optimize.Settings{GradientThreshold: 1e-6, MajorIterations: 200}, &optimize.BFGS{})
	if res == nil {
		return nil, fmt.Errorf("likelihood cross-validation: %w", err)
	}
	out := make([]float64, d)
	for j, v := range res.X {
		out[j] = math.Exp(v)
		if !(out[j] > 0) || math.IsInf(out[j], 0) {
			return nil, errors.New("likelihood cross-validation did not converge to a finite bandwidth")
		}
	}
	return out, nil
}

// parallelRange splits [0, n) into contiguous blocks processed by
// runtime.GOMAXPROCS goroutines. Each index is handled by exactly one
// call, so results written per index do not depend on the schedule.
func parallelRange(n int, f func(lo, hi int)) {
	workers := runtime.GOMAXPROCS(0)
	if workers > n {
		workers = n
	}
	if workers <= 1 {
		f(0, n)
		return
	}
	chunk := (n + workers - 1) / workers
	var wg sync.WaitGroup
	for lo := 0; lo < n; lo += chunk {
		hi := min(lo+chunk, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(lo, hi)
		}()
	}
	wg.Wait()
}
