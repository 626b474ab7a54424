// Package models holds epmc's built-in models, ready for epmc sample:
//
//	normal    d-dimensional observations with unknown means mu[j] and
//	          either a known scale (--sigma) or unknown scales sigma[j]
//	linear    y ~ normal(alpha + X·beta, sigma), sigma known or unknown
//	logistic  y ∈ {0, 1}, P(y = 1) = logit⁻¹(alpha + X·beta)
//	poisson   y ∈ {0, 1, 2, …}, y ~ Poisson(exp(alpha + X·beta))
//	mixture   K-component Gaussian mixture of d-dimensional observations
//	          with unknown means mu[k, j] and weights w, known scale sigma
//
// Every model implements subpost.Model and subpost.PriorSampler. Log
// densities are fully normalised (no constant is dropped), so lp__ and SMC
// log-evidence estimates are meaningful, and gradients are hand-written,
// each checked against finite differences in the tests. Models are
// immutable after Build and safe for concurrent use; LogPrior and LogLik do
// not allocate.
//
// A model of your own plugs into the same workflow by implementing
// subpost.Model (see Example_ownModel: data.Load, a data.Partition and
// subpost.Subposterior, exactly as epmc sample does for the built-in ones).
//
// # Priors
//
// Coefficients (alpha and beta) and means (mu) have independent
// normal(0, S) priors, S = --prior-scale (default 5), on the data's own
// scale, or on the standardised scale with --standardize. Unknown scales
// sigma have half-normal(0, S_σ) priors, S_σ = --sigma-prior-scale
// (default 5), sampled as log sigma. Mixture weights have a symmetric
// Dirichlet(α) prior, α = --dirichlet-alpha (default 1: uniform on the
// simplex), sampled through Stan's stick-breaking transform; the mixture
// likelihood and prior are symmetric in the component labels, so the
// posterior has K! modes related by label switching, as in the experiments
// of Neiswanger, Wang & Xing (2014), and nothing here breaks the symmetry.
//
// # Standardisation
//
// With --standardize the regression models replace each predictor x_j by
// (x_j − m_j)/s_j, m_j and s_j the mean and sample standard deviation over
// the whole data set (not the shard), so that every shard has the same
// prior. Without an intercept only the scaling is applied (m_j = 0). The
// sampler works on the standardised coefficients, but draws are reported
// on the original scale (the models implement subpost.Constrainer):
// beta_j = b_j/s_j and alpha = a − Σ_j beta_j·m_j, a fixed linear map
// common to every shard, which keeps the product of the subposteriors
// exact. The constants are recorded in the spec JSON.
//
// # Spec
//
// Build returns the model's spec, the JSON recorded as the draws file's
// model metadata: model name, columns, priors, known sigma, number of
// components and standardisation constants (see Spec). It is identical for
// every shard of one data set and one set of options.
//
// # Simulators
//
// Simulate makes data sets for tests, benchmarks and demos,
// deterministically from a seed; its documentation states the generator.
package models
