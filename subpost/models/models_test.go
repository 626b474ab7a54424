package models

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"

	"gonum.org/v1/gonum/stat/distmv"
	"gonum.org/v1/gonum/stat/distuv"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
)

type modelCase struct {
	name  string
	model string
	sim   SimConfig
	opts  Options
}

func cols(prefix string, n int) []string {
	var c []string
	for j := 1; j <= n; j++ {
		c = append(c, fmt.Sprintf("%s%d", prefix, j))
	}
	return c
}

var modelCases = []modelCase{
	{"normal/1d/sigma-estimated", "normal", SimConfig{N: 60, D: 1, Seed: 1}, Options{}},
	{"normal/3d/sigma-known", "normal", SimConfig{N: 60, D: 3, Seed: 2}, Options{Y: cols("y", 3), Sigma: 1.5, PriorScale: 2}},
	{"normal/3d/sigma-estimated", "normal", SimConfig{N: 60, D: 3, Seed: 3}, Options{Y: cols("y", 3), SigmaPriorScale: 2}},
	{"linear/sigma-estimated", "linear", SimConfig{N: 90, D: 3, Rho: 0.5, Seed: 4}, Options{X: cols("x", 3)}},
	{"linear/sigma-known/no-intercept", "linear", SimConfig{N: 90, D: 2, Seed: 5}, Options{X: cols("x", 2), NoIntercept: true, Sigma: 0.8}},
	{"linear/standardized", "linear", SimConfig{N: 90, D: 3, Seed: 6}, Options{X: cols("x", 3), Standardize: true}},
	{"linear/standardized/no-intercept", "linear", SimConfig{N: 90, D: 2, Seed: 7}, Options{X: cols("x", 2), Standardize: true, NoIntercept: true, Sigma: 2}},
	{"logistic", "logistic", SimConfig{N: 120, D: 4, Rho: 0.3, Seed: 8}, Options{X: cols("x", 4)}},
	{"logistic/blocks", "logistic", SimConfig{N: 1000, D: 3, Seed: 9}, Options{X: cols("x", 3), PriorScale: 2.5}},
	{"logistic/standardized/no-intercept", "logistic", SimConfig{N: 120, D: 2, Seed: 10}, Options{X: cols("x", 2), Standardize: true, NoIntercept: true}},
	{"poisson", "poisson", SimConfig{N: 120, D: 3, Seed: 11}, Options{X: cols("x", 3)}},
	{"poisson/standardized/blocks", "poisson", SimConfig{N: 900, D: 2, Seed: 12}, Options{X: cols("x", 2), Standardize: true}},
	{"mixture/K=2/d=1", "mixture", SimConfig{N: 80, D: 1, K: 2, Seed: 13}, Options{}},
	{"mixture/K=3/d=2", "mixture", SimConfig{N: 80, D: 2, K: 3, Seed: 14}, Options{Y: cols("y", 2), Components: 3, DirichletAlpha: 0.7, Sigma: 1.3}},
	{"mixture/K=4/d=1", "mixture", SimConfig{N: 80, D: 1, K: 4, Seed: 15}, Options{Components: 4, DirichletAlpha: 2}},
}

// built is a model built on shard 1 of 3 of a simulated table.
type built struct {
	m    subpost.Model
	spec Spec
	tab  *data.Table
	rows []int
	c    modelCase
}

func build(t testing.TB, c modelCase) built {
	t.Helper()
	tab, _, err := Simulate(c.model, c.sim)
	if err != nil {
		t.Fatal(err)
	}
	rows := data.Partition{Seed: 3, Shards: 3}.Rows(tab.NumRows(), 1)
	m, raw, err := Build(c.model, tab, rows, c.opts)
	if err != nil {
		t.Fatal(err)
	}
	var s Spec
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return built{m, s, tab, rows, c}
}

