package auxdp

import (
	"fmt"
	"math"
)

// niwFamily is the Normal–inverse-Wishart family bound to data (stored
// shifted by the prior mean; see shifted).
type niwFamily struct {
	shifted
	kappa0  float64
	nu0     float64
	psi0    []float64 // Ψ₀
	r0      []float64 // upper Cholesky factor of Ψ₀
	inv0    []float64 // 1 / diag(r0)
	logdet0 float64
	lmvg0   float64 // ln Γ_d(ν₀/2)
	// tab[n] = lnΓ((ν+1)/2) − lnΓ((ν−d+1)/2) − (d/2) ln(π(κ+1)/κ) with
	// κ = κ₀+n, ν = ν₀+n: the part of the Student-t predictive constant
	// that depends on the cluster size only, tabulated so that adding or
	// removing a point costs no log-gamma evaluations.
	tab      []float64
	scratchE *niwStats
	h        NIW
}

// checkGaussianData checks what both Gaussian families need of the data:
// finite values, and no more columns than rows (else no covariance can be
// estimated from them).
func checkGaussianData(x []float64, n, d int, names []string) error {
	if err := checkFinite(x, d, names); err != nil {
		return err
	}
	if d > n {
		return fmt.Errorf("%w: %d columns but only %d rows; a Gaussian mixture needs at least as many rows as columns", errBadData, d, n)
	}
	return nil
}

func (h NIW) bind(x []float64, n, d int, names []string) (family, error) {
	if err := checkGaussianData(x, n, d, names); err != nil {
		return nil, err
	}
	if len(h.Mean) != d {
		return nil, fmt.Errorf("NIW prior mean has %d values, want %d (one per column)", len(h.Mean), d)
	}
	if !(h.Kappa > 0) || math.IsInf(h.Kappa, 0) {
		return nil, fmt.Errorf("NIW kappa must be positive and finite, got %v", h.Kappa)
	}
	if !(h.Nu > float64(d)-1) || math.IsInf(h.Nu, 0) {
		return nil, fmt.Errorf("NIW nu must exceed d − 1 = %d, got %v", d-1, h.Nu)
	}
	if len(h.Psi) != d*d {
		return nil, fmt.Errorf("NIW scale matrix Psi has %d values, want %d×%d", len(h.Psi), d, d)
	}
	for a := range d {
		for b := range a {
			u, v := h.Psi[a*d+b], h.Psi[b*d+a]
			if math.Abs(u-v) > 1e-10*(math.Abs(u)+math.Abs(v)) {
				return nil, fmt.Errorf("NIW scale matrix Psi is not symmetric at [%d,%d]", a+1, b+1)
			}
		}
	}
	r0, ok := cholesky(append([]float64(nil), h.Psi...), d)
	if !ok {
		return nil, fmt.Errorf("NIW scale matrix Psi is not positive definite")
	}
	for _, v := range h.Mean {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("NIW prior mean has a non-finite value")
		}
	}
	f := &niwFamily{
		shifted: newShifted(h.Mean, n, d), kappa0: h.Kappa, nu0: h.Nu,
		psi0: append([]float64(nil), h.Psi...), r0: r0, inv0: make([]float64, d),
		h: NIW{Mean: append([]float64(nil), h.Mean...), Kappa: h.Kappa, Nu: h.Nu, Psi: append([]float64(nil), h.Psi...)},
	}
	for k := range d {
		f.inv0[k] = 1 / r0[k*d+k]
		f.logdet0 += 2 * math.Log(r0[k*d+k])
	}
	f.lmvg0 = lnMvGamma(f.nu0/2, d)
	f.tab = make([]float64, n+2)
	for m := range f.tab {
		kappa, nu := f.kappa0+float64(m), f.nu0+float64(m)
		f.tab[m] = lgamma((nu+1)/2) - lgamma((nu-float64(d)+1)/2) - float64(d)/2*math.Log(math.Pi*(kappa+1)/kappa)
	}
	f.scratchE = f.newStats().(*niwStats)
	if err := f.setData(x); err != nil {
		return nil, err
	}
	return f, nil
}

// setData replaces the bound data (same shape) and recomputes the cached
// prior predictives.
func (f *niwFamily) setData(x []float64) error { return f.load(x, f.scratchE.logPred) }

func (f *niwFamily) hyper() any { return f.h }

