package combine

import (
	"context"
	"math"
	"reflect"
	"strings"
	"testing"
)

// skewCorrection runs the KDE methods on R replicates of skewed shards
// whose product is known exactly (logGammaShards) and checks that they
// remove the Gaussian product's bias: for every coordinate the mean over
// replicates of the standardised mean error is within 4 standard errors
// (from the replicates' spread) of zero, or at least within half the
// parametric bias, which itself must be clearly present. It returns the
// replicates' errors for logging.
func skewCorrection(t *testing.T, d, M, T, R int, jit float64, strict bool) {
	const a = 25 // shard skewness about −1/√a = −0.2
	gauss := make([][]float64, d)
	errs := map[string][][]float64{}
	methods := []Method{Nonparametric{}, Semiparametric{}}
	for r := range R {
		shards, mean, vars := logGammaShards(M, T, d, a, jit, uint64(100*d+r))
		mu, _, err := GaussianProduct(shards)
		if err != nil {
			t.Fatal(err)
		}
		for j := range d {
			gauss[j] = append(gauss[j], (mu[j]-mean[j])/math.Sqrt(vars[j]))
		}
		for _, method := range methods {
			res, err := method.Combine(context.Background(), shards, Settings{Seed: uint64(r), Chains: 2, Draws: 1000})
			if err != nil {
				t.Fatal(err)
			}
			if res.Info.ParametricStart {
				t.Errorf("%s, replicate %d: fell back to the parametric start: %v", method.Name(), r, res.Info.Notes)
			}
			m, _ := meanVarCols(pool(res.Draws))
			if errs[method.Name()] == nil {
				errs[method.Name()] = make([][]float64, d)
			}
			for j := range d {
				errs[method.Name()][j] = append(errs[method.Name()][j], (m[j]-mean[j])/math.Sqrt(vars[j]))
			}
		}
	}
	for j := range d {
		bias, _ := meanVar(gauss[j])
		if bias > -0.1 {
			t.Fatalf("coordinate %d: the Gaussian product's bias is only %.3f sd; the test needs a clearly skewed case", j, bias)
		}
		for _, method := range methods {
			x := errs[method.Name()][j]
			m, v := meanVar(x)
			se := math.Sqrt(v / float64(R))
			t.Logf("%s, coordinate %d: mean error %+.3f ± %.3f sd (Gaussian product %+.3f)", method.Name(), j, m, se, bias)
			switch {
			case strict && math.Abs(m) > 4*se:
				t.Errorf("%s, coordinate %d: mean error averages %+.3f sd over %d replicates, standard error %.3f (Gaussian product %+.3f)", method.Name(), j, m, R, se, bias)
			case !strict && math.Abs(m)-4*se > math.Abs(bias)/2:
				t.Errorf("%s, coordinate %d: mean error %+.3f ± %.3f sd removes less than half the Gaussian product's bias %+.3f", method.Name(), j, m, se, bias)
			}
		}
	}
}

// In one dimension the KDE methods at the automatic bandwidth remove the
// skewness bias of the Gaussian product exactly (within Monte Carlo
// error): here the product of eight log-gamma shards, whose Gaussian
// product is off by about 0.2 sd.
func TestSkewCorrection(t *testing.T) {
	skewCorrection(t, 1, 8, 4000, 6, 0.3, true)
}

