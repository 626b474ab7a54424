#!/usr/bin/env bash
# Builds epmc and runs the bayesm comparison (needs Rscript with bayesm:
# Debian r-cran-bayesm). Output: bench/auxdp/compare_bayesm.out.
set -euo pipefail
cd "$(dirname "$0")"
bin=$(mktemp -d)/epmc
go build -o "$bin" ../../cmd/epmc
Rscript compare_bayesm.R "$bin" "${1:-100}" | tee compare_bayesm.out
