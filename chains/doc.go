// Package chains holds MCMC draws and everything that reads, writes and
// judges them.
//
// A Draws value is chains × iterations × scalar variables with
// Stan/posterior-style names (beta[1], Sigma[1,2]), sampler statistics
// (lp__, accept_stat__, …), an optional .log_weight column and typed
// metadata (Meta) that says where the draws came from: which shard of how
// many, the prior power, the model, the data fingerprint, the sampler
// settings and the transforms between constrained and unconstrained space.
//
// Files: ReadFile reads epmc Arrow draws files (see docs/FORMAT.md), CSV
// draws in R posterior's draws_df layout and Stan CSV output (CmdStan and
// rstan); Create streams draws to an Arrow file that appears atomically on
// Close; WriteFile and WriteCSV write a whole Draws value.
//
// Diagnostics follow Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021,
// Bayesian Analysis 16(2)) exactly as R's posterior package implements them,
// and the test suite checks them against posterior's own output.
package chains