// The automatic bandwidth starts at cross-validation and only widens: the
// chosen h passes the effective-draws target, and the next narrower
// candidate (when it is not the cross-validated start) does not.
func TestAutoBandwidthCalibration(t *testing.T) {
	skewed, _, _ := logGammaShards(8, 3000, 2, 25, 0.3, 3)
	bimodal, _ := bimodalShards(4, 5000, 1)
	for _, c := range []struct {
		name   string
		shards [][][]float64
	}{{"skewed", skewed}, {"bimodal", bimodal}} {
		for _, method := range []Method{Nonparametric{}, Semiparametric{}} {
			t.Run(c.name+"/"+method.Name(), func(t *testing.T) {
				res, err := method.Combine(context.Background(), c.shards, Settings{Seed: 2, Chains: 2, Draws: 200})
				if err != nil {
					t.Fatal(err)
				}
				in := res.Info
				if in.ParametricStart {
					t.Fatalf("fell back to the parametric start: %v", in.Notes)
				}
				if !(in.Bandwidth >= in.BandwidthLCV) || len(in.Calibration) == 0 {
					t.Fatalf("h = %g, cross-validated %g, calibration %v", in.Bandwidth, in.BandwidthLCV, in.Calibration)
				}
				last := in.Calibration[len(in.Calibration)-1]
				if last.Bandwidth != in.BandwidthLCV {
					t.Errorf("the calibration does not end at the cross-validated h: %v", in.Calibration)
				}
				for k, st := range in.Calibration {
					if k > 0 && !(st.Bandwidth < in.Calibration[k-1].Bandwidth) {
						t.Errorf("candidates not decreasing: %v", in.Calibration)
					}
					if st.Bandwidth == in.Bandwidth {
						if st.EffectiveDraws < DefaultMinEffectiveDraws {
							t.Errorf("chosen h = %g has %g effective draws", st.Bandwidth, st.EffectiveDraws)
						}
						if k+1 < len(in.Calibration) && in.Calibration[k+1].EffectiveDraws >= DefaultMinEffectiveDraws {
							t.Errorf("h = %g chosen though the narrower %g passes: %v", st.Bandwidth, in.Calibration[k+1].Bandwidth, in.Calibration)
						}
					}
				}
				if len(in.EffectiveDraws) != len(c.shards) {
					t.Errorf("effective draws %v", in.EffectiveDraws)
				}
				t.Logf("h = %.3f (cross-validated %.3f), effective draws %.0f", in.Bandwidth, in.BandwidthLCV, in.EffectiveDraws)
			})
		}
	}
	// A larger target can only widen the kernels.
	lo, err := Nonparametric{MarkovOptions: MarkovOptions{MinEffectiveDraws: 100}}.Combine(context.Background(), skewed, Settings{Seed: 2, Draws: 100})
	if err != nil {
		t.Fatal(err)
	}
	hi, err := Nonparametric{MarkovOptions: MarkovOptions{MinEffectiveDraws: 1500}}.Combine(context.Background(), skewed, Settings{Seed: 2, Draws: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !(hi.Info.Bandwidth > lo.Info.Bandwidth) {
		t.Errorf("target 1500 gives h = %g, target 100 h = %g", hi.Info.Bandwidth, lo.Info.Bandwidth)
	}
	if _, err := (Nonparametric{MarkovOptions: MarkovOptions{MinEffectiveDraws: -1}}).Combine(context.Background(), skewed, Settings{}); err == nil {
		t.Error("negative target accepted")
	}
}

// Where the draws are too sparse for the KDE correction (six dimensions,
// 1,500 draws per shard, shards a shard sd apart), semiparametric returns
// its parametric start — exactly the parametric method's draws for the
// same seed — and says why; nonparametric keeps the widest bandwidth its
// variance correction allows and warns.
func TestSparseShardsFallBack(t *testing.T) {
	shards, _, _ := gaussianShards(t, 8, 1500, 6, 31, false, false)
	s := Settings{Seed: 5, Chains: 2, Draws: 300, ShardLabels: []string{"first"}}
	semi, err := Semiparametric{}.Combine(context.Background(), shards, s)
	if err != nil {
		t.Fatal(err)
	}
	par, err := Parametric{}.Combine(context.Background(), shards, s)
	if err != nil {
		t.Fatal(err)
	}
	in := semi.Info
	if !in.ParametricStart || !reflect.DeepEqual(semi.Draws, par.Draws) {
		t.Fatalf("semiparametric did not return the parametric start: info %+v", in)
	}
	if in.Method != "semiparametric" || len(in.Notes) != 1 || !strings.Contains(in.Notes[0], "the KDE correction cannot be estimated from these draws") ||
		!strings.Contains(in.Notes[0], "the result is the parametric start alone") {
		t.Errorf("notes %q", in.Notes)
	}
	if in.Calibration[0].Bandwidth != hotBandwidth {
		t.Errorf("calibration %v does not start at h = 1", in.Calibration)
	}

	np, err := Nonparametric{}.Combine(context.Background(), shards, s)
	if err != nil {
		t.Fatal(err)
	}
	in = np.Info
	if in.Bandwidth != in.Calibration[0].Bandwidth || in.Calibration[0].EffectiveDraws >= DefaultMinEffectiveDraws {
		t.Errorf("h = %g, calibration %v", in.Bandwidth, in.Calibration)
	}
	if len(in.Notes) == 0 || !strings.Contains(in.Notes[0], "the KDE product is poorly determined") {
		t.Errorf("notes %q", in.Notes)
	}
}

// As h grows the semiparametric product tends to the Gaussian product
// (Hjort–Glad with a flat correction): at h = 50 whitened units its mean
// and variance match the parametric moments within Monte Carlo error plus
// the O(1/h²) departure bound M√λ·R/h² (R the largest whitened distance of
// a draw from the product mean, a few units here).
func TestSemiparametricLargeBandwidthLimit(t *testing.T) {
	shards, _, _ := logGammaShards(8, 3000, 1, 25, 0.3, 9)
	mu, cov, err := GaussianProduct(shards)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Semiparametric{MarkovOptions{Bandwidth: Bandwidth{Rule: BandwidthFixed, Value: 50}}}.
		Combine(context.Background(), shards, Settings{Seed: 3, Chains: 4, Draws: 2000})
	if err != nil {
		t.Fatal(err)
	}
	sd := math.Sqrt(cov.At(0, 0))
	se, _ := batchMCSE(res.Draws, func(x []float64) float64 { return x[0] })
	seV, _ := batchMCSE(res.Draws, func(x []float64) float64 { return (x[0] - mu[0]) * (x[0] - mu[0]) })
	m, v := meanVarCols(pool(res.Draws))
	if tol := 4*se + 8*math.Sqrt(0.125)*6/2500*sd; math.Abs(m[0]-mu[0]) > tol {
		t.Errorf("mean %.5f, Gaussian product %.5f, tolerance %.5f", m[0], mu[0], tol)
	}
	if tol := 4*seV/cov.At(0, 0) + 8*0.125/2500; math.Abs(v[0]/cov.At(0, 0)-1) > tol {
		t.Errorf("variance ratio %.4f, tolerance %.4f", v[0]/cov.At(0, 0), tol)
	}
	t.Logf("mean %+.4f sd from the Gaussian product (MCSE %.4f), variance ratio %.4f", (m[0]-mu[0])/sd, se/sd, v[0]/cov.At(0, 0))
}
