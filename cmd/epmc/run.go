package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/combine"
	"github.com/epmc/epmc/internal/atomicfile"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

func init() {
	register(&command{
		name:    "run",
		summary: "run the whole job locally: M sample processes, combine, summary, compare, plots",
		usage:   "epmc run --model NAME --data FILE --shards M [sample flags] [--methods LIST] [--reference] -o DIR",
		help: `
Runs the main job on this machine, exactly as a cluster would: M separate
"epmc sample" processes (this executable), at most -j at a time, one per
shard; then the combination methods, epmc summary, epmc diagnose of the
shards, epmc compare of every method against the full-data reference
(with --reference) and epmc plot. It prints where everything is.

Every flag of epmc sample except --shard and -o is accepted and passed on
to each shard (--model, --data, --y, --x, --chains, --warmup, --draws,
--seed, --sampler, --partition, ...). A shard that fails is started again,
up to --retries more times; a shard that fails with bad usage (exit status
2) stops the run, since every retry would fail the same way.

--methods is a comma-separated list of combination methods (see "epmc
combine --help"), each optionally followed by combine flags for that method
only, as :key=value, e.g.
  --methods consensus,swiss,semiparametric:draws=2000:chains=8
The combine --seed is this run's --seed unless a method sets its own.

Output layout:
  DIR/shards/shard-0003.arrow    draws of shard 3 (one file per shard)
  DIR/reference.arrow            full-data posterior (--reference)
  DIR/combined/METHOD.arrow      the combination by METHOD
  DIR/summary/summary.txt, .csv  epmc summary of the combined files and the reference
  DIR/summary/diagnose.txt       epmc diagnose of the shards
  DIR/summary/compare.txt, .json every method against the reference (--reference)
  DIR/plots/marginals.png        shards, combinations and reference
  DIR/plots/pairs.png            combinations and reference (corner plot)
  DIR/plots/compare.png          methods on the reference's scale (--reference)
  DIR/logs/shard-0003.log        output of each attempt of shard 3
  DIR/logs/shard-0003.pid        process id of shard 3 while it runs
  DIR/logs/combine-METHOD.log    what epmc combine reported

Interrupting epmc run (Ctrl-C, SIGTERM) stops the shard processes (SIGTERM
to each one's process group, SIGKILL after --grace) and leaves no partial
file: every output is written under a hidden temporary name and renamed
when complete, and temporaries left by killed processes are removed.
Running again with the same DIR resumes: a shard file that is readable and
whose metadata (shard, shard count, data fingerprint, model, sampler
settings, chains, seed) match this run is kept; any other is sampled again,
with a line saying why. Combination, summary and plots are always redone
(files of methods not asked for this time are left as they are).

Examples:
  epmc run --model logistic --data train.csv --x age,income --shards 8 -j 2 \
      --methods consensus,swiss --reference -o out
  epmc run --combine-only --model logistic --data train.csv --x age,income \
      --shards 8 -o out        # after the shards were sampled elsewhere
`,
		setup: setupRun,
	})
}

// notForwarded lists the epmc sample flags that epmc run sets itself.
var notForwarded = map[string]bool{"shards": true, "shard": true, "o": true}

// sampleFlags declares on fs every flag of epmc sample that a launcher
// forwards to its sample processes, bound to the values of a private
// sample flag set, which it returns: so epmc run and epmc slurm accept
// exactly sample's flags, with sample's defaults and help.
func sampleFlags(fs *flag.FlagSet) *flag.FlagSet {
	sfs := flag.NewFlagSet("epmc sample", flag.ContinueOnError)
	sfs.SetOutput(io.Discard)
	setupSample(sfs)
	sfs.VisitAll(func(f *flag.Flag) {
		if !notForwarded[f.Name] {
			fs.Var(f.Value, f.Name, f.Usage)
		}
	})
	return sfs
}

// launchFlags are the flags epmc run and epmc demo share.
type launchFlags struct {
	sample      *flag.FlagSet // epmc sample's flags, holding the values
	fs          *flag.FlagSet // the command's own flag set
	shards      int
	jobs        int
	retries     int
	methods     string
	reference   bool
	out         string
	grace       time.Duration
	combineOnly bool
	noPlots     bool
}

// defaultMethods are cheap, exact for Gaussian subposteriors and fine in
// any dimension.
const defaultMethods = "consensus,parametric,swiss"

func setupRun(fs *flag.FlagSet) func(e *env, args []string) error {
	lf := declareRunFlags(fs)
	return func(e *env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q (every input is a flag: --data FILE)", args[0])
		}
		l, err := newLauncher(e, lf)
		if err != nil {
			return err
		}
		_, err = l.run()
		return err
	}
}