func (f *niwFamily) newStats() stats {
	d := f.d
	st := &niwStats{
		f: f, s: make([]float64, d), s2: make([]float64, d*d), m: make([]float64, d),
		r: make([]float64, d*d), inv: make([]float64, d), w: paddedFloats(d),
	}
	st.clear()
	return st
}

// paddedFloats returns n float64s with a cache line of padding on each
// side: the predictive's scratch buffer is written for every point, and
// clusters of different processors (goroutines) must not share its lines.
func paddedFloats(n int) []float64 {
	const pad = 8
	buf := make([]float64, n+2*pad)
	return buf[pad : pad+n : pad+n]
}

// params returns the posterior means of μ and Σ: m_n and Ψ_n/(ν_n−d−1)
// (NaN when ν_n ≤ d+1 and the mean does not exist).
func (f *niwFamily) params(s stats) (mean, cov []float64) {
	st := s.(*niwStats)
	d := f.d
	mean = make([]float64, d)
	for k := range d {
		mean[k] = st.m[k] + f.shift[k]
	}
	cov = make([]float64, d*d)
	den := st.nu - float64(d) - 1
	for a := range d {
		for b := range d {
			var v float64
			for k := 0; k <= min(a, b); k++ {
				v += st.r[k*d+a] * st.r[k*d+b]
			}
			if den > 0 {
				cov[a*d+b] = v / den
			} else {
				cov[a*d+b] = math.NaN()
			}
		}
	}
	return mean, cov
}

// niwStats holds a cluster's sufficient statistics (n, Σx, Σxxᵀ of the
// shifted data) and the upper Cholesky factor R of
// Ψ_n = Ψ₀ + Σxxᵀ − κ_n m_n m_nᵀ (Murphy 2007, "Conjugate Bayesian analysis
// of the Gaussian distribution", §9), kept current by rank-one updates and
// downdates in O(d²) per point.
type niwStats struct {
	f      *niwFamily
	n      int
	kappa  float64
	nu     float64
	s      []float64 // Σx
	s2     []float64 // Σxxᵀ, upper triangle
	m      []float64 // m_n = Σx/κ_n (m₀ = 0 after the shift)
	r      []float64 // upper Cholesky factor of Ψ_n: Ψ_n = RᵀR
	inv    []float64 // 1/diag(R)
	logdet float64   // ln|Ψ_n|
	c0     float64   // constant of the log predictive
	e      float64   // (ν_n+1)/2, the exponent of the predictive
	ratio  float64   // κ_n/(κ_n+1)
	w      []float64 // scratch
}

func (st *niwStats) clear() {
	f := st.f
	st.n = 0
	st.kappa, st.nu = f.kappa0, f.nu0
	clear(st.s)
	clear(st.s2)
	clear(st.m)
	copy(st.r, f.r0)
	copy(st.inv, f.inv0)
	st.logdet = f.logdet0
	st.cache()
}

// cache recomputes the quantities the predictive needs after a change.
func (st *niwStats) cache() {
	st.c0 = st.f.tab[st.n] - st.logdet/2
	st.e = (st.nu + 1) / 2
	st.ratio = st.kappa / (st.kappa + 1)
}

// diagUpdate refreshes 1/diag(R) and ln|Ψ_n| after R changed.
func (st *niwStats) diagUpdate() {
	d := st.f.d
	lp := newLogProd()
	for k := range d {
		rk := st.r[k*d+k]
		st.inv[k] = 1 / rk
		lp.mul(rk)
	}
	st.logdet = 2 * lp.sum()
}

func (st *niwStats) add(i int) {
	f := st.f
	d := f.d
	x := f.x[i*d : i*d+d]
	// Ψ' = Ψ + κ/(κ+1) (x−m)(x−m)ᵀ with κ, m before the change.
	c := math.Sqrt(st.kappa / (st.kappa + 1))
	w := st.w
	for k := range d {
		w[k] = (x[k] - st.m[k]) * c
	}
	cholUpdate(st.r, w, d)
	st.n++
	st.kappa++
	st.nu++
	st.moments(x, 1)
	st.diagUpdate()
	st.cache()
}

