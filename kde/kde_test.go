package kde

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/rng"
)

// golden holds the values made by testdata/kde/golden.R.
type golden struct {
	One struct {
		X, W, Eval, Exact []float64
		ExactWeighted     []float64 `json:"exact_weighted"`
		H                 float64
		GridFrom          float64 `json:"grid_from"`
		GridTo            float64 `json:"grid_to"`
		GridN             int     `json:"grid_n"`
		Density           []float64
		DensityWeighted   []float64 `json:"density_weighted"`
		SilvermanH        float64   `json:"silverman_h"`
		ScottH            float64   `json:"scott_h"`
	}
	Two struct {
		X             [][]float64
		W             []float64
		H             [][]float64
		Eval          [][]float64
		Exact         []float64
		ExactWeighted []float64 `json:"exact_weighted"`
		Far           []float64
		FarLogDensity float64   `json:"far_log_density"`
		GridLo        []float64 `json:"grid_lo"`
		GridHi        []float64 `json:"grid_hi"`
		GridN         []int     `json:"grid_n"`
		Grid          [][]float64
		Hns           [][]float64
	}
	Three struct {
		X, H, Eval [][]float64
		Exact      []float64
	}
	LCV struct {
		X     [][]float64
		DiagH []float64 `json:"diag_h"`
		IsoH  float64   `json:"iso_h"`
	}
}

func readGolden(t *testing.T) *golden {
	t.Helper()
	b, err := os.ReadFile("../testdata/kde/golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return &g
}

func col(v []float64) [][]float64 {
	out := make([][]float64, len(v))
	for i, x := range v {
		out[i] = []float64{x}
	}
	return out
}

func symOf(rows [][]float64) *mat.SymDense {
	d := len(rows)
	m := mat.NewSymDense(d, nil)
	for i := range d {
		for j := range d {
			m.SetSym(i, j, rows[i][j])
		}
	}
	return m
}

func relClose(a, b, tol float64) bool {
	return math.Abs(a-b) <= tol*math.Max(math.Abs(a), math.Abs(b))
}

func TestExactAgainstKs(t *testing.T) {
	g := readGolden(t)
	cases := []struct {
		name  string
		x     [][]float64
		w     []float64
		bw    Bandwidth
		eval  [][]float64
		want  []float64
		check int
	}{
		{"1d", col(g.One.X), nil, Scalar(g.One.H), col(g.One.Eval), g.One.Exact, 0},
		{"1d weighted", col(g.One.X), g.One.W, Scalar(g.One.H), col(g.One.Eval), g.One.ExactWeighted, 0},
		{"1d as diagonal", col(g.One.X), nil, Diag([]float64{g.One.H}), col(g.One.Eval), g.One.Exact, 0},
		{"2d full", g.Two.X, nil, Matrix(symOf(g.Two.H)), g.Two.Eval, g.Two.Exact, 0},
		{"2d full weighted", g.Two.X, g.Two.W, Matrix(symOf(g.Two.H)), g.Two.Eval, g.Two.ExactWeighted, 0},
		{"3d full", g.Three.X, nil, Matrix(symOf(g.Three.H)), g.Three.Eval, g.Three.Exact, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			k, err := New(c.x, c.w, c.bw)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.want) != len(c.eval) {
				t.Fatalf("golden has %d values for %d points", len(c.want), len(c.eval))
			}
			batch, err := k.LogDensities(nil, c.eval)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range c.eval {
				got := k.Density(p)
				if !relClose(got, c.want[i], 1e-10) {
					t.Errorf("p̂(%v) = %.12g, ks::kde %.12g", p, got, c.want[i])
				}
				if batch[i] != k.LogDensity(p) {
					t.Errorf("LogDensities differs from LogDensity at %v", p)
				}
			}
		})
	}
}

