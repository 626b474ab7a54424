// Package combine turns draws from M subposteriors into draws from (an
// estimate of) the full posterior, and measures how far two draw sets are
// apart.
//
// Every method works on unconstrained draws in ℝ^d (the caller maps
// constrained draws through chains.Layout and back) and assumes the
// product form p(θ | x) ∝ Π_m p_m(θ), where shard m sampled
// p_m(θ) ∝ p(θ)^{1/M} p(x_m | θ). Shards may hold different numbers of
// draws. The methods, behind the one interface Method:
//
//	average         Average         unweighted mean of paired draws (a baseline; biased)
//	consensus-diag  ConsensusDiag   Scott et al. (2016), inverse-variance weights
//	consensus       Consensus       Scott et al. (2016), inverse-covariance weights
//	parametric      Parametric      Gaussian product (Neiswanger, Wang & Xing 2014)
//	nonparametric   Nonparametric   product of Gaussian KDEs, Metropolis-within-Gibbs over mixture indices
//	semiparametric  Semiparametric  Hjort–Glad parametric start × KDE correction, same sampler
//	swiss           Swiss           SwISS (Vyner, Nemeth & Sherlock 2023), swissprod form
//
// The Gaussian methods (consensus, parametric, swiss) are exact when every
// subposterior is Gaussian and keep little else; the KDE methods are
// asymptotically exact in the number of draws per shard but need
// T ≫ exp(d), in practice d ≤ 5, and mix slowly when shards disagree.
//
// Markov-chain methods (nonparametric, semiparametric) run several chains
// in parallel, each with its own random stream rng.New(seed, chain), so
// their output is bit-identical for any number of workers; their index
// moves cost O(d) each, using sufficient statistics rather than cached
// weights, and each chain tempers over the bandwidth so that several modes
// keep their weights (see the notes on each type and MarkovOptions). Non-Markov methods emit their
// draws in Settings.Chains equal blocks so that R-hat on the output is
// meaningful.
//
// Compare computes distances between two draw sets: standardised and
// Mahalanobis mean error, relative covariance error, per-marginal
// Kolmogorov–Smirnov distance, mean marginal total variation and energy
// distance.
package combine
