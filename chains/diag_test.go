package chains

import (
	"math"
	"math/rand/v2"
	"path/filepath"
	"strconv"
	"testing"

	"gonum.org/v1/gonum/mathext"
)

func TestEBFMIGolden(t *testing.T) {
	header, rows := readCSVTable(t, filepath.Join(goldenDir, "ebfmi.csv"))
	if len(header) != 4 {
		t.Fatalf("ebfmi.csv header %v", header)
	}
	sets := map[string]*Draws{}
	for _, r := range rows {
		d, ok := sets[r[0]]
		if !ok {
			d = goldenDraws(t, r[0])
			sets[r[0]] = d
		}
		x := d.Series(d.Index(r[1]))
		chain, _ := strconv.Atoi(r[2])
		want, err := parseRNumber(r[3])
		if err != nil {
			t.Fatal(err)
		}
		var got float64
		if chain == 0 {
			got = EBFMIPooled(x)
		} else {
			got = EBFMI(x[chain-1])
		}
		if !sameNumber(got, want, goldenTol) {
			t.Errorf("%s %s chain %d: E-BFMI %.17g, R %.17g", r[0], r[1], chain, got, want)
		}
	}
	if len(rows) < 100 {
		t.Errorf("only %d E-BFMI golden values", len(rows))
	}
}

// The rank normalisation uses gonum's mathext.NormalQuantile, which is
// Wichura's AS 241 as R's qnorm is; check that they agree where ranks can
// take them (p ≥ 1e-20; no draw set is large enough to go further out).
func TestNormalQuantileMatchesR(t *testing.T) {
	_, rows := readCSVTable(t, filepath.Join(goldenDir, "qnorm.csv"))
	for _, r := range rows {
		p, _ := parseRNumber(r[0])
		want, _ := parseRNumber(r[1])
		if p < 1e-20 {
			continue
		}
		if got := mathext.NormalQuantile(p); !sameNumber(got, want, 1e-14) {
			t.Errorf("qnorm(%g): gonum %.17g, R %.17g", p, got, want)
		}
	}
}

// mcse_quantile needs qbeta; gonum's InvRegIncBeta must agree with R's.
func TestInvRegIncBetaMatchesR(t *testing.T) {
	_, rows := readCSVTable(t, filepath.Join(goldenDir, "qbeta.csv"))
	for _, r := range rows {
		var v [4]float64
		for i := range v {
			v[i], _ = parseRNumber(r[i])
		}
		if got := mathext.InvRegIncBeta(v[1], v[2], v[0]); !sameNumber(got, v[3], 1e-10) {
			t.Errorf("qbeta(%g, %g, %g): gonum %.17g, R %.17g", v[0], v[1], v[2], got, v[3])
		}
	}
}

// ar1 returns m chains of n draws of a stationary AR(1) process.
func ar1(rnd *rand.Rand, m, n int, phi float64) [][]float64 {
	x := make([][]float64, m)
	for c := range x {
		x[c] = make([]float64, n)
		v := rnd.NormFloat64() / math.Sqrt(1-phi*phi)
		for i := range x[c] {
			v = phi*v + rnd.NormFloat64()
			x[c][i] = v
		}
	}
	return x
}

func TestDiagnosticsEdgeCases(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name string
		x    [][]float64
		// want maps a measure to its value; NaN means NA in posterior.
		want map[string]float64
	}{
		{"no chains", nil, map[string]float64{"mean": nan, "median": nan, "rhat": nan, "ess_bulk": nan, "ess_tail": nan, "mcse_sd": nan}},
		{"empty chains", [][]float64{{}, {}}, map[string]float64{"median": nan, "rhat": nan, "ess_bulk": nan, "mad": nan}},
		{"one draw", [][]float64{{2}}, map[string]float64{"mean": 2, "median": 2, "sd": nan, "mad": 0, "q5": 2, "rhat": nan, "ess_bulk": nan}},
		{"constant", [][]float64{{1, 1, 1, 1, 1}, {1, 1, 1, 1, 1}}, map[string]float64{"mean": 1, "sd": 0, "mad": 0, "rhat": nan, "ess_bulk": nan, "ess_tail": nan, "mcse_mean": nan, "rhat_basic": nan}},
		{"NaN draw", [][]float64{{1, 2, 3, 4, nan, 6}, {1, 2, 3, 4, 5, 6}}, map[string]float64{"median": nan, "q5": nan, "rhat": nan, "ess_bulk": nan, "mad": nan}},
		// Chains stuck at different values: within-chain variance is zero
		// and R-hat is infinite (posterior gives a huge finite number made
		// of rounding residues; see the "special" golden set for that).
		{"two values", [][]float64{{0, 0, 0, 0}, {0, 0, 0, 0}, {1, 1, 1, 1}, {1, 1, 1, 1}}, map[string]float64{"mean": 0.5, "median": 0.5, "ess_tail": nan}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var g Diagnostics
			g.Reset(tt.x)
			for col, want := range tt.want {
				if got := measure(&g, col); !sameNumber(got, want, 1e-15) {
					t.Errorf("%s = %v, want %v", col, got, want)
				}
			}
		})
	}
}

func TestDiagnosticsRaggedPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("ragged draws did not panic")
		}
	}()
	var g Diagnostics
	g.Reset([][]float64{{1, 2, 3}, {1, 2}})
}

func TestDiagnosticsBadProbabilityPanics(t *testing.T) {
	for _, p := range []float64{-0.1, 1.5, math.NaN()} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("EssQuantile(%v) did not panic", p)
				}
			}()
			EssQuantile([][]float64{{1, 2, 3, 4}}, p)
		}()
	}
}

// The package-level functions, a fresh Diagnostics and one reused across
// variables of different shapes must give bit-identical results.
func TestDiagnosticsReuseIsStateless(t *testing.T) {
	rnd := rand.New(rand.NewPCG(1, 2))
	xs := [][][]float64{ar1(rnd, 4, 200, 0.7), ar1(rnd, 2, 33, -0.4), ar1(rnd, 4, 200, 0.2), ar1(rnd, 1, 7, 0.5)}
	var reused Diagnostics
	cols := []string{"mean", "median", "sd", "mad", "q5", "q95", "rhat", "rhat_basic", "ess_bulk", "ess_tail",
		"ess_mean", "ess_sd", "ess_median", "mcse_mean", "mcse_sd", "mcse_median", "mcse_q5"}
	for i, x := range xs {
		var fresh Diagnostics
		fresh.Reset(x)
		reused.Reset(x)
		for _, col := range cols {
			a, b := measure(&fresh, col), measure(&reused, col)
			if math.Float64bits(a) != math.Float64bits(b) && !(math.IsNaN(a) && math.IsNaN(b)) {
				t.Errorf("draws %d %s: fresh %v, reused %v", i, col, a, b)
			}
		}
		pkg := map[string]float64{"rhat": Rhat(x), "ess_bulk": EssBulk(x), "ess_tail": EssTail(x), "mcse_sd": McseSd(x),
			"ess_sd": EssSd(x), "mad": Mad(x), "q5": Quantile(x, 0.05), "mcse_q5": McseQuantile(x, 0.05)}
		for col, a := range pkg {
			if b := measure(&fresh, col); math.Float64bits(a) != math.Float64bits(b) {
				t.Errorf("draws %d %s: package function %v, method %v", i, col, a, b)
			}
		}
	}
}

// Calibration: for iid normal draws the bulk ESS is close to the number of
// draws and R-hat close to 1; for AR(1) draws with coefficient φ the ESS is
// close to S(1 − φ)/(1 + φ). Tolerances are generous multiples of the
// sampling spread of the estimators at these sizes.
func TestDiagnosticsCalibration(t *testing.T) {
	rnd := rand.New(rand.NewPCG(7, 11))
	for _, phi := range []float64{0, 0.5, 0.9, -0.5} {
		x := ar1(rnd, 4, 5000, phi)
		s := 20000.0
		want := s * (1 - phi) / (1 + phi)
		if phi < 0 {
			want = math.Min(want, s*math.Log10(s))
		}
		var g Diagnostics
		g.Reset(x)
		if r := g.EssMean() / want; r < 0.85 || r > 1.15 {
			t.Errorf("φ=%v: ess_mean %.0f, theory %.0f", phi, g.EssMean(), want)
		}
		if rh := g.Rhat(); rh > 1.01 || rh < 0.995 {
			t.Errorf("φ=%v: rhat %v", phi, rh)
		}
	}
}

