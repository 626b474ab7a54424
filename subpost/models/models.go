package models

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
)

// Defaults of the zero Options.
const (
	DefaultPriorScale      = 5.0 // normal(0, 5) on coefficients and means
	DefaultSigmaPriorScale = 5.0 // half-normal(0, 5) on unknown scales
	DefaultComponents      = 2   // mixture components
	DefaultDirichletAlpha  = 1.0 // uniform prior on the mixture weights
	DefaultMixtureSigma    = 1.0 // known component scale of the mixture
	DefaultResponse        = "y" // the response column when Y is empty
)

// maxComponents bounds K, so that the mixture's per-row work stays on the
// stack. Label switching makes K! modes; far fewer components than this
// are already hard to sample.
const maxComponents = 64

// Options configure the built-in models; the zero value means the
// documented defaults. Options that do not apply to the chosen model are
// errors rather than silently ignored.
type Options struct {
	// Y names the response columns: one for the regressions, d ≥ 1 for
	// normal and mixture (default "y").
	Y []string
	// X names the predictor columns of the regressions (required there).
	X []string
	// NoIntercept drops the regressions' intercept alpha.
	NoIntercept bool
	// Standardize makes the regressions work on predictors standardised by
	// full-data means and standard deviations; draws are still reported on
	// the original scale.
	Standardize bool
	// PriorScale is S in the normal(0, S) priors of coefficients and means
	// (default 5).
	PriorScale float64
	// Sigma is a known noise scale for normal and linear (0: estimate it)
	// and the known component scale of mixture (default 1).
	Sigma float64
	// SigmaPriorScale is the scale of the half-normal prior of an unknown
	// sigma (default 5).
	SigmaPriorScale float64
	// Components is the mixture's K (default 2).
	Components int
	// DirichletAlpha is the concentration of the mixture weights'
	// symmetric Dirichlet prior (default 1).
	DirichletAlpha float64
}

// listFlag is a comma-separated list flag; repeating it appends.
type listFlag struct{ p *[]string }

func (l listFlag) String() string {
	if l.p == nil {
		return ""
	}
	return strings.Join(*l.p, ",")
}

func (l listFlag) Set(s string) error {
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			*l.p = append(*l.p, v)
		}
	}
	return nil
}

// AddFlags declares the model flags on fs: --y, --x, --no-intercept,
// --standardize, --prior-scale, --sigma, --sigma-prior-scale,
// --components and --dirichlet-alpha.
func (o *Options) AddFlags(fs *flag.FlagSet) {
	fs.Var(listFlag{&o.Y}, "y", "response `columns`, comma-separated (default y)")
	fs.Var(listFlag{&o.X}, "x", "predictor `columns` of the regressions, comma-separated")
	fs.BoolVar(&o.NoIntercept, "no-intercept", o.NoIntercept, "regressions: drop the intercept alpha")
	fs.BoolVar(&o.Standardize, "standardize", o.Standardize, "regressions: standardise predictors by full-data means and sds (draws are reported on the original scale)")
	fs.Float64Var(&o.PriorScale, "prior-scale", o.PriorScale, "`S` of the normal(0, S) priors on coefficients and means (default 5)")
	fs.Float64Var(&o.Sigma, "sigma", o.Sigma, "known noise `scale` (normal, linear; unset: estimated) or component scale (mixture; default 1)")
	fs.Float64Var(&o.SigmaPriorScale, "sigma-prior-scale", o.SigmaPriorScale, "`scale` of the half-normal prior on an unknown sigma (default 5)")
	fs.IntVar(&o.Components, "components", o.Components, "mixture: number of components `K` (default 2)")
	fs.Float64Var(&o.DirichletAlpha, "dirichlet-alpha", o.DirichletAlpha, "mixture: concentration `α` of the symmetric Dirichlet prior on the weights (default 1)")
}

var names = []string{"normal", "linear", "logistic", "poisson", "mixture"}

// Names returns the names of the built-in models.
func Names() []string { return slices.Clone(names) }

// Describe returns a one-line description of the named model, or "" for an
// unknown name.
func Describe(name string) string {
	switch name {
	case "normal":
		return "d-dimensional normal observations (--y a,b,…): means mu, scales sigma known (--sigma) or estimated"
	case "linear":
		return "Gaussian linear regression of --y on --x: alpha, beta, sigma (known with --sigma)"
	case "logistic":
		return "logistic regression of a 0/1 --y on --x: alpha, beta"
	case "poisson":
		return "Poisson regression (log link) of a count --y on --x: alpha, beta"
	case "mixture":
		return "K-component Gaussian mixture (--components K) of --y a,b,…: means mu, weights w, known --sigma"
	}
	return ""
}

