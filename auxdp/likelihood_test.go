package auxdp

import (
	"fmt"
	"math"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat/distmv"

	"github.com/epmc/epmc/rng"
)

func flatten(x [][]float64) []float64 {
	var f []float64
	for _, r := range x {
		f = append(f, r...)
	}
	return f
}

// niwPredictive computes the NIW posterior predictive of y given rows
// from scratch with gonum's multivariate Student-t: an implementation
// independent of the package's incremental Cholesky code.
func niwPredictive(h NIW, rows [][]float64, y []float64) float64 {
	d := len(h.Mean)
	n := float64(len(rows))
	kn, nn := h.Kappa+n, h.Nu+n
	xbar := make([]float64, d)
	for _, r := range rows {
		for k := range d {
			xbar[k] += r[k] / n
		}
	}
	mn := make([]float64, d)
	for k := range d {
		if n > 0 {
			mn[k] = (h.Kappa*h.Mean[k] + n*xbar[k]) / kn
		} else {
			mn[k] = h.Mean[k]
		}
	}
	psi := mat.NewSymDense(d, nil)
	for a := range d {
		for b := a; b < d; b++ {
			v := h.Psi[a*d+b]
			for _, r := range rows {
				v += (r[a] - xbar[a]) * (r[b] - xbar[b])
			}
			if n > 0 {
				v += h.Kappa * n / kn * (xbar[a] - h.Mean[a]) * (xbar[b] - h.Mean[b])
			}
			psi.SetSym(a, b, v)
		}
	}
	v := nn - float64(d) + 1
	psi.ScaleSym((kn+1)/(kn*v), psi)
	t, ok := distmv.NewStudentsT(mn, psi, v, nil)
	if !ok {
		panic("bad t")
	}
	return t.LogProb(y)
}

func TestNIWPredictiveMatchesStudentT(t *testing.T) {
	r := rng.NewRand(7)
	for _, d := range []int{1, 2, 5} {
		t.Run(fmt.Sprint("d=", d), func(t *testing.T) {
			n := 40
			x := make([][]float64, n)
			for i := range x {
				x[i] = make([]float64, d)
				for k := range x[i] {
					x[i][k] = 3 + 2*r.NormFloat64() + float64(k)
				}
			}
			h := NIW{Mean: make([]float64, d), Kappa: 0.3, Nu: float64(d) + 1.5, Psi: make([]float64, d*d)}
			for k := range d {
				h.Mean[k] = 1 - float64(k)
				h.Psi[k*d+k] = 2
				if k > 0 {
					h.Psi[k*d+k-1], h.Psi[(k-1)*d+k] = 0.5, 0.5
				}
			}
			fam, err := h.bind(flatten(x), n, d, nil)
			if err != nil {
				t.Fatal(err)
			}
			st := fam.newStats()
			work := make([]float64, d)
			// Add 30 points, remove 10 of them (exercising downdates), and
			// compare the predictive of every point with gonum.
			for i := range 30 {
				st.add(i)
			}
			for i := 5; i < 15; i++ {
				st.remove(i)
			}
			var members [][]float64
			for i := range 30 {
				if i < 5 || i >= 15 {
					members = append(members, x[i])
				}
			}
			for i := 30; i < n; i++ {
				want := niwPredictive(h, members, x[i])
				if got := st.logPred(i); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("logPred(%d) = %.12g, gonum %.12g", i, got, want)
				}
				if got := st.logPredVec(x[i], work); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
					t.Errorf("logPredVec(%d) = %.12g, gonum %.12g", i, got, want)
				}
			}
			if got, want := fam.logPrior(0), niwPredictive(h, nil, x[0]); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("logPrior = %v, want %v", got, want)
			}
			// Chain rule: ln m(X) = Σ_i ln p(x_i | x_<i).
			var chain float64
			for i, row := range members {
				chain += niwPredictive(h, members[:i], row)
			}
			if got := st.logMarginal(); math.Abs(got-chain) > 1e-8*math.Abs(chain) {
				t.Errorf("logMarginal = %.12g, chain rule %.12g", got, chain)
			}
		})
	}
}

