package combine

import (
	"context"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"

	"github.com/epmc/epmc/rng"
)

// whitenedError returns, for draws x of a d-dimensional distribution
// claimed to be N(mu, cov): the standardised mean errors (mean_j − μ_j)/σ_j
// and the whitened covariance error W = L⁻¹ Ĉ L⁻ᵀ − I (cov = LLᵀ).
func whitenedError(x [][]float64, mu []float64, cov *mat.SymDense) ([]float64, *mat.Dense) {
	d := len(mu)
	mean, c := meanCov(x, d)
	z := make([]float64, d)
	for j := range d {
		z[j] = (mean[j] - mu[j]) / math.Sqrt(cov.At(j, j))
	}
	var ch mat.Cholesky
	ch.Factorize(cov)
	var l mat.TriDense
	ch.LTo(&l)
	var a, w mat.Dense
	a.Solve(&l, c)
	w.Solve(&l, a.T())
	for j := range d {
		w.Set(j, j, w.At(j, j)-1)
	}
	return z, &w
}

// The Gaussian methods are exact for Gaussian subposteriors: their output
// mean and covariance match the analytic product within Monte Carlo error.
// The error has two sources: the shards' finite draws (the product's
// mean estimate has covariance ≈ Σ*/T, its precision a relative error
// ≈ √(2/(MT))) and the N output draws (≈ Σ*/N for the mean; √(2/N) and
// √(1/N) for whitened variances and covariances). Tolerances are 4 of the
// combined standard errors.
func TestGaussianMethodsExact(t *testing.T) {
	const M, T, d = 8, 5000, 3
	cases := []struct {
		method          Method
		equal, diagonal bool
	}{
		{Consensus{}, false, false},
		{Parametric{}, false, false},
		{Swiss{}, false, false},
		{ConsensusDiag{}, false, true}, // exact when every Σ_m is diagonal
		{Average{}, true, false},       // exact when all Σ_m are equal
	}
	for i, c := range cases {
		t.Run(c.method.Name(), func(t *testing.T) {
			shards, mu, cov := gaussianShards(t, M, T, d, uint64(20+i), c.equal, c.diagonal)
			res, err := c.method.Combine(context.Background(), shards, Settings{Seed: 9})
			if err != nil {
				t.Fatal(err)
			}
			x := pool(res.Draws)
			n := float64(len(x))
			if len(res.Draws) != 4 || len(x) != 4000 {
				t.Fatalf("got %d chains, %d draws; want 4 × 1000", len(res.Draws), len(x))
			}
			z, w := whitenedError(x, mu, cov)
			for j := range d {
				if tol := 4 * math.Sqrt(1.0/T+1/n); math.Abs(z[j]) > tol {
					t.Errorf("mean[%d] off by %.3f sd, tolerance %.3f", j, z[j], tol)
				}
				for k := range d {
					v := 1.0
					if j == k {
						v = 2
					}
					if tol := 4 * math.Sqrt(v/n+v/(M*T)); math.Abs(w.At(j, k)) > tol {
						t.Errorf("whitened covariance error [%d,%d] = %.3f, tolerance %.3f", j, k, w.At(j, k), tol)
					}
				}
			}
		})
	}
}

// The weighting matters: with unequal shard covariances the unweighted
// average is biased, and the test above would catch it.
func TestAverageBiased(t *testing.T) {
	shards, mu, cov := gaussianShards(t, 8, 5000, 3, 20, false, false)
	res, err := Average{}.Combine(context.Background(), shards, Settings{Seed: 9})
	if err != nil {
		t.Fatal(err)
	}
	z, w := whitenedError(pool(res.Draws), mu, cov)
	worst := 0.0
	for j := range 3 {
		worst = math.Max(worst, math.Abs(z[j]))
		worst = math.Max(worst, math.Abs(w.At(j, j)))
	}
	if worst < 0.3 {
		t.Errorf("average looks exact (worst error %.3f) where it should not be", worst)
	}
}

// The KDE methods are exact in the limit; at finite T the KDE of each
// shard carries sampling noise that moves the product by more than the
// parametric estimate's Σ*/T, and that noise has no closed form. So the
// test replicates: R independent sets of Gaussian shards, and for each
// coordinate the mean over replicates of the standardised errors must be
// within 4 standard errors of zero (standard error from the replicates'
// spread), for the mean and for the variance. Each replicate must also be
// free of gross error (mean within 1 sd, variance within 100%): shards
// disagree here as real ones do (their means a shard sd apart), so single
// replicates err by up to half a posterior sd at d = 3. d = 5 with more
// shards and draws runs in the long tests.
func TestKDEMethodsExact(t *testing.T) {
	for _, d := range []int{2, 3} {
		for _, method := range []Method{Nonparametric{}, Semiparametric{}} {
			t.Run(fmt.Sprintf("%s/d=%d", method.Name(), d), func(t *testing.T) {
				replicateExactness(t, method, 4, 3000, d, 8, 1, true)
			})
		}
	}
}

