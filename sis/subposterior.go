package sis

import (
	"context"
	"fmt"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/internal/progress"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
)

// RunSubposterior samples the subposterior of m, shard cfg.Shard of
// cfg.Shards, with the SMC sampler and writes an ordinary draws file to
// out, as subpost.Run does for NUTS: cfg.Chains independent SMC runs of
// cfg.Draws particles each, run r being chain r+1 (so R-hat compares runs
// and shows one that missed a mode). Tempering goes from the tempered prior
// p(θ)^{1/M}, sampled exactly, to the subposterior. The settings of
// cfg that belong to MCMC (warmup, metric, step size, initialisation) do
// not apply. The model must implement subpost.PriorSampler.
//
// Run r of shard m uses the random streams of seed (cfg.Seed, m) and run
// r, so the file does not depend on the number of workers.
func RunSubposterior(ctx context.Context, m subpost.Model, cfg subpost.Config, out string) error {
	sm, ok := m.(StaticModel)
	if !ok {
		return fmt.Errorf("the SMC sampler needs a model that can sample its prior (subpost.PriorSampler); %T cannot", m)
	}
	shards := max(cfg.Shards, 1)
	nchains := cfg.Chains
	if nchains == 0 {
		nchains = subpost.DefaultChains
	}
	particles := cfg.Draws
	if particles == 0 {
		particles = subpost.DefaultDraws
	}
	seed, _ := rng.Seeds(cfg.Seed, uint64(cfg.Shard))
	sc := StaticConfig{
		Particles: particles, PriorPower: 1 / float64(shards), Seed: seed,
		Workers: cfg.Threads,
	}
	bars := progress.New(cfg.Progress, cfg.Progress != nil)
	runs := make([]*StaticResult, nchains)
	for c := range runs {
		bar := bars.Add(fmt.Sprintf("run %d λ‰", c+1), 1000)
		done := 0
		sc.Run = uint64(c)
		sc.Progress = func(st Stage) {
			now := int(1000 * st.Lambda)
			bar.IncrBy(now - done)
			done = now
		}
		r, err := SampleStatic(ctx, sm, sc)
		if err != nil {
			bar.Abort()
			bars.Wait()
			if nchains > 1 {
				err = fmt.Errorf("chain %d: %w", c+1, err)
			}
			return err
		}
		bar.SetTotal(1000, true)
		runs[c] = r
	}
	bars.Wait()
	d, err := Draws(runs...)
	if err != nil {
		return err
	}
	meta := cfg.Meta
	meta.Kind = chains.KindSubposterior
	if shards == 1 {
		meta.Kind = chains.KindFull
	}
	meta.Shard, meta.Shards = cfg.Shard, shards
	meta.PriorPower = 1 / float64(shards)
	meta.Convention = chains.ConventionProduct
	rootSeed := cfg.Seed
	meta.Seed = &rootSeed
	meta.Params = d.Meta.Params
	meta.Sampler = d.Meta.Sampler
	d.Meta = meta
	return chains.WriteFile(out, d, chains.WriteOptions{Compression: cfg.Compression})
}