// points returns random unconstrained points of moderate size.
func points(dim, n int, seed uint64) [][]float64 {
	r := rng.NewRand(seed, 99)
	var ps [][]float64
	for range n {
		p := make([]float64, dim)
		for i := range p {
			p[i] = 0.7 * r.NormFloat64()
		}
		ps = append(ps, p)
	}
	return ps
}

// checkGradient compares the gradient of f with central finite differences.
func checkGradient(t *testing.T, what string, f func(theta, grad []float64) float64, theta []float64) {
	t.Helper()
	g := make([]float64, len(theta))
	for i := range g {
		g[i] = math.NaN() // the method must write every element
	}
	v := f(theta, g)
	if v2 := f(theta, nil); v2 != v {
		t.Errorf("%s: value %v with a gradient, %v without", what, v, v2)
	}
	x := append([]float64(nil), theta...)
	for i := range theta {
		h := 1e-5 * max(1, math.Abs(theta[i]))
		x[i] = theta[i] + h
		up := f(x, nil)
		x[i] = theta[i] - h
		down := f(x, nil)
		x[i] = theta[i]
		fd := (up - down) / (2 * h)
		if tol := 1e-5 * (1 + math.Abs(fd) + 1e-4*math.Abs(v)); !(math.Abs(g[i]-fd) <= tol) {
			t.Errorf("%s: ∂/∂θ[%d] = %.10g, finite difference %.10g", what, i, g[i], fd)
		}
	}
}

func TestGradientsMatchFiniteDifferences(t *testing.T) {
	for _, c := range modelCases {
		t.Run(c.name, func(t *testing.T) {
			b := build(t, c)
			for _, p := range points(b.m.Dim(), 4, c.sim.Seed) {
				checkGradient(t, "LogPrior", b.m.LogPrior, p)
				checkGradient(t, "LogLik", b.m.LogLik, p)
			}
		})
	}
}

// reported returns the reported (constrained, original-scale) values of θ.
func reported(m subpost.Model, theta []float64) map[string]float64 {
	var names []string
	for _, p := range m.Params() {
		names = append(names, p.ScalarNames()...)
	}
	x := make([]float64, len(names))
	if cs, ok := m.(subpost.Constrainer); ok {
		cs.Constrain(x, theta)
	} else {
		subpost.Constrain(m.Params(), x, theta)
	}
	out := map[string]float64{}
	for i, n := range names {
		out[n] = x[i]
	}
	return out
}

func idx(name string, i ...int) string {
	s := make([]string, len(i))
	for k, v := range i {
		s[k] = fmt.Sprint(v)
	}
	return name + "[" + strings.Join(s, ",") + "]"
}