// replicateExactness runs the replicate test; with checkVar false the
// variance is reported but not held to unbiasedness.
func replicateExactness(t *testing.T, method Method, M, T, d, R int, gross float64, checkVar bool) {
	meanErr := make([][]float64, d)
	varErr := make([][]float64, d)
	for r := range R {
		shards, mu, cov := gaussianShards(t, M, T, d, uint64(1000*d+r), false, false)
		res, err := method.Combine(context.Background(), shards, Settings{Seed: uint64(r), Chains: 2, Draws: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if r == 0 {
			t.Logf("replicate 0: h = %.3f (cross-validated %.3f), effective draws %.0f, parametric start %v", res.Info.Bandwidth, res.Info.BandwidthLCV, res.Info.EffectiveDraws, res.Info.ParametricStart)
		}
		z, w := whitenedError(pool(res.Draws), mu, cov)
		for j := range d {
			meanErr[j] = append(meanErr[j], z[j])
			varErr[j] = append(varErr[j], w.At(j, j))
			if math.Abs(z[j]) > gross || math.Abs(w.At(j, j)) > gross {
				t.Errorf("replicate %d: coordinate %d mean error %.3f sd, variance error %.3f", r, j, z[j], w.At(j, j))
			}
		}
	}
	for j := range d {
		for _, e := range []struct {
			what string
			x    []float64
		}{{"mean", meanErr[j]}, {"variance", varErr[j]}} {
			m, v := meanVar(e.x)
			se := math.Sqrt(v / float64(R))
			if math.Abs(m) > 4*se && (checkVar || e.what == "mean") {
				t.Errorf("coordinate %d: %s error averages %.4f over %d replicates, standard error %.4f", j, e.what, m, R, se)
			}
			t.Logf("coordinate %d: %s error %.4f ± %.4f (rms %.4f)", j, e.what, m, se, math.Sqrt(m*m+v))
		}
	}
}

// bimodalShards: every shard is a mixture of N((±3, 0), I) with its own
// weight π_m on the + mode, so the product is (to within e^{−18} from the
// cross terms) a mixture of N((±3, 0), I/M) with weight Π π_m on + against
// Π (1 − π_m) on −.
func bimodalShards(M, T int, seed uint64) ([][][]float64, [][]float64) {
	pis := []float64{0.5, 0.6, 0.4, 0.55, 0.5, 0.45, 0.6, 0.5}[:M]
	r := rng.NewRand(seed)
	shards := make([][][]float64, M)
	for m := range M {
		for range T {
			x := -3.0
			if r.Float64() < pis[m] {
				x = 3
			}
			shards[m] = append(shards[m], []float64{x + r.NormFloat64(), r.NormFloat64()})
		}
	}
	// Exact draws of the product: enumerate the 2^M component choices.
	weights := map[float64]float64{}
	for k := range 1 << M {
		w, sum := 1.0, 0.0
		locs := make([]float64, M)
		for m := range M {
			if k>>m&1 == 1 {
				w *= pis[m]
				locs[m] = 3
			} else {
				w *= 1 - pis[m]
				locs[m] = -3
			}
			sum += locs[m]
		}
		mean := sum / float64(M)
		S := 0.0
		for _, l := range locs {
			S += (l - mean) * (l - mean)
		}
		weights[mean] += w * math.Exp(-S/2)
	}
	var locs, cum []float64
	total := 0.0
	for l, w := range weights {
		locs = append(locs, l)
		total += w
		cum = append(cum, total)
	}
	sd := 1 / math.Sqrt(float64(M))
	var exact [][]float64
	for range 20000 {
		u := r.Float64() * total
		i := 0
		for cum[i] < u {
			i++
		}
		exact = append(exact, []float64{locs[i] + sd*r.NormFloat64(), sd * r.NormFloat64()})
	}
	return shards, exact
}

// Multimodality: the KDE methods keep both modes with the right weights
// (MMTV < 0.1 against exact draws of the product); the Gaussian product
// cannot.
func TestMultimodal(t *testing.T) {
	shards, exact := bimodalShards(4, 5000, 1)
	names := []string{"x", "y"}
	plusExact := 0.0
	for _, x := range exact {
		if x[0] > 0 {
			plusExact++
		}
	}
	plusExact /= float64(len(exact))
	for _, method := range []Method{Nonparametric{}, Semiparametric{}, Parametric{}} {
		t.Run(method.Name(), func(t *testing.T) {
			res, err := method.Combine(context.Background(), shards, Settings{Seed: 3})
			if err != nil {
				t.Fatal(err)
			}
			dist, err := Compare(pool(res.Draws), exact, names, CompareOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if method.Name() == "parametric" {
				if dist.MMTV < 0.25 {
					t.Errorf("parametric MMTV %.3f: a Gaussian should not fit two modes", dist.MMTV)
				}
				return
			}
			if dist.MMTV >= 0.1 {
				t.Errorf("MMTV %.3f, want < 0.1", dist.MMTV)
			}
			// The weight of the + mode, within 4 Monte Carlo standard
			// errors (batch means) of the exact weight.
			plus := func(x []float64) float64 {
				if x[0] > 0 {
					return 1
				}
				return 0
			}
			se, _ := batchMCSE(res.Draws, plus)
			got := 0.0
			for _, x := range pool(res.Draws) {
				got += plus(x)
			}
			got /= 4000
			seExact := math.Sqrt(plusExact * (1 - plusExact) / float64(len(exact)))
			if tol := 4 * math.Hypot(se, seExact); math.Abs(got-plusExact) > tol {
				t.Errorf("weight of the + mode %.3f, exact %.3f, tolerance %.3f", got, plusExact, tol)
			}
			t.Logf("MMTV %.3f, + weight %.3f (exact %.3f ± %.3f), swap acceptance %v; h = %.3f (cross-validated %.3f), effective draws %.0f",
				dist.MMTV, got, plusExact, se, res.Info.SwapAcceptance[0], res.Info.Bandwidth, res.Info.BandwidthLCV, res.Info.EffectiveDraws)
		})
	}
}

// Output depends only on the seed, never on the number of workers.
func TestBitIdenticalAcrossWorkers(t *testing.T) {
	shards, _, _ := gaussianShards(t, 4, 2000, 2, 5, false, false)
	for _, method := range []Method{Nonparametric{}, Semiparametric{}, Consensus{}, Parametric{}, Swiss{}} {
		a, err := method.Combine(context.Background(), shards, Settings{Seed: 4, Workers: 1, Draws: 300})
		if err != nil {
			t.Fatal(err)
		}
		b, err := method.Combine(context.Background(), shards, Settings{Seed: 4, Workers: 3, Draws: 300})
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Errorf("%s: output differs between 1 and 3 workers", method.Name())
		}
		c, _ := method.Combine(context.Background(), shards, Settings{Seed: 5, Workers: 3, Draws: 300})
		if reflect.DeepEqual(a.Draws, c.Draws) {
			t.Errorf("%s: seed does not change the output", method.Name())
		}
	}
}

func TestMarkovInfo(t *testing.T) {
	shards, _, _ := gaussianShards(t, 3, 1500, 2, 6, false, false)
	res, err := Semiparametric{MarkovOptions{Bandwidth: Bandwidth{Rule: BandwidthSilverman}, Burn: 500, Thin: 2, Levels: 3}}.
		Combine(context.Background(), shards, Settings{Seed: 1, Chains: 3, Draws: 200})
	if err != nil {
		t.Fatal(err)
	}
	in := res.Info
	want := math.Pow(4/(4*(1500+1537+1574)/3.0), 1.0/6)
	if in.Burn != 500 || !reflect.DeepEqual(in.Thin, []int{2, 2, 2}) || len(in.Ladder) != 3 ||
		math.Abs(in.Bandwidth-want) > 1e-12 || in.Ladder[0] != in.Bandwidth || in.BandwidthRule != "silverman" {
		t.Errorf("info %+v", in)
	}
	if len(in.Acceptance) != 3 || len(in.ShardAcceptance[0]) != 3 || len(in.SwapAcceptance[0]) != 2 {
		t.Errorf("acceptance shapes %+v", in)
	}
	for _, a := range in.Acceptance {
		if !(a > 0 && a < 1) {
			t.Errorf("acceptance %v", in.Acceptance)
		}
	}
	if !(in.BaseBandwidth > in.Bandwidth) || !in.Anneal {
		t.Errorf("annealing: base %g, final %g", in.BaseBandwidth, in.Bandwidth)
	}
}

// Annealing must be over when burn-in is: a burn-in shorter than the
// default horizon (here 1537 sweeps) used to leave the first kept sweeps
// at wider, annealed bandwidths, so the output was too wide and its
// chain not time-homogeneous. The first sweep's bandwidth shows the
// schedule the chains ran.
func TestAnnealingEndsWithBurnIn(t *testing.T) {
	shards, _, _ := gaussianShards(t, 3, 1500, 2, 6, false, false)
	const h = 0.3
	for _, c := range []struct {
		burn, wantBurn int
		anneal         bool
	}{{200, 200, true}, {-1, 0, false}} {
		t.Run(fmt.Sprint(c.burn), func(t *testing.T) {
			opts := MarkovOptions{Bandwidth: Bandwidth{Rule: BandwidthFixed, Value: h}, Burn: c.burn, Levels: 1}
			res, err := Nonparametric{MarkovOptions: opts}.Combine(context.Background(), shards, Settings{Seed: 1, Chains: 1, Draws: 50})
			if err != nil {
				t.Fatal(err)
			}
			in := res.Info
			want := h
			if c.anneal {
				want = h * math.Pow(float64(c.burn), 1.0/6)
			}
			if in.Burn != c.wantBurn || in.Anneal != c.anneal || math.Abs(in.BaseBandwidth-want) > 1e-12 || in.Bandwidth != h {
				t.Errorf("burn %d, anneal %v, base bandwidth %g, final %g; want burn %d, anneal %v, base %g, final %g",
					in.Burn, in.Anneal, in.BaseBandwidth, in.Bandwidth, c.wantBurn, c.anneal, want, h)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	shards, _, _ := gaussianShards(t, 3, 1500, 2, 6, false, false)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for _, method := range []Method{Nonparametric{}, Consensus{}} {
		if _, err := method.Combine(ctx, shards, Settings{}); err == nil {
			t.Errorf("%s: want an error from a cancelled context", method.Name())
		}
	}
}

func TestBadShards(t *testing.T) {
	good := func() [][]float64 {
		r := rng.NewRand(1)
		var x [][]float64
		for range 50 {
			x = append(x, []float64{r.NormFloat64(), r.NormFloat64()})
		}
		return x
	}
	constant := good()
	for _, row := range constant {
		row[1] = 2
	}
	cases := []struct {
		name   string
		shards [][][]float64
		want   string
	}{
		{"none", nil, "no shards"},
		{"empty shard", [][][]float64{good(), {}}, "shard 2 has 0 draws"},
		{"ragged", [][][]float64{good(), {{1, 2}, {1}, {2, 3}}}, "shard 2, draw 2 has 1 coordinates, want 2"},
		{"nan", [][][]float64{good(), {{1, 2}, {math.NaN(), 1}, {2, 3}}}, "shard 2, draw 2, coordinate 1 is NaN"},
		{"constant parameter", [][][]float64{good(), constant}, "shard 2: the covariance of its 50 draws is singular"},
	}
	for _, c := range cases {
		for _, name := range Names() {
			method, _ := ByName(name, MarkovOptions{})
			if name == "average" && c.name == "constant parameter" {
				continue // needs no covariance
			}
			_, err := method.Combine(context.Background(), c.shards, Settings{Draws: 10})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("%s, %s: error %v, want %q", c.name, name, err, c.want)
			}
		}
	}
	if _, err := ByName("magic", MarkovOptions{}); err == nil || !strings.Contains(err.Error(), `unknown method "magic"`) {
		t.Errorf("unknown method: %v", err)
	}
}

func TestParseBandwidth(t *testing.T) {
	for in, want := range map[string]Bandwidth{
		"auto": {Rule: BandwidthAuto}, "Scott": {Rule: BandwidthScott}, "silverman": {Rule: BandwidthSilverman},
		"0.25": {Rule: BandwidthFixed, Value: 0.25},
	} {
		got, err := ParseBandwidth(in)
		if err != nil || got != want {
			t.Errorf("%q: %v, %v", in, got, err)
		}
	}
	for _, bad := range []string{"-1", "0", "wide", "NaN", "Inf"} {
		if _, err := ParseBandwidth(bad); err == nil {
			t.Errorf("%q: want an error", bad)
		}
	}
}

func TestGaussianProduct(t *testing.T) {
	shards, mu, cov := gaussianShards(t, 6, 20000, 2, 8, false, false)
	m, c, err := GaussianProduct(shards)
	if err != nil {
		t.Fatal(err)
	}
	for j := range 2 {
		if tol := 4 * math.Sqrt(cov.At(j, j)/20000); math.Abs(m[j]-mu[j]) > tol {
			t.Errorf("mean[%d] = %g, want %g ± %g", j, m[j], mu[j], tol)
		}
		if tol := 4 * math.Sqrt(2.0/(6*20000)) * cov.At(j, j); math.Abs(c.At(j, j)-cov.At(j, j)) > tol {
			t.Errorf("var[%d] = %g, want %g ± %g", j, c.At(j, j), cov.At(j, j), tol)
		}
	}
}