// declareRunFlags declares epmc run's flags on fs.
func declareRunFlags(fs *flag.FlagSet) *launchFlags {
	lf := &launchFlags{fs: fs}
	lf.sample = sampleFlags(fs)
	fs.IntVar(&lf.shards, "shards", 0, "number of shards `M` (required)")
	fs.IntVar(&lf.jobs, "j", defaultJobs(), "sample processes run at once")
	fs.IntVar(&lf.retries, "retries", 2, "times a failed shard is started again")
	fs.StringVar(&lf.methods, "methods", defaultMethods, "combination methods, comma-separated, each optionally with :key=value combine flags")
	fs.BoolVar(&lf.reference, "reference", false, "also sample the full-data posterior (DIR/reference.arrow) and compare every method against it")
	fs.StringVar(&lf.out, "o", "", "output `DIR` (created if missing; re-running with the same DIR resumes)")
	fs.DurationVar(&lf.grace, "grace", 5*time.Second, "on interrupt, time between SIGTERM and SIGKILL of the shard processes")
	fs.BoolVar(&lf.combineOnly, "combine-only", false, "sample nothing: combine the shard (and reference) files already in DIR, which must be complete and match this run")
	fs.BoolVar(&lf.noPlots, "no-plots", false, "skip the figures")
	return lf
}

// defaultJobs is the default -j: the CPUs of the machine (each sample
// process runs its chains in parallel too).
func defaultJobs() int {
	return max(1, runtime.NumCPU())
}

// methodSpec is one entry of --methods.
type methodSpec struct {
	name string
	args []string // combine flags, --key=value
}