// A diagonal bandwidth matrix given as Full must agree with Diag.
func TestShapesAgree(t *testing.T) {
	g := readGolden(t)
	h := []float64{0.3, 0.5}
	full := mat.NewSymDense(2, []float64{0.09, 0, 0, 0.25})
	a, _ := New(g.Two.X, nil, Diag(h))
	b, _ := New(g.Two.X, nil, Matrix(full))
	c, _ := New(g.Two.X, nil, Scalar(0.4))
	d, _ := New(g.Two.X, nil, Diag([]float64{0.4, 0.4}))
	for _, p := range g.Two.Eval {
		if !relClose(a.LogDensity(p), b.LogDensity(p), 1e-12) {
			t.Errorf("diagonal and full disagree at %v", p)
		}
		if !relClose(c.LogDensity(p), d.LogDensity(p), 1e-12) {
			t.Errorf("isotropic and diagonal disagree at %v", p)
		}
	}
}

func TestFarFromData(t *testing.T) {
	g := readGolden(t)
	k, _ := New(g.Two.X, nil, Matrix(symOf(g.Two.H)))
	got := k.LogDensity(g.Two.Far)
	if math.IsInf(got, 0) || !relClose(got, g.Two.FarLogDensity, 1e-12) {
		t.Errorf("log p̂ far away = %v, want %v", got, g.Two.FarLogDensity)
	}
	if k.Density(g.Two.Far) != 0 {
		t.Errorf("the density itself should underflow there")
	}
}

func TestGridAgainstR(t *testing.T) {
	g := readGolden(t)
	t.Run("1d stats::density", func(t *testing.T) {
		for _, weighted := range []bool{false, true} {
			var w []float64
			want := g.One.Density
			if weighted {
				w, want = g.One.W, g.One.DensityWeighted
			}
			k, _ := New(col(g.One.X), w, Scalar(g.One.H))
			got, err := k.Grid([]float64{g.One.GridFrom}, []float64{g.One.GridTo}, []int{g.One.GridN})
			if err != nil {
				t.Fatal(err)
			}
			// Both are binned approximations (R bins onto 1024 points over
			// a wider range and interpolates); they agree to the binning
			// error, well under 0.5% of the peak.
			peak, worst := 0.0, 0.0
			axis := Axis(g.One.GridFrom, g.One.GridTo, g.One.GridN)
			for i := range got {
				peak = math.Max(peak, want[i])
				worst = math.Max(worst, math.Abs(got[i]-want[i]))
				if exact := k.Density([]float64{axis[i]}); math.Abs(got[i]-exact) > 1e-3*0.4 {
					t.Fatalf("binned %g vs exact %g at %g", got[i], exact, axis[i])
				}
			}
			if worst > 5e-3*peak {
				t.Errorf("weighted=%v: max |Grid − density()| = %g, peak %g", weighted, worst, peak)
			}
		}
	})
	t.Run("2d ks binned", func(t *testing.T) {
		k, _ := New(g.Two.X, nil, Matrix(symOf(g.Two.H)))
		got, err := k.Grid(g.Two.GridLo, g.Two.GridHi, g.Two.GridN)
		if err != nil {
			t.Fatal(err)
		}
		ax := Axis(g.Two.GridLo[0], g.Two.GridHi[0], g.Two.GridN[0])
		ay := Axis(g.Two.GridLo[1], g.Two.GridHi[1], g.Two.GridN[1])
		peak, worstR, worstExact := 0.0, 0.0, 0.0
		for i := range g.Two.GridN[0] {
			for j := range g.Two.GridN[1] {
				v := got[i*g.Two.GridN[1]+j]
				peak = math.Max(peak, g.Two.Grid[i][j])
				worstR = math.Max(worstR, math.Abs(v-g.Two.Grid[i][j]))
				worstExact = math.Max(worstExact, math.Abs(v-k.Density([]float64{ax[i], ay[j]})))
			}
		}
		// Same binning as ks: agreement to rounding of the FFTs. This grid
		// is coarse (spacing ≈ 0.6 kernel sd), so the binning error against
		// the exact density is about 1% of the peak.
		if worstR > 1e-4*peak || worstExact > 2e-2*peak {
			t.Errorf("max |Grid − ks| = %g, |Grid − exact| = %g, peak %g", worstR, worstExact, peak)
		}
		// On a grid four times finer the binning error falls by about 16.
		n := []int{161, 201}
		fine, _ := k.Grid(g.Two.GridLo, g.Two.GridHi, n)
		ax = Axis(g.Two.GridLo[0], g.Two.GridHi[0], n[0])
		ay = Axis(g.Two.GridLo[1], g.Two.GridHi[1], n[1])
		worstExact = 0
		for i := range n[0] {
			for j := range n[1] {
				worstExact = math.Max(worstExact, math.Abs(fine[i*n[1]+j]-k.Density([]float64{ax[i], ay[j]})))
			}
		}
		if worstExact > 1e-3*peak {
			t.Errorf("fine grid: max |Grid − exact| = %g, peak %g", worstExact, peak)
		}
	})
	t.Run("fine grid falls back to exact", func(t *testing.T) {
		k, _ := New(col(g.One.X), nil, Scalar(1e3))
		got, err := k.Grid([]float64{0}, []float64{1e-3}, []int{5})
		if err != nil {
			t.Fatal(err)
		}
		if !relClose(got[2], k.Density([]float64{5e-4}), 1e-12) {
			t.Errorf("got %g", got[2])
		}
	})
}

