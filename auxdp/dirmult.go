package auxdp

import (
	"fmt"
	"math"
)

// dmFamily is the Dirichlet–multinomial family bound to count data, stored
// sparsely: the predictive of a point costs O(nnz + total count), not O(V).
type dmFamily struct {
	v      int
	beta   []float64
	bsum   float64 // B = Σβ
	lgB    float64 // lnΓ(B)
	lgBeta []float64
	off    []int     // row i's non-zeros are idx/cnt[off[i]:off[i+1]]
	idx    []int32   // category of each non-zero
	cnt    []float64 // its count
	tot    []float64 // L_i, the total count of row i
	coef   float64   // Σ_i ln multinomial coefficient
	prior  []float64
	empty  *dmStats
	names  []string
	h      DirichletMultinomial
}

func (h DirichletMultinomial) bind(x []float64, n, d int, names []string) (family, error) {
	f := &dmFamily{v: d, beta: make([]float64, d), lgBeta: make([]float64, d)}
	if h.Beta != nil && len(h.Beta) != d {
		return nil, fmt.Errorf("Dirichlet parameter beta has %d values, want %d (one per column)", len(h.Beta), d)
	}
	for k := range d {
		b := 1.0
		if h.Beta != nil {
			b = h.Beta[k]
		}
		if !(b > 0) || math.IsInf(b, 0) {
			return nil, fmt.Errorf("Dirichlet parameter for %s must be positive and finite, got %v", colName(names, k), b)
		}
		f.beta[k] = b
		f.bsum += b
		f.lgBeta[k] = lgamma(b)
	}
	f.h = DirichletMultinomial{Beta: append([]float64(nil), f.beta...)}
	f.lgB = lgamma(f.bsum)
	f.names = names
	f.empty = f.newStats().(*dmStats)
	if err := f.setData(x); err != nil {
		return nil, err
	}
	return f, nil
}

// setData (re)builds the sparse rows, their totals and coefficients and the
// cached prior predictives.
func (f *dmFamily) setData(x []float64) error {
	d := f.v
	n := len(x) / d
	f.prior = make([]float64, n)
	f.tot = make([]float64, n)
	f.off = make([]int, n+1)
	f.idx, f.cnt, f.coef = f.idx[:0], f.cnt[:0], 0
	for i := range n {
		row := x[i*d : i*d+d]
		if err := checkCounts(row, f.names); err != nil {
			return fmt.Errorf("%w: row %d, %v", errBadData, i+1, err)
		}
		var tot float64
		coef := 0.0
		for k, c := range row {
			if c > 0 {
				f.idx = append(f.idx, int32(k))
				f.cnt = append(f.cnt, c)
				tot += c
				coef -= lgamma(c + 1)
			}
		}
		f.tot[i] = tot
		f.coef += coef + lgamma(tot+1)
		f.off[i+1] = len(f.idx)
	}
	for i := range n {
		f.prior[i] = f.empty.logPred(i)
	}
	return nil
}

// checkCounts reports a value that is not a non-negative integer count.
func checkCounts(row []float64, names []string) error {
	for k, c := range row {
		switch {
		case math.IsNaN(c) || math.IsInf(c, 0):
			return fmt.Errorf("%s is %v; the multinomial likelihood needs non-negative integer counts", colName(names, k), c)
		case c < 0:
			return fmt.Errorf("%s has the negative count %v; the multinomial likelihood needs non-negative integer counts", colName(names, k), c)
		case c != math.Trunc(c) || c > 1<<52:
			return fmt.Errorf("%s has the count %v, which is not an integer; the multinomial likelihood needs non-negative integer counts", colName(names, k), c)
		}
	}
	return nil
}

func (f *dmFamily) dim() int               { return f.v }
func (f *dmFamily) logPrior(i int) float64 { return f.prior[i] }
func (f *dmFamily) constant() float64      { return f.coef }
func (f *dmFamily) hyper() any             { return f.h }

func (f *dmFamily) vecConst(x []float64) float64 {
	var tot, c float64
	for _, v := range x {
		if v > 0 {
			tot += v
			c -= lgamma(v + 1)
		}
	}
	return c + lgamma(tot+1)
}

func (f *dmFamily) validRow(x []float64) error {
	if len(x) != f.v {
		return fmt.Errorf("point has %d values, want %d", len(x), f.v)
	}
	return checkCounts(x, nil)
}

func (f *dmFamily) newStats() stats {
	return &dmStats{f: f, c: make([]float64, f.v)}
}

