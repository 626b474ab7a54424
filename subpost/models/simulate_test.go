package models

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/stat"

	"github.com/epmc/epmc/subpost/data"
)

func TestSimulateDeterministic(t *testing.T) {
	for _, model := range Names() {
		a, ta, err := Simulate(model, SimConfig{N: 50, Seed: 3})
		if err != nil {
			t.Fatal(err)
		}
		b, tb, _ := Simulate(model, SimConfig{N: 50, Seed: 3})
		c, _, _ := Simulate(model, SimConfig{N: 50, Seed: 4})
		if !reflect.DeepEqual(a, b) || !reflect.DeepEqual(ta, tb) {
			t.Errorf("%s: two runs with one seed differ", model)
		}
		if reflect.DeepEqual(a.Cols, c.Cols) {
			t.Errorf("%s: seeds 3 and 4 give the same data", model)
		}
	}
}

// TestSimulateTruthNamesMatchModels: the truth is named like the draws
// columns of the model fitted to the simulated columns.
func TestSimulateTruthNamesMatchModels(t *testing.T) {
	for _, c := range []struct {
		model string
		sim   SimConfig
	}{
		{"logistic", SimConfig{D: 3}}, {"linear", SimConfig{D: 2}}, {"poisson", SimConfig{D: 4}},
		{"normal", SimConfig{D: 1}}, {"normal", SimConfig{D: 3}},
		{"mixture", SimConfig{D: 1, K: 2}}, {"mixture", SimConfig{D: 2, K: 3}},
	} {
		tab, truth, err := Simulate(c.model, c.sim)
		if err != nil {
			t.Fatal(err)
		}
		var o Options
		if isRegression(c.model) {
			o.X = tab.Names[1:]
		} else {
			o.Y = tab.Names
		}
		if c.model == "mixture" {
			o.Components = c.sim.K
		}
		m, _, err := Build(c.model, tab, []int{0, 1, 2}, o)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range m.Params() {
			names = append(names, p.ScalarNames()...)
		}
		if !reflect.DeepEqual(names, truth.Names) {
			t.Errorf("%s %+v: truth %v, model %v", c.model, c.sim, truth.Names, names)
		}
		if v, ok := truth.Get(truth.Names[0]); !ok || v != truth.Values[0] {
			t.Error("Truth.Get")
		}
	}
}

// TestSimulateMoments checks the generators against their documented
// rules, with tolerances of 5 standard errors.
func TestSimulateMoments(t *testing.T) {
	const n = 20000
	t.Run("predictor correlation", func(t *testing.T) {
		tab, _, _ := Simulate("logistic", SimConfig{N: n, D: 3, Rho: 0.6, Seed: 1})
		for _, c := range []struct {
			a, b int
			want float64
		}{{1, 2, 0.6}, {2, 3, 0.6}, {1, 3, 0.36}} {
			r := stat.Correlation(tab.Cols[c.a], tab.Cols[c.b], nil)
			if se := (1 - c.want*c.want) / math.Sqrt(n); math.Abs(r-c.want) > 5*se {
				t.Errorf("corr(x%d, x%d) = %.4f, want %.2f", c.a, c.b, r, c.want)
			}
		}
		for j := 1; j <= 3; j++ {
			m, v := stat.MeanVariance(tab.Cols[j], nil)
			if math.Abs(m) > 5/math.Sqrt(n) || math.Abs(v-1) > 5*math.Sqrt(2.0/n) {
				t.Errorf("x%d: mean %.4f, variance %.4f", j, m, v)
			}
		}
	})
	t.Run("linear", func(t *testing.T) {
		tab, truth, _ := Simulate("linear", SimConfig{N: n, D: 2, Sigma: 0.5, Seed: 2})
		// Least squares recovers the truth within 5 standard errors.
		A := mat.NewDense(n, 3, nil)
		for i := 0; i < n; i++ {
			A.Set(i, 0, 1)
			A.Set(i, 1, tab.Cols[1][i])
			A.Set(i, 2, tab.Cols[2][i])
		}
		var qr mat.QR
		qr.Factorize(A)
		var b mat.VecDense
		if err := qr.SolveVecTo(&b, false, mat.NewVecDense(n, tab.Cols[0])); err != nil {
			t.Fatal(err)
		}
		for j, name := range []string{"alpha", "beta[1]", "beta[2]"} {
			want, _ := truth.Get(name)
			if math.Abs(b.AtVec(j)-want) > 5*0.5/math.Sqrt(n) {
				t.Errorf("%s: estimate %.4f, truth %.4f", name, b.AtVec(j), want)
			}
		}
	})
	t.Run("logistic", func(t *testing.T) {
		tab, truth, _ := Simulate("logistic", SimConfig{N: n, D: 2, Seed: 3})
		// Mean of y − logit⁻¹(η) is zero with sd ≤ 0.5/√n.
		a, _ := truth.Get("alpha")
		b1, _ := truth.Get("beta[1]")
		b2, _ := truth.Get("beta[2]")
		s := 0.0
		for i := 0; i < n; i++ {
			s += tab.Cols[0][i] - invLogit(a+b1*tab.Cols[1][i]+b2*tab.Cols[2][i])
		}
		if math.Abs(s/n) > 5*0.5/math.Sqrt(n) {
			t.Errorf("mean residual %.4f", s/n)
		}
	})
	t.Run("poisson", func(t *testing.T) {
		tab, truth, _ := Simulate("poisson", SimConfig{N: n, D: 1, Seed: 4})
		a, _ := truth.Get("alpha")
		b1, _ := truth.Get("beta[1]")
		s, v := 0.0, 0.0
		for i := 0; i < n; i++ {
			mu := math.Exp(a + b1*tab.Cols[1][i])
			s += tab.Cols[0][i] - mu
			v += mu
		}
		if math.Abs(s) > 5*math.Sqrt(v) {
			t.Errorf("sum of residuals %.1f, sd %.1f", s, math.Sqrt(v))
		}
	})
	t.Run("mixture", func(t *testing.T) {
		tab, truth, _ := Simulate("mixture", SimConfig{N: n, D: 1, K: 3, Seed: 5})
		want := 0.0
		for k := 1; k <= 3; k++ {
			w, _ := truth.Get(idx("w", k))
			mu, _ := truth.Get(idx("mu", k))
			want += w * mu
		}
		m, v := stat.MeanVariance(tab.Cols[0], nil)
		if math.Abs(m-want) > 5*math.Sqrt(v/n) {
			t.Errorf("mean %.4f, want %.4f", m, want)
		}
		if w1, _ := truth.Get("w[1]"); math.Abs(w1-1.0/6) > 1e-15 {
			t.Errorf("w[1] = %v", w1)
		}
	})
}