func BenchmarkEssBulkRhat(b *testing.B) {
	// 4 chains × 10,000 draws × 100 parameters, one goroutine.
	rnd := rand.New(rand.NewPCG(3, 4))
	vars := make([][][]float64, 100)
	for v := range vars {
		vars[v] = ar1(rnd, 4, 10000, 0.3+0.006*float64(v))
	}
	var g Diagnostics
	b.ResetTimer()
	for b.Loop() {
		for _, x := range vars {
			g.Reset(x)
			_ = g.EssBulk()
			_ = g.Rhat()
		}
	}
}

// Going through variables of one shape with a warm Diagnostics must not
// allocate.
func TestDiagnosticsDoNotAllocate(t *testing.T) {
	rnd := rand.New(rand.NewPCG(5, 6))
	xs := [][][]float64{ar1(rnd, 4, 1001, 0.95), ar1(rnd, 4, 1001, 0.1)}
	var g Diagnostics
	all := func() {
		for _, x := range xs {
			g.Reset(x)
			g.Rhat()
			g.EssBulk()
			g.EssTail()
			g.McseMean()
			g.McseSd()
			g.McseMedian()
			g.EssSd()
			g.Mad()
			g.Quantile(0.05)
		}
	}
	all()
	if a := testing.AllocsPerRun(5, all); a != 0 {
		t.Errorf("%v allocations per pass over the variables", a)
	}
}

// mcseCoverage runs reps replications of m chains × n draws of a
// stationary AR(1) process with mean 0 and returns how often the intervals
// mean ± 1.96·mcse_mean and median ± 1.96·mcse_median cover 0.
func mcseCoverage(seed uint64, reps, m, n int, phi float64) (mean, median float64) {
	rnd := rand.New(rand.NewPCG(seed, 99))
	var g Diagnostics
	hitMean, hitMedian := 0, 0
	for range reps {
		x := ar1(rnd, m, n, phi)
		g.Reset(x)
		if math.Abs(g.Mean()) <= 1.96*g.McseMean() {
			hitMean++
		}
		if math.Abs(g.Median()) <= 1.96*g.McseMedian() {
			hitMedian++
		}
	}
	return float64(hitMean) / float64(reps), float64(hitMedian) / float64(reps)
}

// Calibration of the Monte Carlo standard errors: nominal 95% intervals
// built from mcse_mean and mcse_median must cover the true value about 95%
// of the time. The tolerance is 4 binomial standard errors of the coverage
// over the replications (a false alarm about once in 16,000 runs for a
// perfectly calibrated MCSE), plus 1.5 points for the known small
// optimism of the ESS estimate with short chains (Vehtari et al. 2021,
// Fig. 3).
func TestMcseCoverage(t *testing.T) {
	const reps = 1500
	tol := 4*math.Sqrt(0.95*0.05/reps) + 0.015
	for _, tt := range []struct {
		phi  float64
		n    int
		seed uint64
	}{{0, 250, 1}, {0.6, 500, 2}, {-0.5, 250, 3}} {
		mean, median := mcseCoverage(tt.seed, reps, 4, tt.n, tt.phi)
		if math.Abs(mean-0.95) > tol || math.Abs(median-0.95) > tol {
			t.Errorf("φ=%v: coverage of mean %.3f, of median %.3f; want 0.95 ± %.3f", tt.phi, mean, median, tol)
		} else {
			t.Logf("φ=%v: coverage of mean %.3f, of median %.3f (0.95 ± %.3f)", tt.phi, mean, median, tol)
		}
	}
}

// The autocovariances summed directly and by FFT agree to rounding.
func TestAutocovarianceDirectMatchesFFT(t *testing.T) {
	rnd := rand.New(rand.NewPCG(8, 8))
	for _, n := range []int{3, 7, 64, 999, 1000} {
		x := ar1(rnd, 3, n, 0.8)
		var g Diagnostics
		g.Reset(x)
		cols := g.split(x)
		g.acovStart(cols)
		direct := make([]float64, len(cols[0]))
		for k := range direct {
			direct[k] = g.directLag(k)
		}
		g.acovStart(cols)
		g.acovFFT()
		for k, d := range direct {
			if math.Abs(d-g.acov[k]) > 1e-13*direct[0] {
				t.Errorf("n=%d lag %d: direct %v, FFT %v", n, k, d, g.acov[k])
			}
		}
	}
}
