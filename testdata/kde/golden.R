# Golden values for the kde package tests (kde/kde_test.go).
# Run from the repository root:  Rscript testdata/kde/golden.R
# Writes testdata/kde/golden.json. Needs R packages ks, mvtnorm, jsonlite.
suppressPackageStartupMessages({library(ks); library(mvtnorm); library(jsonlite)})
set.seed(20240601)
out <- list(r_version = R.version.string, ks_version = as.character(packageVersion("ks")))

# 1-D: a skewed mixture, fixed bandwidth, exact and binned (stats::density).
x1 <- c(rnorm(150, 0, 1), rnorm(50, 3, 0.5))
w1 <- runif(200, 0.2, 1.8)
ev1 <- seq(-3.5, 5.5, length.out = 19)
h1 <- 0.4
d1 <- density(x1, bw = h1, n = 512, from = -4, to = 6)
d1w <- density(x1, bw = h1, weights = w1 / sum(w1), n = 512, from = -4, to = 6)
out$one <- list(
  x = x1, w = w1, h = h1, eval = ev1,
  exact = kde(x1, h = h1, eval.points = ev1, binned = FALSE)$estimate,
  exact_weighted = kde(x1, h = h1, eval.points = ev1, binned = FALSE, w = w1 / sum(w1) * length(x1))$estimate,
  grid_from = -4, grid_to = 6, grid_n = 512,
  density = d1$y, density_weighted = d1w$y,
  silverman_h = (4 / (3 * length(x1)))^(1/5) * sd(x1),
  scott_h = length(x1)^(-1/5) * sd(x1))

# 2-D correlated data, full bandwidth matrix: exact values, a binned grid,
# the normal-scale (Silverman) bandwidth ks::Hns, and a log density far from
# the data computed by log-sum-exp.
S2 <- matrix(c(1, 0.6, 0.6, 2), 2)
x2 <- rmvnorm(300, c(1, -1), S2)
w2 <- runif(300, 0.1, 2)
H2 <- matrix(c(0.15, 0.05, 0.05, 0.3), 2)
ev2 <- rbind(c(1, -1), c(0, 0), c(2.5, -3), c(-1, 1), c(3, 2), c(1.2, -0.7))
far <- c(40, -60)
lfar <- dmvnorm(x2, mean = far, sigma = H2, log = TRUE)  # symmetric kernel
m <- max(lfar)
g2 <- kde(x2, H = H2, gridsize = c(41, 51), xmin = c(-3.5, -7), xmax = c(5.5, 5), binned = TRUE)
out$two <- list(
  x = x2, w = w2, H = H2, eval = ev2,
  exact = kde(x2, H = H2, eval.points = ev2, binned = FALSE)$estimate,
  exact_weighted = kde(x2, H = H2, eval.points = ev2, binned = FALSE, w = w2 / sum(w2) * nrow(x2))$estimate,
  far = far, far_log_density = m + log(sum(exp(lfar - m))) - log(nrow(x2)),
  grid_lo = c(-3.5, -7), grid_hi = c(5.5, 5), grid_n = c(41, 51),
  grid = g2$estimate,          # 41 x 51, rows along the first axis
  hns = Hns(x2))

# 3-D exact evaluation with a full bandwidth.
S3 <- matrix(c(1, 0.3, -0.2, 0.3, 0.5, 0.1, -0.2, 0.1, 2), 3)
x3 <- rmvnorm(250, c(0, 1, 2), S3)
H3 <- Hns(x3)
ev3 <- rbind(c(0, 1, 2), c(1, 1, 1), c(-1, 0.5, 4), c(0.5, 2, 0))
out$three <- list(x = x3, H = H3, eval = ev3,
  exact = kde(x3, H = H3, eval.points = ev3, binned = FALSE)$estimate)

# Likelihood cross-validation, written out from its definition and maximised
# with optim: diagonal bandwidths (BFGS on log h) and an isotropic one.
lcv <- function(logh, x) {
  h <- exp(logh); n <- nrow(x); d <- ncol(x)
  if (length(h) == 1) h <- rep(h, d)
  z <- sweep(x, 2, h, "/")
  D <- as.matrix(dist(z))^2
  K <- exp(-D / 2); diag(K) <- 0
  sum(log(rowSums(K) / (n - 1))) - n * sum(log(h)) - n * d / 2 * log(2 * pi)
}
x4 <- cbind(rnorm(300, 0, 1), c(rnorm(150, -2, 0.5), rnorm(150, 2, 0.5)))
scott <- nrow(x4)^(-1/6) * apply(x4, 2, sd)
fit <- optim(log(scott), lcv, x = x4, method = "BFGS", control = list(fnscale = -1, reltol = 1e-14))
iso <- optimize(lcv, c(log(0.01), log(5)), x = x4, maximum = TRUE, tol = 1e-10)
out$lcv <- list(x = x4, diag_h = exp(fit$par), iso_h = exp(iso$maximum),
  diag_value = fit$value, iso_value = iso$objective)

writeLines(toJSON(out, digits = NA, matrix = "rowmajor", auto_unbox = TRUE), "testdata/kde/golden.json")
