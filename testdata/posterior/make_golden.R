# Golden values for epmc's convergence diagnostics, computed with R posterior.
#
# Run from the repository root (R 4.2.2 with posterior 1.4.0, as in Debian
# bookworm's r-cran-posterior):
#
#     Rscript testdata/posterior/make_golden.R
#
# It writes, into testdata/posterior/:
#
#   draws/<set>.csv  the draw matrices, one draws_df-layout CSV per set
#                    (.chain,.iteration,.draw then one column per variable;
#                    numbers printed with %.17g so they round-trip exactly;
#                    NA, NaN, Inf and -Inf spelled as R prints them)
#   summary.csv      one row per (set, variable): posterior::summarise_draws
#                    with the measures of the epmc summary (see `main_call`)
#                    plus rhat_basic, ess_mean, ess_sd, ess_median,
#                    ess_quantile, quantile2 and mcse_quantile at more
#                    probabilities
#   ebfmi.csv        E-BFMI of every variable read as if it were energy__:
#                    per chain (chain = 1..m) by the formula of
#                    rstan::get_bfmi and cmdstanr (sum(diff(e)^2)/n / var(e)),
#                    and pooled (chain = 0) by the formula of CmdStan's
#                    diagnose (chains concatenated: mean(diff(e)^2) / var(e)).
#                    posterior has no E-BFMI function, so these are computed
#                    here from the formulas directly.
#   qnorm.csv        qnorm(p) on a grid (the rank-normalisation transform)
#   qbeta.csv        qbeta at the probabilities mcse_quantile uses
#
# The Go tests (chains/diag_golden_test.go, cmd/epmc/summary_test.go) compare
# every value to 1e-8 relative error, with NA <=> NaN.

suppressPackageStartupMessages(library(posterior))
stopifnot(packageVersion("posterior") == "1.4.0")

out_dir <- file.path("testdata", "posterior")
dir.create(file.path(out_dir, "draws"), recursive = TRUE, showWarnings = FALSE)
set.seed(20240917)

num <- function(x) sprintf("%.17g", x) # NA -> "NA", NaN -> "NaN", Inf -> "Inf"

# An AR(1) chain x[t] = phi x[t-1] + e[t], started near stationarity.
ar1 <- function(n, phi, innov = rnorm) {
  e <- innov(n)
  x <- numeric(n)
  if (n == 0) return(x)
  x[1] <- e[1] / sqrt(max(1 - phi^2, 1e-3))
  for (t in seq_len(n)[-1]) x[t] <- phi * x[t - 1] + e[t]
  x
}

# Variable generators: function(n, chain) -> n draws of one chain.
gens <- list(
  ar_p00    = function(n, c) ar1(n, 0),
  ar_p50    = function(n, c) ar1(n, 0.5),
  ar_p90    = function(n, c) ar1(n, 0.9),
  ar_p99    = function(n, c) ar1(n, 0.99),
  ar_n50    = function(n, c) ar1(n, -0.5),
  ar_n90    = function(n, c) ar1(n, -0.9), # antithetic
  cauchy    = function(n, c) rcauchy(n), # t, 1 df
  t2_ar     = function(n, c) ar1(n, 0.5, function(k) rt(k, 2)),
  rounded   = function(n, c) round(ar1(n, 0.5), 1), # ties
  coarse    = function(n, c) round(ar1(n, 0.3)), # many ties
  binary    = function(n, c) as.numeric(runif(n) < 0.3),
  pois      = function(n, c) as.numeric(rpois(n, 2)),
  const     = function(n, c) rep(3.5, n),
  offset    = function(n, c) 1e6 + 1e-3 * ar1(n, 0.5), # cancellation
  lognormal = function(n, c) exp(ar1(n, 0.8)),
  shifted   = function(n, c) ar1(n, 0.5) + 0.4 * c, # chains disagree: high R-hat
  scaled    = function(n, c) ar1(n, 0.5) * c # scales disagree: folded R-hat
)
short_gens <- gens[c("ar_p50", "t2_ar", "rounded", "binary", "const", "shifted")]

special_gens <- list(
  stuck_all = function(n, c) rep(c, n), # every chain constant, all different
  stuck_one = function(n, c) if (c == 1) rep(0.25, n) else ar1(n, 0.5),
  bimodal   = function(n, c) ar1(n, 0.5) + if (c > 2) 5 else 0,
  twovalue  = function(n, c) rep(c(0, 1), length.out = n), # folded draws constant
  subeps    = function(n, c) 1e-17 * rnorm(n), # range < eps: "constant" to posterior
  eps_range = function(n, c) 1 + .Machine$double.eps * rbinom(n, 1, 0.5),
  ar_p999   = function(n, c) ar1(n, 0.999)
)

