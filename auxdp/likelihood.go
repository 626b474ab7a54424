package auxdp

import (
	"errors"
	"fmt"
	"math"
)

// Likelihood is a conjugate component model together with its base measure
// H: one of NIW, DiagNormalGamma or DirichletMultinomial. Conjugacy lets the
// sampler integrate the component parameters out (Neal 2000, Algorithm 3),
// so clusters are summarised by sufficient statistics only.
type Likelihood interface {
	// Name is "niw", "diag" or "multinomial", as on the command line.
	Name() string
	// bind validates the hyperparameters against the data (n rows of d
	// columns, row-major) and returns the family that evaluates predictive
	// and marginal densities on them.
	// names, if not nil, name the columns in error messages.
	bind(x []float64, n, d int, names []string) (family, error)
}

// NIW is the multivariate Gaussian likelihood with unknown mean and full
// covariance under a Normal–inverse-Wishart base measure:
// Σ ~ IW(Nu, Psi), μ | Σ ~ N(Mean, Σ/Kappa).
type NIW struct {
	Mean  []float64 // prior mean m₀ of the component means (length d)
	Kappa float64   // κ₀ > 0: prior sample size of the mean
	Nu    float64   // ν₀ > d − 1: degrees of freedom of the inverse Wishart
	Psi   []float64 // Ψ₀: d×d row-major symmetric positive-definite scale
}

// Name returns "niw".
func (NIW) Name() string { return "niw" }

// DiagNormalGamma is the Gaussian likelihood with a diagonal covariance,
// each dimension k independent under a Normal–Gamma base measure:
// λ_k ~ Gamma(Shape, Rate[k]) (precision, rate parametrisation),
// μ_k | λ_k ~ N(Mean[k], 1/(Kappa λ_k)). Its predictive costs O(d) instead
// of O(d²), at the price of ignoring within-cluster correlation.
type DiagNormalGamma struct {
	Mean  []float64 // prior means (length d)
	Kappa float64   // κ₀ > 0
	Shape float64   // a₀ > 0
	Rate  []float64 // b₀ > 0 per dimension (length d)
}

// Name returns "diag".
func (DiagNormalGamma) Name() string { return "diag" }

// DirichletMultinomial is the likelihood for vectors of non-negative integer
// counts (bags of words, categorical tallies): counts ~ Multinomial(p),
// p ~ Dirichlet(Beta). A nil Beta means β_v = 1 for every category.
type DirichletMultinomial struct {
	Beta []float64
}

// Name returns "multinomial".
func (DirichletMultinomial) Name() string { return "multinomial" }

// family evaluates the collapsed densities of one likelihood on bound data.
// Stats objects it makes refer to the bound data by row index.
type family interface {
	dim() int
	newStats() stats
	// score sets w[t] = cs[t].logw + ln p(x_i | X_cs[t]) for the
	// non-empty clusters other than slot skip, −Inf for empty ones, and
	// returns the largest of them and best: the inner loop of the Gibbs
	// step, one dynamic call per point instead of one per cluster. A
	// cluster whose value is certainly below best − pruneGap (largest so
	// far) may be set to −Inf without computing it exactly, since such
	// weights underflow against the best one anyway.
	score(i int, cs []*cluster, w []float64, skip int, best float64) float64
	// logPrior is ln p(x_i | H), the predictive of point i in a new
	// cluster; cached per point because it never changes.
	logPrior(i int) float64
	// constant is the part of ln p(X | z) that depends on the data only
	// (the multinomial coefficients); added to the log joint.
	constant() float64
	// vecConst is the same data-only term for one new point.
	vecConst(x []float64) float64
	// validRow checks a new point (for prediction).
	validRow(x []float64) error
	// params returns the posterior mean parameters of a cluster.
	params(st stats) (mean, cov []float64)
	// hyper returns the hyperparameters for metadata.
	hyper() any
	// setData replaces the bound data by new data of the same shape
	// (used by the Geweke test, which redraws the data every step).
	setData(x []float64) error
}

// stats are the sufficient statistics of one cluster and the cached
// quantities that make its predictive cheap. A stats object belongs to one
// goroutine at a time.
type stats interface {
	add(i int)
	remove(i int)
	// logPred is ln p(x_i | X_c), the posterior predictive of point i
	// given the cluster's current members (i not among them).
	logPred(i int) float64
	// logPredVec is the same for a point given in data coordinates; work
	// (at least dim long) is scratch, so that several goroutines may
	// evaluate the predictive of one cluster at once.
	logPredVec(x, work []float64) float64
	// cavity is ln p(x_i | X_c \ {x_i}) for a member i, computed from the
	// statistics without removing i; ok is false when it cannot be (one
	// member, or rounding too close to singular) and the caller must
	// remove the point instead.
	cavity(i int) (lp float64, ok bool)
	// logMarginal is ln m(X_c), the marginal likelihood of the members.
	logMarginal() float64
	// clear empties the cluster back to exactly the prior state.
	clear()
	// setMerged makes the statistics those of the union of the members
	// of a and b (both of this stats' family), from their sufficient
	// statistics alone: O(d³) for NIW, O(d) or O(V) for the others.
	setMerged(a, b stats)
}