func TestReferenceRules(t *testing.T) {
	g := readGolden(t)
	t.Run("1d", func(t *testing.T) {
		for _, c := range []struct {
			r    Rule
			want float64
		}{{Silverman, g.One.SilvermanH}, {Scott, g.One.ScottH}} {
			for _, shape := range []Shape{Isotropic, Diagonal, Full} {
				bw, err := Select(col(g.One.X), nil, shape, c.r)
				if err != nil {
					t.Fatal(err)
				}
				if got := bw.SD(1)[0]; !relClose(got, c.want, 1e-12) {
					t.Errorf("%v %v: h = %.12g, want %.12g", c.r, shape, got, c.want)
				}
			}
		}
	})
	t.Run("ks::Hns", func(t *testing.T) {
		bw, err := Select(g.Two.X, nil, Full, Silverman)
		if err != nil {
			t.Fatal(err)
		}
		h := bw.Dense(2)
		for i := range 2 {
			for j := range 2 {
				if !relClose(h.At(i, j), g.Two.Hns[i][j], 1e-12) {
					t.Errorf("H[%d,%d] = %.12g, ks::Hns %.12g", i, j, h.At(i, j), g.Two.Hns[i][j])
				}
			}
		}
		iso, _ := Select(g.Two.X, nil, Isotropic, Silverman)
		det := mat.Det(h)
		if !relClose(math.Pow(iso.SD(2)[0], 4), det, 1e-12) {
			t.Errorf("isotropic rule should have the volume of the full one")
		}
	})
	t.Run("weights", func(t *testing.T) {
		// Integer weights act like repeated points (up to the unbiased
		// denominator), and the effective size is Kish's.
		x := [][]float64{{0}, {1}, {3}}
		w := []float64{1, 2, 1}
		bw, _ := Select(x, w, Isotropic, Scott)
		neff := 16.0 / 6
		mean := (0 + 2 + 3) / 4.0
		v := (1*mean*mean + 2*(1-mean)*(1-mean) + 1*(3-mean)*(3-mean)) / 4 / (1 - 6.0/16)
		want := math.Pow(neff, -0.2) * math.Sqrt(v)
		if !relClose(bw.SD(1)[0], want, 1e-12) {
			t.Errorf("h = %g, want %g", bw.SD(1)[0], want)
		}
	})
}