func TestSimulateDigitsAndErrors(t *testing.T) {
	tab, _, _ := Simulate("logistic", SimConfig{N: 30, D: 2, Digits: 3})
	for _, c := range tab.Cols {
		for _, v := range c {
			if r := math.Round(v*1000) / 1000; r != v {
				t.Fatalf("%v is not rounded to 3 decimals", v)
			}
		}
	}
	for _, c := range []struct {
		model string
		cfg   SimConfig
		want  string
	}{
		{"probit", SimConfig{}, "unknown model"},
		{"linear", SimConfig{Rho: 1}, "Rho"},
		{"linear", SimConfig{N: -1}, "positive"},
		{"mixture", SimConfig{K: 1}, "K must be at least 2"},
		{"normal", SimConfig{Sigma: -1}, "Sigma"},
	} {
		if _, _, err := Simulate(c.model, c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %+v: %v", c.model, c.cfg, err)
		}
	}
}

var update = flag.Bool("update", false, "rewrite the data files in testdata/data")

// dataFiles are the small data sets under testdata/data, for tests of the
// command line and for examples; TestDataFiles makes sure they are what
// their generator makes (go test ./subpost/models -run TestDataFiles
// -update rewrites them).
var dataFiles = []struct {
	name   string
	model  string
	cfg    SimConfig
	format data.Format
}{
	{"logistic.csv", "logistic", SimConfig{N: 400, D: 3, Rho: 0.3, Seed: 1, Digits: 4}, data.CSV},
	{"logistic.arrow", "logistic", SimConfig{N: 400, D: 3, Rho: 0.3, Seed: 1, Digits: 4}, data.ArrowFile},
	{"logistic.parquet", "logistic", SimConfig{N: 400, D: 3, Rho: 0.3, Seed: 1, Digits: 4}, data.Parquet},
	{"linear.csv", "linear", SimConfig{N: 200, D: 2, Seed: 2, Digits: 4}, data.CSV},
	{"poisson.csv", "poisson", SimConfig{N: 300, D: 2, Seed: 3, Digits: 4}, data.CSV},
	{"normal.csv", "normal", SimConfig{N: 100, D: 2, Seed: 4, Digits: 4}, data.CSV},
	{"mixture.csv", "mixture", SimConfig{N: 300, D: 1, K: 2, Seed: 5, Digits: 4}, data.CSV},
}

const dataDir = "../../testdata/data"

func TestDataFiles(t *testing.T) {
	for _, f := range dataFiles {
		tab, _, err := Simulate(f.model, f.cfg)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dataDir, f.name)
		if *update {
			if err := data.WriteFile(path, tab, f.format); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := data.Load(path, nil)
		if err != nil {
			t.Fatalf("%v (regenerate with go test ./subpost/models -run TestDataFiles -update)", err)
		}
		if !reflect.DeepEqual(got.Names, tab.Names) || !reflect.DeepEqual(got.Cols, tab.Cols) {
			t.Errorf("%s differs from its generator (regenerate with -update)", path)
		}
		if f.format == data.CSV {
			var buf bytes.Buffer
			tab.WriteCSV(&buf)
			if raw, _ := os.ReadFile(path); !bytes.Equal(raw, buf.Bytes()) {
				t.Errorf("%s differs byte-wise from its generator", path)
			}
		}
	}
}

// TestBadDataFiles pins the errors the hand-written bad files give.
func TestBadDataFiles(t *testing.T) {
	for name, want := range map[string]string{
		"bad-missing.csv": `row 3 (line 4), column "x1": missing value (NA)`,
		"bad-string.csv":  `row 2 (line 3), column "x2": "abc" is not a number`,
		"empty.csv":       "empty file",
	} {
		_, err := data.Load(filepath.Join(dataDir, name), []string{"y", "x1", "x2"})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", name, err, want)
		}
	}
}