// params returns the posterior mean category probabilities
// (β_v + C_v)/(B + T); there is no covariance.
func (f *dmFamily) params(s stats) (mean, cov []float64) {
	st := s.(*dmStats)
	mean = make([]float64, f.v)
	for k := range mean {
		mean[k] = (f.beta[k] + st.c[k]) / (f.bsum + st.t)
	}
	return mean, nil
}

// dmStats holds a cluster's category counts C and their total T.
type dmStats struct {
	f *dmFamily
	n int
	c []float64
	t float64
}

func (st *dmStats) clear() {
	st.n = 0
	clear(st.c)
	st.t = 0
}

func (st *dmStats) add(i int) {
	f := st.f
	for p := f.off[i]; p < f.off[i+1]; p++ {
		st.c[f.idx[p]] += f.cnt[p]
	}
	st.t += f.tot[i]
	st.n++
}

func (st *dmStats) remove(i int) {
	f := st.f
	if st.n <= 1 {
		st.clear()
		return
	}
	for p := f.off[i]; p < f.off[i+1]; p++ {
		st.c[f.idx[p]] -= f.cnt[p]
	}
	st.t -= f.tot[i]
	st.n--
}

func (st *dmStats) setMerged(x, y stats) {
	a, b := x.(*dmStats), y.(*dmStats)
	st.n = a.n + b.n
	st.t = a.t + b.t
	for k := range st.c {
		st.c[k] = a.c[k] + b.c[k]
	}
}

// risingLog adds ln a + ln(a+1) + … + ln(a+k−1) = ln Γ(a+k) − ln Γ(a) to
// lp: by products for small k, by log-gamma for large k.
func risingLog(lp *logProd, a, k float64) float64 {
	if k <= 16 {
		for t := 0.0; t < k; t++ {
			lp.mul(a + t)
		}
		return 0
	}
	return lgamma(a+k) - lgamma(a)
}

func (f *dmFamily) score(i int, cs []*cluster, w []float64, skip int, best float64) float64 {
	for t, c := range cs {
		if c.n == 0 || t == skip {
			w[t] = math.Inf(-1)
			continue
		}
		v := c.logw + c.st.(*dmStats).logPred(i)
		w[t] = v
		best = max(best, v)
	}
	return best
}

// logPred is Σ_v ln[(β_v+C_v)^(x_v rising)] − ln[(B+T)^(L rising)], the
// Dirichlet–multinomial predictive without the multinomial coefficient,
// which is the same for every cluster.
func (st *dmStats) logPred(i int) float64 {
	f := st.f
	num, den := newLogProd(), newLogProd()
	var extra float64
	for p := f.off[i]; p < f.off[i+1]; p++ {
		v := f.idx[p]
		extra += risingLog(&num, f.beta[v]+st.c[v], f.cnt[p])
	}
	extra -= risingLog(&den, f.bsum+st.t, f.tot[i])
	return num.sum() - den.sum() + extra
}

// cavity evaluates the predictive against the counts without row i.
func (st *dmStats) cavity(i int) (float64, bool) {
	if st.n <= 1 {
		return 0, false
	}
	f := st.f
	num, den := newLogProd(), newLogProd()
	var extra float64
	for p := f.off[i]; p < f.off[i+1]; p++ {
		v := f.idx[p]
		extra += risingLog(&num, f.beta[v]+st.c[v]-f.cnt[p], f.cnt[p])
	}
	extra -= risingLog(&den, f.bsum+st.t-f.tot[i], f.tot[i])
	return num.sum() - den.sum() + extra, true
}

func (st *dmStats) logPredVec(x, _ []float64) float64 {
	f := st.f
	num, den := newLogProd(), newLogProd()
	var extra, tot float64
	for v, c := range x {
		if c > 0 {
			extra += risingLog(&num, f.beta[v]+st.c[v], c)
			tot += c
		}
	}
	extra -= risingLog(&den, f.bsum+st.t, tot)
	return num.sum() - den.sum() + extra
}

// logMarginal is lnΓ(B) − lnΓ(B+T) + Σ_v [lnΓ(β_v+C_v) − lnΓ(β_v)]
// without the multinomial coefficients (family.constant holds them).
func (st *dmStats) logMarginal() float64 {
	f := st.f
	if st.n == 0 {
		return 0
	}
	s := f.lgB - lgamma(f.bsum+st.t)
	for v, c := range st.c {
		if c > 0 {
			s += lgamma(f.beta[v]+c) - f.lgBeta[v]
		}
	}
	return s
}