func TestLCVAgainstR(t *testing.T) {
	g := readGolden(t)
	bw, err := Select(g.LCV.X, nil, Diagonal, LCV)
	if err != nil {
		t.Fatal(err)
	}
	for j, want := range g.LCV.DiagH {
		if got := bw.SD(2)[j]; !relClose(got, want, 1e-4) {
			t.Errorf("diagonal LCV h[%d] = %.8g, R optim %.8g", j, got, want)
		}
	}
	iso, err := Select(g.LCV.X, nil, Isotropic, LCV)
	if err != nil {
		t.Fatal(err)
	}
	if got := iso.SD(2)[0]; !relClose(got, g.LCV.IsoH, 1e-4) {
		t.Errorf("isotropic LCV h = %.8g, R optimize %.8g", got, g.LCV.IsoH)
	}
	// Full: H = c²Σ̂ with c the isotropic optimum of the points whitened
	// by Σ̂ = LLᵀ, which Select computes independently of the Full path.
	full, err := Select(g.LCV.X, nil, Full, LCV)
	if err != nil {
		t.Fatal(err)
	}
	_, cov := moments(g.LCV.X, nil)
	var ch mat.Cholesky
	if !ch.Factorize(cov) {
		t.Fatal("singular covariance")
	}
	var l mat.TriDense
	ch.LTo(&l)
	z := make([][]float64, len(g.LCV.X))
	for i, x := range g.LCV.X {
		var v mat.VecDense
		if err := v.SolveVec(&l, mat.NewVecDense(2, append([]float64(nil), x...))); err != nil {
			t.Fatal(err)
		}
		z[i] = v.RawVector().Data
	}
	white, err := Select(z, nil, Isotropic, LCV)
	if err != nil {
		t.Fatal(err)
	}
	c := white.SD(2)[0]
	if full.Shape() != Full {
		t.Fatalf("full LCV has shape %v", full.Shape())
	}
	h := full.Dense(2)
	for i := range 2 {
		for j := range 2 {
			if want := c * c * cov.At(i, j); !relClose(h.At(i, j), want, 1e-6) {
				t.Errorf("full LCV H[%d,%d] = %.8g, want c²Σ̂ = %.8g (c = %.6g from the whitened points)", i, j, h.At(i, j), want, c)
			}
		}
	}
}

// Exact duplicates (rejected Metropolis proposals) must not send the LCV
// bandwidth to zero.
func TestLCVDuplicates(t *testing.T) {
	r := rng.NewRand(1)
	var x [][]float64
	for len(x) < 400 {
		p := []float64{r.NormFloat64(), r.NormFloat64()}
		for range 1 + r.IntN(4) { // runs of repeats, as a Metropolis chain makes
			x = append(x, p)
		}
	}
	for _, shape := range []Shape{Isotropic, Diagonal, Full} {
		bw, err := Select(x, nil, shape, LCV)
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range bw.SD(2) {
			if !(h > 0.1 && h < 2) {
				t.Errorf("%v: LCV bandwidth %v on standard normal draws with repeats", shape, bw)
			}
		}
	}
	if _, err := Select([][]float64{{1}, {1}, {1}}, nil, Isotropic, LCV); err == nil {
		t.Error("identical points: want an error")
	}
}

// Draws from p̂ have its mean and covariance: Cov() is checked against the
// sample covariance of 40,000 draws within 4 Monte Carlo standard errors.
func TestSample(t *testing.T) {
	g := readGolden(t)
	for _, weighted := range []bool{false, true} {
		var w []float64
		if weighted {
			w = g.Two.W
		}
		k, _ := New(g.Two.X, w, Matrix(symOf(g.Two.H)))
		r := rng.NewRand(7, 1)
		const n = 40000
		var s [2]float64
		var ss [3]float64
		buf := make([]float64, 2)
		draws := make([][2]float64, n)
		for i := range n {
			k.Sample(buf, r)
			draws[i] = [2]float64{buf[0], buf[1]}
			s[0] += buf[0]
			s[1] += buf[1]
		}
		mean := [2]float64{s[0] / n, s[1] / n}
		for _, d := range draws {
			a, b := d[0]-mean[0], d[1]-mean[1]
			ss[0] += a * a
			ss[1] += a * b
			ss[2] += b * b
		}
		cov := k.Cov()
		// True mixture mean.
		var mu [2]float64
		for i, p := range g.Two.X {
			wi := 1.0 / float64(len(g.Two.X))
			if weighted {
				sum := 0.0
				for _, v := range w {
					sum += v
				}
				wi = w[i] / sum
			}
			mu[0] += wi * p[0]
			mu[1] += wi * p[1]
		}
		for j := range 2 {
			se := math.Sqrt(cov.At(j, j) / n)
			if math.Abs(mean[j]-mu[j]) > 4*se {
				t.Errorf("weighted=%v: mean[%d] = %g, want %g ± %g", weighted, j, mean[j], mu[j], se)
			}
		}
		got := [3]float64{ss[0] / (n - 1), ss[1] / (n - 1), ss[2] / (n - 1)}
		want := [3]float64{cov.At(0, 0), cov.At(0, 1), cov.At(1, 1)}
		// se of a sample (co)variance ≈ √((σ_aa σ_bb + σ_ab²)/n) for
		// near-Gaussian data; the mixture has a little excess kurtosis, so
		// allow 5 of them.
		for i, pair := range [][2]int{{0, 0}, {0, 1}, {1, 1}} {
			a, b := pair[0], pair[1]
			se := math.Sqrt((cov.At(a, a)*cov.At(b, b) + cov.At(a, b)*cov.At(a, b)) / n)
			if math.Abs(got[i]-want[i]) > 5*se {
				t.Errorf("weighted=%v: cov[%d,%d] = %g, want %g ± %g", weighted, a, b, got[i], want[i], se)
			}
		}
	}
}