// parseMethods parses --methods, checking names and flags with epmc
// combine's own flag set.
func parseMethods(s string) ([]methodSpec, error) {
	var out []methodSpec
	seen := map[string]bool{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		m := methodSpec{name: parts[0]}
		if !slices.Contains(combine.Names(), m.name) {
			return nil, usagef("--methods: unknown combination method %q (want some of %s)", m.name, strings.Join(combine.Names(), ", "))
		}
		if seen[m.name] {
			return nil, usagef("--methods: %s is listed twice", m.name)
		}
		seen[m.name] = true
		cfs := newFlagSet(commands["combine"])
		setupCombine(cfs)
		for _, kv := range parts[1:] {
			k, v, ok := strings.Cut(kv, "=")
			if !ok {
				v = "true"
			}
			switch k {
			case "method", "o", "group", "allow-missing":
				return nil, usagef("--methods %s: %s is set by epmc run", item, k)
			}
			if cfs.Lookup(k) == nil {
				return nil, usagef("--methods %s: epmc combine has no flag --%s", item, k)
			}
			if err := cfs.Set(k, v); err != nil {
				return nil, usagef("--methods %s: --%s: %v", item, k, err)
			}
			m.args = append(m.args, "--"+k+"="+v)
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, usagef("--methods: no method given (want some of %s)", strings.Join(combine.Names(), ", "))
	}
	return out, nil
}

// expectation is what a shard file of this run must record; a file that
// differs is sampled again.
type expectation struct {
	kind        chains.Kind
	shard       int
	shards      int
	fingerprint string
	partition   string
	model       json.RawMessage
	seed        uint64
	chains      int
	sampler     string
	// settings are the values the sampler records in its metadata
	// (epmc.sampler) under these keys for the flags of this run.
	settings map[string]any
}

// launcher runs one local job.
type launcher struct {
	e          *env
	dir        string
	shards     int
	jobs       int
	retries    int
	grace      time.Duration
	methods    []methodSpec
	reference  bool
	combine    bool // only combine, sample nothing
	plots      bool
	seed       uint64
	sampleArgs []string // forwarded sample flags
	shardExp   expectation
	refExp     expectation

	start time.Time
	mu    sync.Mutex // guards stderr status lines and the counters
	done  int
	// running holds the start times of the processes running now, for the
	// heartbeat line.
	running map[string]time.Time
}

// heartbeat is how often a long sampling phase says what is running.
const heartbeat = 30 * time.Second

func flagValue[T any](fs *flag.FlagSet, name string) T {
	f := fs.Lookup(name)
	if f == nil {
		panic("epmc: epmc sample has no flag --" + name)
	}
	return f.Value.(flag.Getter).Get().(T)
}

// newLauncher checks the flags and the data before anything starts: a bad
// flag, a missing data file or a column the model needs but the file lacks
// is reported once, not by M failing processes.
func newLauncher(e *env, lf *launchFlags) (*launcher, error) {
	sfs := lf.sample
	model := flagValue[string](sfs, "model")
	dataPath := flagValue[string](sfs, "data")
	switch {
	case model == "":
		return nil, usagef("--model is required (one of %s)", strings.Join(models.Names(), ", "))
	case !slices.Contains(models.Names(), model):
		return nil, usagef("--model: unknown model %q (want one of %s)", model, strings.Join(models.Names(), ", "))
	case dataPath == "":
		return nil, usagef("--data is required")
	case lf.out == "":
		return nil, usagef("-o DIR is required")
	case lf.shards == 0:
		return nil, usagef("--shards is required")
	case lf.shards < 1:
		return nil, usagef("--shards must be at least 1, have %d", lf.shards)
	case lf.jobs < 1:
		return nil, usagef("-j must be at least 1, have %d", lf.jobs)
	case lf.retries < 0:
		return nil, usagef("--retries must not be negative, have %d", lf.retries)
	case lf.grace < 0:
		return nil, usagef("--grace must not be negative, have %v", lf.grace)
	case flagValue[int](sfs, "chains") < 1:
		return nil, usagef("--chains must be at least 1, have %d", flagValue[int](sfs, "chains"))
	case flagValue[int](sfs, "warmup") < 0:
		return nil, usagef("--warmup must not be negative, have %d", flagValue[int](sfs, "warmup"))
	case flagValue[int](sfs, "draws") < 1:
		return nil, usagef("--draws must be at least 1, have %d", flagValue[int](sfs, "draws"))
	}
	sampler := flagValue[string](sfs, "sampler")
	if _, ok := samplers[sampler]; !ok {
		return nil, usagef("--sampler: unknown sampler %q (want one of %s)", sampler, strings.Join(samplerNames(), ", "))
	}
	metric := flagValue[string](sfs, "metric")
	if metric != string(subpost.DiagMetric) && metric != string(subpost.DenseMetric) {
		return nil, usagef("--metric: unknown metric %q (want diag or dense)", metric)
	}
	part := data.Partition{Scheme: flagValue[string](sfs, "partition"), Seed: flagValue[uint64](sfs, "partition-seed"), Shards: lf.shards}
	if err := part.Validate(); err != nil {
		return nil, usagef("--partition: %v", err)
	}
	methods, err := parseMethods(lf.methods)
	if err != nil {
		return nil, err
	}
	if st, err := os.Stat(lf.out); err == nil && !st.IsDir() {
		return nil, fmt.Errorf("output directory %s is a file", lf.out)
	}

	// The model options, re-read from the flags that were set.
	var mo models.Options
	mfs := flag.NewFlagSet("model", flag.ContinueOnError)
	mfs.SetOutput(io.Discard)
	mo.AddFlags(mfs)
	var forwarded []string
	var setErr error
	lf.fs.Visit(func(f *flag.Flag) {
		if sfs.Lookup(f.Name) == nil || notForwarded[f.Name] {
			return
		}
		forwarded = append(forwarded, "--"+f.Name+"="+f.Value.String())
		if mfs.Lookup(f.Name) != nil {
			if err := mfs.Set(f.Name, f.Value.String()); err != nil && setErr == nil {
				setErr = usagef("--%s: %v", f.Name, err)
			}
		}
	})
	if setErr != nil {
		return nil, setErr
	}
	if st, err := os.Stat(dataPath); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("data file %s does not exist", dataPath)
		}
		return nil, fmt.Errorf("data file: %w", err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("data file %s is a directory", dataPath)
	}
	if abs, err := filepath.Abs(dataPath); err == nil {
		dataPath = abs
	}
	cols, err := models.Columns(model, mo)
	if err != nil {
		return nil, usagef("%v", err)
	}
	tab, err := data.Load(dataPath, cols)
	if err != nil {
		return nil, err
	}
	for m := range lf.shards {
		if len(part.Rows(tab.NumRows(), m)) == 0 {
			return nil, fmt.Errorf("%s has %d rows: too few for %d shards", dataPath, tab.NumRows(), lf.shards)
		}
	}
	_, spec, err := models.Build(model, tab, part.Rows(tab.NumRows(), 0), mo)
	if err != nil {
		return nil, fmt.Errorf("model %s: %w", model, err)
	}

	// The forwarded --data is the absolute path, so that the processes can
	// run anywhere.
	for i, a := range forwarded {
		if strings.HasPrefix(a, "--data=") {
			forwarded[i] = "--data=" + dataPath
		}
	}
	seed := flagValue[uint64](sfs, "seed")
	set := expectation{
		kind: chains.KindSubposterior, shards: lf.shards, partition: part.String(),
		fingerprint: data.Fingerprint(tab, part), model: spec, seed: seed,
		chains: flagValue[int](sfs, "chains"), sampler: sampler,
		settings: samplerSettings(sfs, sampler),
	}
	if lf.shards == 1 {
		set.kind = chains.KindFull
	}
	ref := set
	full := data.Partition{Scheme: part.Scheme, Seed: part.Seed, Shards: 1}
	ref.kind, ref.shards, ref.partition, ref.fingerprint = chains.KindFull, 1, full.String(), data.Fingerprint(tab, full)

	return &launcher{
		e: e, dir: lf.out, shards: lf.shards, jobs: lf.jobs, retries: lf.retries, grace: lf.grace,
		methods: methods, reference: lf.reference, combine: lf.combineOnly, plots: !lf.noPlots,
		seed: seed, sampleArgs: forwarded, shardExp: set, refExp: ref,
	}, nil
}

