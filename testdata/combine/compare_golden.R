# Golden values for combine.Compare (combine/compare_test.go).
# Run from the repository root:  Rscript testdata/combine/compare_golden.R
# Writes testdata/combine/compare_golden.json. Needs mvtnorm and jsonlite.
suppressPackageStartupMessages({library(mvtnorm); library(jsonlite)})
set.seed(31)
d <- 3
SA <- matrix(c(1, 0.3, 0.1, 0.3, 2, -0.4, 0.1, -0.4, 0.5), 3)
SB <- matrix(c(1.2, 0.2, 0, 0.2, 1.8, -0.3, 0, -0.3, 0.6), 3)
A <- rmvnorm(1500, c(0.1, -0.2, 1.05), SA)
A[, 3] <- A[, 3] + rexp(1500, 2)            # a skewed marginal
B <- rmvnorm(1200, c(0, 0, 1.5), SB)
muA <- colMeans(A); muB <- colMeans(B)
CA <- cov(A); CB <- cov(B)
sdB <- sqrt(diag(CB))
L <- t(chol(CB))
W <- solve(L, t(solve(L, CA)))              # L^-1 CA L^-T
diff <- muA - muB

tv <- function(a, b) {
  ha <- bw.nrd0(a); hb <- bw.nrd0(b)
  lo <- min(a, b) - 4 * max(ha, hb); hi <- max(a, b) + 4 * max(ha, hb)
  n <- min(max(ceiling((hi - lo) / (min(ha, hb) / 4)) + 1, 512), 16384)
  pa <- density(a, bw = ha, from = lo, to = hi, n = n)$y
  pb <- density(b, bw = hb, from = lo, to = hi, n = n)$y
  v <- abs(pa - pb); step <- (hi - lo) / (n - 1)
  0.5 * step * (sum(v) - (v[1] + v[n]) / 2)
}
edist <- function(x, y) {                    # V-statistic energy distance
  x <- as.matrix(x); y <- as.matrix(y)
  nx <- nrow(x); ny <- nrow(y)
  D <- as.matrix(dist(rbind(x, y)))
  exy <- mean(D[1:nx, nx + 1:ny]); exx <- mean(D[1:nx, 1:nx]); eyy <- mean(D[nx + 1:ny, nx + 1:ny])
  sqrt(2 * exy - exx - eyy)
}
As <- sweep(A, 2, sdB, "/"); Bs <- sweep(B, 2, sdB, "/")
per <- lapply(1:d, function(j) list(
  mean_error_sd = abs(diff[j]) / sdB[j],
  cov_rel_error = abs(CA[j, j] / CB[j, j] - 1),
  ks = unname(suppressWarnings(ks.test(A[, j], B[, j]))$statistic),
  tv = tv(A[, j], B[, j]),
  energy = edist(As[, j], Bs[, j])))
out <- list(
  a = A, b = B,
  max_mean_error_sd = max(abs(diff) / sdB),
  mahalanobis_mean_error = sqrt(drop(t(diff) %*% solve(CB, diff))),
  cov_rel_error = sqrt(sum((W - diag(d))^2) / d),
  energy_distance = edist(As, Bs),
  per_parameter = per)
writeLines(toJSON(out, digits = NA, matrix = "rowmajor", auto_unbox = TRUE), "testdata/combine/compare_golden.json")
