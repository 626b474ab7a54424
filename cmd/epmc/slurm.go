package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/epmc/epmc/internal/atomicfile"
)

func init() {
	register(&command{
		name:    "slurm",
		summary: "write Slurm batch scripts: a job array of epmc sample tasks and a dependent combine job",
		usage:   "epmc slurm --model NAME --data FILE --shards M [sample flags] [--methods LIST] [--reference] [Slurm flags] -o DIR",
		help: `
Writes the main job as Slurm batch scripts into DIR/slurm, to be submitted
with "sh DIR/slurm/submit.sh":

  sample.sbatch     a job array --array=0-(M-1) of epmc sample tasks, one
                    per shard (epmc sample takes the shard from
                    SLURM_ARRAY_TASK_ID), writing DIR/shards/shard-0003.arrow
                    and logging to DIR/logs/shard-0003.log
  reference.sbatch  (--reference) the full-data posterior, DIR/reference.arrow
  combine.sbatch    epmc run --combine-only: checks that every shard file is
                    complete and belongs to this job, then combines,
                    summarises, compares and plots exactly as epmc run does
                    (same output layout); log DIR/logs/combine.log
  submit.sh         submits the array (and the reference), then the combine
                    job with --dependency=afterok on them (and
                    --kill-on-invalid-dep=yes, so that it is cancelled if a
                    shard fails), and prints the job ids

The sample flags (--model, --data, --x, --chains, --seed, ...) are those of
epmc run and are passed on unchanged; paths are made absolute, so the
scripts can be submitted from anywhere on a shared filesystem. Each task
runs its chains on --cpus CPUs (epmc sample --threads). DIR, DIR/shards and
DIR/logs are created now, because Slurm does not create the directories of
log files. The scripts are plain bash: edit them freely.

Example:
  epmc slurm --model logistic --data /shared/train.csv --x age,income \
      --shards 32 --array-limit 8 --cpus 4 --mem 4G --time 2:00:00 \
      --slurm-partition short --reference -o /shared/run1
  sh /shared/run1/slurm/submit.sh
`,
		setup: setupSlurm,
	})
}

// slurmSettings are the #SBATCH options of the scripts.
type slurmSettings struct {
	partition, account, time, mem, jobName, epmc string
	cpus, limit                                  int
}

var (
	slurmTime = regexp.MustCompile(`^([0-9]+-)?[0-9]+(:[0-9]{1,2}){0,2}$`)
	slurmMem  = regexp.MustCompile(`^[0-9]+[KMGT]?$`)
	slurmName = regexp.MustCompile(`^[A-Za-z0-9._+-]+$`)
)