// task is one sample process to run: a shard or the reference.
type task struct {
	name string // "shard 3" or "reference"
	stem string // "shard-0003" or "reference": log and pid file names
	path string // output file
	args []string
	exp  expectation
}

func (l *launcher) shardPath(m int) string {
	return filepath.Join(l.dir, "shards", fmt.Sprintf("shard-%04d.arrow", m))
}

func (l *launcher) referencePath() string { return filepath.Join(l.dir, "reference.arrow") }

// runResult says what a run made.
type runResult struct {
	shards    []string
	reference string
	combined  map[string]string // method → file
	compare   []methodDistance
}

// methodDistance is one method's distances from the reference, as written
// to DIR/summary/compare.json.
type methodDistance struct {
	Method    string            `json:"method"`
	File      string            `json:"file"`
	Reference string            `json:"reference"`
	Distances combine.Distances `json:"distances"`
}

func (l *launcher) run() (res *runResult, err error) {
	l.start = time.Now()
	for _, d := range []string{l.dir, filepath.Join(l.dir, "shards"), filepath.Join(l.dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("output directory: %w", err)
		}
	}
	unlock, err := lockDir(l.dir)
	if err != nil {
		return nil, err
	}
	defer unlock()
	l.removeTemporaries()
	defer func() {
		// Processes killed by an interrupt may leave hidden temporaries.
		if err != nil {
			l.removeTemporaries()
		}
	}()

	var tasks []*task
	for m := range l.shards {
		exp := l.shardExp
		exp.shard = m
		tasks = append(tasks, &task{
			name: fmt.Sprintf("shard %d", m), stem: fmt.Sprintf("shard-%04d", m), path: l.shardPath(m),
			args: append(slices.Clone(l.sampleArgs), "--shards="+strconv.Itoa(l.shards), "--shard="+strconv.Itoa(m), "-o", l.shardPath(m)),
			exp:  exp,
		})
	}
	if l.reference {
		// The full-data run costs about M shards: start it first, so that
		// it does not finish alone at the end.
		tasks = append([]*task{{
			name: "reference", stem: "reference", path: l.referencePath(),
			args: append(slices.Clone(l.sampleArgs), "--shards=1", "-o", l.referencePath()),
			exp:  l.refExp,
		}}, tasks...)
	}

	var todo []*task
	var stale []string
	for _, t := range tasks {
		why := checkDraws(t.path, t.exp)
		switch {
		case why == "":
			l.status("%s: %s is complete and matches this run, kept", t.name, t.path)
		case l.combine:
			stale = append(stale, fmt.Sprintf("%s: %s", t.name, why))
		default:
			if !strings.HasSuffix(why, "does not exist") {
				l.status("%s: sampling again: %s", t.name, why)
			}
			todo = append(todo, t)
		}
	}
	if len(stale) > 0 {
		return nil, fmt.Errorf("--combine-only, but %d of the files are not ready:\n  %s", len(stale), strings.Join(stale, "\n  "))
	}
	if len(todo) > 0 {
		l.status("sampling %d of %d %s, %d at a time (logs in %s)", len(todo), len(tasks), plural(len(tasks), "file"), min(l.jobs, len(todo)), filepath.Join(l.dir, "logs"))
		if err := l.sample(todo); err != nil {
			return nil, err
		}
	}

	res = &runResult{combined: map[string]string{}}
	for m := range l.shards {
		res.shards = append(res.shards, l.shardPath(m))
	}
	if l.reference {
		res.reference = l.referencePath()
	}
	if err := l.postprocess(res); err != nil {
		return nil, err
	}
	return res, nil
}

func plural(n int, s string) string {
	if n == 1 {
		return s
	}
	return s + "s"
}

// status prints one progress line on stderr, with the time since start.
func (l *launcher) status(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.e.stderr, "[%6.1fs] %s\n", time.Since(l.start).Seconds(), fmt.Sprintf(format, args...))
}

