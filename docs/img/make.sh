#!/bin/sh
# Regenerates the example figures docs/img/logistic-*.png: the logistic
# regression example (testdata/data/logistic.csv, N = 400, 3 predictors)
# split into M = 8 shards sampled with epmc sample, combined by four
# methods, against a full-data reference run (--shards 1), drawn by
# epmc plot. Run from anywhere: sh docs/img/make.sh (about a minute).
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

go build -o "$tmp/epmc" ./cmd/epmc
epmc="$tmp/epmc"
data=testdata/data/logistic.csv
model="--model logistic --data $data --x x1,x2,x3 --seed 1 --no-timing"

M=8
m=0
while [ $m -lt $M ]; do
	# Shard 0 keeps its warmup draws, so that its trace plot shows them.
	warm=""
	[ $m -eq 0 ] && warm="--save-warmup"
	$epmc sample $model --shards $M --shard $m $warm -o "$tmp/shard-$m.arrow"
	m=$((m + 1))
done
$epmc sample $model --shards 1 -o "$tmp/full.arrow"

shards=$(ls "$tmp"/shard-*.arrow)
for method in consensus parametric swiss semiparametric; do
	$epmc combine --method $method --seed 1 -o "$tmp/$method.arrow" $shards
done

figs="$tmp/figs"
# Marginals and corner plot: the shards, two methods and the reference.
$epmc plot --kind marginals --ref "$tmp/full.arrow" -o "$figs" $shards "$tmp/consensus.arrow" "$tmp/semiparametric.arrow"
$epmc plot --kind pairs --ref "$tmp/full.arrow" -o "$figs" "$tmp/consensus.arrow" "$tmp/semiparametric.arrow"
# Every method side by side against the reference.
$epmc plot --kind compare --ref "$tmp/full.arrow" -o "$figs" \
	"$tmp/consensus.arrow" "$tmp/parametric.arrow" "$tmp/swiss.arrow" "$tmp/semiparametric.arrow"
# Convergence of one shard's chains.
$epmc plot --kind trace -o "$figs" "$tmp/shard-0.arrow"
$epmc plot --kind rank -o "$figs" "$tmp/shard-0.arrow"

for f in "$figs"/*.png; do
	cp "$f" "docs/img/logistic-$(basename "$f")"
done
chmod 644 docs/img/logistic-*.png
ls -l docs/img/logistic-*.png
