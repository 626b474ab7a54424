#!/bin/sh
# Side-by-side benchmark of epmc's NUTS and rstan on one logistic regression
# (N = 5,000, D = 25, normal(0, 5) priors, 4 chains × 1,000 warmup + 1,000
# draws, chains one after another). Generates the data once, runs both
# samplers, prints one table; skips the Stan half, with a message, when R or
# rstan is missing. Timings depend on the machine and its load: run it on a
# quiet machine.
#
# Usage: bench/nuts-stan/run.sh [WORKDIR] (default: a fresh temporary directory)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
seed=${SEED:-1}
bin="$work/nuts-stan"
(cd "$root" && go build -o "$bin" ./bench/nuts-stan)

"$bin" gen -o "$work/data.csv" -seed "$seed"
echo "data: $work/data.csv"

echo "running epmc (4 chains one after another)..."
"$bin" go -data "$work/data.csv" -o "$work/go.json" -seed "$seed"

if command -v Rscript >/dev/null 2>&1 && Rscript -e 'quit(status = !(requireNamespace("rstan", quietly = TRUE) && requireNamespace("posterior", quietly = TRUE) && requireNamespace("jsonlite", quietly = TRUE)))' >/dev/null 2>&1; then
	echo "running rstan (4 chains one after another; compiling the model takes about a minute the first time)..."
	Rscript "$here/stan.R" "$work/data.csv" "$work/stan.json" "$seed" 2>"$work/stan.log" || {
		echo "rstan failed; see $work/stan.log" >&2
		exit 1
	}
	"$bin" compare "$work/go.json" "$work/stan.json"
else
	echo "skipping the Stan half: Rscript with rstan, posterior and jsonlite is not available"
	"$bin" compare "$work/go.json"
fi