// checkDraws returns "" if path holds a complete draws file that this run
// would have written, else why not.
func checkDraws(path string, exp expectation) string {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return path + " does not exist"
	}
	d, err := chains.ReadArrow(path)
	if err != nil {
		return fmt.Sprintf("%s is not readable (%v)", path, err)
	}
	m := d.Meta
	differ := func(what string, have, want any) string {
		return fmt.Sprintf("%s has %s %v, this run wants %v", path, what, have, want)
	}
	switch {
	case m.Kind != exp.kind:
		return differ("kind", m.Kind, exp.kind)
	case m.Shards != exp.shards:
		return differ("shard count", m.Shards, exp.shards)
	case m.Shard != exp.shard:
		return differ("shard", m.Shard, exp.shard)
	case m.Partition != exp.partition:
		return differ("partition", orNone(m.Partition), exp.partition)
	case m.DataFingerprint != exp.fingerprint:
		return fmt.Sprintf("%s was sampled from other data (fingerprint %s, the data now give %s)", path, orNone(m.DataFingerprint), exp.fingerprint)
	case !sameJSON(m.Model, exp.model):
		return fmt.Sprintf("%s has another model (%s; this run: %s)", path, compactJSON(m.Model), compactJSON(exp.model))
	case m.Seed == nil || *m.Seed != exp.seed:
		have := "none"
		if m.Seed != nil {
			have = strconv.FormatUint(*m.Seed, 10)
		}
		return differ("seed", have, exp.seed)
	case d.NumChains() != exp.chains:
		return differ("chain count", d.NumChains(), exp.chains)
	}
	var rec map[string]any
	if err := json.Unmarshal(m.Sampler, &rec); err != nil {
		return fmt.Sprintf("%s has no readable sampler settings (%v)", path, err)
	}
	name, _ := rec["name"].(string)
	if name == "" {
		name, _ = rec["sampler"].(string)
	}
	if name != exp.sampler {
		return differ("--sampler =", orNone(name), exp.sampler)
	}
	keys := make([]string, 0, len(exp.settings))
	for k := range exp.settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		have, ok := rec[k]
		if !ok {
			continue // this version of the sampler does not record it
		}
		if want := exp.settings[k]; fmt.Sprint(have) != fmt.Sprint(want) {
			return differ(settingFlags[k]+" =", have, want)
		}
	}
	return ""
}

// settingFlags names the epmc sample flag behind each sampler metadata key
// that resume checks.
var settingFlags = map[string]string{
	"metric": "--metric", "num_warmup": "--warmup", "num_samples": "--draws", "save_warmup": "--save-warmup",
	"adapt_delta": "--adapt-delta", "max_depth": "--max-depth", "init_radius": "--init", "particles": "--draws",
}

// samplerSettings returns the sampler metadata a run with these flags
// records, by key (see subpost.SamplerInfo and sis.RunSubposterior's
// record): the settings that decide the draws, not the adapted values;
// the seed is checked exactly in the file's epmc.seed. Numbers are
// float64, as encoding/json decodes them.
func samplerSettings(sfs *flag.FlagSet, sampler string) map[string]any {
	num := func(name string) float64 {
		switch v := sfs.Lookup(name).Value.(flag.Getter).Get().(type) {
		case int:
			return float64(v)
		case uint64:
			return float64(v)
		case float64:
			return v
		}
		panic("epmc: --" + name + " is not a number")
	}
	switch sampler {
	case "nuts", "rwm":
		s := map[string]any{
			"num_warmup": num("warmup"), "num_samples": num("draws"), "save_warmup": flagValue[bool](sfs, "save-warmup"),
			"init_radius": num("init"),
		}
		if sampler == "nuts" {
			s["metric"] = flagValue[string](sfs, "metric")
			s["adapt_delta"] = num("adapt-delta")
			s["max_depth"] = num("max-depth")
		}
		return s
	case "smc":
		return map[string]any{"particles": num("draws")}
	}
	return nil
}

func sameJSON(a, b json.RawMessage) bool { return compactJSON(a) == compactJSON(b) }

func compactJSON(a json.RawMessage) string {
	var buf bytes.Buffer
	if err := json.Compact(&buf, a); err != nil {
		return string(a)
	}
	return buf.String()
}

// tmpName matches the hidden temporaries of package atomicfile.
var tmpName = regexp.MustCompile(`^\..+\.tmp-[0-9]+$`)

// removeTemporaries deletes hidden temporary files that killed processes
// left in the output directory and its subdirectories.
func (l *launcher) removeTemporaries() {
	for _, sub := range []string{"", "shards", "combined", "summary", "plots", "logs", "data"} {
		dir := filepath.Join(l.dir, sub)
		entries, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, en := range entries {
			if !en.IsDir() && tmpName.MatchString(en.Name()) {
				p := filepath.Join(dir, en.Name())
				if os.Remove(p) == nil {
					l.status("removed %s, left by an interrupted process", p)
				}
			}
		}
	}
}