nonfinite_gens <- list(
  baseline  = function(n, c) ar1(n, 0.5),
  with_na   = function(n, c) { x <- ar1(n, 0.5); if (c == 2) x[7] <- NA; x },
  with_nan  = function(n, c) { x <- ar1(n, 0.5); if (c == 1) x[3] <- NaN; x },
  with_inf  = function(n, c) { x <- ar1(n, 0.5); if (c == 1) x[10] <- Inf; x },
  with_ninf = function(n, c) { x <- ar1(n, 0.5); if (c == 2) x[20] <- -Inf; x },
  both_inf  = function(n, c) { x <- ar1(n, 0.5); x[c * 5] <- if (c == 1) Inf else -Inf; x },
  half_inf  = function(n, c) { x <- ar1(n, 0.5); x[seq(1, n, by = 2)] <- Inf; x[2] <- Inf; x }
)

sets <- list(
  list(name = "m4_n500", m = 4, n = 500, gens = c(gens, special_gens["ar_p999"])),
  list(name = "m4_n499", m = 4, n = 499, gens = gens),
  list(name = "m1_n1000", m = 1, n = 1000, gens = gens),
  list(name = "m1_n999", m = 1, n = 999, gens = gens),
  list(name = "m3_n51", m = 3, n = 51, gens = gens),
  list(name = "m2_n8", m = 2, n = 8, gens = short_gens),
  list(name = "m4_n7", m = 4, n = 7, gens = short_gens),
  list(name = "m4_n6", m = 4, n = 6, gens = short_gens),
  list(name = "m4_n5", m = 4, n = 5, gens = short_gens),
  list(name = "m4_n4", m = 4, n = 4, gens = short_gens),
  list(name = "m4_n3", m = 4, n = 3, gens = short_gens),
  list(name = "m4_n2", m = 4, n = 2, gens = short_gens),
  list(name = "m4_n1", m = 4, n = 1, gens = short_gens),
  list(name = "m1_n7", m = 1, n = 7, gens = short_gens),
  list(name = "m1_n6", m = 1, n = 6, gens = short_gens),
  list(name = "m1_n5", m = 1, n = 5, gens = short_gens),
  list(name = "m1_n4", m = 1, n = 4, gens = short_gens),
  list(name = "m1_n3", m = 1, n = 3, gens = short_gens),
  list(name = "m1_n2", m = 1, n = 2, gens = short_gens),
  list(name = "m1_n1", m = 1, n = 1, gens = short_gens),
  list(name = "special", m = 4, n = 100, gens = special_gens),
  list(name = "nonfinite", m = 2, n = 50, gens = nonfinite_gens)
)

# Builds a draws_df from the generators: iterations x chains per variable.
make_draws <- function(s) {
  cols <- lapply(s$gens, function(g) {
    matrix(unlist(lapply(seq_len(s$m), function(c) g(s$n, c))), nrow = s$n, ncol = s$m)
  })
  df <- data.frame(
    .chain = rep(seq_len(s$m), each = s$n),
    .iteration = rep(seq_len(s$n), times = s$m),
    .draw = seq_len(s$n * s$m)
  )
  for (v in names(cols)) df[[v]] <- as.vector(cols[[v]]) # column-major: chain after chain
  list(df = as_draws_df(df), mats = cols)
}

write_draws <- function(name, df) {
  df <- as.data.frame(df)
  vars <- setdiff(names(df), c(".chain", ".iteration", ".draw"))
  values <- matrix(vapply(vars, function(v) num(df[[v]]), character(nrow(df))), nrow = nrow(df))
  cells <- cbind(as.character(df$.chain), as.character(df$.iteration), as.character(df$.draw), values)
  lines <- apply(cells, 1, paste, collapse = ",")
  writeLines(c(paste(c(".chain", ".iteration", ".draw", vars), collapse = ","), lines),
             file.path(out_dir, "draws", paste0(name, ".csv")))
}

quiet <- function(expr) suppressWarnings(expr) # "The ESS has been capped..."

