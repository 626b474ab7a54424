package chains

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
)

// CheckOptions configures Check. The zero value applies the thresholds of
// CmdStan's diagnose and of Vehtari et al. (2021).
type CheckOptions struct {
	// MaxTreeDepth is the NUTS tree-depth limit the draws were made with.
	// 0 takes "max_depth" from the draws' sampler metadata (Meta.Sampler,
	// as written by epmc's samplers and recorded from Stan CSV files), and
	// 10, Stan's default, when it is not there.
	MaxTreeDepth int
	// RhatMax flags parameters whose R-hat exceeds it (default 1.01).
	RhatMax float64
	// EssPerChain flags parameters whose bulk- or tail-ESS is below it
	// times the number of chains (default 100, so 400 for 4 chains).
	EssPerChain float64
	// EBFMIMin flags chains whose E-BFMI is below it (default 0.3, as
	// CmdStan; rstan uses 0.2).
	EBFMIMin float64
	// Workers bounds the goroutines computing R-hat and ESS (default
	// GOMAXPROCS); the report does not depend on it.
	Workers int
}

func (o *CheckOptions) defaults(d *Draws) {
	if o.MaxTreeDepth <= 0 {
		o.MaxTreeDepth = 10
		var s struct {
			MaxDepth int `json:"max_depth"`
		}
		if len(d.Meta.Sampler) > 0 && json.Unmarshal(d.Meta.Sampler, &s) == nil && s.MaxDepth > 0 {
			o.MaxTreeDepth = s.MaxDepth
		}
	}
	if o.RhatMax <= 0 {
		o.RhatMax = 1.01
	}
	if o.EssPerChain <= 0 {
		o.EssPerChain = 100
	}
	if o.EBFMIMin <= 0 {
		o.EBFMIMin = 0.3
	}
}

// CheckReport is what Check found. Counts are over post-warmup draws.
type CheckReport struct {
	// Options holds the thresholds used, defaults filled in.
	Options CheckOptions
	Chains  int
	Draws   int // post-warmup draws (transitions) over all chains
	// Divergences counts divergent transitions; -1 when the draws have no
	// divergent__ column.
	Divergences int
	// TreeDepthHits counts transitions whose tree depth reached
	// Options.MaxTreeDepth; -1 without a treedepth__ column.
	TreeDepthHits int
	// EBFMI holds each chain's E-BFMI and EBFMIPooled CmdStan's pooled
	// value; EBFMI is nil without an energy__ column.
	EBFMI       []float64
	EBFMIPooled float64
	// LowEBFMI lists the (0-based) chains whose E-BFMI is below
	// Options.EBFMIMin.
	LowEBFMI []int
	// HighRhat lists the parameters with R-hat above Options.RhatMax,
	// LowESS those with bulk- or tail-ESS below Options.EssPerChain per
	// chain, in column order.
	HighRhat []ParamDiag
	LowESS   []ParamDiag
	// Undefined lists the parameters whose R-hat or ESS is not defined
	// (NA in posterior: constant draws, non-finite values or too few
	// draws). They are reported, not counted as problems: a constant is
	// often meant to be one.
	Undefined []string
}

// ParamDiag is one parameter's convergence diagnostics.
type ParamDiag struct {
	Name    string
	Rhat    float64
	EssBulk float64
	EssTail float64
}

// Problems returns the number of kinds of problem found: divergences,
// tree-depth saturation, low E-BFMI, high R-hat, low ESS.
func (r *CheckReport) Problems() int {
	n := 0
	for _, bad := range []bool{r.Divergences > 0, r.TreeDepthHits > 0, len(r.LowEBFMI) > 0, len(r.HighRhat) > 0, len(r.LowESS) > 0} {
		if bad {
			n++
		}
	}
	return n
}

// Check runs the checks of CmdStan's diagnose on d's post-warmup draws:
// divergent transitions and tree-depth saturation (from divergent__ and
// treedepth__), E-BFMI per chain and pooled (from energy__), and the
// rank-normalised R-hat and bulk/tail ESS of every parameter (variables
// that are neither sampler statistics nor .log_weight). Sampler columns
// that are absent are reported as such (-1 or nil).
func Check(ctx context.Context, d *Draws, opts CheckOptions) (*CheckReport, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	opts.defaults(d)
	r := &CheckReport{Options: opts, Chains: d.NumChains(), Draws: d.NumDraws(), EBFMIPooled: math.NaN()}
	r.Divergences, r.TreeDepthHits = CountTransitions(d, opts.MaxTreeDepth)
	if v := d.Index(Energy); v >= 0 {
		e := d.Series(v)
		r.EBFMIPooled = EBFMIPooled(e)
		for c, s := range e {
			b := EBFMI(s)
			r.EBFMI = append(r.EBFMI, b)
			if b < opts.EBFMIMin {
				r.LowEBFMI = append(r.LowEBFMI, c)
			}
		}
	}
	params := d.ParamIndices()
	diags := make([]ParamDiag, len(params))
	err := forEachVariable(ctx, d, params, opts.Workers, func(i int, g *Diagnostics) {
		diags[i] = ParamDiag{Name: d.Names[params[i]], Rhat: g.Rhat(), EssBulk: g.EssBulk(), EssTail: g.EssTail()}
	})
	if err != nil {
		return nil, err
	}
	essMin := opts.EssPerChain * float64(d.NumChains())
	for _, p := range diags {
		if math.IsNaN(p.Rhat) || math.IsNaN(p.EssBulk) || math.IsNaN(p.EssTail) {
			r.Undefined = append(r.Undefined, p.Name)
		}
		if p.Rhat > opts.RhatMax {
			r.HighRhat = append(r.HighRhat, p)
		}
		if p.EssBulk < essMin || p.EssTail < essMin {
			r.LowESS = append(r.LowESS, p)
		}
	}
	return r, nil
}

// CountTransitions counts d's post-warmup transitions that were divergent
// (divergent__ ≠ 0) and those whose tree depth reached maxTreeDepth
// (treedepth__ ≥ maxTreeDepth); a count is −1 when its column is absent.
func CountTransitions(d *Draws, maxTreeDepth int) (divergent, atMaxDepth int) {
	count := func(name string, hit func(float64) bool) int {
		v := d.Index(name)
		if v < 0 {
			return -1
		}
		n := 0
		for _, s := range d.Series(v) {
			for _, x := range s {
				if hit(x) {
					n++
				}
			}
		}
		return n
	}
	divergent = count(Divergent, func(x float64) bool { return x != 0 })
	atMaxDepth = count(TreeDepth, func(x float64) bool { return x >= float64(maxTreeDepth) })
	return divergent, atMaxDepth
}

// String returns a one-line account of the report, for logs.
func (r *CheckReport) String() string {
	return fmt.Sprintf("%d chains, %d draws: %d divergences, %d at max tree depth, %d chains with low E-BFMI, %d parameters with high R-hat, %d with low ESS",
		r.Chains, r.Draws, max(r.Divergences, 0), max(r.TreeDepthHits, 0), len(r.LowEBFMI), len(r.HighRhat), len(r.LowESS))
}