// referenceLogLik evaluates the log likelihood row by row on the original
// data with gonum's densities, from the reported parameter values.
func referenceLogLik(t *testing.T, b built, theta []float64) float64 {
	v := reported(b.m, theta)
	col := func(name string) []float64 {
		c, err := b.tab.Column(name)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ys := make([][]float64, len(b.spec.Y))
	for j, n := range b.spec.Y {
		ys[j] = col(n)
	}
	ll := 0.0
	switch b.c.model {
	case "normal":
		for j, y := range ys {
			name := func(p string) string {
				if len(ys) == 1 {
					return p
				}
				return idx(p, j+1)
			}
			sigma := b.c.opts.Sigma
			if sigma == 0 {
				sigma = v[name("sigma")]
			}
			for _, i := range b.rows {
				ll += distuv.Normal{Mu: v[name("mu")], Sigma: sigma}.LogProb(y[i])
			}
		}
	case "mixture":
		K, d := b.spec.Components, len(ys)
		for _, i := range b.rows {
			p := 0.0
			for k := 1; k <= K; k++ {
				lp := math.Log(v[idx("w", k)])
				for j := 0; j < d; j++ {
					mu := v[idx("mu", k)]
					if d > 1 {
						mu = v[idx("mu", k, j+1)]
					}
					lp += distuv.Normal{Mu: mu, Sigma: *b.spec.Sigma}.LogProb(ys[j][i])
				}
				p += math.Exp(lp)
			}
			ll += math.Log(p)
		}
	default:
		xs := make([][]float64, len(b.spec.X))
		for j, n := range b.spec.X {
			xs[j] = col(n)
		}
		for _, i := range b.rows {
			eta := v["alpha"]
			for j, x := range xs {
				eta += v[idx("beta", j+1)] * x[i]
			}
			y := ys[0][i]
			switch b.c.model {
			case "linear":
				sigma := b.c.opts.Sigma
				if sigma == 0 {
					sigma = v["sigma"]
				}
				ll += distuv.Normal{Mu: eta, Sigma: sigma}.LogProb(y)
			case "logistic":
				p := 1 / (1 + math.Exp(-eta))
				ll += y*math.Log(p) + (1-y)*math.Log(1-p)
			case "poisson":
				ll += distuv.Poisson{Lambda: math.Exp(eta)}.LogProb(y)
			}
		}
	}
	return ll
}

// referenceLogPrior evaluates the prior with gonum's densities in the
// sampler's space (standardised coefficients), adding the log Jacobians of
// the declared transforms.
func referenceLogPrior(b built, theta []float64) float64 {
	lp := 0.0
	k := 0
	S := b.spec.PriorScale
	for _, p := range b.m.Params() {
		n := p.Size()
		switch p.Transform.Kind {
		case chains.Simplex:
			w := make([]float64, n)
			logJac := p.Transform.Constrain(w, theta[k:k+n-1])
			alpha := make([]float64, n)
			for i := range alpha {
				alpha[i] = b.spec.DirichletAlpha
			}
			lp += distmv.NewDirichlet(alpha, nil).LogProb(w) + logJac
			k += n - 1
		case chains.Lower:
			for range n {
				sigma := math.Exp(theta[k])
				lp += math.Log(2) + distuv.Normal{Mu: 0, Sigma: b.spec.SigmaPriorScale}.LogProb(sigma) + theta[k]
				k++
			}
		default:
			for range n {
				lp += distuv.Normal{Mu: 0, Sigma: S}.LogProb(theta[k])
				k++
			}
		}
	}
	return lp
}

func TestDensitiesMatchReference(t *testing.T) {
	for _, c := range modelCases {
		t.Run(c.name, func(t *testing.T) {
			b := build(t, c)
			for _, p := range points(b.m.Dim(), 3, c.sim.Seed+100) {
				got, want := b.m.LogLik(p, nil), referenceLogLik(t, b, p)
				if math.Abs(got-want) > 1e-9*(1+math.Abs(want)) {
					t.Errorf("LogLik = %.12g, reference %.12g", got, want)
				}
				got, want = b.m.LogPrior(p, nil), referenceLogPrior(b, p)
				if math.Abs(got-want) > 1e-10*(1+math.Abs(want)) {
					t.Errorf("LogPrior = %.12g, reference %.12g", got, want)
				}
			}
		})
	}
}

func TestNoAllocations(t *testing.T) {
	for _, c := range modelCases {
		t.Run(c.name, func(t *testing.T) {
			b := build(t, c)
			theta := points(b.m.Dim(), 1, 1)[0]
			g := make([]float64, len(theta))
			if n := testing.AllocsPerRun(20, func() {
				b.m.LogPrior(theta, g)
				b.m.LogLik(theta, g)
				b.m.LogLik(theta, nil)
			}); n != 0 {
				t.Errorf("%v allocations per evaluation", n)
			}
		})
	}
}

func TestConcurrentUse(t *testing.T) {
	for _, c := range modelCases {
		b := build(t, c)
		ps := points(b.m.Dim(), 8, 5)
		want := make([]float64, len(ps))
		for i, p := range ps {
			want[i] = b.m.LogLik(p, make([]float64, len(p)))
		}
		var wg sync.WaitGroup
		errs := make(chan string, len(ps))
		for i, p := range ps {
			wg.Add(1)
			go func() {
				defer wg.Done()
				g := make([]float64, len(p))
				for range 20 {
					if v := b.m.LogLik(p, g); v != want[i] {
						errs <- fmt.Sprintf("%s: concurrent LogLik %v, serial %v", c.name, v, want[i])
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Error(e)
		}
	}
}

func TestParamsAndSpec(t *testing.T) {
	want := map[string]struct {
		names  string
		priors string
	}{
		"normal/1d/sigma-estimated":          {"mu sigma", "mu=normal(0, 5) sigma=half-normal(0, 5)"},
		"normal/3d/sigma-known":              {"mu[1] mu[2] mu[3]", "mu=normal(0, 2)"},
		"linear/sigma-estimated":             {"alpha beta[1] beta[2] beta[3] sigma", "alpha=normal(0, 5) beta=normal(0, 5) sigma=half-normal(0, 5)"},
		"linear/sigma-known/no-intercept":    {"beta[1] beta[2]", "beta=normal(0, 5)"},
		"logistic":                           {"alpha beta[1] beta[2] beta[3] beta[4]", "alpha=normal(0, 5) beta=normal(0, 5)"},
		"mixture/K=2/d=1":                    {"mu[1] mu[2] w[1] w[2]", "mu=normal(0, 5) w=dirichlet(1)"},
		"mixture/K=3/d=2":                    {"mu[1,1] mu[2,1] mu[3,1] mu[1,2] mu[2,2] mu[3,2] w[1] w[2] w[3]", "mu=normal(0, 5) w=dirichlet(0.7)"},
		"logistic/standardized/no-intercept": {"beta[1] beta[2]", "beta=normal(0, 5)"},
		"poisson/standardized/blocks":        {"alpha beta[1] beta[2]", "alpha=normal(0, 5) beta=normal(0, 5)"},
		"linear/standardized/no-intercept":   {"beta[1] beta[2]", "beta=normal(0, 5)"},
		"normal/3d/sigma-estimated":          {"mu[1] mu[2] mu[3] sigma[1] sigma[2] sigma[3]", "mu=normal(0, 5) sigma=half-normal(0, 2)"},
		"mixture/K=4/d=1":                    {"mu[1] mu[2] mu[3] mu[4] w[1] w[2] w[3] w[4]", "mu=normal(0, 5) w=dirichlet(2)"},
		"logistic/blocks":                    {"alpha beta[1] beta[2] beta[3]", "alpha=normal(0, 2.5) beta=normal(0, 2.5)"},
		"poisson":                            {"alpha beta[1] beta[2] beta[3]", "alpha=normal(0, 5) beta=normal(0, 5)"},
		"linear/standardized":                {"alpha beta[1] beta[2] beta[3] sigma", "alpha=normal(0, 5) beta=normal(0, 5) sigma=half-normal(0, 5)"},
	}
	for _, c := range modelCases {
		t.Run(c.name, func(t *testing.T) {
			b := build(t, c)
			var names []string
			dim := 0
			for _, p := range b.m.Params() {
				names = append(names, p.ScalarNames()...)
				dim += p.Transform.Dim(p.Size())
			}
			if dim != b.m.Dim() {
				t.Errorf("Params cover %d unconstrained values, Dim is %d", dim, b.m.Dim())
			}
			if _, err := chains.NewLayout(names, b.m.Params()); err != nil {
				t.Errorf("params do not make a layout: %v", err)
			}
			var priors []string
			for _, p := range b.m.Params() {
				if pr, ok := b.spec.Priors[p.Name]; ok {
					priors = append(priors, p.Name+"="+pr)
				}
			}
			w := want[c.name]
			if got := strings.Join(names, " "); got != w.names {
				t.Errorf("names %q, want %q", got, w.names)
			}
			if got := strings.Join(priors, " "); got != w.priors || len(priors) != len(b.spec.Priors) {
				t.Errorf("priors %q (%v), want %q", got, b.spec.Priors, w.priors)
			}
			// The spec is the same for every shard.
			_, other, err := Build(c.model, b.tab, []int{0, 1, 2}, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			mine, _ := json.Marshal(b.spec)
			if string(other) != string(mine) {
				t.Errorf("specs differ between shards:\n%s\n%s", other, mine)
			}
			if b.spec.Rows != c.sim.N || b.spec.Model != c.model {
				t.Errorf("spec %s", mine)
			}
		})
	}
}

func TestSpecStandardization(t *testing.T) {
	tab := &data.Table{Names: []string{"y", "a", "b"}, Cols: [][]float64{{0, 1, 1, 0}, {1, 2, 3, 4}, {10, 10, 20, 20}}}
	_, raw, err := Build("logistic", tab, []int{0, 1}, Options{X: []string{"a", "b"}, Standardize: true})
	if err != nil {
		t.Fatal(err)
	}
	var s Spec
	json.Unmarshal(raw, &s)
	sd := math.Sqrt(5.0 / 3)
	if s.Standardize == nil || s.Standardize.Center[0] != 2.5 || s.Standardize.Center[1] != 15 ||
		math.Abs(s.Standardize.Scale[0]-sd) > 1e-15 || math.Abs(s.Standardize.Scale[1]-math.Sqrt(100.0/3)) > 1e-13 {
		t.Fatalf("spec %s", raw)
	}
	if s.Intercept == nil || !*s.Intercept || s.Sigma != nil {
		t.Fatalf("spec %s", raw)
	}
	_, raw, _ = Build("linear", tab, []int{0, 1}, Options{X: []string{"a"}, Sigma: 2})
	json.Unmarshal(raw, &s)
	if s.Sigma == nil || *s.Sigma != 2 {
		t.Fatalf("known sigma not recorded: %s", raw)
	}
}

// TestStandardizedReportsOriginalScale checks Constrain: the linear
// predictor from the reported coefficients on the original predictors
// equals the one from θ on the standardised predictors, for every row.
func TestStandardizedReportsOriginalScale(t *testing.T) {
	for _, intercept := range []bool{true, false} {
		c := modelCase{"", "logistic", SimConfig{N: 50, D: 3, Seed: 4}, Options{X: cols("x", 3), Standardize: true, NoIntercept: !intercept}}
		b := build(t, c)
		g := b.m.(*glm)
		theta := points(b.m.Dim(), 1, 2)[0]
		v := reported(b.m, theta)
		alpha, beta, _ := g.split(theta)
		for k, i := range b.rows {
			orig, std := v["alpha"], 0.0
			if alpha != nil {
				std = *alpha
			}
			for j := 0; j < 3; j++ {
				x, _ := b.tab.Column(fmt.Sprintf("x%d", j+1))
				orig += v[idx("beta", j+1)] * x[i]
				std += beta[j] * g.x[k*3+j]
			}
			if math.Abs(orig-std) > 1e-12*(1+math.Abs(std)) {
				t.Fatalf("intercept=%v row %d: η %v on the original scale, %v standardised", intercept, i, orig, std)
			}
		}
	}
}

func TestBuildErrors(t *testing.T) {
	tab, _, _ := Simulate("logistic", SimConfig{N: 20, D: 2, Seed: 1})
	tab.Path = "d.csv"
	tab.Names = append(tab.Names, "c", "k", "two")
	constant := make([]float64, 20)
	count := make([]float64, 20)
	two := make([]float64, 20)
	for i := range count {
		count[i] = float64(i % 4)
		two[i] = float64(i % 2)
	}
	count[7] = 1.5
	two[6] = 2
	tab.Cols = append(tab.Cols, constant, count, two)
	all := []int{0, 1, 2, 3}
	cases := []struct {
		model string
		rows  []int
		o     Options
		want  string
	}{
		{"probit", all, Options{}, `unknown model "probit" (models: normal, linear, logistic, poisson, mixture)`},
		{"logistic", all, Options{X: []string{"x1", "zz"}}, `d.csv: no column "zz" (columns: "y", "x1", "x2"`},
		{"logistic", all, Options{}, "model logistic needs predictor columns: --x a,b,…"},
		{"logistic", all, Options{Y: []string{"two"}, X: []string{"x1"}}, `d.csv: row 7, column "two": logistic regression needs 0 or 1, have 2`},
		{"poisson", all, Options{Y: []string{"k"}, X: []string{"x1"}}, `d.csv: row 8, column "k": Poisson regression needs a non-negative integer count, have 1.5`},
		{"poisson", all, Options{Y: []string{"x1"}, X: []string{"x2"}}, "Poisson regression needs a non-negative integer count"},
		{"linear", all, Options{X: []string{"x1", "c"}, Standardize: true}, `d.csv: column "c" is constant, so it cannot be standardised`},
		{"linear", all, Options{X: []string{"y"}}, `column "y" is both the response (--y) and a predictor (--x)`},
		{"linear", all, Options{X: []string{"x1", "x1"}}, `--x names column "x1" twice`},
		{"linear", all, Options{Y: []string{"y", "x1"}, X: []string{"x2"}}, "--y must name one response column for model linear, have 2"},
		{"linear", nil, Options{X: []string{"x1"}}, "d.csv: the shard has no rows (use fewer shards)"},
		{"linear", []int{0, 20}, Options{X: []string{"x1"}}, "row index 20 out of range [0, 20)"},
		{"linear", all, Options{X: []string{"x1"}, PriorScale: -1}, "--prior-scale must be a positive number, have -1"},
		{"linear", all, Options{X: []string{"x1"}, Sigma: math.NaN()}, "--sigma must be a positive number"},
		{"linear", all, Options{X: []string{"x1"}, Sigma: 1, SigmaPriorScale: 2}, "--sigma-prior-scale has no effect with a known --sigma"},
		{"logistic", all, Options{X: []string{"x1"}, Sigma: 1}, "--sigma does not apply to model logistic"},
		{"normal", all, Options{X: []string{"x1"}}, "--x does not apply to model normal"},
		{"normal", all, Options{Standardize: true}, "--standardize does not apply to model normal"},
		{"normal", all, Options{Components: 3}, "--components does not apply to model normal"},
		{"mixture", all, Options{Components: 1}, "--components must be between 2 and 64, have 1"},
		{"mixture", all, Options{NoIntercept: true}, "--no-intercept does not apply to model mixture"},
		{"poisson", all, Options{X: []string{"x1"}, DirichletAlpha: 1}, "--dirichlet-alpha does not apply to model poisson"},
	}
	for _, c := range cases {
		_, _, err := Build(c.model, tab, c.rows, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s %+v: error %v, want %q", c.model, c.o, err, c.want)
		}
	}
}

func TestColumns(t *testing.T) {
	cases := []struct {
		model string
		o     Options
		want  string
	}{
		{"logistic", Options{X: []string{"a", "b"}}, "y a b"},
		{"linear", Options{Y: []string{"r"}, X: []string{"a"}}, "r a"},
		{"normal", Options{}, "y"},
		{"mixture", Options{Y: []string{"u", "v"}}, "u v"},
	}
	for _, c := range cases {
		got, err := Columns(c.model, c.o)
		if err != nil || strings.Join(got, " ") != c.want {
			t.Errorf("Columns(%s) = %v, %v; want %s", c.model, got, err, c.want)
		}
	}
	if _, err := Columns("nope", Options{}); err == nil {
		t.Error("Columns of an unknown model succeeded")
	}
	if got := Names(); strings.Join(got, ",") != "normal,linear,logistic,poisson,mixture" {
		t.Error(got)
	}
	for _, n := range Names() {
		if Describe(n) == "" {
			t.Errorf("%s has no description", n)
		}
	}
}