func (st *niwStats) remove(i int) {
	f := st.f
	d := f.d
	if st.n <= 1 {
		st.clear()
		return
	}
	x := f.x[i*d : i*d+d]
	// Ψ' = Ψ − κ/(κ−1) (x−m)(x−m)ᵀ with κ, m before the change.
	c := math.Sqrt(st.kappa / (st.kappa - 1))
	w := st.w
	for k := range d {
		w[k] = (x[k] - st.m[k]) * c
	}
	ok := cholDowndate(st.r, w, d)
	st.n--
	st.kappa--
	st.nu--
	st.moments(x, -1)
	if !ok {
		st.refactor()
	}
	st.diagUpdate()
	st.cache()
}

func (st *niwStats) setMerged(x, y stats) {
	a, b := x.(*niwStats), y.(*niwStats)
	f := st.f
	st.n = a.n + b.n
	if st.n == 0 {
		st.clear()
		return
	}
	st.kappa, st.nu = f.kappa0+float64(st.n), f.nu0+float64(st.n)
	for k := range st.s {
		st.s[k] = a.s[k] + b.s[k]
		st.m[k] = st.s[k] / st.kappa
	}
	for k := range st.s2 {
		st.s2[k] = a.s2[k] + b.s2[k]
	}
	st.refactor()
	st.diagUpdate()
	st.cache()
}

// moments adds sign·x to the raw sums and recomputes the mean.
func (st *niwStats) moments(x []float64, sign float64) {
	d := st.f.d
	for a := range d {
		xa := sign * x[a]
		st.s[a] += xa
		row := st.s2[a*d : a*d+d]
		for b := a; b < d; b++ {
			row[b] += xa * x[b]
		}
	}
	for k := range d {
		st.m[k] = st.s[k] / st.kappa
	}
}

// refactor recomputes R from the raw sums, for when a downdate lost
// positive definiteness to rounding.
func (st *niwStats) refactor() {
	f := st.f
	d := f.d
	for jitter := 0.0; ; {
		for a := range d {
			for b := a; b < d; b++ {
				v := f.psi0[a*d+b] + st.s2[a*d+b] - st.kappa*st.m[a]*st.m[b]
				if a == b {
					v += jitter
				}
				st.r[a*d+b] = v
			}
		}
		if _, ok := cholesky(st.r, d); ok {
			return
		}
		// Cancellation made Ψ_n numerically indefinite; Ψ₀ bounds it
		// away from singular in exact arithmetic, so a tiny ridge is a
		// rounding-level correction until the next refresh.
		if jitter == 0 {
			jitter = 1e-12 * (f.psi0[0] + 1e-300)
		} else {
			jitter *= 10
		}
	}
}

func (st *niwStats) logPred(i int) float64 {
	d := st.f.d
	return st.predX(st.f.x[i*d : i*d+d])
}

// predX is the log predictive of a shifted point x.
func (st *niwStats) predX(x []float64) float64 {
	return st.predCut(x, math.Inf(-1))
}

// predCut is predX, except that it may return −Inf without taking the
// logarithm when the value is certainly below cut.
func (st *niwStats) predCut(x []float64, cut float64) float64 {
	u := st.quad(x) * st.ratio
	if st.c0-st.e*log1pLowerBound(u) < cut {
		return math.Inf(-1)
	}
	return st.c0 - st.e*math.Log(1+u)
}

// quad returns (x − m)ᵀΨ⁻¹(x − m) for a shifted point x, the quadratic
// form of both the predictive and the cavity, with the common small
// dimensions unrolled; larger ones go through solveNorm on the scratch w.
func (st *niwStats) quad(x []float64) float64 {
	switch len(x) {
	case 1:
		y := (x[0] - st.m[0]) * st.inv[0]
		return y * y
	case 2:
		y0 := (x[0] - st.m[0]) * st.inv[0]
		y1 := (x[1] - st.m[1] - st.r[1]*y0) * st.inv[1]
		return y0*y0 + y1*y1
	}
	w := st.w
	for k := range w {
		w[k] = x[k] - st.m[k]
	}
	return st.solveNorm(w)
}

// solveNorm returns ‖y‖² for y = L⁻¹w, L = Rᵀ the lower Cholesky factor of
// Ψ_n, so that ‖y‖² = wᵀΨ_n⁻¹w; forward substitution overwrites w.
func (st *niwStats) solveNorm(w []float64) float64 {
	d := st.f.d
	r := st.r
	var q float64
	for k := range d {
		yk := w[k] * st.inv[k]
		q += yk * yk
		row := r[k*d+k+1 : k*d+d]
		rest := w[k+1 : d]
		for t, rv := range row {
			rest[t] -= rv * yk
		}
	}
	return q
}

