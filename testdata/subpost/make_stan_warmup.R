# Golden values for subpost's warmup-trajectory test (warmup_long_test.go):
# Stan's sampler statistics at every warmup iteration, averaged over many
# independent chains, so that epmc's warmup can be compared with Stan's
# iteration by iteration (the jumps after each window end included).
#
# Data and model as make_stan_adaptation.R: logistic_small.csv,
# bench/nuts-stan/logistic.stan, rstan 2.21.7 with CmdStan defaults,
# 1000 warmup iterations; 100 runs of 4 chains with seeds 1001..1100.
#
# Output: stan_warmup.csv, one row per warmup iteration: the mean and the
# variance over the 400 chains of log(stepsize__), accept_stat__ and
# n_leapfrog__, and the total of divergent__.
#
# Run from the repository root: Rscript testdata/subpost/make_stan_warmup.R
suppressMessages(library(rstan))
rstan_options(auto_write = TRUE)
d <- read.csv("testdata/subpost/logistic_small.csv")
X <- as.matrix(d[, grep("^x[0-9]+$", names(d))])
model <- stan_model("bench/nuts-stan/logistic.stan")
eps <- NULL; acc <- NULL; nl <- NULL; dv <- NULL
for (seed in 1:100) {
  fit <- sampling(model, data = list(N = nrow(X), D = ncol(X), X = X, y = d$y),
                  chains = 4, warmup = 1000, iter = 1001, seed = seed + 1000,
                  cores = 1, refresh = 0, save_warmup = TRUE)
  sp <- get_sampler_params(fit, inc_warmup = TRUE)
  for (c in seq_along(sp)) {
    eps <- rbind(eps, sp[[c]][1:1000, "stepsize__"])
    acc <- rbind(acc, sp[[c]][1:1000, "accept_stat__"])
    nl <- rbind(nl, sp[[c]][1:1000, "n_leapfrog__"])
    dv <- rbind(dv, sp[[c]][1:1000, "divergent__"])
  }
}
f <- function(v) sprintf("%.17g", v)
out <- data.frame(
  iteration = 1:1000,
  log_stepsize_mean = f(colMeans(log(eps))), log_stepsize_var = f(apply(log(eps), 2, var)),
  accept_stat_mean = f(colMeans(acc)), accept_stat_var = f(apply(acc, 2, var)),
  n_leapfrog_mean = f(colMeans(nl)), n_leapfrog_var = f(apply(nl, 2, var)),
  divergent = colSums(dv), chains = nrow(eps))
write.csv(out, "testdata/subpost/stan_warmup.csv", row.names = FALSE, quote = FALSE)
