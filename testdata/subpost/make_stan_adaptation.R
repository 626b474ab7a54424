# Golden values for subpost's adaptation test (adaptation_long_test.go):
# what Stan's warmup ends with, chain by chain, on a small logistic
# regression, so that epmc's adaptation can be compared with Stan's as
# distributions over many independent chains.
#
# Data: logistic_small.csv (500 rows, y and x1..x5, made by
# models.Simulate("logistic", {N: 500, D: 5, Seed: 4, Rho: 0.5, Digits: 4})).
# Model: bench/nuts-stan/logistic.stan (normal(0, 5) priors), rstan 2.21.7,
# CmdStan defaults: diag_e metric, adapt delta 0.8, 1000 warmup iterations,
# then 100 draws; 200 runs of 4 chains with seeds 1..200 (each run is
# seeded on its own, so the rows do not depend on how the seeds are batched).
#
# Output: stan_adaptation.csv, one row per chain: the adapted step size, the
# adapted inverse metric (diagonal: alpha, beta[1..5]; rstan prints it with
# 6 significant digits) and, over the 100 draws, the mean accept_stat__ and
# mean n_leapfrog__.
#
# Run from the repository root: Rscript testdata/subpost/make_stan_adaptation.R
suppressMessages(library(rstan))
rstan_options(auto_write = TRUE)
d <- read.csv("testdata/subpost/logistic_small.csv")
X <- as.matrix(d[, grep("^x[0-9]+$", names(d))])
model <- stan_model("bench/nuts-stan/logistic.stan")
rows <- list()
for (seed in 1:200) {
  fit <- sampling(model, data = list(N = nrow(X), D = ncol(X), X = X, y = d$y),
                  chains = 4, warmup = 1000, iter = 1100, seed = seed,
                  cores = 1, refresh = 0)
  sp <- get_sampler_params(fit, inc_warmup = FALSE)
  info <- get_adaptation_info(fit)
  for (c in seq_along(sp)) {
    lines <- strsplit(info[[c]], "\n")[[1]]
    metric <- as.numeric(strsplit(sub("^# ", "", lines[length(lines)]), ",")[[1]])
    rows[[length(rows) + 1]] <- c(seed = seed, chain = c,
      stepsize = unname(sp[[c]][1, "stepsize__"]),
      setNames(metric, paste0("inv_metric_", seq_along(metric))),
      accept_stat = mean(sp[[c]][, "accept_stat__"]),
      n_leapfrog = mean(sp[[c]][, "n_leapfrog__"]))
  }
}
out <- as.data.frame(do.call(rbind, rows))
out[] <- lapply(out, function(v) sprintf("%.17g", v))
write.csv(out, "testdata/subpost/stan_adaptation.csv", row.names = FALSE, quote = FALSE)