// sample runs the tasks, at most l.jobs at a time. A shard that fails is
// retried; one that fails for bad usage stops the others, as does an
// interrupt. Other failures let the rest finish, so that a later run can
// resume from them.
func (l *launcher) sample(tasks []*task) error {
	ctx, cancel := context.WithCancelCause(l.e.ctx)
	defer cancel(nil)
	var g errgroup.Group
	g.SetLimit(l.jobs)
	var mu sync.Mutex
	var failed []error
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	stopBeat := make(chan struct{})
	defer close(stopBeat)
	go func() {
		for {
			select {
			case <-stopBeat:
				return
			case <-tick.C:
				l.mu.Lock()
				var run []string
				for name, since := range l.running {
					run = append(run, fmt.Sprintf("%s (%s)", name, time.Since(since).Round(time.Second)))
				}
				done := l.done
				l.mu.Unlock()
				slices.Sort(run)
				l.status("%d of %d done; running: %s", done, len(tasks), strings.Join(run, ", "))
			}
		}
	}()
	for _, t := range tasks {
		g.Go(func() error {
			if ctx.Err() != nil {
				return nil
			}
			err := l.runTask(ctx, t, len(tasks))
			if err == nil {
				return nil
			}
			mu.Lock()
			defer mu.Unlock()
			var ue *usageError
			if errors.As(err, &ue) {
				cancel(err)
			}
			failed = append(failed, err)
			return nil
		})
	}
	g.Wait()
	if err := l.e.ctx.Err(); err != nil {
		return err
	}
	if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
		return cause
	}
	if len(failed) > 0 {
		return errors.Join(failed...)
	}
	return nil
}

// runTask runs one sample process until it succeeds, retrying failures.
func (l *launcher) runTask(ctx context.Context, t *task, total int) error {
	logPath := filepath.Join(l.dir, "logs", t.stem+".log")
	pidPath := filepath.Join(l.dir, "logs", t.stem+".pid")
	attempts := 1 + l.retries
	var lastErr error
	for a := 1; a <= attempts; a++ {
		flags := os.O_CREATE | os.O_WRONLY | os.O_APPEND
		if a == 1 {
			flags |= os.O_TRUNC
		}
		logf, err := os.OpenFile(logPath, flags, 0o666)
		if err != nil {
			return fmt.Errorf("%s: log file: %w", t.name, err)
		}
		l.status("%s: started (attempt %d of %d)", t.name, a, attempts)
		l.mu.Lock()
		if l.running == nil {
			l.running = map[string]time.Time{}
		}
		l.running[t.name] = time.Now()
		l.mu.Unlock()
		fmt.Fprintf(logf, "== epmc run: %s, attempt %d of %d, %s\n== %s sample %s\n", t.name, a, attempts,
			time.Now().Format(time.RFC3339), filepath.Base(l.e.self), strings.Join(t.args, " "))
		began := time.Now()
		code, err := l.runChild(ctx, t, logf, pidPath)
		l.mu.Lock()
		delete(l.running, t.name)
		l.mu.Unlock()
		secs := time.Since(began).Seconds()
		switch {
		case err == nil:
			fmt.Fprintf(logf, "== attempt %d: done in %.1fs\n", a, secs)
		default:
			fmt.Fprintf(logf, "== attempt %d: %v after %.1fs\n", a, err, secs)
		}
		logf.Close()
		if err == nil {
			if why := checkDraws(t.path, t.exp); why != "" {
				err = fmt.Errorf("finished but %s", why)
			} else {
				l.mu.Lock()
				l.done++
				done := l.done
				l.mu.Unlock()
				l.status("%s: done in %.1fs (%d of %d)", t.name, secs, done, total)
				return nil
			}
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		msg := lastLine(logPath)
		if code == 2 {
			return usagef("%s: %s (see %s)", t.name, msg, logPath)
		}
		lastErr = fmt.Errorf("%s failed after %d %s: %v: %s (see %s)", t.name, a, plural(a, "attempt"), err, msg, logPath)
		if a < attempts {
			l.status("%s: attempt %d failed (%v); starting it again", t.name, a, err)
		}
	}
	return lastErr
}

// runChild runs one epmc sample process in its own process group, with
// its output in logf, and returns its exit code. When ctx is cancelled the
// group gets SIGTERM, then SIGKILL after the grace period.
func (l *launcher) runChild(ctx context.Context, t *task, logf *os.File, pidPath string) (int, error) {
	cmd := exec.Command(l.e.self, append([]string{"sample"}, t.args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "EPMC_NO_PROGRESS=1")
	newProcessGroup(cmd)
	if err := cmd.Start(); err != nil {
		return -1, fmt.Errorf("cannot start %s: %w", l.e.self, err)
	}
	pid := cmd.Process.Pid
	if err := atomicfile.WriteFile(pidPath, []byte(strconv.Itoa(pid)+"\n")); err != nil {
		l.status("%s: cannot write %s: %v", t.name, pidPath, err)
	}
	defer os.Remove(pidPath)
	exited := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		select {
		case <-exited:
		case <-ctx.Done():
			signalGroup(pid, terminate)
			select {
			case <-exited:
			case <-time.After(l.grace):
				signalGroup(pid, kill)
			}
		}
	}()
	err := cmd.Wait()
	close(exited)
	<-stopped
	if err == nil {
		return 0, nil
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), exitDescription(ee)
	}
	return -1, err
}

