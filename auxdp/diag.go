package auxdp

import (
	"fmt"
	"math"
)

// diagFamily is the diagonal Normal–Gamma family bound to data, shifted by
// the prior mean like niwFamily.
type diagFamily struct {
	shifted
	kappa0   float64
	a0       float64
	b0       []float64
	sumLogB0 float64
	lgA0     float64
	// tab[n] = d·[lnΓ(a+½) − lnΓ(a) − ½ ln(2π(κ+1)/κ)] with a = a₀+n/2,
	// κ = κ₀+n: the size-dependent part of the predictive constant.
	tab      []float64
	scratchE *diagStats
	h        DiagNormalGamma
}

func (h DiagNormalGamma) bind(x []float64, n, d int, names []string) (family, error) {
	if err := checkGaussianData(x, n, d, names); err != nil {
		return nil, err
	}
	if len(h.Mean) != d {
		return nil, fmt.Errorf("Normal–Gamma prior mean has %d values, want %d (one per column)", len(h.Mean), d)
	}
	if len(h.Rate) != d {
		return nil, fmt.Errorf("Normal–Gamma rate has %d values, want %d (one per column)", len(h.Rate), d)
	}
	if !(h.Kappa > 0) || math.IsInf(h.Kappa, 0) {
		return nil, fmt.Errorf("Normal–Gamma kappa must be positive and finite, got %v", h.Kappa)
	}
	if !(h.Shape > 0) || math.IsInf(h.Shape, 0) {
		return nil, fmt.Errorf("Normal–Gamma shape must be positive and finite, got %v", h.Shape)
	}
	f := &diagFamily{
		shifted: newShifted(h.Mean, n, d), kappa0: h.Kappa, a0: h.Shape,
		b0: append([]float64(nil), h.Rate...),
		h:  DiagNormalGamma{Mean: append([]float64(nil), h.Mean...), Kappa: h.Kappa, Shape: h.Shape, Rate: append([]float64(nil), h.Rate...)},
	}
	for k, b := range f.b0 {
		if !(b > 0) || math.IsInf(b, 0) {
			return nil, fmt.Errorf("Normal–Gamma rate for %s must be positive and finite, got %v", colName(names, k), b)
		}
		if math.IsNaN(f.shift[k]) || math.IsInf(f.shift[k], 0) {
			return nil, fmt.Errorf("Normal–Gamma prior mean for %s is not finite", colName(names, k))
		}
		f.sumLogB0 += math.Log(b)
	}
	f.lgA0 = lgamma(f.a0)
	f.tab = make([]float64, n+2)
	for m := range f.tab {
		a, kappa := f.a0+float64(m)/2, f.kappa0+float64(m)
		f.tab[m] = float64(d) * (lgamma(a+0.5) - lgamma(a) - 0.5*math.Log(2*math.Pi*(kappa+1)/kappa))
	}
	f.scratchE = f.newStats().(*diagStats)
	if err := f.setData(x); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *diagFamily) setData(x []float64) error { return f.load(x, f.scratchE.logPred) }

func (f *diagFamily) hyper() any { return f.h }

func (f *diagFamily) newStats() stats {
	d := f.d
	st := &diagStats{
		f: f, s: make([]float64, d), ss: make([]float64, d), m: make([]float64, d),
		b: make([]float64, d), inv: make([]float64, d),
	}
	st.clear()
	return st
}

// params returns the posterior means of μ_k and of σ_k² = 1/λ_k,
// b_k/(a_n − 1) (NaN when a_n ≤ 1), as a diagonal d×d matrix.
func (f *diagFamily) params(s stats) (mean, cov []float64) {
	st := s.(*diagStats)
	d := f.d
	mean = make([]float64, d)
	cov = make([]float64, d*d)
	for k := range d {
		mean[k] = st.m[k] + f.shift[k]
		if st.a > 1 {
			cov[k*d+k] = st.b[k] / (st.a - 1)
		} else {
			cov[k*d+k] = math.NaN()
		}
	}
	return mean, cov
}

// diagStats holds per-dimension Normal–Gamma posteriors:
// κ_n = κ₀+n, m_n = Σx/κ_n, a_n = a₀+n/2, b_n = b₀ + ½(Σx² − (Σx)²/κ_n).
type diagStats struct {
	f       *diagFamily
	n       int
	kappa   float64
	a       float64
	s, ss   []float64
	m       []float64
	b       []float64
	inv     []float64 // κ/(2 b_k (κ+1)) = 1/(ν σ_k²)
	sumLogB float64
	c0      float64
	e       float64 // a_n + ½
}

func (st *diagStats) clear() {
	f := st.f
	st.n = 0
	st.kappa, st.a = f.kappa0, f.a0
	clear(st.s)
	clear(st.ss)
	clear(st.m)
	copy(st.b, f.b0)
	st.cache()
}

