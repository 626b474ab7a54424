// Package subpost samples subposteriors: the posterior of one data shard
// with the prior raised to the power 1/M, p_m(θ) ∝ p(θ)^{1/M} p(x_m | θ).
//
// A Model exposes its unconstrained dimension, its parameter blocks and
// transforms, and the log prior (Jacobian included) and log likelihood of
// its shard with gradients. Subposterior turns a model into the Target the
// samplers draw from: the No-U-Turn sampler with Stan's adaptation, and
// adaptive random-walk Metropolis for models without gradients.
package subpost
