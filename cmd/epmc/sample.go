package main

import (
	"context"
	"flag"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/sis"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// sampleFunc runs one sampler on a model and writes the draws file out.
type sampleFunc func(ctx context.Context, m subpost.Model, cfg subpost.Config, out string) error

// samplers maps each --sampler value to the code that runs it; adding a
// sampler is one line here.
var samplers = map[string]sampleFunc{
	"nuts": subpost.Run,
	"rwm":  subpost.Run,
	"smc":  sis.RunSubposterior,
}

func init() {
	register(&command{
		name:    "sample",
		summary: "sample one subposterior (or, with --shards 1, the full posterior)",
		usage:   "epmc sample --model NAME --data FILE [--shards M --shard m] [flags] -o OUT.arrow",
		help: `Samples the subposterior of one data shard, p(θ)^(1/M)·p(x_m | θ), with
NUTS exactly as Stan runs it (multinomial sampling, windowed adaptation of
the step size and a diagonal or dense metric), with adaptive random-walk
Metropolis, or with an SMC sampler (--sampler smc: adaptive tempering from
the prior^(1/M) to the subposterior, so that every mode of a multimodal
subposterior is represented; --chains independent runs of --draws
particles each), and writes the draws to an Arrow file that appears only when
the run has finished. Each of the M shards is meant to run as its own
process: --shard falls back to SLURM_ARRAY_TASK_ID, then to
JOB_COMPLETION_INDEX (Kubernetes Indexed Jobs); shards are numbered from
0, so a Slurm array for 8 shards is --array=0-7. --shards 1 samples the
full-data posterior.

The data file (CSV with a header, Arrow IPC or Parquet) is partitioned the
same way in every process: --partition hash deals rows to shards in a
pseudo-random order fixed by --partition-seed, block gives each shard a
contiguous run of rows. The file records the model, the data fingerprint
and partition, the seed and the adapted step sizes and metrics, so
epmc combine can check that shards belong together.

Chain c of shard m draws from a random stream derived from (--seed, m, c):
the output is the same whatever --threads is.

Example:
  epmc sample --model logistic --data train.csv --y default --x age,income \
      --shards 8 --shard 3 --seed 1 -o shard-3.arrow`,
		setup: setupSample,
	})
}

func setupSample(fs *flag.FlagSet) func(e *env, args []string) error {
	var mo models.Options
	model := fs.String("model", "", "model: "+strings.Join(models.Names(), ", "))
	dataPath := fs.String("data", "", "data `FILE` (CSV with header, Arrow IPC or Parquet)")
	// The partition flags are epmc split's, so that its shard files hold
	// the rows sampled here.
	var part data.Partition
	fs.IntVar(&part.Shards, "shards", 1, "number of shards `M`")
	shard := fs.Int("shard", 0, "shard index `m` in 0..M-1 (default $SLURM_ARRAY_TASK_ID, then $JOB_COMPLETION_INDEX)")
	part.AddFlags(fs)
	shards := &part.Shards
	nchains := fs.Int("chains", subpost.DefaultChains, "number of chains")
	warmup := fs.Int("warmup", subpost.DefaultWarmup, "warmup iterations per chain")
	draws := fs.Int("draws", subpost.DefaultDraws, "draws kept per chain")
	seed := fs.Uint64("seed", 0, "root random seed")
	sampler := fs.String("sampler", "nuts", "sampler: "+strings.Join(samplerNames(), ", "))
	metric := fs.String("metric", string(subpost.DiagMetric), "NUTS metric: diag or dense")
	adaptDelta := fs.Float64("adapt-delta", subpost.DefaultAdaptDelta, "target acceptance statistic of step-size adaptation, in (0, 1)")
	maxDepth := fs.Int("max-depth", subpost.DefaultMaxDepth, "maximum NUTS tree depth")
	initRadius := fs.Float64("init", subpost.DefaultInitRadius, "initial values uniform on (-`R`, R) on the unconstrained scale; 0 starts at 0")
	threads := fs.Int("threads", 0, "chains run at once (default: number of CPUs)")
	saveWarmup := fs.Bool("save-warmup", false, "also write the warmup iterations")
	zstd := fs.Bool("zstd", false, "compress the output with zstd")
	noTiming := fs.Bool("no-timing", false, "leave wall-clock times out of the metadata, so identical runs give byte-identical files")
	out := fs.String("o", "", "output draws `FILE` (Arrow IPC)")
	mo.AddFlags(fs)

	return func(e *env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		switch {
		case *model == "":
			return usagef("--model is required (one of %s)", strings.Join(models.Names(), ", "))
		case !slices.Contains(models.Names(), *model):
			return usagef("--model: unknown model %q (want one of %s)", *model, strings.Join(models.Names(), ", "))
		case *dataPath == "":
			return usagef("--data is required")
		case *out == "":
			return usagef("-o is required")
		case *shards < 1:
			return usagef("--shards must be at least 1, have %d", *shards)
		case *nchains < 1:
			return usagef("--chains must be at least 1, have %d", *nchains)
		case *warmup < 0:
			return usagef("--warmup must not be negative, have %d", *warmup)
		case *draws < 1:
			return usagef("--draws must be at least 1, have %d", *draws)
		case !(*adaptDelta > 0 && *adaptDelta < 1):
			return usagef("--adapt-delta must be in (0, 1), have %g", *adaptDelta)
		case *threads < 0:
			return usagef("--threads must not be negative, have %d (0: the number of CPUs)", *threads)
		case *maxDepth < 1 || *maxDepth > 30:
			return usagef("--max-depth must be in 1..30, have %d", *maxDepth)
		case !(*initRadius >= 0) || *initRadius > 1e300:
			return usagef("--init must be a finite number ≥ 0, have %g", *initRadius)
		case *metric != string(subpost.DiagMetric) && *metric != string(subpost.DenseMetric):
			return usagef("--metric: unknown metric %q (want diag or dense)", *metric)
		}
		run, ok := samplers[*sampler]
		if !ok {
			return usagef("--sampler: unknown sampler %q (want one of %s)", *sampler, strings.Join(samplerNames(), ", "))
		}
		if *sampler != "nuts" {
			for _, f := range []string{"metric", "adapt-delta", "max-depth"} {
				if set[f] {
					return usagef("--%s applies to --sampler nuts only", f)
				}
			}
		}
		if *sampler == "smc" {
			for _, f := range []string{"warmup", "save-warmup", "init"} {
				if set[f] {
					return usagef("--%s does not apply to --sampler smc (it has no warmup; --draws is the number of particles per run)", f)
				}
			}
		}
		m, err := shardIndex(e, *shard, set["shard"], *shards)
		if err != nil {
			return err
		}
		if err := part.Validate(); err != nil {
			return usagef("--partition: %v", err)
		}
		if sameFile(*dataPath, *out) {
			return usagef("-o %s would overwrite the data file", *out)
		}

		cols, err := models.Columns(*model, mo)
		if err != nil {
			return usagef("%v", err)
		}
		tab, err := data.Load(*dataPath, cols)
		if err != nil {
			return err
		}
		rows := part.Rows(tab.NumRows(), m)
		if len(rows) == 0 {
			return fmt.Errorf("%s: shard %d of %d has no rows (the data have %d)", *dataPath, m, *shards, tab.NumRows())
		}
		mod, spec, err := models.Build(*model, tab, rows, mo)
		if err != nil {
			return fmt.Errorf("model %s: %w", *model, err)
		}

		cfg := subpost.Config{
			Chains: *nchains, Warmup: *warmup, Draws: *draws, Seed: *seed,
			Shard: m, Shards: *shards, Sampler: *sampler, Metric: subpost.MetricKind(*metric),
			AdaptDelta: *adaptDelta, MaxDepth: *maxDepth, InitRadius: *initRadius, Threads: *threads,
			SaveWarmup: *saveWarmup, OmitTiming: *noTiming,
			Meta: chains.Meta{Model: spec, DataFingerprint: data.Fingerprint(tab, part), Partition: part.String()},
		}
		if *warmup == 0 {
			cfg.Warmup = -1 // Config's zero value means the default
		}
		if *initRadius == 0 {
			cfg.InitRadius = -1
		}
		if *zstd {
			cfg.Compression = chains.Zstd
		}
		if e.progress {
			cfg.Progress = e.stderr
		}
		if err := run(e.ctx, mod, cfg, *out); err != nil {
			return err
		}
		reportSample(e, *out, *sampler, *maxDepth)
		return nil
	}
}

// samplerNames lists the --sampler values, sorted.
func samplerNames() []string {
	names := make([]string, 0, len(samplers))
	for n := range samplers {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// shardIndex returns the shard to sample: --shard if given, else
// SLURM_ARRAY_TASK_ID, else JOB_COMPLETION_INDEX, else 0 when there is one
// shard.
func shardIndex(e *env, flagValue int, flagSet bool, shards int) (int, error) {
	src := "--shard"
	m := flagValue
	if !flagSet {
		found := false
		for _, name := range []string{"SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX"} {
			v := strings.TrimSpace(e.getenv(name))
			if v == "" {
				continue
			}
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, usagef("%s=%q is not a shard index", name, v)
			}
			m, src, found = n, name, true
			break
		}
		if !found && shards > 1 {
			return 0, usagef("--shard is required with --shards %d (or set SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX)", shards)
		}
	}
	if m < 0 || m >= shards {
		return 0, usagef("%s = %d is outside 0..%d (--shards %d)", src, m, shards-1, shards)
	}
	return m, nil
}

// reportSample prints warnings like Stan's after sampling: divergent
// transitions and tree-depth saturation after warmup.
func reportSample(e *env, out, sampler string, maxDepth int) {
	if sampler != "nuts" {
		return
	}
	d, err := chains.ReadArrow(out)
	if err != nil {
		return
	}
	total := d.NumDraws()
	divergent, atMaxDepth := chains.CountTransitions(d, maxDepth)
	if divergent > 0 {
		fmt.Fprintf(e.stderr, "epmc sample: warning: %d of %d transitions after warmup were divergent; raise --adapt-delta or reparameterise the model\n", divergent, total)
	}
	if atMaxDepth > 0 {
		fmt.Fprintf(e.stderr, "epmc sample: warning: %d of %d transitions after warmup reached the maximum tree depth %d; raise --max-depth\n", atMaxDepth, total, maxDepth)
	}
}
