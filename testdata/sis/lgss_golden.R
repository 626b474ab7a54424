# Golden values for the sis package's linear Gaussian tests.
#
# Simulates the linear Gaussian state-space model
#   X_0 ~ N(0, sx^2/(1 - rho^2)), X_t = rho X_{t-1} + sx U_t, Y_t = X_t + sy V_t
# with rho = 0.9, sx = 1, sy = 0.2, T = 100, and computes by brute-force
# Gaussian conditioning on the joint covariance (no Kalman recursion, so the
# result is independent of the Go implementation):
#   - the log-likelihood log p(y_0:t) for every t (mvtnorm::dmvnorm),
#   - the filtering mean and variance of X_t given y_0:t.
#
# Run from this directory: Rscript lgss_golden.R
# Writes lgss_series.csv (t, x, y) and lgss_golden.csv
# (t, loglik, mean, var).
library(mvtnorm)
set.seed(20240521)
rho <- 0.9; sx <- 1; sy <- 0.2; T <- 100
x <- numeric(T)
x[1] <- rnorm(1, 0, sx / sqrt(1 - rho^2))
for (t in 2:T) x[t] <- rho * x[t - 1] + sx * rnorm(1)
y <- x + sy * rnorm(T)

v0 <- sx^2 / (1 - rho^2)
# Cov(X_i, X_j) = v0 rho^|i-j| for the stationary AR(1).
SX <- v0 * rho^abs(outer(1:T, 1:T, "-"))
SY <- SX + diag(sy^2, T)

out <- data.frame(t = 0:(T - 1), loglik = NA, mean = NA, var = NA)
for (t in 1:T) {
  idx <- 1:t
  out$loglik[t] <- dmvnorm(y[idx], sigma = SY[idx, idx, drop = FALSE], log = TRUE)
  C <- SX[t, idx, drop = FALSE]            # Cov(X_t, Y_0:t)
  K <- C %*% solve(SY[idx, idx, drop = FALSE])
  out$mean[t] <- as.numeric(K %*% y[idx])
  out$var[t] <- as.numeric(SX[t, t] - K %*% t(C))
}

write.csv(data.frame(t = 0:(T - 1), x = sprintf("%.17g", x), y = sprintf("%.17g", y)),
          "lgss_series.csv", row.names = FALSE, quote = FALSE)
write.csv(data.frame(t = out$t, loglik = sprintf("%.17g", out$loglik),
                     mean = sprintf("%.17g", out$mean), var = sprintf("%.17g", out$var)),
          "lgss_golden.csv", row.names = FALSE, quote = FALSE)
cat("log-likelihood", out$loglik[T], "\n")