func setupSlurm(fs *flag.FlagSet) func(e *env, args []string) error {
	lf := &launchFlags{fs: fs}
	lf.sample = sampleFlags(fs)
	fs.IntVar(&lf.shards, "shards", 0, "number of shards `M` (required): the array is 0-(M-1)")
	fs.StringVar(&lf.methods, "methods", defaultMethods, "combination methods, as epmc run's --methods")
	fs.BoolVar(&lf.reference, "reference", false, "also sample the full-data posterior in its own job and compare every method against it")
	fs.StringVar(&lf.out, "o", "", "output `DIR` of the job (scripts in DIR/slurm)")
	fs.BoolVar(&lf.noPlots, "no-plots", false, "skip the figures in the combine job")
	var s slurmSettings
	fs.StringVar(&s.partition, "slurm-partition", "", "Slurm `partition` of the jobs (default: the cluster's default)")
	fs.StringVar(&s.account, "account", "", "Slurm `account` to charge")
	fs.StringVar(&s.time, "time", "", "time limit of each job, Slurm `format` (e.g. 30, 2:00:00, 1-12)")
	fs.StringVar(&s.mem, "mem", "", "memory per job, Slurm `format` (e.g. 2G, 500M)")
	fs.IntVar(&s.cpus, "cpus", 0, "CPUs per task, used by epmc sample --threads (default: --chains)")
	fs.IntVar(&s.limit, "array-limit", 0, "at most `K` array tasks at once (--array=0-(M-1)%K); 0: no limit")
	fs.StringVar(&s.jobName, "job-name", "epmc", "`prefix` of the job names (-sample, -reference, -combine)")
	fs.StringVar(&s.epmc, "epmc", "", "`path` of the epmc executable on the compute nodes (default: this executable)")
	return func(e *env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q (every input is a flag: --data FILE)", args[0])
		}
		switch {
		case s.time != "" && !slurmTime.MatchString(s.time):
			return usagef("--time %q: want minutes, [D-]HH:MM[:SS] or similar Slurm time", s.time)
		case s.mem != "" && !slurmMem.MatchString(s.mem):
			return usagef("--mem %q: want a size such as 500M or 4G", s.mem)
		case s.cpus < 0:
			return usagef("--cpus must not be negative, have %d", s.cpus)
		case s.limit < 0:
			return usagef("--array-limit must not be negative, have %d", s.limit)
		case !slurmName.MatchString(s.jobName):
			return usagef("--job-name %q: want letters, digits and ._+-", s.jobName)
		case s.partition != "" && !slurmName.MatchString(s.partition):
			return usagef("--slurm-partition %q: want letters, digits and ._+-", s.partition)
		case s.account != "" && !slurmName.MatchString(s.account):
			return usagef("--account %q: want letters, digits and ._+-", s.account)
		}
		// The launcher's checks (flags, data, model) apply as for epmc run;
		// -j only matters locally.
		lf.jobs, lf.retries = 1, 0
		l, err := newLauncher(e, lf)
		if err != nil {
			return err
		}
		if s.cpus == 0 {
			s.cpus = l.shardExp.chains
		}
		if s.epmc == "" {
			s.epmc = defaultEpmcPath(e)
		}
		dir, err := filepath.Abs(l.dir)
		if err != nil {
			return err
		}
		l.dir = dir
		return writeSlurm(e, l, lf, s)
	}
}

// defaultEpmcPath is this executable, unless it is go run's temporary
// build, which is gone when go run exits: then "epmc" from PATH.
func defaultEpmcPath(e *env) string {
	p, err := filepath.Abs(e.self)
	if err != nil || strings.Contains(p, string(filepath.Separator)+"go-build") {
		fmt.Fprintf(e.stderr, "epmc slurm: note: this is a temporary go run binary; the scripts call \"epmc\" from PATH (set --epmc PATH, e.g. after go install ./cmd/epmc)\n")
		return "epmc"
	}
	return p
}

func (s slurmSettings) header(name, output string, extra ...string) string {
	var b strings.Builder
	b.WriteString("#!/bin/bash\n")
	line := func(k, v string) { fmt.Fprintf(&b, "#SBATCH --%s=%s\n", k, v) }
	line("job-name", s.jobName+"-"+name)
	for _, x := range extra {
		b.WriteString("#SBATCH " + x + "\n")
	}
	line("output", output)
	line("cpus-per-task", strconv.Itoa(s.cpus))
	if s.mem != "" {
		line("mem", s.mem)
	}
	if s.time != "" {
		line("time", s.time)
	}
	if s.partition != "" {
		line("partition", s.partition)
	}
	if s.account != "" {
		line("account", s.account)
	}
	return b.String()
}