// cavity uses Sherman–Morrison and the matrix determinant lemma on the
// downdate Ψ' = Ψ − β u uᵀ (u = x − m, β = κ/(κ−1)): with s = uᵀΨ⁻¹u,
// ln|Ψ'| = ln|Ψ| + ln(1 − βs) and the Student-t term 1 + δ'²/v' equals
// 1/(1 − βs), so ln p(x | X \ {x}) = tab[n−1] − ½ ln|Ψ| + ((ν−1)/2) ln(1 − βs).
func (st *niwStats) cavity(i int) (float64, bool) {
	if st.n <= 1 {
		return 0, false
	}
	d := st.f.d
	g := 1 - st.kappa/(st.kappa-1)*st.quad(st.f.x[i*d:i*d+d])
	if !(g > 1e-10) {
		return 0, false
	}
	return st.f.tab[st.n-1] - st.logdet/2 + (st.nu-1)/2*math.Log(g), true
}

func (f *niwFamily) score(i int, cs []*cluster, w []float64, skip int, best float64) float64 {
	x := f.x[i*f.d : i*f.d+f.d]
	for t, c := range cs {
		if c.n == 0 || t == skip {
			w[t] = math.Inf(-1)
			continue
		}
		v := c.logw + c.st.(*niwStats).predCut(x, best-pruneGap-c.logw)
		w[t] = v
		best = max(best, v)
	}
	return best
}

func (st *niwStats) logPredVec(x, work []float64) float64 {
	d := st.f.d
	w := work[:d]
	for k := range d {
		w[k] = x[k] - st.f.shift[k] - st.m[k]
	}
	return st.pred(w)
}

// pred evaluates the Student-t log predictive at w = x − m_n, overwriting w:
// with y = L⁻¹w (L = Rᵀ) the Mahalanobis term δ²/v equals κ/(κ+1)·‖y‖².
func (st *niwStats) pred(w []float64) float64 {
	q := st.solveNorm(w)
	// math.Log(1+u) instead of Log1p: several times faster (assembly),
	// and for tiny u its absolute error, ~1e-16, is far below anything
	// a log density needs.
	return st.c0 - st.e*math.Log(1+q*st.ratio)
}

// logMarginal is ln m(X) = −(nd/2)ln π + lnΓ_d(ν_n/2) − lnΓ_d(ν₀/2)
// + (ν₀/2)ln|Ψ₀| − (ν_n/2)ln|Ψ_n| + (d/2)ln(κ₀/κ_n).
func (st *niwStats) logMarginal() float64 {
	f := st.f
	if st.n == 0 {
		return 0
	}
	d := float64(f.d)
	return -float64(st.n)*d/2*math.Log(math.Pi) + lnMvGamma(st.nu/2, f.d) - f.lmvg0 +
		f.nu0/2*f.logdet0 - st.nu/2*st.logdet + d/2*math.Log(f.kappa0/st.kappa)
}

// cholUpdate turns the upper factor R of A into that of A + vvᵀ, in place
// (the classic rotation-based rank-one update, Golub & Van Loan §6.5.4);
// v is overwritten.
func cholUpdate(r, v []float64, d int) {
	for k := range d {
		rkk := r[k*d+k]
		rr := math.Sqrt(rkk*rkk + v[k]*v[k])
		c, s := rr/rkk, v[k]/rkk
		r[k*d+k] = rr
		row := r[k*d+k+1 : k*d+d]
		rest := v[k+1 : d]
		for t := range row {
			row[t] = (row[t] + s*rest[t]) / c
			rest[t] = c*rest[t] - s*row[t]
		}
	}
}

// cholDowndate turns the upper factor R of A into that of A − vvᵀ, in
// place; it reports false (leaving R unusable) if A − vvᵀ is not
// numerically positive definite.
func cholDowndate(r, v []float64, d int) bool {
	for k := range d {
		rkk := r[k*d+k]
		t := (rkk - v[k]) * (rkk + v[k])
		if !(t > 0) {
			return false
		}
		rr := math.Sqrt(t)
		c, s := rr/rkk, v[k]/rkk
		r[k*d+k] = rr
		row := r[k*d+k+1 : k*d+d]
		rest := v[k+1 : d]
		for t := range row {
			row[t] = (row[t] - s*rest[t]) / c
			rest[t] = c*rest[t] - s*row[t]
		}
	}
	return true
}