func isRegression(name string) bool {
	return name == "linear" || name == "logistic" || name == "poisson"
}

// resolved is Options with defaults filled in and checked for a model.
type resolved struct {
	Options
	knownSigma bool
}

// resolve checks o for the named model and fills in the defaults. Errors
// name the flag at fault.
func resolve(name string, o Options) (resolved, error) {
	if Describe(name) == "" {
		return resolved{}, fmt.Errorf("unknown model %q (models: %s)", name, strings.Join(names, ", "))
	}
	bad := func(cond bool, flag string) error {
		if cond {
			return fmt.Errorf("%s does not apply to model %s", flag, name)
		}
		return nil
	}
	reg := isRegression(name)
	for _, err := range []error{
		bad(!reg && len(o.X) > 0, "--x"),
		bad(!reg && o.NoIntercept, "--no-intercept"),
		bad(!reg && o.Standardize, "--standardize"),
		bad(name != "mixture" && o.Components != 0, "--components"),
		bad(name != "mixture" && o.DirichletAlpha != 0, "--dirichlet-alpha"),
		bad((name == "logistic" || name == "poisson") && o.Sigma != 0, "--sigma"),
		bad((name != "normal" && name != "linear") && o.SigmaPriorScale != 0, "--sigma-prior-scale"),
	} {
		if err != nil {
			return resolved{}, err
		}
	}
	positive := func(v float64, flag string) error {
		if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("%s must be a positive number, have %g", flag, v)
		}
		return nil
	}
	for _, err := range []error{
		positive(o.PriorScale, "--prior-scale"),
		positive(o.Sigma, "--sigma"),
		positive(o.SigmaPriorScale, "--sigma-prior-scale"),
		positive(o.DirichletAlpha, "--dirichlet-alpha"),
	} {
		if err != nil {
			return resolved{}, err
		}
	}
	r := resolved{Options: o}
	r.Y = slices.Clone(o.Y)
	r.X = slices.Clone(o.X)
	if len(r.Y) == 0 {
		r.Y = []string{DefaultResponse}
	}
	if r.PriorScale == 0 {
		r.PriorScale = DefaultPriorScale
	}
	r.knownSigma = r.Sigma > 0
	if name == "mixture" {
		if r.Sigma == 0 {
			r.Sigma = DefaultMixtureSigma
		}
		r.knownSigma = true
		if r.Components == 0 {
			r.Components = DefaultComponents
		}
		if r.Components < 2 || r.Components > maxComponents {
			return resolved{}, fmt.Errorf("--components must be between 2 and %d, have %d", maxComponents, r.Components)
		}
		if r.DirichletAlpha == 0 {
			r.DirichletAlpha = DefaultDirichletAlpha
		}
	}
	if !r.knownSigma && (name == "normal" || name == "linear") && r.SigmaPriorScale == 0 {
		r.SigmaPriorScale = DefaultSigmaPriorScale
	}
	if r.knownSigma && o.SigmaPriorScale != 0 {
		return resolved{}, fmt.Errorf("--sigma-prior-scale has no effect with a known --sigma")
	}
	if reg {
		if len(r.Y) != 1 {
			return resolved{}, fmt.Errorf("--y must name one response column for model %s, have %d", name, len(r.Y))
		}
		if len(r.X) == 0 {
			return resolved{}, fmt.Errorf("model %s needs predictor columns: --x a,b,…", name)
		}
		if slices.Contains(r.X, r.Y[0]) {
			return resolved{}, fmt.Errorf("column %q is both the response (--y) and a predictor (--x)", r.Y[0])
		}
	}
	for _, list := range []struct {
		flag string
		cols []string
	}{{"--y", r.Y}, {"--x", r.X}} {
		seen := map[string]bool{}
		for _, c := range list.cols {
			if seen[c] {
				return resolved{}, fmt.Errorf("%s names column %q twice", list.flag, c)
			}
			seen[c] = true
		}
	}
	return r, nil
}

// Columns returns the data columns the named model needs with options o,
// responses first, so that only those are loaded.
func Columns(name string, o Options) ([]string, error) {
	r, err := resolve(name, o)
	if err != nil {
		return nil, err
	}
	return append(slices.Clone(r.Y), r.X...), nil
}