func (st *diagStats) cache() {
	r := st.kappa / (2 * (st.kappa + 1))
	lp := newLogProd()
	for k, b := range st.b {
		st.inv[k] = r / b
		lp.mul(b)
	}
	st.sumLogB = lp.sum()
	st.c0 = st.f.tab[st.n] - st.sumLogB/2
	st.e = st.a + 0.5
}

func (st *diagStats) add(i int) {
	f := st.f
	d := f.d
	x := f.x[i*d : i*d+d]
	c := st.kappa / (st.kappa + 1) / 2
	for k := range d {
		u := x[k] - st.m[k]
		st.b[k] += c * u * u
	}
	st.n++
	st.kappa++
	st.a += 0.5
	for k := range d {
		st.s[k] += x[k]
		st.ss[k] += x[k] * x[k]
		st.m[k] = st.s[k] / st.kappa
	}
	st.cache()
}

func (st *diagStats) remove(i int) {
	f := st.f
	d := f.d
	if st.n <= 1 {
		st.clear()
		return
	}
	x := f.x[i*d : i*d+d]
	c := st.kappa / (st.kappa - 1) / 2
	for k := range d {
		u := x[k] - st.m[k]
		st.b[k] -= c * u * u
	}
	st.n--
	st.kappa--
	st.a -= 0.5
	for k := range d {
		st.s[k] -= x[k]
		st.ss[k] -= x[k] * x[k]
		st.m[k] = st.s[k] / st.kappa
		if !(st.b[k] >= f.b0[k]) {
			// Rounding took b below its exact lower bound b₀; recompute
			// it from the raw sums.
			st.b[k] = max(f.b0[k], f.b0[k]+(st.ss[k]-st.s[k]*st.s[k]/st.kappa)/2)
		}
	}
	st.cache()
}

func (st *diagStats) setMerged(x, y stats) {
	a, b := x.(*diagStats), y.(*diagStats)
	f := st.f
	st.n = a.n + b.n
	if st.n == 0 {
		st.clear()
		return
	}
	st.kappa, st.a = f.kappa0+float64(st.n), f.a0+float64(st.n)/2
	for k := range st.s {
		st.s[k] = a.s[k] + b.s[k]
		st.ss[k] = a.ss[k] + b.ss[k]
		st.m[k] = st.s[k] / st.kappa
		st.b[k] = max(f.b0[k], f.b0[k]+(st.ss[k]-st.s[k]*st.s[k]/st.kappa)/2)
	}
	st.cache()
}

func (f *diagFamily) score(i int, cs []*cluster, w []float64, skip int, best float64) float64 {
	for t, c := range cs {
		if c.n == 0 || t == skip {
			w[t] = math.Inf(-1)
			continue
		}
		v := c.logw + c.st.(*diagStats).logPred(i)
		w[t] = v
		best = max(best, v)
	}
	return best
}

// cavity: removing x leaves b'_k = b_k − β u_k²/2 (u = x − m,
// β = κ/(κ−1)) and makes each Student-t term 1 + … equal b_k/b'_k, so
// ln p(x | X \ {x}) = tab[n−1] − a Σ ln b_k + (a − ½) Σ ln b'_k.
func (st *diagStats) cavity(i int) (float64, bool) {
	if st.n <= 1 {
		return 0, false
	}
	f := st.f
	d := f.d
	x := f.x[i*d : i*d+d]
	c := st.kappa / (st.kappa - 1) / 2
	lp := newLogProd()
	for k, xk := range x {
		u := xk - st.m[k]
		b := st.b[k] - c*u*u
		if !(b > 1e-12*st.b[k]) {
			return 0, false
		}
		lp.mul(b)
	}
	return f.tab[st.n-1] - st.a*st.sumLogB + (st.a-0.5)*lp.sum(), true
}

func (st *diagStats) logPred(i int) float64 {
	d := st.f.d
	x := st.f.x[i*d : i*d+d]
	lp := newLogProd()
	for k, xk := range x {
		u := xk - st.m[k]
		lp.mul(1 + u*u*st.inv[k])
	}
	return st.c0 - st.e*lp.sum()
}

func (st *diagStats) logPredVec(x, _ []float64) float64 {
	lp := newLogProd()
	for k, xk := range x {
		u := xk - st.f.shift[k] - st.m[k]
		lp.mul(1 + u*u*st.inv[k])
	}
	return st.c0 - st.e*lp.sum()
}

// logMarginal sums, over dimensions, lnΓ(a_n) − lnΓ(a₀) + a₀ ln b₀ −
// a_n ln b_n + ½ ln(κ₀/κ_n) − (n/2) ln 2π.
func (st *diagStats) logMarginal() float64 {
	f := st.f
	if st.n == 0 {
		return 0
	}
	d := float64(f.d)
	return d*(lgamma(st.a)-f.lgA0+0.5*math.Log(f.kappa0/st.kappa)-float64(st.n)/2*math.Log(2*math.Pi)) +
		f.a0*f.sumLogB0 - st.a*st.sumLogB
}
