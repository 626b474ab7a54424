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
// subposterior is Gaussian and keep little else. Skewed subposteriors bias
// them by O(M/N) in parameter units, O(M/√N) in posterior sds: on a
// logistic regression with N = 20,000 rows, d = 6 and M = 8 shards this is
// 0.05–0.13 sd when the linear predictor has sd 1 and 0.08–0.25 sd when it
// has sd 2, depending on the data set. The KDE methods are asymptotically exact in the number of
// draws per shard and remove that bias where they can be estimated — in
// one to five dimensions when the shards overlap — but need T ≫ exp(d)
// and degrade as the shards disagree, because the product lies where each
// shard has few draws.
//
// Bandwidth. The KDE methods' default (BandwidthAuto) is chosen for the
// product, not for each shard's density: it starts from likelihood
// cross-validation, which resolves each shard's shape and several modes,
// and widens the kernels until every shard contributes at least
// DefaultMinEffectiveDraws effective draws to the product where it lies,
// measured by a short calibration chain over a descending ladder of
// candidate bandwidths. Cross-validation alone (BandwidthLCV) is the
// bandwidth that best estimates each shard's density, and in six
// dimensions it leaves some shards with one to ten effective draws in the
// product, the cause of the errors of a posterior sd or more that it gave
// on the logistic check. The search is bounded by what each method can
// use: nonparametric up to the widest kernel its variance correction
// allows (it then notes when the product is still poorly determined),
// semiparametric up to one shard sd, beyond which its correction's
// weights have infinite variance; when nothing qualifies, semiparametric
// returns its parametric start, the Gaussian product, and says so.
// Info.EffectiveDraws reports each shard's effective draws for any rule.
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
