// Package epmc is the root of the epmc toolkit for embarrassingly parallel
// MCMC: subposterior sampling on data shards, combination of the shards'
// draws into full-posterior draws, convergence diagnostics, an auxiliary
// variable parallel Dirichlet-process mixture sampler and sequential Monte
// Carlo.
//
// The work is done in the sub-packages:
//
//   - chains: the draws type, Arrow and Stan CSV files, diagnostics, summaries
//   - subpost: models, sharding, NUTS and adaptive Metropolis samplers
//   - kde: multivariate Gaussian kernel density estimation
//   - combine: subposterior combination methods and distances between draw sets
//   - auxdp: the parallel Dirichlet-process / Pitman–Yor mixture sampler
//   - sis: particle filters, resampling and SMC samplers
//   - rng: reproducible random streams derived from one seed
//
// The command-line tool lives in cmd/epmc.
package epmc

// Version is the version of epmc recorded in every file it writes.
const Version = "0.1.0"