// Spec is the model description recorded in a draws file's metadata
// (chains.Meta.Model). It is the same for every shard of one data set.
type Spec struct {
	Model string   `json:"model"`
	Y     []string `json:"y"`
	X     []string `json:"x,omitempty"`
	// Intercept is set for the regressions.
	Intercept *bool `json:"intercept,omitempty"`
	// Priors gives each parameter block's prior, Stan style, e.g.
	// "beta": "normal(0, 5)"; on the standardised scale when Standardize
	// is set.
	Priors          map[string]string `json:"priors"`
	PriorScale      float64           `json:"prior_scale"`
	SigmaPriorScale float64           `json:"sigma_prior_scale,omitempty"`
	// Sigma is the known noise or component scale, absent when estimated.
	Sigma          *float64 `json:"sigma,omitempty"`
	Components     int      `json:"components,omitempty"`
	DirichletAlpha float64  `json:"dirichlet_alpha,omitempty"`
	// Standardize holds the full-data constants of --standardize.
	Standardize *Standardization `json:"standardize,omitempty"`
	// Rows is the number of rows of the whole data set.
	Rows int `json:"rows"`
}

// Standardization holds the per-predictor centres m_j and scales s_j of
// x̃_j = (x_j − m_j)/s_j.
type Standardization struct {
	Center []float64 `json:"center"`
	Scale  []float64 `json:"scale"`
}

// Build makes the model of the shard rows of full (0-based row indices, as
// data.Partition.Rows returns). Standardisation, if asked for, uses
// full-data statistics, so every shard has the same prior. spec is the
// JSON recorded as the draws file's model metadata (see Spec).
func Build(name string, full *data.Table, rows []int, o Options) (m subpost.Model, spec json.RawMessage, err error) {
	r, err := resolve(name, o)
	if err != nil {
		return nil, nil, err
	}
	n := full.NumRows()
	if len(rows) == 0 {
		return nil, nil, fmt.Errorf("%s: the shard has no rows (use fewer shards)", source(full))
	}
	for _, i := range rows {
		if i < 0 || i >= n {
			return nil, nil, fmt.Errorf("%s: row index %d out of range [0, %d)", source(full), i, n)
		}
	}
	ys := make([][]float64, len(r.Y))
	for j, c := range r.Y {
		if ys[j], err = full.Column(c); err != nil {
			return nil, nil, err
		}
	}
	xs := make([][]float64, len(r.X))
	for j, c := range r.X {
		if xs[j], err = full.Column(c); err != nil {
			return nil, nil, err
		}
	}
	s := Spec{Model: name, Y: r.Y, X: r.X, PriorScale: r.PriorScale, Rows: n, Priors: map[string]string{}}
	if r.knownSigma {
		sigma := r.Sigma
		s.Sigma = &sigma
	}
	coef := fmt.Sprintf("normal(0, %g)", r.PriorScale)
	switch name {
	case "normal":
		m = newNormal(ys, rows, r)
		s.Priors["mu"] = coef
		if !r.knownSigma {
			s.SigmaPriorScale = r.SigmaPriorScale
			s.Priors["sigma"] = fmt.Sprintf("half-normal(0, %g)", r.SigmaPriorScale)
		}
	case "mixture":
		m = newMixture(ys, rows, r)
		s.Priors["mu"] = coef
		s.Priors["w"] = fmt.Sprintf("dirichlet(%g)", r.DirichletAlpha)
		s.Components = r.Components
		s.DirichletAlpha = r.DirichletAlpha
	default:
		var g *glm
		if g, err = newGLM(name, full, ys[0], xs, rows, r); err != nil {
			return nil, nil, err
		}
		m = g
		intercept := !r.NoIntercept
		s.Intercept = &intercept
		if intercept {
			s.Priors["alpha"] = coef
		}
		s.Priors["beta"] = coef
		if name == "linear" && !r.knownSigma {
			s.SigmaPriorScale = r.SigmaPriorScale
			s.Priors["sigma"] = fmt.Sprintf("half-normal(0, %g)", r.SigmaPriorScale)
		}
		if r.Standardize {
			s.Standardize = &Standardization{Center: g.center, Scale: g.scale}
		}
	}
	spec, err = json.Marshal(s)
	if err != nil {
		return nil, nil, err
	}
	return m, spec, nil
}

func source(t *data.Table) string {
	if t.Path == "" {
		return "data"
	}
	return t.Path
}