summary_rows <- list()
ebfmi_rows <- list()
for (s in sets) {
  d <- make_draws(s)
  write_draws(s$name, d$df)
  finite <- all(vapply(d$mats, function(x) all(is.finite(x)), logical(1)))

  # The measures epmc summary --format csv prints, as in the issue. quantile()
  # refuses NA, so the non-finite set uses quantile2(), which equals quantile()
  # on finite draws (checked below) and gives NA otherwise.
  main <- quiet(summarise_draws(d$df, mean, median, sd, mad,
    ~quantile2(.x, c(.05, .95)), rhat, ess_bulk, ess_tail,
    mcse_mean, mcse_median, mcse_sd,
    mcse_q5 = ~mcse_quantile(.x, .05), mcse_q95 = ~mcse_quantile(.x, .95)))
  if (finite) {
    main_call <- quiet(summarise_draws(d$df, mean, median, sd, mad,
      ~quantile(.x, c(.05, .95)), rhat, ess_bulk, ess_tail,
      mcse_mean, mcse_median, mcse_sd,
      mcse_q5 = ~mcse_quantile(.x, .05), mcse_q95 = ~mcse_quantile(.x, .95)))
    stopifnot(identical(unname(main_call[["5%"]]), unname(main$q5)),
              identical(unname(main_call[["95%"]]), unname(main$q95)),
              identical(main_call$rhat, main$rhat))
  }
  extra <- quiet(summarise_draws(d$df, rhat_basic, ess_mean, ess_sd, ess_median,
    ~ess_quantile(.x, c(0, .01, .25, .75, .99, 1)),
    ~quantile2(.x, c(.01, .25, .5, .75, .99)),
    ~mcse_quantile(.x, c(.01, .25, .75, .99))))
  stopifnot(identical(main$variable, extra$variable))
  tab <- cbind(data.frame(set = s$name), as.data.frame(main), as.data.frame(extra)[, -1])
  summary_rows[[s$name]] <- tab

  if (finite) {
    for (v in names(d$mats)) {
      x <- d$mats[[v]]
      per_chain <- apply(x, 2, function(e) (sum(diff(e)^2) / length(e)) / var(e))
      e <- as.vector(x)
      pooled <- mean(diff(e)^2) / var(e)
      ebfmi_rows[[paste(s$name, v)]] <- data.frame(
        set = s$name, variable = v, chain = c(seq_len(s$m), 0), ebfmi = c(per_chain, pooled))
    }
  }
}

write_table <- function(tab, file) {
  out <- tab
  for (j in seq_along(out)) if (is.numeric(out[[j]])) out[[j]] <- num(out[[j]])
  write.table(out, file.path(out_dir, file), sep = ",", quote = FALSE, row.names = FALSE)
}

summary_tab <- do.call(rbind, summary_rows)
write_table(summary_tab, "summary.csv")
ebfmi_tab <- do.call(rbind, ebfmi_rows)
ebfmi_tab$chain <- as.integer(ebfmi_tab$chain)
write_table(ebfmi_tab, "ebfmi.csv")

# qnorm: a grid over both tails and the centre, plus the Blom scores
# (r - 3/8) / (S + 1/4) that rank normalisation feeds it.
p <- c(1e-300, 1e-100, 1e-20, 1e-12, 1.3e-11, 1.4e-11, 1e-8, 1e-5, 1e-3, 0.01,
       0.05, 0.07, 0.074999, 0.075, 0.075001, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7,
       0.8, 0.9, 0.925, 0.925001, 0.95, 0.99, 0.999, 1 - 1e-5, 1 - 1e-8, 1 - 1e-12)
for (S in c(4, 7, 1000, 39999)) p <- c(p, (c(1, 1.5, S / 2, S - 0.5, S) - 3 / 8) / (S + 1 / 4))
write_table(data.frame(p = p, q = qnorm(p)), "qnorm.csv")

# qbeta at the two probabilities of mcse_quantile, for the shapes it builds.
qb <- expand.grid(prob = c(0.01, 0.05, 0.25, 0.5, 0.95, 0.99),
                  ess = c(1.5, 3.7, 50, 400.5, 4000, 40000, 180000),
                  lower = c(0.1586553, 0.8413447))
qb$a <- qb$ess * qb$prob + 1
qb$b <- qb$ess * (1 - qb$prob) + 1
qb$q <- qbeta(qb$lower, qb$a, qb$b)
write_table(qb[, c("lower", "a", "b", "q")], "qbeta.csv")

cat("wrote", nrow(summary_tab), "summary rows,", nrow(ebfmi_tab), "E-BFMI rows\n")
