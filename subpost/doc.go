// Package subpost samples subposteriors: the posterior of one data shard
// with the prior raised to the power 1/M, p_m(θ) ∝ p(θ)^{1/M} p(x_m | θ).
//
// A Model exposes its unconstrained dimension, its parameter blocks and
// transforms, and the log prior (Jacobian included) and log likelihood of
// its shard with gradients. Subposterior turns a model into the Target the
// samplers draw from, and Run samples it and writes an Arrow draws file.
//
// # Samplers
//
// NUTS is the No-U-Turn sampler exactly as Stan (2.21 and later) runs it:
// multinomial sampling within subtrees, biased progressive sampling at the
// top, the three U-turn checks of stan-dev/stan#2800 at every merge,
// divergence at an energy error above 1000, accept_stat averaged over every
// leapfrog step, Stan's step-size search (init_stepsize) and its warmup:
// dual averaging (δ 0.8, γ 0.05, κ 0.75, t0 10, μ = log 10ε reset at every
// window end) and a diagonal or dense metric re-estimated on doubling
// windows (75/25…/50, 15%/75%/10% for short warmups, none below 20
// iterations) with Stan's regularisation. The gradient of the accepted
// point is kept, so a transition costs n_leapfrog gradients (Stan's cost
// n_leapfrog + 1). The one intended difference in adaptation is noted at
// newWindows: Stan never closes the single window of a 15/75/10 warmup.
//
// RWM is adaptive random-walk Metropolis (Roberts & Rosenthal 2009) for
// models without gradients; it adapts during warmup only.
//
// # Output
//
// Run writes Stan's sampler columns (lp__, accept_stat__, stepsize__,
// treedepth__, n_leapfrog__, divergent__, energy__ for NUTS; lp__ and
// accept_stat__ for RWM) and then the constrained parameters, named like
// Stan (beta[1]). lp__ is the log of the sampled target in unconstrained
// space,
//
//	(1/M)·(log prior + log|Jacobian|) + log likelihood of the shard,
//
// with every normalising constant the model keeps: the built-in models keep
// them all, so lp__ is a true log density, unlike Stan's, which drops the
// constants of ~ statements. The metadata record the shard, the prior
// power, the model, the data fingerprint and partition, the seed, and per
// chain the adapted step size and inverse metric and the wall-clock times.
//
// Every chain draws from its own stream rng.New(seed, shard, chain), so
// the file does not depend on how many chains run at once.
package subpost
