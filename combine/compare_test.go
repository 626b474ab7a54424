package combine

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	"github.com/epmc/epmc/rng"
)

// compareGolden holds the values made by testdata/combine/compare_golden.R.
type compareGolden struct {
	A, B                 [][]float64
	MaxMeanErrorSD       float64 `json:"max_mean_error_sd"`
	MahalanobisMeanError float64 `json:"mahalanobis_mean_error"`
	CovRelError          float64 `json:"cov_rel_error"`
	EnergyDistance       float64 `json:"energy_distance"`
	PerParameter         []struct {
		MeanErrorSD float64 `json:"mean_error_sd"`
		CovRelError float64 `json:"cov_rel_error"`
		KS          float64 `json:"ks"`
		TV          float64 `json:"tv"`
		Energy      float64 `json:"energy"`
	} `json:"per_parameter"`
}

func TestCompareAgainstR(t *testing.T) {
	b, err := os.ReadFile("../testdata/combine/compare_golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g compareGolden
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	names := []string{"a", "b", "c"}
	got, err := Compare(g.A, g.B, names, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	check := func(what string, got, want, tol float64) {
		t.Helper()
		if math.Abs(got-want) > tol*math.Max(1, math.Abs(want)) {
			t.Errorf("%s = %.10g, R %.10g", what, got, want)
		}
	}
	check("max_mean_error_sd", got.MaxMeanErrorSD, g.MaxMeanErrorSD, 1e-12)
	check("mahalanobis_mean_error", got.MahalanobisMeanError, g.MahalanobisMeanError, 1e-12)
	check("cov_rel_error", got.CovRelError, g.CovRelError, 1e-12)
	check("energy_distance", got.EnergyDistance, g.EnergyDistance, 1e-9)
	ksMax, mmtv := 0.0, 0.0
	for j, p := range g.PerParameter {
		gp := got.Params[j]
		check(names[j]+" mean error", gp.MeanErrorSD, p.MeanErrorSD, 1e-12)
		check(names[j]+" cov error", gp.CovRelError, p.CovRelError, 1e-12)
		check(names[j]+" KS", gp.KS, p.KS, 1e-12)
		check(names[j]+" energy", gp.EnergyDistance, p.Energy, 1e-10)
		// R's density() bins differently (on 2n points over a range wider
		// by 4 bandwidths, then interpolates): the binning errors differ.
		check(names[j]+" TV", gp.TV, p.TV, 2e-3)
		ksMax = math.Max(ksMax, p.KS)
		mmtv += p.TV / 3
	}
	check("ks_max", got.KSMax, ksMax, 1e-12)
	check("mmtv", got.MMTV, mmtv, 2e-3)
	if got.EnergyDraws != [2]int{1500, 1200} {
		t.Errorf("energy draws %v", got.EnergyDraws)
	}
}

func TestCompareJSON(t *testing.T) {
	r := rng.NewRand(1)
	a := make([][]float64, 300)
	b := make([][]float64, 300)
	for i := range a {
		a[i] = []float64{r.NormFloat64(), r.NormFloat64() + 0.5}
		b[i] = []float64{r.NormFloat64(), r.NormFloat64()}
	}
	d, err := Compare(a, b, []string{"z", "beta[1]"}, CompareOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(js, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", js, err)
	}
	for _, k := range []string{"max_mean_error_sd", "mahalanobis_mean_error", "cov_rel_error", "ks_max", "mmtv", "energy_distance"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s", k)
		}
		pp := m["per_parameter"].(map[string]any)["beta[1]"].(map[string]any)
		if _, ok := pp[k]; !ok {
			t.Errorf("per_parameter lacks %s", k)
		}
	}
	// Keys in column order.
	if i, j := strings.Index(string(js), `"z":{`), strings.Index(string(js), `"beta[1]":{`); !(i > 0 && i < j) {
		t.Errorf("per_parameter not in column order: %s", js)
	}
	// One-dimensional reductions: the multivariate figures of a single
	// parameter equal its own.
	one, _ := Compare(col0(a, 1), col0(b, 1), []string{"beta[1]"}, CompareOptions{})
	p := d.Params[1]
	if math.Abs(one.MahalanobisMeanError-p.MeanErrorSD) > 1e-12 || math.Abs(one.CovRelError-p.CovRelError) > 1e-12 ||
		math.Abs(one.EnergyDistance-p.EnergyDistance) > 1e-10 || one.MMTV != p.TV || one.KSMax != p.KS {
		t.Errorf("1-D reduction: %+v vs %+v", one, p)
	}
}

func col0(x [][]float64, j int) [][]float64 {
	out := make([][]float64, len(x))
	for i, r := range x {
		out[i] = []float64{r[j]}
	}
	return out
}

// Identical draw sets are at distance zero; sets from the same
// distribution are close, and a shifted set is not.
func TestCompareSanity(t *testing.T) {
	r := rng.NewRand(2)
	draw := func(n int, shift float64) [][]float64 {
		out := make([][]float64, n)
		for i := range out {
			out[i] = []float64{r.NormFloat64() + shift, r.NormFloat64()}
		}
		return out
	}
	a := draw(4000, 0)
	same, _ := Compare(a, a, []string{"x", "y"}, CompareOptions{})
	if same.MaxMeanErrorSD != 0 || same.KSMax != 0 || same.MMTV > 1e-12 || same.EnergyDistance != 0 || same.CovRelError > 1e-12 {
		t.Errorf("identical sets: %+v", same)
	}
	b := draw(4000, 0)
	near, _ := Compare(a, b, []string{"x", "y"}, CompareOptions{})
	// Two independent samples of 4000: KS D has sd ≈ 0.87/√2000·… ; mean
	// error sd ≈ √(2/4000) = 0.022.
	if near.MaxMeanErrorSD > 4*math.Sqrt(2.0/4000) || near.KSMax > 0.05 || near.MMTV > 0.05 {
		t.Errorf("same distribution: %+v", near)
	}
	c := draw(4000, 1)
	far, _ := Compare(c, b, []string{"x", "y"}, CompareOptions{})
	// N(1,1) against N(0,1): TV = 2Φ(½) − 1 = 0.383 in x, 0 in y.
	if math.Abs(far.Params[0].TV-0.383) > 0.04 || math.Abs(far.MaxMeanErrorSD-1) > 0.1 {
		t.Errorf("shifted: %+v", far.Params[0])
	}
	big := draw(5000, 0)
	capped, _ := Compare(big, b, []string{"x", "y"}, CompareOptions{EnergyCap: 500, Seed: 3})
	if capped.EnergyDraws != [2]int{500, 500} {
		t.Errorf("energy subsample %v", capped.EnergyDraws)
	}
}

func TestCompareErrors(t *testing.T) {
	ok := [][]float64{{0, 1}, {1, 0}, {2, 2}}
	cases := []struct {
		a, b  [][]float64
		names []string
		want  string
	}{
		{ok, ok, nil, "no parameters"},
		{ok[:1], ok, []string{"x", "y"}, "A has 1 draws"},
		{ok, [][]float64{{0, 1}, {1}}, []string{"x", "y"}, "B: draw 2 has 1 values for 2 parameters"},
		{ok, [][]float64{{0, 1}, {1, 1}, {2, 1}}, []string{"x", "y"}, "parameter y is constant in B"},
		{ok, [][]float64{{0, 0}, {1, 1}, {2, 2}}, []string{"x", "y"}, "B's covariance matrix is singular"},
		// A NaN used to be reported as a constant parameter.
		{ok, [][]float64{{0, 1}, {1, math.NaN()}, {2, 2}}, []string{"x", "y"}, "B: draw 2 of parameter y is NaN"},
		{[][]float64{{math.Inf(1), 1}, {1, 0}}, ok, []string{"x", "y"}, "A: draw 1 of parameter x is +Inf"},
	}
	for _, c := range cases {
		if _, err := Compare(c.a, c.b, c.names, CompareOptions{}); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("error %v, want %q", err, c.want)
		}
	}
}
