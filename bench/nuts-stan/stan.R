# Runs rstan's NUTS on the side-by-side logistic regression and writes what
# the Go driver compares: per-parameter mean, MCSE and bulk ESS (R
# posterior), total sampling leapfrog steps and per-chain times.
#
# Usage: Rscript stan.R DATA.csv OUT.json SEED
# DATA.csv has a column y (0/1) and predictor columns x1..xD.
args <- commandArgs(trailingOnly = TRUE)
if (length(args) != 3) stop("usage: Rscript stan.R DATA.csv OUT.json SEED")
suppressMessages({
  library(rstan)
  library(posterior)
  library(jsonlite)
})
rstan_options(auto_write = TRUE)
here <- dirname(normalizePath(sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))))
d <- read.csv(args[1])
xcols <- grep("^x[0-9]+$", names(d), value = TRUE)
X <- as.matrix(d[, xcols])
model <- stan_model(file.path(here, "logistic.stan"))
fit <- sampling(model, data = list(N = nrow(X), D = ncol(X), X = X, y = d$y),
                chains = 4, warmup = 1000, iter = 2000, seed = as.integer(args[3]),
                cores = 1, refresh = 0)
arr <- as_draws_array(as.array(fit, pars = c("alpha", "beta")))
s <- summarise_draws(arr, mean, mcse_mean, ess_bulk)
sp <- get_sampler_params(fit, inc_warmup = FALSE)
times <- get_elapsed_time(fit)
out <- list(
  sampler = "rstan",
  version = as.character(packageVersion("rstan")),
  variables = s$variable,
  mean = s$mean,
  mcse_mean = s$mcse_mean,
  ess_bulk = s$ess_bulk,
  n_leapfrog = sum(sapply(sp, function(x) sum(x[, "n_leapfrog__"]))),
  divergent = sum(sapply(sp, function(x) sum(x[, "divergent__"]))),
  stepsize = sapply(sp, function(x) x[1, "stepsize__"]),
  # rstan 2.21 times chains with std::clock(): CPU seconds.
  times_are_cpu = TRUE,
  warmup_seconds = unname(times[, "warmup"]),
  sampling_seconds = unname(times[, "sample"])
)
write_json(out, args[2], digits = NA, auto_unbox = TRUE, pretty = TRUE)
