package plot

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
)

// synth describes synthetic posterior draws for tests and benchmarks.
type synth struct {
	d       int // parameters: alpha, beta[1..d-2], sigma (d ≥ 2)
	shards  int
	chains  int
	iters   int
	warmup  int // saved warmup iterations, with a transient at the start
	seed    uint64
	methods []string // combined sets
	ref     bool
}

func (s synth) names() []string {
	names := []string{"alpha"}
	for j := 1; j <= s.d-2; j++ {
		names = append(names, fmt.Sprintf("beta[%d]", j))
	}
	names = append(names, "sigma", chains.LP, chains.AcceptStat)
	return names
}

// draws makes one set: an AR(1) Gaussian posterior around mean mu with
// standard deviation sd (sigma log-normal), alpha and beta[1] correlated.
func (s synth) draws(kind chains.Kind, shard int, shift, scale float64, stream uint64) *chains.Draws {
	names := s.names()
	d := chains.New(names, s.chains, s.warmup+s.iters)
	d.Warmup = s.warmup
	k := s.d
	for c := range s.chains {
		r := rng.NewRand(s.seed, stream, uint64(c))
		z := make([]float64, k) // standardised AR(1) state
		for j := range z {
			z[j] = 4 + r.NormFloat64() // start away from the target
		}
		const rho = 0.6
		for t := range s.warmup + s.iters {
			z0, z1 := r.NormFloat64(), r.NormFloat64()
			for j := range k {
				var e float64
				switch j {
				case 0:
					e = z0
				case 1:
					e = -0.6*z0 + 0.8*z1
				default:
					e = r.NormFloat64()
				}
				z[j] = rho*z[j] + math.Sqrt(1-rho*rho)*e
			}
			for j := range k - 1 {
				mu := 0.4*float64(j) - 0.5 + shift*(1+0.3*float64(j%3))
				sd := scale * (0.2 + 0.05*float64(j%4))
				d.Values[c][j][t] = mu + sd*z[j]
			}
			// sigma: log-normal around 0.15, near its lower bound 0.
			d.Values[c][k-1][t] = 0.15 * math.Exp(shift+0.35*scale*z[k-1])
			d.Values[c][k][t] = -0.5 * z[0] * z[0]
			d.Values[c][k+1][t] = 0.8
		}
	}
	d.Meta.Kind = kind
	d.Meta.Model = json.RawMessage(`{"name":"logistic"}`)
	d.Meta.Params = []chains.Param{{Name: "sigma", Transform: chains.Transform{Kind: chains.Lower}}}
	if kind == chains.KindSubposterior {
		d.Meta.Shard, d.Meta.Shards = shard, s.shards
	}
	return d
}

// sets returns the subposteriors, the combined sets and the reference.
func (s synth) sets() []Set {
	var out []Set
	for m := range s.shards {
		shift := 0.25 * math.Sin(float64(m)*1.7)
		d := s.draws(chains.KindSubposterior, m, shift, math.Sqrt(float64(s.shards)), uint64(m))
		out = append(out, SetOf(fmt.Sprintf("shard-%d.arrow", m), d))
	}
	for i, meth := range s.methods {
		d := s.draws(chains.KindCombined, 0, 0.05*float64(i), 1+0.15*float64(i), uint64(100+i))
		d.Meta.Combine = json.RawMessage(fmt.Sprintf(`{"method":%q,"shards":%d}`, meth, s.shards))
		out = append(out, SetOf(meth+".arrow", d))
	}
	if s.ref {
		out = append(out, SetOf("full.arrow", s.draws(chains.KindFull, 0, 0, 1, 200)))
	}
	return out
}