// pruneGap is the log-weight gap below the best cluster beyond which a
// cluster's Gibbs weight, exp(−40) ≈ 4e-18 relative, cannot change the sum
// of weights in floating point and is treated as zero.
const pruneGap = 40

// log1pLowerBound returns a lower bound on ln(1+x), x ≥ 0, that costs no
// logarithm: the larger of 2x/(2+x) (tight for small x) and ⌊log₂(1+x)⌋·ln 2
// from the exponent bits (good for large x).
func log1pLowerBound(x float64) float64 {
	a := 2 * x / (2 + x)
	b := float64(int(math.Float64bits(1+x)>>52&0x7ff)-1023) * math.Ln2
	return max(a, b)
}

// shifted is the data of the Gaussian families (niwFamily, diagFamily),
// stored shifted by the prior mean m₀, which makes m₀ = 0 internally:
// every density is translation invariant, and the shift keeps the raw
// second moments small, so refreshing a factor from them loses few
// digits. It also caches every point's prior predictive.
type shifted struct {
	d     int
	x     []float64 // rows of x − m₀
	shift []float64 // m₀
	prior []float64 // ln p(x_i | H) per point
}

func newShifted(mean []float64, n, d int) shifted {
	return shifted{d: d, x: make([]float64, n*d), shift: append([]float64(nil), mean...), prior: make([]float64, n)}
}

func (s *shifted) dim() int                   { return s.d }
func (s *shifted) logPrior(i int) float64     { return s.prior[i] }
func (s *shifted) constant() float64          { return 0 }
func (s *shifted) vecConst([]float64) float64 { return 0 }

func (s *shifted) validRow(x []float64) error {
	if len(x) != s.d {
		return fmt.Errorf("point has %d values, want %d", len(x), s.d)
	}
	return checkFinite(x, s.d, nil)
}

// load stores the rows x (same shape as bound) shifted and caches each
// point's prior predictive, pred(i), which reads the shifted row i.
func (s *shifted) load(x []float64, pred func(i int) float64) error {
	if err := checkFinite(x, s.d, nil); err != nil {
		return err
	}
	d := s.d
	for i := range s.prior {
		for k := range d {
			s.x[i*d+k] = x[i*d+k] - s.shift[k]
		}
		s.prior[i] = pred(i)
	}
	return nil
}

// errBadData reports invalid input data.
var errBadData = errors.New("invalid data")

// checkFinite reports the first non-finite value of row-major data.
func checkFinite(x []float64, d int, names []string) error {
	for k, v := range x {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%w: row %d, %s is %v", errBadData, k/d+1, colName(names, k%d), v)
		}
	}
	return nil
}

// DefaultGroups is the number of groups G assumed by the empirical
// hyperparameter rules when the caller does not give one.
const DefaultGroups = 10

// EmpiricalNIW returns the Normal–inverse-Wishart base measure set from the
// data by the rule of Fraley & Raftery (2007, "Bayesian regularization for
// normal mixture estimation and model-based clustering", mclust's
// defaultPrior):
//
//	m₀ = the data mean            (centres the base measure on the data)
//	κ₀ = 0.01                     (the prior spread of a cluster mean is
//	                               10 cluster standard deviations: weak)
//	ν₀ = d + 2                    (the smallest integer with a finite prior
//	                               mean covariance E[Σ] = Ψ₀/(ν₀−d−1) = Ψ₀)
//	Ψ₀ = cov(X) / G^(2/d)         (if the data were G equal groups tiling
//	                               their range, each would have about 1/G of
//	                               the volume, so 1/G^(1/d) of the width)
//
// groups is G (DefaultGroups when ≤ 0); the prior guess of a cluster's
// covariance shrinks slowly with it. The data must have more rows than
// columns and a non-singular covariance.
func EmpiricalNIW(x [][]float64, groups float64) (NIW, error) {
	mean, cov, d, err := moments(x)
	if err != nil {
		return NIW{}, err
	}
	if groups <= 0 {
		groups = DefaultGroups
	}
	s := math.Pow(groups, -2/float64(d))
	psi := make([]float64, d*d)
	for k := range psi {
		psi[k] = cov[k] * s
	}
	if _, ok := cholesky(append([]float64(nil), psi...), d); !ok {
		return NIW{}, fmt.Errorf("%w: the data covariance is singular (collinear columns?); give the prior scale explicitly", errBadData)
	}
	return NIW{Mean: mean, Kappa: 0.01, Nu: float64(d) + 2, Psi: psi}, nil
}