// TestDiagMatchesNIW checks the diagonal Normal–Gamma family in one
// dimension, where it is the NIW family with ν = 2a, Ψ = 2b.
func TestDiagMatchesNIW(t *testing.T) {
	r := rng.NewRand(8)
	n := 30
	x := make([]float64, n)
	for i := range x {
		x[i] = 5 + 3*r.NormFloat64()
	}
	diag := DiagNormalGamma{Mean: []float64{4}, Kappa: 0.2, Shape: 1.7, Rate: []float64{2.5}}
	niw := NIW{Mean: []float64{4}, Kappa: 0.2, Nu: 3.4, Psi: []float64{5}}
	fd, err := diag.bind(x, n, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	fn, err := niw.bind(x, n, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	sd, sn := fd.newStats(), fn.newStats()
	for i := range 20 {
		sd.add(i)
		sn.add(i)
	}
	for i := 2; i < 6; i++ {
		sd.remove(i)
		sn.remove(i)
	}
	for i := 20; i < n; i++ {
		if a, b := sd.logPred(i), sn.logPred(i); math.Abs(a-b) > 1e-10 {
			t.Errorf("point %d: diag %.12g, NIW %.12g", i, a, b)
		}
	}
	if a, b := sd.logMarginal(), sn.logMarginal(); math.Abs(a-b) > 1e-9*math.Abs(b) {
		t.Errorf("marginal: diag %.12g, NIW %.12g", a, b)
	}
	if a, b := fd.logPrior(3), fn.logPrior(3); math.Abs(a-b) > 1e-10 {
		t.Errorf("prior predictive: diag %.12g, NIW %.12g", a, b)
	}
}

// TestDiagProductOfMarginals checks a 3-d diagonal family against the
// product of three one-dimensional ones.
func TestDiagProductOfMarginals(t *testing.T) {
	r := rng.NewRand(9)
	n, d := 25, 3
	x := make([]float64, n*d)
	for i := range x {
		x[i] = r.NormFloat64() * float64(1+i%d)
	}
	h := DiagNormalGamma{Mean: []float64{0, 1, -1}, Kappa: 0.5, Shape: 2, Rate: []float64{1, 2, 3}}
	f, err := h.bind(x, n, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := f.newStats()
	for i := range 15 {
		st.add(i)
	}
	var want, wantM float64
	for k := range d {
		col := make([]float64, n)
		for i := range n {
			col[i] = x[i*d+k]
		}
		h1 := DiagNormalGamma{Mean: h.Mean[k : k+1], Kappa: h.Kappa, Shape: h.Shape, Rate: h.Rate[k : k+1]}
		f1, _ := h1.bind(col, n, 1, nil)
		s1 := f1.newStats()
		for i := range 15 {
			s1.add(i)
		}
		want += s1.logPred(20)
		wantM += s1.logMarginal()
	}
	if got := st.logPred(20); math.Abs(got-want) > 1e-10 {
		t.Errorf("logPred = %v, want %v", got, want)
	}
	if got := st.logMarginal(); math.Abs(got-wantM) > 1e-9 {
		t.Errorf("logMarginal = %v, want %v", got, wantM)
	}
}

// dirMultLogPMF is the Dirichlet–multinomial pmf of counts y given prior
// parameters a (the posterior given a cluster is a + its counts), written
// directly with log-gamma functions.
func dirMultLogPMF(a, y []float64) float64 {
	var A, L, v float64
	for k := range a {
		A += a[k]
		L += y[k]
		v += lgamma(a[k]+y[k]) - lgamma(a[k]) - lgamma(y[k]+1)
	}
	return v + lgamma(A) - lgamma(A+L) + lgamma(L+1)
}

func TestDirichletMultinomial(t *testing.T) {
	x := [][]float64{{3, 0, 1, 0}, {0, 0, 5, 2}, {1, 1, 1, 1}, {0, 20, 0, 0}, {2, 0, 0, 40}, {0, 0, 0, 0}}
	beta := []float64{0.5, 1, 2, 0.1}
	f, err := DirichletMultinomial{Beta: beta}.bind(flatten(x), len(x), 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	st := f.newStats()
	post := append([]float64(nil), beta...)
	var marg float64
	for i := range 4 {
		marg += dirMultLogPMF(post, x[i])
		st.add(i)
		for k := range post {
			post[k] += x[i][k]
		}
	}
	for _, i := range []int{4, 5} {
		want := dirMultLogPMF(post, x[i])
		if got := st.logPred(i) + f.vecConst(x[i]); math.Abs(got-want) > 1e-10 {
			t.Errorf("logPred(%d) = %v, want %v", i, got, want)
		}
		if got := st.logPredVec(x[i], nil) + f.vecConst(x[i]); math.Abs(got-want) > 1e-10 {
			t.Errorf("logPredVec(%d) = %v, want %v", i, got, want)
		}
	}
	var coef float64
	for i := range 4 {
		coef += f.vecConst(x[i])
	}
	if got := st.logMarginal() + coef; math.Abs(got-marg) > 1e-9 {
		t.Errorf("logMarginal = %v, want %v", got, marg)
	}
	if got, want := f.logPrior(4)+f.vecConst(x[4]), dirMultLogPMF(beta, x[4]); math.Abs(got-want) > 1e-10 {
		t.Errorf("logPrior = %v, want %v", got, want)
	}
}

func TestBadCounts(t *testing.T) {
	for _, tc := range []struct {
		row  []float64
		want string
	}{
		{[]float64{1, -2}, "negative count -2"},
		{[]float64{1, 2.5}, "not an integer"},
		{[]float64{math.NaN(), 1}, "NaN"},
	} {
		_, err := DirichletMultinomial{}.bind(tc.row, 1, 2, []string{"a", "b"})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want %q", tc.row, err, tc.want)
		}
	}
}

// TestRankOneUpdates drives a cluster through many updates and downdates
// and checks the factor against a fresh factorisation of its statistics.
func TestRankOneUpdates(t *testing.T) {
	r := rng.NewRand(10)
	n, d := 200, 4
	x := make([]float64, n*d)
	for i := range x {
		x[i] = 100 + r.NormFloat64()
	}
	h := NIW{Mean: make([]float64, d), Kappa: 0.01, Nu: float64(d) + 2, Psi: make([]float64, d*d)}
	for k := range d {
		h.Psi[k*d+k] = 0.1
	}
	f, _ := h.bind(x, n, d, nil)
	st := f.newStats().(*niwStats)
	in := make([]bool, n)
	for range 20000 {
		i := r.IntN(n)
		if in[i] && st.n > 1 {
			st.remove(i)
			in[i] = false
		} else if !in[i] {
			st.add(i)
			in[i] = true
		}
	}
	fresh := f.newStats().(*niwStats)
	for i := range n {
		if in[i] {
			fresh.add(i)
		}
	}
	for k := range st.r {
		if math.Abs(st.r[k]-fresh.r[k]) > 1e-7*math.Max(1, math.Abs(fresh.r[k])) {
			t.Fatalf("factor drifted: R[%d] = %v, fresh %v", k, st.r[k], fresh.r[k])
		}
	}
	if math.Abs(st.logMarginal()-fresh.logMarginal()) > 1e-6 {
		t.Fatalf("logMarginal drifted: %v vs %v", st.logMarginal(), fresh.logMarginal())
	}
}

// TestSetMerged checks the merged statistics against adding the points.
func TestSetMerged(t *testing.T) {
	r := rng.NewRand(11)
	n, d := 40, 3
	x := make([]float64, n*d)
	for i := range x {
		x[i] = 20 + 3*r.NormFloat64()
	}
	counts := make([]float64, n*d)
	for i := range counts {
		counts[i] = float64(r.IntN(5))
	}
	niw := NIW{Mean: []float64{19, 20, 21}, Kappa: 0.1, Nu: 6, Psi: []float64{2, 0.3, 0, 0.3, 2, 0.1, 0, 0.1, 2}}
	diag := DiagNormalGamma{Mean: []float64{19, 20, 21}, Kappa: 0.1, Shape: 2, Rate: []float64{1, 2, 3}}
	for _, tc := range []struct {
		lik Likelihood
		x   []float64
	}{{niw, x}, {diag, x}, {DirichletMultinomial{}, counts}} {
		f, err := tc.lik.bind(tc.x, n, d, nil)
		if err != nil {
			t.Fatal(err)
		}
		a, b, all, m := f.newStats(), f.newStats(), f.newStats(), f.newStats()
		for i := range 30 {
			if i%3 == 0 {
				a.add(i)
			} else {
				b.add(i)
			}
			all.add(i)
		}
		m.setMerged(a, b)
		if got, want := m.logMarginal(), all.logMarginal(); math.Abs(got-want) > 1e-8*math.Abs(want) {
			t.Errorf("%s: merged logMarginal %v, want %v", tc.lik.Name(), got, want)
		}
		if got, want := m.logPred(35), all.logPred(35); math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
			t.Errorf("%s: merged logPred %v, want %v", tc.lik.Name(), got, want)
		}
	}
}

// TestCavity checks the predictive of a member given the other members,
// computed without removing it, against removing it.
func TestCavity(t *testing.T) {
	r := rng.NewRand(12)
	n, d := 30, 3
	x := make([]float64, n*d)
	for i := range x {
		x[i] = 5 + 2*r.NormFloat64()
	}
	counts := make([]float64, n*d)
	for i := range counts {
		counts[i] = float64(r.IntN(4))
	}
	for _, tc := range []struct {
		lik Likelihood
		x   []float64
		d   int
	}{
		{NIW{Mean: []float64{5, 5, 5}, Kappa: 0.1, Nu: 6, Psi: []float64{2, 0.3, 0, 0.3, 2, 0.1, 0, 0.1, 2}}, x, 3},
		{NIW{Mean: []float64{5, 5}, Kappa: 0.1, Nu: 4, Psi: []float64{2, 0.3, 0.3, 1}}, x[:2*n], 2},
		{NIW{Mean: []float64{5}, Kappa: 0.1, Nu: 3, Psi: []float64{2}}, x[:n], 1},
		{DiagNormalGamma{Mean: []float64{5, 5, 5}, Kappa: 0.1, Shape: 2, Rate: []float64{1, 2, 3}}, x, 3},
		{DirichletMultinomial{}, counts, 3},
	} {
		f, err := tc.lik.bind(tc.x, n, tc.d, nil)
		if err != nil {
			t.Fatal(err)
		}
		st := f.newStats()
		for i := range 12 {
			st.add(i)
		}
		for _, i := range []int{0, 5, 11} {
			got, ok := st.cavity(i)
			st.remove(i)
			want := st.logPred(i)
			st.add(i)
			if !ok || math.Abs(got-want) > 1e-9*math.Max(1, math.Abs(want)) {
				t.Errorf("%s d=%d: cavity(%d) = %v (ok %v), removing gives %v", tc.lik.Name(), tc.d, i, got, ok, want)
			}
		}
		single := f.newStats()
		single.add(3)
		if _, ok := single.cavity(3); ok {
			t.Errorf("%s: cavity of a singleton should defer to removal", tc.lik.Name())
		}
	}
}

func TestLog1pLowerBound(t *testing.T) {
	for _, x := range []float64{0, 1e-300, 1e-8, 0.01, 0.144, 0.5, 1, 1.5, 3, 10, 1e3, 1e300, math.Inf(1)} {
		lb, exact := log1pLowerBound(x), math.Log1p(x)
		if lb > exact {
			t.Errorf("bound %v exceeds ln(1+%v) = %v", lb, x, exact)
		}
		if x <= 0.2 && exact-lb > 0.01*exact {
			t.Errorf("bound %v too loose for x = %v (%v)", lb, x, exact)
		}
	}
}