// lastLine returns the last line of the log that is neither the launcher's
// own nor a pointer to --help: the child's error message.
func lastLine(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	var last string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if s := strings.TrimSpace(sc.Text()); s != "" && !strings.HasPrefix(s, "== ") && !strings.HasPrefix(s, "(run ") {
			last = s
		}
	}
	if last == "" {
		return "no output"
	}
	return last
}

// subcommand runs another epmc command in this process, with its output
// going to stdout and stderr; the error carries the command's last line of
// stderr.
func (l *launcher) subcommand(stdout, stderr io.Writer, args ...string) error {
	var errBuf bytes.Buffer
	sub := &env{
		ctx: l.e.ctx, stdin: strings.NewReader(""), stdout: stdout,
		stderr: io.MultiWriter(stderr, &errBuf), getenv: l.e.getenv, self: l.e.self,
	}
	if code := run(sub, args); code != 0 {
		if err := l.e.ctx.Err(); err != nil {
			return err
		}
		msg := strings.TrimSpace(errBuf.String())
		if i := strings.LastIndex(msg, "\n"); i >= 0 && strings.HasPrefix(msg[i+1:], "(run ") {
			msg = msg[:i]
		}
		if i := strings.LastIndex(msg, "\n"); i >= 0 {
			msg = msg[i+1:]
		}
		return errors.New(msg)
	}
	return nil
}

// postprocess combines, summarises, compares and plots.
func (l *launcher) postprocess(res *runResult) error {
	for _, d := range []string{"combined", "summary"} {
		if err := os.MkdirAll(filepath.Join(l.dir, d), 0o755); err != nil {
			return fmt.Errorf("output directory: %w", err)
		}
	}
	var combined []string
	for _, m := range l.methods {
		out := filepath.Join(l.dir, "combined", m.name+".arrow")
		logPath := filepath.Join(l.dir, "logs", "combine-"+m.name+".log")
		args := []string{"combine", "--method", m.name, "--seed", strconv.FormatUint(l.seed, 10)}
		args = append(append(args, m.args...), "-o", out)
		args = append(args, res.shards...)
		var logBuf bytes.Buffer
		fmt.Fprintf(&logBuf, "== epmc %s\n", strings.Join(args, " "))
		began := time.Now()
		err := l.subcommand(&logBuf, &logBuf, args...)
		if werr := atomicfile.WriteFile(logPath, logBuf.Bytes()); werr != nil && err == nil {
			err = werr
		}
		if err != nil {
			return fmt.Errorf("combine --method %s: %w (see %s)", m.name, err, logPath)
		}
		l.status("combined %s in %.1fs: %s", m.name, time.Since(began).Seconds(), out)
		for _, line := range strings.Split(logBuf.String(), "\n") {
			if t := strings.TrimSpace(line); strings.HasPrefix(t, "warning:") || strings.HasPrefix(t, "note:") {
				l.status("  %s: %s", m.name, t)
			}
		}
		res.combined[m.name] = out
		combined = append(combined, out)
	}

	inputs := slices.Clone(combined)
	if res.reference != "" {
		inputs = append(inputs, res.reference)
	}
	sumDir := filepath.Join(l.dir, "summary")
	if err := l.writeOutput(filepath.Join(sumDir, "summary.txt"), append([]string{"summary"}, inputs...)...); err != nil {
		return err
	}
	if err := l.writeOutput(filepath.Join(sumDir, "summary.csv"), append([]string{"summary", "--format", "csv"}, inputs...)...); err != nil {
		return err
	}
	if err := l.writeOutput(filepath.Join(sumDir, "diagnose.txt"), append([]string{"diagnose"}, res.shards...)...); err != nil {
		return err
	}
	l.status("wrote %s", strings.Join([]string{filepath.Join(sumDir, "summary.txt"), "summary.csv", "diagnose.txt"}, ", "))
	if problems := diagnoseProblems(filepath.Join(sumDir, "diagnose.txt"), l.shards); problems > 0 {
		l.status("warning: epmc diagnose reports problems in %d of the %d shards: see %s", problems, l.shards, filepath.Join(sumDir, "diagnose.txt"))
	}

	if res.reference != "" {
		for _, m := range l.methods {
			var out bytes.Buffer
			file := res.combined[m.name]
			if err := l.subcommand(&out, io.Discard, "compare", "--format", "json", file, res.reference); err != nil {
				return fmt.Errorf("compare %s: %w", file, err)
			}
			md := methodDistance{Method: m.name, File: file, Reference: res.reference}
			if err := json.Unmarshal(out.Bytes(), &md.Distances); err != nil {
				return fmt.Errorf("compare %s: %w", file, err)
			}
			res.compare = append(res.compare, md)
			if err := l.writeOutput(filepath.Join(sumDir, "compare-"+m.name+".txt"), "compare", file, res.reference); err != nil {
				return err
			}
		}
		var table bytes.Buffer
		writeMethodTable(&table, res.compare, res.reference)
		if err := atomicfile.WriteFile(filepath.Join(sumDir, "compare.txt"), table.Bytes()); err != nil {
			return err
		}
		js, _ := json.MarshalIndent(res.compare, "", "  ")
		if err := atomicfile.WriteFile(filepath.Join(sumDir, "compare.json"), append(js, '\n')); err != nil {
			return err
		}
		l.status("wrote %s", filepath.Join(sumDir, "compare.txt"))
	}

	var plots []string
	if l.plots {
		plotDir := filepath.Join(l.dir, "plots")
		ref := []string{}
		if res.reference != "" {
			ref = []string{"--ref", res.reference}
		}
		kinds := []struct {
			kind  string
			files []string
		}{
			{"marginals", append(slices.Clone(res.shards), combined...)},
			{"pairs", combined},
		}
		if res.reference != "" {
			kinds = append(kinds, struct {
				kind  string
				files []string
			}{"compare", combined})
		}
		for _, k := range kinds {
			args := append([]string{"plot", "--kind", k.kind, "-o", plotDir}, ref...)
			var out bytes.Buffer
			if err := l.subcommand(&out, io.Discard, append(args, k.files...)...); err != nil {
				return fmt.Errorf("plot --kind %s: %w", k.kind, err)
			}
			plots = append(plots, strings.Fields(out.String())...)
		}
		l.status("drew %s", strings.Join(plots, ", "))
	}
	l.report(res, plots)
	return nil
}

