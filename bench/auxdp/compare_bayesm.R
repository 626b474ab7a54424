# Side-by-side comparison of epmc dpmm (auxdp) with bayesm::rDPGibbs, the
# serial Polya-urn Gibbs sampler for DP mixtures of normals, on the same
# synthetic data: N = 10,000 points from K = 10 equal, well-separated
# Gaussian components (unit covariance, means on a 12-unit lattice in the
# first two coordinates, N(0, 3^2) in the others), in d = 2 and d = 10.
# Both run 100 iterations from their defaults; reported are seconds per
# iteration and the NMI (arithmetic normalisation) of the last state's
# partition against the truth, and its number of clusters.
#
# Usage: Rscript compare_bayesm.R EPMC_BINARY [ITERS]
# (bench/auxdp/compare.sh builds the binary and keeps the output in
# compare_bayesm.out.)
suppressMessages(library(bayesm))
args <- commandArgs(trailingOnly = TRUE)
epmc <- args[1]
iters <- if (length(args) > 1) as.integer(args[2]) else 100L

nmi <- function(a, b) {
  t <- table(a, b) / length(a)
  pa <- rowSums(t); pb <- colSums(t)
  mi <- sum(ifelse(t > 0, t * log(t / outer(pa, pb)), 0))
  ha <- -sum(pa * log(pa)); hb <- -sum(pb * log(pb))
  if (ha + hb == 0) return(1)
  2 * mi / (ha + hb)
}

make_data <- function(d, n = 10000, k = 10, seed = 2026) {
  set.seed(seed)
  sites <- sample(0:15, k)
  means <- matrix(0, k, d)
  means[, 1] <- 12 * (sites %% 4)
  means[, 2] <- 12 * (sites %/% 4)
  if (d > 2) means[, 3:d] <- matrix(rnorm(k * (d - 2), sd = 3), k)
  z <- rep(1:k, length.out = n)
  y <- means[z, , drop = FALSE] + matrix(rnorm(n * d), n)
  colnames(y) <- paste0("x", 1:d)
  list(y = y, z = z)
}

rows <- list()
add <- function(...) rows[[length(rows) + 1]] <<- data.frame(...)

for (d in c(2, 10)) {
  dat <- make_data(d)
  csv <- tempfile(fileext = ".csv")
  write.csv(dat$y, csv, row.names = FALSE)

  # rDPGibbs prints its settings; capture.output keeps them out of the table.
  t <- system.time(invisible(capture.output(
    out <- rDPGibbs(Prior = list(), Data = list(y = dat$y),
                    Mcmc = list(R = iters, keep = 1, nprint = 0)))))["elapsed"]
  zl <- out$nmix$zdraw[iters, ]
  add(d = d, sampler = "bayesm::rDPGibbs (serial)", s_per_iter = t / iters,
      K_last = length(unique(zl)), NMI_last = nmi(zl, dat$z))

  for (cfg in list(c(1, 0), c(2, 0), c(1, 1), c(2, 1), c(4, 1))) {
    P <- cfg[1]; sm <- cfg[2] == 1
    o <- tempfile(fileext = ".arrow"); lab <- tempfile(fileext = ".csv")
    a <- c("dpmm", "--data", csv, "--procs", P, "--iters", iters, "--burn", iters / 2,
           "--seed", 1, "-o", o, "--labels", lab)
    if (sm) a <- c(a, "--split-merge")
    t <- system.time(res <- system2(epmc, a, stdout = TRUE))["elapsed"]
    msit <- as.numeric(sub(".*\\(([0-9.e+]+) ms/iteration\\).*", "\\1",
                           grep("ms/iteration", res, value = TRUE)))
    share <- grep("busiest processor", res, value = TRUE)
    share <- if (length(share)) as.numeric(sub(".*holds ([0-9.]+)%.*", "\\1", share)) / 100 else 1
    l <- read.csv(lab)
    add(d = d, sampler = sprintf("epmc dpmm --procs %d%s", P, if (sm) " --split-merge" else ""),
        s_per_iter = msit / 1000, K_last = length(unique(l$last)), NMI_last = nmi(l$last, dat$z))
    cat(sprintf("  (epmc --procs %d%s: whole command %.1f s, mean max share %.2f)\n",
                P, if (sm) " --split-merge" else "", t, share))
  }
}
res <- do.call(rbind, rows)
res$s_per_iter <- signif(res$s_per_iter, 3)
res$NMI_last <- round(res$NMI_last, 4)
cat(sprintf("%d iterations each; N = 10,000, K = 10; %s; %s\n", iters, R.version.string,
            paste("bayesm", packageVersion("bayesm"))))
print(res, row.names = FALSE)
