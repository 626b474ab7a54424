// Package sis is sequential importance sampling with resampling: particle
// filters for state-space models and SMC samplers for static targets.
//
// The core is the weight recursion of Chopin & Papaspiliopoulos (2020, An
// Introduction to Sequential Monte Carlo): log weights are updated by the
// log potentials, the effective sample size ESS = 1/Σ W² is monitored, and
// the particles are resampled when the ESS drops below a fraction of N,
// with one of five O(N) schemes (multinomial, stratified, systematic,
// residual and SSP; see Scheme and Resample). The estimate of the log
// normalising constant (log-evidence) accumulates log Σ W_{t−1}·G_t; Ẑ is
// unbiased, log Ẑ is biased down by about Var(log Ẑ)/2.
//
// RunFilter runs bootstrap and guided particle filters on any StateSpace
// model, returning the log-evidence, its running value and the filtering
// means and variances per step. LinearGauss (with its exact Kalman filter)
// and StochVol are built in.
//
// SampleStatic is an SMC sampler for static targets: adaptive tempering
// from the (1/M-tempered) prior to the (sub)posterior of a model with the
// method set of subpost.Model and subpost.PriorSampler, with random-walk
// Metropolis moves calibrated on the particles, standard or waste-free
// (Dau & Chopin 2022). Draws turns the particles of independent runs into
// a chains.Draws (one chain per run) for a draws file, and
// SampleStaticChains does both, in the shape of epmc sample's --chains and
// --draws.
//
// Parallelism and reproducibility: particles are processed in blocks of
// BlockSize (or smaller, fixed, blocks for SMC samplers); block b at step
// t draws its random numbers from its own stream rng.New(seed, stream, t,
// b), and block results are reduced in block order, so results are
// bit-identical whatever the number of worker goroutines. The filter's
// resampling is block-parallel too (see Scheme), and its steps allocate
// nothing.
package sis
