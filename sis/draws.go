package sis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/subpost"
)

// errNoRuns is returned by Draws without results.
var errNoRuns = errors.New("no SMC runs to convert")

// StaticInfo describes SMC runs for the sampler metadata of a draws file
// (chains.Meta.Sampler).
type StaticInfo struct {
	Sampler     string  `json:"sampler"` // "smc"
	Variant     string  `json:"variant"` // "adaptive" or "waste-free"
	Particles   int     `json:"particles"`
	ChainLength int     `json:"chain_length,omitempty"`
	ESSFraction float64 `json:"ess_fraction"`
	Resample    Scheme  `json:"resample"`
	PriorPower  float64 `json:"prior_power"`
	Seed        uint64  `json:"seed"`
	// LogEvidence combines the runs as log of the mean of their Ẑ (an
	// unbiased combination); LogEvidenceSD is the standard deviation of the
	// runs' log Ẑ (absent for a single run).
	LogEvidence   float64   `json:"log_evidence"`
	LogEvidenceSD *float64  `json:"log_evidence_sd,omitempty"`
	Runs          []RunInfo `json:"runs"`
}

// RunInfo describes one SMC run: chain Chain of the draws file.
type RunInfo struct {
	Chain       int       `json:"chain"`
	Run         uint64    `json:"run"`
	LogEvidence float64   `json:"log_evidence"`
	Schedule    []float64 `json:"schedule"`
	ESS         []float64 `json:"ess"`
	Acceptance  []float64 `json:"acceptance"`
	MoveSteps   []int     `json:"move_steps"`
}

// Info returns the metadata of the runs (chains in order).
func Info(runs ...*StaticResult) StaticInfo {
	if len(runs) == 0 {
		return StaticInfo{Sampler: "smc"}
	}
	c := runs[0].Config
	info := StaticInfo{
		Sampler: "smc", Variant: "adaptive", Particles: c.Particles, ESSFraction: c.ESSFraction,
		Resample: c.Scheme, PriorPower: c.PriorPower, Seed: c.Seed,
	}
	if c.WasteFree {
		info.Variant, info.ChainLength = "waste-free", c.ChainLength
	}
	lz := make([]float64, len(runs))
	for i, r := range runs {
		ri := RunInfo{Chain: i + 1, Run: r.Config.Run, LogEvidence: r.LogEvidence, Schedule: r.Schedule()}
		for _, st := range r.Stages {
			ri.ESS = append(ri.ESS, st.ESS)
			ri.Acceptance = append(ri.Acceptance, st.Acceptance)
			ri.MoveSteps = append(ri.MoveSteps, st.MoveSteps)
		}
		info.Runs = append(info.Runs, ri)
		lz[i] = r.LogEvidence
	}
	info.LogEvidence = LogMeanExp(lz)
	if len(lz) > 1 {
		_, sd := meanStd(lz)
		info.LogEvidenceSD = &sd
	}
	return info
}

func meanStd(xs []float64) (mean, sd float64) {
	for _, x := range xs {
		mean += x
	}
	mean /= float64(len(xs))
	for _, x := range xs {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(len(xs)-1))
}

// Draws returns the particles of independent runs of SampleStatic on one
// model as draws: run r is chain r+1 and its N particles are that chain's
// iterations. Independent runs as chains make R-hat meaningful: it compares
// runs, so a run that missed a mode or collapsed shows. Within a chain the
// particles keep the sampler's order, in which copies of a resampled
// particle are adjacent (and, waste-free, each Metropolis chain's states are
// consecutive), so the autocorrelation-based ESS sees that dependence
// rather than overstating the sample size.
//
// The columns are the constrained scalars of the model's parameters (named
// by chains.Param.ScalarNames, mapped by the model's subpost.Constrainer
// when it has one, else by subpost.Constrain) and lp__, the log target at λ = 1 in θ-space
// (PriorPower·LogPrior + LogLik, Jacobian included, as Stan's lp__). The
// metadata carry the parameters, the prior power, the seed and the
// sampler's settings, schedules, acceptance rates and log-evidence (as
// StaticInfo JSON); the caller sets Kind, the shard and the data details.
func Draws(runs ...*StaticResult) (*chains.Draws, error) {
	if len(runs) == 0 {
		return nil, errNoRuns
	}
	first := runs[0]
	for i, r := range runs {
		if r.N != first.N || r.Dim != first.Dim {
			return nil, fmt.Errorf("run %d has %d particles of dimension %d, run 1 has %d of dimension %d", i+1, r.N, r.Dim, first.N, first.Dim)
		}
	}
	params := first.Params
	if err := checkParams(params, first.Dim); err != nil {
		return nil, err
	}
	var names []string
	for _, p := range params {
		names = append(names, p.ScalarNames()...)
	}
	k := len(names)
	names = append(names, chains.LP)
	d := chains.New(names, len(runs), first.N)
	x := make([]float64, k)
	for c, r := range runs {
		report := func(x, theta []float64) { subpost.Constrain(params, x, theta) }
		if cm, ok := r.model.(subpost.Constrainer); ok {
			report = cm.Constrain
		}
		for i := range r.N {
			report(x, r.Particle(i))
			for v, val := range x {
				d.Values[c][v][i] = val
			}
			d.Values[c][k][i] = r.Config.PriorPower*r.LogPrior[i] + r.LogLik[i]
		}
	}
	info, err := json.Marshal(Info(runs...))
	if err != nil {
		return nil, err
	}
	seed := first.Config.Seed
	d.Meta = chains.Meta{Params: params, PriorPower: first.Config.PriorPower, Sampler: info, Seed: &seed}
	return d, nil
}

// SampleStaticChains runs nchains independent samplers (Run = 0, …,
// nchains−1, one after another, each on cfg.Workers goroutines) and returns
// their particles as draws of nchains chains of cfg.Particles iterations,
// with the runs themselves. This is the shape of `epmc sample --sampler
// smc --chains C --draws D`: D particles per run, one run per chain.
func SampleStaticChains(ctx context.Context, model StaticModel, cfg StaticConfig, nchains int) (*chains.Draws, []*StaticResult, error) {
	if nchains < 1 {
		return nil, nil, fmt.Errorf("number of chains %d is below 1", nchains)
	}
	runs := make([]*StaticResult, nchains)
	for c := range runs {
		cfg.Run = uint64(c)
		r, err := SampleStatic(ctx, model, cfg)
		if err != nil {
			if nchains > 1 {
				err = fmt.Errorf("chain %d: %w", c+1, err)
			}
			return nil, nil, err
		}
		runs[c] = r
	}
	d, err := Draws(runs...)
	if err != nil {
		return nil, nil, err
	}
	return d, runs, nil
}
