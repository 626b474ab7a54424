// Package kde estimates densities with multivariate Gaussian kernels.
//
// A KDE built from points x_1..x_n with normalised weights w_i and a
// bandwidth matrix H (the kernel covariance) is
//
//	p̂(x) = Σ_i w_i N(x | x_i, H).
//
// H may be isotropic (h²I), diagonal (diag(h_j²)) or full. A full H is
// handled by whitening: with the Cholesky factor H = BBᵀ the data are
// stored as z_i = B⁻¹x_i, so every evaluation is an isotropic sum in
// whitened coordinates. Bandwidths come from Scott's or Silverman's
// normal-reference rules or from likelihood cross-validation (Select), or
// are given directly (Scalar, Diag, Matrix).
//
// Evaluation:
//
//   - LogDensity evaluates log p̂ exactly, with a streaming log-sum-exp so
//     that it stays finite however far x lies from the data (where the
//     density itself underflows to zero).
//   - LogDensities evaluates many points in parallel.
//   - Grid evaluates a one- or two-dimensional density on a regular grid
//     by linear binning and FFT convolution (Wand 1994, the method of R's
//     stats::density and ks::kde), O(n + G log G) for G grid points: this
//     is what plots of marginal and pairwise densities should call.
//
// Sample draws from p̂ with a caller's *rand.Rand; nothing in the package
// uses a global random source.
//
// Cost and limits: an exact evaluation is O(n·d); a KDE in more than about
// five dimensions needs a great many points to be accurate (the curse of
// dimensionality), which is why the combination methods built on it are
// meant for d ≤ 5.
//
// The test suite checks densities against R's ks::kde and stats::density
// and the normal-scale bandwidth against ks::Hns (testdata/kde, with the
// script that made the golden values).
package kde