func writeSlurm(e *env, l *launcher, lf *launchFlags, s slurmSettings) error {
	scripts := filepath.Join(l.dir, "slurm")
	for _, d := range []string{scripts, filepath.Join(l.dir, "shards"), filepath.Join(l.dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
	}
	epmc := shellJoin([]string{s.epmc})
	logs := filepath.Join(l.dir, "logs")
	threads := `--threads="${SLURM_CPUS_PER_TASK:-` + strconv.Itoa(s.cpus) + `}"`

	array := fmt.Sprintf("--array=0-%d", l.shards-1)
	if s.limit > 0 {
		array += fmt.Sprintf("%%%d", s.limit)
	}
	sample := s.header("sample", filepath.Join(logs, "shard-%4a.log"), array) + fmt.Sprintf(`
# Written by epmc slurm: task m of the array samples the subposterior of
# shard m of %d; epmc sample reads m from SLURM_ARRAY_TASK_ID.
set -euo pipefail
out=%s/shard-$(printf %%04d "$SLURM_ARRAY_TASK_ID").arrow
exec %s sample %s %s \
    --shards=%d -o "$out"
`, l.shards, shellJoin([]string{filepath.Join(l.dir, "shards")}), epmc, threads, shellJoin(l.sampleArgs), l.shards)

	reference := s.header("reference", filepath.Join(logs, "reference.log")) + fmt.Sprintf(`
# Written by epmc slurm: the full-data posterior, the reference that every
# combination method is compared with. It costs about as much as all %d
# shards together: give it a longer --time if the shards need long.
set -euo pipefail
exec %s sample %s %s \
    --shards=1 -o %s
`, l.shards, epmc, threads, shellJoin(l.sampleArgs), shellJoin([]string{filepath.Join(l.dir, "reference.arrow")}))

	runArgs := append([]string{"--combine-only"}, l.sampleArgs...)
	runArgs = append(runArgs, "--shards="+strconv.Itoa(l.shards), "--methods="+lf.methods)
	if lf.reference {
		runArgs = append(runArgs, "--reference")
	}
	if lf.noPlots {
		runArgs = append(runArgs, "--no-plots")
	}
	runArgs = append(runArgs, "-o", l.dir)
	combineJob := s.header("combine", filepath.Join(logs, "combine.log")) + fmt.Sprintf(`
# Written by epmc slurm: runs after every sample task succeeded. epmc run
# --combine-only checks that each shard file is complete and belongs to this
# job, then combines (%s), summarises, compares and plots, as epmc run does.
set -euo pipefail
exec %s run %s
`, lf.methods, epmc, shellJoin(runArgs))

	deps, after := "$array", "job $array has"
	refSubmit := ""
	if lf.reference {
		refSubmit = `reference=$(sbatch --parsable reference.sbatch)
reference=${reference%%;*}
echo "reference: job $reference"
`
		deps, after = "$array:$reference", "jobs $array and $reference have"
	}
	submit := fmt.Sprintf(`#!/bin/sh
# Written by epmc slurm: submits the sample array%s and the combine job,
# which starts only when they all succeeded (afterok). Outputs: %s
set -eu
cd "$(dirname "$0")"
array=$(sbatch --parsable sample.sbatch)
array=${array%%%%;*}
echo "sample array: job $array (%d tasks, logs in %s)"
%scombine=$(sbatch --parsable --dependency=afterok:%s --kill-on-invalid-dep=yes combine.sbatch)
combine=${combine%%%%;*}
echo "combine: job $combine, starts when %s succeeded; log %s"
echo "watch with: squeue -j $array,$combine"
`, map[bool]string{true: ", the full-data reference", false: ""}[lf.reference], l.dir, l.shards, logs,
		refSubmit, deps, after, filepath.Join(logs, "combine.log"))

	files := []struct {
		name, text string
	}{{"sample.sbatch", sample}, {"combine.sbatch", combineJob}, {"submit.sh", submit}}
	if lf.reference {
		files = append(files[:1], append([]struct{ name, text string }{{"reference.sbatch", reference}}, files[1:]...)...)
	}
	for _, f := range files {
		path := filepath.Join(scripts, f.name)
		if err := atomicfile.WriteFile(path, []byte(f.text)); err != nil {
			return err
		}
		if err := os.Chmod(path, 0o755); err != nil {
			return err
		}
		fmt.Fprintln(e.stdout, path)
	}
	fmt.Fprintf(e.stderr, "epmc slurm: submit with: sh %s\n", filepath.Join(scripts, "submit.sh"))
	return nil
}