func TestAliasTable(t *testing.T) {
	p := []float64{0.5, 0.1, 0, 0.25, 0.15}
	a := newAlias(p)
	r := rng.NewRand(3)
	const n = 200000
	counts := make([]float64, len(p))
	for range n {
		counts[a.draw(r)]++
	}
	for i, pi := range p {
		se := math.Sqrt(pi * (1 - pi) / n)
		if math.Abs(counts[i]/n-pi) > 4*se+1e-12 {
			t.Errorf("p[%d]: %g, want %g", i, counts[i]/n, pi)
		}
	}
}

func TestBadInput(t *testing.T) {
	good := [][]float64{{0, 1}, {1, 2}, {2, 0}}
	cases := []struct {
		name string
		x    [][]float64
		w    []float64
		bw   Bandwidth
		want string
	}{
		{"empty", nil, nil, Scalar(1), "no data points"},
		{"ragged", [][]float64{{0, 1}, {1}}, nil, Scalar(1), "point 2 has 1 coordinates, point 1 has 2"},
		{"nan", [][]float64{{0, 1}, {math.NaN(), 1}}, nil, Scalar(1), "point 2, coordinate 1 is NaN"},
		{"weights length", good, []float64{1, 2}, Scalar(1), "2 weights for 3 points"},
		{"negative weight", good, []float64{1, -2, 1}, Scalar(1), "weight 2 is -2"},
		{"zero weights", good, []float64{0, 0, 0}, Scalar(1), "weights sum to zero"},
		{"zero h", good, nil, Scalar(0), "bandwidth 0 is not a positive finite number"},
		{"diag length", good, nil, Diag([]float64{1}), "diagonal bandwidth has 1 values for 2-dimensional data"},
		{"not pd", good, nil, Matrix(mat.NewSymDense(2, []float64{1, 2, 2, 1})), "not positive definite"},
		{"wrong size", good, nil, Matrix(mat.NewSymDense(3, nil)), "does not match 2-dimensional data"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := New(c.x, c.w, c.bw)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
	if _, err := Select([][]float64{{1, 0}, {1, 1}, {1, 2}}, nil, Diagonal, Scott); err == nil ||
		!strings.Contains(err.Error(), "coordinate 1 has zero variance") {
		t.Errorf("constant coordinate: %v", err)
	}
	k, _ := New(good, nil, Scalar(1))
	if _, err := k.Grid([]float64{0, 0}, []float64{1, 1}, []int{1, 5}); err == nil {
		t.Error("grid of one point: want an error")
	}
	if _, err := k.Grid([]float64{1, 0}, []float64{0, 1}, []int{5, 5}); err == nil {
		t.Error("reversed grid: want an error")
	}
}

func BenchmarkLogDensity(b *testing.B) {
	r := rng.NewRand(1)
	x := make([][]float64, 10000)
	for i := range x {
		x[i] = []float64{r.NormFloat64(), r.NormFloat64()}
	}
	k, _ := New(x, nil, Scalar(0.2))
	p := []float64{0.3, -0.2}
	for b.Loop() {
		k.LogDensity(p)
	}
}

func BenchmarkGrid2D(b *testing.B) {
	r := rng.NewRand(1)
	x := make([][]float64, 10000)
	for i := range x {
		x[i] = []float64{r.NormFloat64(), r.NormFloat64()}
	}
	bw, _ := Select(x, nil, Full, Silverman)
	k, _ := New(x, nil, bw)
	for b.Loop() {
		k.Grid([]float64{-4, -4}, []float64{4, 4}, []int{128, 128})
	}
}