// EmpiricalDiag returns the diagonal Normal–Gamma base measure matching
// EmpiricalNIW dimension by dimension: m₀ = data mean, κ₀ = 0.01, a₀ = 3/2
// (the one-dimensional inverse Wishart with ν₀ = 3 is an inverse gamma
// with shape 3/2) and b₀ = var_k / (2 G^(2/d)), so that E[σ_k²] =
// b₀/(a₀−1) = var_k / G^(2/d).
func EmpiricalDiag(x [][]float64, groups float64) (DiagNormalGamma, error) {
	mean, cov, d, err := moments(x)
	if err != nil {
		return DiagNormalGamma{}, err
	}
	if groups <= 0 {
		groups = DefaultGroups
	}
	s := math.Pow(groups, -2/float64(d))
	rate := make([]float64, d)
	for k := range rate {
		v := cov[k*d+k]
		if !(v > 0) {
			return DiagNormalGamma{}, fmt.Errorf("%w: column %d is constant; give the prior scale explicitly", errBadData, k+1)
		}
		rate[k] = v * s / 2
	}
	return DiagNormalGamma{Mean: mean, Kappa: 0.01, Shape: 1.5, Rate: rate}, nil
}

// moments returns the column means and the d×d sample covariance.
func moments(x [][]float64) (mean, cov []float64, d int, err error) {
	n := len(x)
	if n == 0 {
		return nil, nil, 0, fmt.Errorf("%w: no rows", errBadData)
	}
	d = len(x[0])
	if d == 0 {
		return nil, nil, 0, fmt.Errorf("%w: no columns", errBadData)
	}
	if n <= d {
		return nil, nil, 0, fmt.Errorf("%w: %d rows but %d columns; a Gaussian mixture needs more rows than columns", errBadData, n, d)
	}
	mean = make([]float64, d)
	for i, row := range x {
		if len(row) != d {
			return nil, nil, 0, fmt.Errorf("%w: row %d has %d values, want %d", errBadData, i+1, len(row), d)
		}
		for k, v := range row {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return nil, nil, 0, fmt.Errorf("%w: row %d, column %d is %v", errBadData, i+1, k+1, v)
			}
		}
		for k, v := range row {
			mean[k] += v
		}
	}
	for k := range mean {
		mean[k] /= float64(n)
	}
	cov = make([]float64, d*d)
	for _, row := range x {
		for a := range d {
			da := row[a] - mean[a]
			for b := a; b < d; b++ {
				cov[a*d+b] += da * (row[b] - mean[b])
			}
		}
	}
	for a := range d {
		for b := a; b < d; b++ {
			cov[a*d+b] /= float64(n - 1)
			cov[b*d+a] = cov[a*d+b]
		}
	}
	return mean, cov, d, nil
}

// cholesky factors the symmetric positive-definite d×d matrix a in place
// into the upper-triangular R with a = RᵀR (R stored row-major, the strict
// lower triangle zeroed). It reports false if a is not positive definite.
func cholesky(a []float64, d int) ([]float64, bool) {
	for k := range d {
		s := a[k*d+k]
		for j := range k {
			s -= a[j*d+k] * a[j*d+k]
		}
		if !(s > 0) {
			return a, false
		}
		r := math.Sqrt(s)
		a[k*d+k] = r
		for i := k + 1; i < d; i++ {
			t := a[k*d+i]
			for j := range k {
				t -= a[j*d+k] * a[j*d+i]
			}
			a[k*d+i] = t / r
		}
		for i := range k {
			a[k*d+i] = 0
		}
	}
	return a, true
}

// lnMvGamma is the log multivariate gamma function ln Γ_d(a).
func lnMvGamma(a float64, d int) float64 {
	s := float64(d*(d-1)) / 4 * math.Log(math.Pi)
	for j := range d {
		v, _ := math.Lgamma(a - float64(j)/2)
		s += v
	}
	return s
}

func lgamma(x float64) float64 {
	v, _ := math.Lgamma(x)
	return v
}

// logProd accumulates Σ ln(f_k) for positive factors f_k with one
// logarithm per ~1e100 of product (or of its inverse) instead of one per
// factor; the hot loops multiply many factors whose logs they need summed.
type logProd struct {
	acc, prod float64
}

func newLogProd() logProd { return logProd{prod: 1} }

func (l *logProd) mul(f float64) {
	if f > 1e100 || f < 1e-100 {
		l.acc += math.Log(f)
		return
	}
	l.prod *= f
	if l.prod > 1e100 || l.prod < 1e-100 {
		l.acc += math.Log(l.prod)
		l.prod = 1
	}
}

func (l *logProd) sum() float64 { return l.acc + math.Log(l.prod) }

// colName names column k (0-based) for error messages.
func colName(names []string, k int) string {
	if k < len(names) && names[k] != "" {
		return fmt.Sprintf("column %q", names[k])
	}
	return fmt.Sprintf("column %d", k+1)
}