// writeOutput runs an epmc command and writes its standard output to path
// atomically.
func (l *launcher) writeOutput(path string, args ...string) error {
	var out bytes.Buffer
	if err := l.subcommand(&out, io.Discard, args...); err != nil {
		return fmt.Errorf("epmc %s: %w", args[0], err)
	}
	return atomicfile.WriteFile(path, out.Bytes())
}

// diagnoseProblems counts the files of epmc diagnose's report on n files
// that are not marked clean.
func diagnoseProblems(path string, n int) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	return max(0, n-strings.Count(string(b), "no problems detected"))
}

// writeMethodTable prints one line per method with its distances from the
// reference.
func writeMethodTable(w io.Writer, rows []methodDistance, reference string) {
	fmt.Fprintf(w, "Each method against the full-data posterior (%s);\nmean errors in units of the reference's posterior sd:\n\n", reference)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "method\tmax mean err/sd\tMahalanobis\tcov err\tmax KS D\tMMTV\tenergy\t")
	for _, r := range rows {
		d := r.Distances
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t\n", r.Method, d.MaxMeanErrorSD, d.MahalanobisMeanError, d.CovRelError, d.KSMax, d.MMTV, d.EnergyDistance)
	}
	tw.Flush()
}

// report prints where everything is.
func (l *launcher) report(res *runResult, plots []string) {
	w := l.e.stdout
	if len(res.compare) > 0 {
		writeMethodTable(w, res.compare, res.reference)
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "epmc run: %d %s, %d %s in %.1fs; outputs in %s:\n", l.shards, plural(l.shards, "shard"),
		len(l.methods), plural(len(l.methods), "method"), time.Since(l.start).Seconds(), l.dir)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	rel := func(p string) string {
		if r, err := filepath.Rel(l.dir, p); err == nil {
			return r
		}
		return p
	}
	shards := rel(res.shards[0])
	if len(res.shards) > 1 {
		shards += " … " + filepath.Base(res.shards[len(res.shards)-1])
	}
	fmt.Fprintf(tw, "  shards\t%s\n", shards)
	if res.reference != "" {
		fmt.Fprintf(tw, "  reference\t%s\n", rel(res.reference))
	}
	var comb []string
	for _, m := range l.methods {
		comb = append(comb, rel(res.combined[m.name]))
	}
	fmt.Fprintf(tw, "  combined\t%s\n", strings.Join(comb, ", "))
	sum := "summary/summary.txt, summary/summary.csv, summary/diagnose.txt"
	if res.reference != "" {
		sum += ", summary/compare.txt"
	}
	fmt.Fprintf(tw, "  summaries\t%s\n", sum)
	if len(plots) > 0 {
		var ps []string
		for _, p := range plots {
			ps = append(ps, rel(p))
		}
		fmt.Fprintf(tw, "  plots\t%s\n", strings.Join(ps, ", "))
	}
	fmt.Fprintf(tw, "  logs\tlogs/\n")
	tw.Flush()
}
