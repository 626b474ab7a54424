# make_fixtures.R: Stan CSV fixtures made by rstan itself, and what rstan
# reads back from them, for the Stan CSV reader's tests (chains/stancsv_test.go).
#
# Run from the repository root:   Rscript testdata/stan/make_fixtures.R
# Needs: r-cran-rstan 2.21 (with BH's include/boost linked, see
# shared notes), jsonlite. Compiling the model takes about a minute.
#
# Outputs (all in testdata/stan/):
#   model.stan            the model (Stan 2.21 syntax)
#   <run>_<chain>.csv     rstan sample_file output, 2 chains per run
#   <run>_golden.json     what rstan::read_stan_csv makes of the files
#
# Runs:
#   nowarmup   diag_e metric, warmup draws not saved
#   warmup     diag_e metric, warmup draws saved (save_warmup = TRUE)
#   dense      dense_e metric, thin = 2, warmup not saved
suppressPackageStartupMessages({
  library(rstan)
  library(jsonlite)
})
rstan_options(auto_write = FALSE)
options(mc.cores = 1)

dir <- "testdata/stan"
stopifnot(dir.exists(dir))

model_code <- "
data {
  int<lower=1> N;
  int<lower=1> K;
  matrix[N, K] X;
  real y[N];
}
parameters {
  real alpha;
  vector[K] beta;
  real<lower=0> sigma;
  matrix[2, 3] Z;
}
model {
  alpha ~ normal(0, 5);
  beta ~ normal(0, 2);
  sigma ~ exponential(1);
  to_vector(Z) ~ normal(0, 1);
  y ~ normal(alpha + X * beta, sigma);
}
"
writeLines(model_code, file.path(dir, "model.stan"))

set.seed(20261)
N <- 40
K <- 2
X <- matrix(rnorm(N * K), N, K)
y <- as.vector(1 + X %*% c(0.5, -1) + rnorm(N, sd = 0.7))
data <- list(N = N, K = K, X = X, y = y)

sm <- stan_model(model_code = model_code, model_name = "regression")

runs <- list(
  nowarmup = list(save_warmup = FALSE, metric = "diag_e", thin = 1, seed = 11L),
  warmup   = list(save_warmup = TRUE,  metric = "diag_e", thin = 1, seed = 12L),
  dense    = list(save_warmup = FALSE, metric = "dense_e", thin = 2, seed = 13L)
)

# Full precision in the golden files.
num <- function(x) {
  x <- as.numeric(x)
  sprintf("%.17g", x)
}

for (run in names(runs)) {
  r <- runs[[run]]
  base <- file.path(dir, paste0(run, ".csv"))
  fit <- sampling(sm, data = data, chains = 2, iter = 300, warmup = 150,
                  thin = r$thin, seed = r$seed, sample_file = base,
                  save_warmup = r$save_warmup, refresh = 0,
                  control = list(metric = r$metric, adapt_delta = 0.85, max_treedepth = 8))
  files <- file.path(dir, paste0(run, "_", 1:2, ".csv"))
  stopifnot(all(file.exists(files)))

  # What rstan itself reads back from the CSV files.
  back <- read_stan_csv(files)
  arr <- as.array(back) # post-warmup: iterations x chains x parameters (+ lp__)
  sp <- get_sampler_params(back, inc_warmup = TRUE)
  warm <- back@sim$warmup2 # saved warmup draws per chain
  means <- lapply(dimnames(arr)[[3]], function(p) {
    list(name = p,
         mean = num(mean(arr[, , p])),
         chain_means = num(apply(arr[, , p, drop = FALSE], 2, mean)))
  })
  sampler <- lapply(colnames(sp[[1]]), function(s) {
    list(name = s,
         chain_means_post = num(sapply(seq_along(sp), function(c) {
           x <- sp[[c]][, s]
           mean(x[(warm[c] + 1):length(x)])
         })))
  })
  if (any(warm > 0)) {
    wfull <- extract(back, permuted = FALSE, inc_warmup = TRUE)
    warm_means <- lapply(dimnames(wfull)[[3]], function(p) {
      list(name = p, chain_means = num(apply(wfull[1:warm[1], , p, drop = FALSE], 2, mean)))
    })
  } else {
    warm_means <- list()
  }
  ai <- get_adaptation_info(back)
  golden <- list(
    run = run,
    files = basename(files),
    chains = back@sim$chains,
    iter_per_chain = dim(arr)[1],
    saved_warmup = warm,
    thin = back@sim$thin,
    names = dimnames(arr)[[3]],
    fnames_oi = back@sim$fnames_oi,
    means = means,
    sampler_means = sampler,
    warmup_means = warm_means,
    adaptation_info = unname(ai),
    metric = r$metric,
    seed = r$seed,
    rstan_version = as.character(packageVersion("rstan"))
  )
  writeLines(toJSON(golden, auto_unbox = TRUE, pretty = TRUE, digits = NA),
             file.path(dir, paste0(run, "_golden.json")))
}
cat("done\n")
