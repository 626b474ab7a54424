package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/combine"
	"github.com/epmc/epmc/internal/progress"
)

func init() {
	register(&command{
		name:    "combine",
		summary: "combine subposterior draws of M shards into full-posterior draws",
		usage:   "epmc combine --method METHOD -o OUT [flags] IN...",
		help: `
Combine the draws of the M shards' subposteriors (epmc draws files, or Stan
CSV output) into draws from the full posterior, written to OUT as an
ordinary draws file (kind "combined") that summary, diagnose, compare and
plot read. Combination runs on the unconstrained parameters recorded in the
files (log of a positive parameter, logit of an interval, …) and maps the
result back.

Methods:
  average         unweighted mean of randomly paired draws (a biased baseline)
  consensus-diag  consensus Monte Carlo, inverse-variance weights
  consensus       consensus Monte Carlo, inverse-covariance weights (Scott et al. 2016)
  parametric      draws from the product of Gaussian fits (Neiswanger et al. 2014)
  nonparametric   product of Gaussian KDEs, Metropolis-within-Gibbs over mixture indices
  semiparametric  Hjort–Glad parametric-start KDE product, same sampler
  swiss           SwISS affine maps onto the Gaussian product's moments (Vyner et al. 2023)
consensus, parametric and swiss are exact for Gaussian subposteriors and
suit any dimension; nonparametric and semiparametric keep non-Gaussian
shape and several modes but need d ≤ 5 or so and many draws per shard.

Inputs: epmc draws files carry their shard index, shard count, prior
power, convention, data fingerprint and parameter transforms, and may be
given in any order. combine refuses shards that disagree in parameters,
shard count, data or convention, a shard given twice, a prior power other
than 1/M, and missing shards unless --allow-missing (the result is then the
posterior given the present shards' data, with the prior raised to k/M).
Stan CSV files carry none of this: they are shards in the order given,
combined on the scale they hold (constrained values); --group K makes each
K consecutive Stan CSV files (the chains of one run) one shard.

The Markov-chain methods (nonparametric, semiparametric) run --chains
chains in parallel, each a ladder of index chains at increasing bandwidths
(tempering, so that several modes keep their weights). The bandwidth h is
in units of a typical shard's standard deviation after whitening, annealed
over burn-in. --bandwidth auto (the default) starts from likelihood
cross-validation, which resolves each shard's shape and several modes,
and widens the kernels until every shard contributes at least
--effective-draws (400) effective draws to the product where it lies
(the Kish size of its conditional distribution given the other shards,
measured by a short calibration chain). In one to three dimensions this
is usually the cross-validated h, and the KDE methods then correct the
skewness that the Gaussian methods miss; in more dimensions, or when the
shards disagree by several shard sds, the product lies where each shard
has few draws and h must grow. The range is limited: nonparametric stops
at the widest h its variance correction allows, and says so when the
product is still poorly determined there; semiparametric's correction has
heavy-tailed weights 1/N(θ_t | shard fit) beyond h ≈ 1, so when no h up to
1 gives enough effective draws it returns its parametric start, the
Gaussian product, and says so. On a logistic regression with 6
parameters and 8 shards of 10,000 draws, cross-validation alone left
semiparametric 0.7 to 1.6 posterior sd off; the automatic rule gives the
Gaussian product there and nonparametric h ≈ 0.8 (0.12 and 0.11 sd from
the full-data posterior when sd(x·β) = 1). A fixed large --bandwidth is no skewness
correction: the estimate tends to the Gaussian product as 1/h², tilted by
each shard's most extreme draws. --bandwidth lcv is cross-validation
alone.
The other methods write their draws in --chains equal blocks. The report
on stderr gives acceptance rates and effective draws; the output's metadata
(epmc.combine) records the method, settings, rates and the inputs' SHA-256.
Output is bit-identical for the same inputs and --seed whatever the number
of CPUs (across architectures it may differ in the last bits: Go may fuse
multiply-adds on some, such as arm64).

Examples:
  epmc combine --method consensus -o combined.arrow shard-*.arrow
  epmc combine --method semiparametric --draws 2000 -o semi.arrow shard-*.arrow
  epmc combine --method parametric --group 4 -o fit.arrow s0-[1-4].csv s1-[1-4].csv
`,
		setup: setupCombine,
	})
}

type combineFlags struct {
	method, out, bandwidth, burn, thin, levels, params, effective string
	draws, chains, group                                          int
	seed                                                          uint64
	allowMissing, zstd                                            bool
}

func setupCombine(fs *flag.FlagSet) func(e *env, args []string) error {
	f := &combineFlags{}
	fs.StringVar(&f.method, "method", "", "combination `method`: "+strings.Join(combine.Names(), ", "))
	fs.StringVar(&f.out, "o", "", "output draws `file` (Arrow)")
	fs.IntVar(&f.draws, "draws", 1000, "output draws per chain")
	fs.IntVar(&f.chains, "chains", 4, "output chains (Markov chains, or blocks of draws)")
	fs.Uint64Var(&f.seed, "seed", 1, "random `seed`")
	fs.StringVar(&f.bandwidth, "bandwidth", "auto", "nonparametric/semiparametric: auto (cross-validated, widened to 400 effective draws per shard), lcv, scott, silverman or a `number` (whitened units)")
	fs.StringVar(&f.effective, "effective-draws", "auto", fmt.Sprintf("nonparametric/semiparametric with --bandwidth auto: effective draws each shard must contribute to the product, or auto (%d)", combine.DefaultMinEffectiveDraws))
	fs.StringVar(&f.burn, "burn", "auto", "nonparametric/semiparametric: sweeps discarded per chain, or auto")
	fs.StringVar(&f.thin, "thin", "auto", "nonparametric/semiparametric: keep every `N`-th sweep, or auto (from the burn-in acceptance rate)")
	fs.StringVar(&f.levels, "levels", "auto", "nonparametric/semiparametric: bandwidth-tempering levels (1 turns tempering off), or auto")
	fs.IntVar(&f.group, "group", 1, "read every `K` consecutive Stan CSV files as the chains of one shard")
	fs.StringVar(&f.params, "params", "", "combine only the parameters whose names match this regular `expression`")
	fs.BoolVar(&f.allowMissing, "allow-missing", false, "combine the shards present when some of the M are missing")
	fs.BoolVar(&f.zstd, "zstd", false, "compress the output with zstd")
	return func(e *env, args []string) error { return runCombine(e, f, args) }
}

// autoInt parses "auto" (giving def) or a non-negative integer.
func autoInt(flagName, s string, def int) (int, error) {
	if s == "auto" {
		return def, nil
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return 0, usagef("--%s %q: want auto or a non-negative integer", flagName, s)
	}
	return v, nil
}

func runCombine(e *env, f *combineFlags, args []string) error {
	if f.method == "" {
		return usagef("--method is required (one of %s)", strings.Join(combine.Names(), ", "))
	}
	if f.out == "" {
		return usagef("-o OUT is required")
	}
	if len(args) == 0 {
		return usagef("no input files")
	}
	if f.draws < 1 || f.chains < 1 {
		return usagef("--draws and --chains must be at least 1")
	}
	if f.group < 1 || len(args)%f.group != 0 {
		return usagef("--group %d does not divide the %d input files", f.group, len(args))
	}
	opts := combine.MarkovOptions{}
	var err error
	if opts.Bandwidth, err = combine.ParseBandwidth(f.bandwidth); err != nil {
		return usagef("--bandwidth: %v", err)
	}
	burn, err := autoInt("burn", f.burn, -1)
	if err != nil {
		return err
	}
	switch burn {
	case -1:
		opts.Burn = 0 // the method's default
	case 0:
		opts.Burn = -1 // keep every sweep
	default:
		opts.Burn = burn
	}
	if opts.Thin, err = autoInt("thin", f.thin, 0); err != nil {
		return err
	}
	if f.thin != "auto" && opts.Thin == 0 {
		return usagef("--thin must be at least 1")
	}
	if opts.Levels, err = autoInt("levels", f.levels, 0); err != nil {
		return err
	}
	if f.levels != "auto" && opts.Levels == 0 {
		return usagef("--levels must be at least 1")
	}
	if opts.MinEffectiveDraws, err = autoInt("effective-draws", f.effective, 0); err != nil {
		return err
	}
	if f.effective != "auto" && opts.MinEffectiveDraws == 0 {
		return usagef("--effective-draws must be at least 1")
	}
	if f.effective != "auto" && opts.Bandwidth.Rule != combine.BandwidthAuto {
		return usagef("--effective-draws sets the target of --bandwidth auto, not of --bandwidth %s", f.bandwidth)
	}
	method, err := combine.ByName(f.method, opts)
	if err != nil {
		return usagef("--method: %v", err)
	}
	if !combine.IsMarkov(f.method) {
		for _, fl := range []struct{ name, val string }{{"bandwidth", f.bandwidth}, {"burn", f.burn}, {"thin", f.thin}, {"levels", f.levels}, {"effective-draws", f.effective}} {
			if fl.val != "auto" {
				return usagef("--%s applies to the nonparametric and semiparametric methods, not %s", fl.name, f.method)
			}
		}
	}
	var re *regexp.Regexp
	if f.params != "" {
		if re, err = regexp.Compile(f.params); err != nil {
			return usagef("--params %q is not a valid regular expression: %v", f.params, err)
		}
	}
	for _, in := range args {
		if sameFile(in, f.out) {
			return usagef("output %s is one of the inputs; choose another name", f.out)
		}
	}

	shards, err := readShards(args, f.group)
	if err != nil {
		return err
	}
	plan, err := planShards(shards, f.allowMissing)
	if err != nil {
		return err
	}
	for _, n := range plan.notes {
		fmt.Fprintf(e.stderr, "epmc combine: note: %s\n", n)
	}
	layout, outNames, outParams, err := combineLayout(shards[0], re, f.params)
	if err != nil {
		return err
	}
	data := make([][][]float64, len(shards))
	for i, sh := range shards {
		if data[i], err = layout.Unconstrained(selectColumns(sh.draws, outNames)); err != nil {
			return fmt.Errorf("%s: %w", sh.label, err)
		}
	}

	prog := progress.New(e.stderr, e.progress)
	bars := make([]*progress.Bar, f.chains)
	done := make([]int, f.chains)
	for c := range bars {
		bars[c] = prog.Add(fmt.Sprintf("chain %d", c+1), f.draws)
	}
	labels := make([]string, len(shards))
	for m, sh := range shards {
		labels[m] = filepath.Base(sh.files[0])
		if s := sh.draws.Meta; s.Shards > 0 {
			labels[m] = fmt.Sprintf("shard %d (%s)", s.Shard, labels[m])
		}
	}
	res, err := method.Combine(e.ctx, data, combine.Settings{
		Chains: f.chains, Draws: f.draws, Seed: f.seed, ShardLabels: labels,
		Progress: func(chain, n, total int) {
			bars[chain].SetTotal(total, false)
			bars[chain].IncrBy(n - done[chain])
			done[chain] = n
			if n >= total {
				bars[chain].SetTotal(total, true)
			}
		},
	})
	if err != nil {
		for _, b := range bars {
			b.Abort()
		}
		prog.Wait()
		if e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		return err
	}
	prog.Wait()

	out := chains.New(outNames, f.chains, f.draws)
	x := make([]float64, len(outNames))
	for c, ch := range res.Draws {
		for i, u := range ch {
			layout.Constrain(x, u)
			for v := range outNames {
				out.Values[c][v][i] = x[v]
			}
		}
	}
	meta, err := combinedMeta(shards, plan, outParams, res.Info, f.seed)
	if err != nil {
		return err
	}
	out.Meta = meta
	wopts := chains.WriteOptions{}
	if f.zstd {
		wopts.Compression = chains.Zstd
	}
	if err := chains.WriteFile(f.out, out, wopts); err != nil {
		return err
	}
	reportCombine(e.stderr, res.Info, shards, f.out)
	return nil
}

// shardInput is one shard: its draws and where they came from.
type shardInput struct {
	label string   // the file, or "a.csv+b.csv+…" for a group
	files []string // the files read
	draws *chains.Draws
	stan  bool
}

func readShards(paths []string, group int) ([]*shardInput, error) {
	var out []*shardInput
	for i := 0; i < len(paths); i += group {
		files := paths[i : i+group]
		sh := &shardInput{label: files[0], files: files}
		if group > 1 {
			for _, p := range files {
				format, err := chains.Detect(p)
				if err != nil {
					return nil, err
				}
				if format != chains.FormatStanCSV {
					return nil, fmt.Errorf("%s: --group joins Stan CSV files (one chain each), but this is a %v", p, format)
				}
			}
			sh.label = strings.Join(files, "+")
			d, err := chains.ReadStanCSV(files...)
			if err != nil {
				return nil, err
			}
			sh.draws, sh.stan = d, true
		} else {
			d, err := chains.ReadFile(files[0])
			if err != nil {
				return nil, err
			}
			sh.draws, sh.stan = d, d.Meta.Kind == chains.KindStan
		}
		if sh.draws.Index(chains.LogWeight) >= 0 {
			return nil, fmt.Errorf("%s has importance weights (%s); the combination methods need unweighted draws", sh.label, chains.LogWeight)
		}
		if sh.draws.Meta.Kind == chains.KindCombined {
			return nil, fmt.Errorf("%s holds combined draws, not a shard's", sh.label)
		}
		out = append(out, sh)
	}
	return out, nil
}

// shardPlan is the result of the pre-combination checks.
type shardPlan struct {
	shards     int // M, the shard count of the full data
	present    int
	priorPower float64 // of the combined output; 0 when unknown
	notes      []string
}

// planShards checks that the inputs are the shards of one job and puts
// them in shard order (in place). The messages name the files at fault.
func planShards(shards []*shardInput, allowMissing bool) (*shardPlan, error) {
	first := shards[0]
	names0 := first.draws.ParamNames()
	for _, sh := range shards[1:] {
		if names := sh.draws.ParamNames(); strings.Join(names, "\x00") != strings.Join(names0, "\x00") {
			return nil, fmt.Errorf("%s and %s have different parameters (%s: %s; %s: %s)",
				first.label, sh.label, first.label, listNames(names0), sh.label, listNames(names))
		}
		if !sameParams(first.draws.Meta.Params, sh.draws.Meta.Params) {
			return nil, fmt.Errorf("%s and %s record different shapes or transforms for their parameters", first.label, sh.label)
		}
	}
	plan := &shardPlan{shards: len(shards), present: len(shards)}
	withMeta := 0
	for _, sh := range shards {
		if sh.draws.Meta.Shards > 0 {
			withMeta++
		}
	}
	if withMeta == 0 {
		if len(shards) > 1 {
			plan.notes = append(plan.notes, fmt.Sprintf("the inputs carry no shard metadata: taking them as shards 0..%d in the order given", len(shards)-1))
		}
		if first.stan {
			plan.notes = append(plan.notes, "Stan CSV files record no transforms: combining on the constrained scale they hold")
		}
		return plan, nil
	}
	if withMeta < len(shards) {
		for _, sh := range shards {
			if sh.draws.Meta.Shards == 0 {
				return nil, fmt.Errorf("%s has no shard metadata but other inputs have: give only epmc shard files, or only files without shard metadata", sh.label)
			}
		}
	}
	M := first.draws.Meta.Shards
	for _, sh := range shards[1:] {
		if m := sh.draws.Meta.Shards; m != M {
			return nil, fmt.Errorf("different shard counts: %s is one of %d shards, %s one of %d", first.label, M, sh.label, m)
		}
	}
	sort.SliceStable(shards, func(a, b int) bool { return shards[a].draws.Meta.Shard < shards[b].draws.Meta.Shard })
	for i := 1; i < len(shards); i++ {
		if a, b := shards[i-1], shards[i]; a.draws.Meta.Shard == b.draws.Meta.Shard {
			return nil, fmt.Errorf("%s and %s are both shard %d (shards are numbered 0 to %d)", a.label, b.label, a.draws.Meta.Shard, M-1)
		}
	}
	if len(shards) < M {
		var missing []string
		have := map[int]bool{}
		for _, sh := range shards {
			have[sh.draws.Meta.Shard] = true
		}
		for m := range M {
			if !have[m] {
				missing = append(missing, strconv.Itoa(m))
			}
		}
		if !allowMissing {
			return nil, fmt.Errorf("shard %s of 0..%d missing (pass --allow-missing to combine the %d present)", strings.Join(missing, ", "), M-1, len(shards))
		}
		plan.notes = append(plan.notes, fmt.Sprintf("shard %s of 0..%d missing: the result is the posterior given the other shards' data, with the prior raised to %d/%d", strings.Join(missing, ", "), M-1, len(shards), M))
	}
	plan.shards = M
	for _, sh := range shards[1:] {
		a, b := first.draws.Meta, sh.draws.Meta
		if a.DataFingerprint != b.DataFingerprint {
			return nil, fmt.Errorf("%s and %s come from different data (fingerprints %s and %s)", first.label, sh.label, orNone(a.DataFingerprint), orNone(b.DataFingerprint))
		}
		if a.Partition != b.Partition {
			return nil, fmt.Errorf("%s and %s come from different partitions of the data (%s and %s)", first.label, sh.label, orNone(a.Partition), orNone(b.Partition))
		}
	}
	for _, sh := range shards[1:] {
		a, b := first.draws.Meta.Convention, sh.draws.Meta.Convention
		if a != b {
			return nil, fmt.Errorf("%s uses the %s convention but %s uses %s", first.label, orNone(string(a)), sh.label, orNone(string(b)))
		}
	}
	if first.draws.Meta.Convention == chains.ConventionTempered {
		return nil, fmt.Errorf("the shards use the %s convention, p(θ)·p(x_m | θ)^(N/N_m); every method here multiplies product-form subposteriors, p(θ)^(1/M)·p(x_m | θ), and would give a posterior about √M too narrow", chains.ConventionTempered)
	}
	want := 1 / float64(M)
	for _, sh := range shards {
		if pp := sh.draws.Meta.PriorPower; pp != 0 && math.Abs(pp-want) > 1e-9*want {
			return nil, fmt.Errorf("%s has prior power %g but is one of %d shards (want 1/%d = %g)", sh.label, pp, M, M, want)
		}
	}
	plan.present = len(shards)
	plan.priorPower = float64(len(shards)) / float64(M)
	return plan, nil
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func listNames(names []string) string {
	const max = 8
	if len(names) > max {
		return strings.Join(names[:max], ", ") + fmt.Sprintf(", … (%d in all)", len(names))
	}
	if len(names) == 0 {
		return "none"
	}
	return strings.Join(names, ", ")
}

func sameParams(a, b []chains.Param) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

// combineLayout chooses the parameters to combine — all of them, or those
// whose names match re — and returns their names in layout order, their
// blocks, and the layout over draws holding exactly those columns (see
// selectColumns). Blocks that re selects only in part are split into
// scalars, which elementwise transforms allow; a simplex cannot be split.
func combineLayout(sh *shardInput, re *regexp.Regexp, pattern string) (*chains.Layout, []string, []chains.Param, error) {
	d := sh.draws
	selected := map[string]bool{}
	for _, n := range d.ParamNames() {
		if re == nil || re.MatchString(n) {
			selected[n] = true
		}
	}
	if len(selected) == 0 {
		return nil, nil, nil, usagef("--params %q matches no parameter of %s", pattern, sh.label)
	}
	var params []chains.Param
	covered := map[string]bool{}
	for _, p := range d.Meta.Params {
		scalars := p.ScalarNames()
		n := 0
		for _, s := range scalars {
			covered[s] = true
			if selected[s] {
				n++
			}
		}
		switch {
		case n == 0:
		case n == len(scalars):
			params = append(params, p)
		case p.Transform.Kind == chains.Simplex:
			return nil, nil, nil, usagef("--params %q selects part of the simplex %s; select all of its elements or none", pattern, p.Name)
		default:
			for _, s := range scalars {
				if selected[s] {
					params = append(params, chains.Param{Name: s, Transform: p.Transform})
				}
			}
		}
	}
	for _, n := range d.ParamNames() {
		if selected[n] && !covered[n] {
			params = append(params, chains.Param{Name: n})
		}
	}
	var names []string
	for _, p := range params {
		names = append(names, p.ScalarNames()...)
	}
	layout, err := chains.NewLayout(names, params)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%s: %w", sh.label, err)
	}
	return layout, names, params, nil
}

// selectColumns returns the draws of the named columns, in that order.
func selectColumns(d *chains.Draws, names []string) *chains.Draws {
	idx := make([]int, len(names))
	for i, n := range names {
		idx[i] = d.Index(n)
	}
	return d.Select(idx)
}

// combineRecord is the JSON of the output's epmc.combine metadata.
type combineRecord struct {
	combine.Info
	Inputs []inputRecord `json:"inputs"`
}

type inputRecord struct {
	Files  []string `json:"files"`
	SHA256 []string `json:"sha256"`
	Shard  *int     `json:"shard,omitempty"`
	Draws  int      `json:"draws"`
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func combinedMeta(shards []*shardInput, plan *shardPlan, params []chains.Param, info combine.Info, seed uint64) (chains.Meta, error) {
	first := shards[0].draws.Meta
	rec := combineRecord{Info: info}
	for _, sh := range shards {
		in := inputRecord{Draws: sh.draws.NumDraws()}
		for _, p := range sh.files {
			in.Files = append(in.Files, filepath.Base(p))
			sum, err := fileSHA256(p)
			if err != nil {
				return chains.Meta{}, err
			}
			in.SHA256 = append(in.SHA256, sum)
		}
		if sh.draws.Meta.Shards > 0 {
			m := sh.draws.Meta.Shard
			in.Shard = &m
		}
		rec.Inputs = append(rec.Inputs, in)
	}
	js, err := json.Marshal(rec)
	if err != nil {
		return chains.Meta{}, err
	}
	s := seed
	meta := chains.Meta{
		Kind: chains.KindCombined, Combine: js, Seed: &s, Params: params,
		Model: first.Model, DataFingerprint: first.DataFingerprint, Partition: first.Partition,
	}
	if plan.priorPower > 0 && plan.priorPower <= 1 && first.PriorPower > 0 {
		meta.PriorPower = plan.priorPower
	}
	return meta, nil
}

func reportCombine(w io.Writer, in combine.Info, shards []*shardInput, out string) {
	minT, maxT := in.ShardDraws[0], in.ShardDraws[0]
	for _, t := range in.ShardDraws {
		minT, maxT = min(minT, t), max(maxT, t)
	}
	per := fmt.Sprintf("%d draws each", minT)
	if minT != maxT {
		per = fmt.Sprintf("%d to %d draws", minT, maxT)
	}
	fmt.Fprintf(w, "epmc combine: %s of %d shards (%s, %d parameters): %d chains × %d draws\n",
		in.Method, in.Shards, per, in.Dim, in.Chains, in.DrawsPerChain)
	if in.ParametricStart {
		fmt.Fprintf(w, "  bandwidth %s: cross-validated h = %.3g; no h up to %.3g gives enough effective draws\n",
			in.BandwidthRule, in.BandwidthLCV, in.Calibration[0].Bandwidth)
	}
	if in.Acceptance == nil {
		for _, n := range in.Notes {
			fmt.Fprintf(w, "  note: %s\n", n)
		}
		fmt.Fprintf(w, "  wrote %s\n", out)
		return
	}
	anneal := ""
	if in.Anneal {
		anneal = fmt.Sprintf(", annealed from %.3g", in.BaseBandwidth)
	}
	lcv := ""
	if in.BandwidthLCV > 0 && in.BandwidthLCV != in.Bandwidth {
		lcv = fmt.Sprintf(" (cross-validated %.3g)", in.BandwidthLCV)
	}
	fmt.Fprintf(w, "  bandwidth %s: h = %.3g in whitened units%s%s; %d tempering level(s)\n", in.BandwidthRule, in.Bandwidth, lcv, anneal, len(in.Ladder))
	fmt.Fprintf(w, "  burn-in %d sweeps, thinning %s\n", in.Burn, joinInts(in.Thin))
	fmt.Fprintf(w, "  index-move acceptance per chain: %s\n", joinRates(in.Acceptance))
	lo, hi := 1.0, 0.0
	var loShard, hiShard int
	for _, chain := range in.ShardAcceptance {
		for m, a := range chain {
			if a < lo {
				lo, loShard = a, m
			}
			if a > hi {
				hi, hiShard = a, m
			}
		}
	}
	fmt.Fprintf(w, "  per shard: lowest %.3f (%s), highest %.3f (%s)\n", lo, shardName(shards, loShard), hi, shardName(shards, hiShard))
	if len(in.EffectiveDraws) > 0 {
		m := 0
		for k, v := range in.EffectiveDraws {
			if v < in.EffectiveDraws[m] {
				m = k
			}
		}
		sorted := append([]float64(nil), in.EffectiveDraws...)
		sort.Float64s(sorted)
		fmt.Fprintf(w, "  effective draws per shard in the product: lowest %.0f (%s), median %.0f\n", in.EffectiveDraws[m], shardName(shards, m), sorted[len(sorted)/2])
	}
	if len(in.SwapAcceptance) > 0 {
		slo, shi := 1.0, 0.0
		for _, chain := range in.SwapAcceptance {
			for _, a := range chain {
				slo, shi = math.Min(slo, a), math.Max(shi, a)
			}
		}
		fmt.Fprintf(w, "  tempering swap acceptance between levels: %.3f to %.3f\n", slo, shi)
	}
	for _, n := range in.Notes {
		fmt.Fprintf(w, "  note: %s\n", n)
	}
	worst := 1.0
	for _, a := range in.Acceptance {
		worst = math.Min(worst, a)
	}
	if worst < 0.01 {
		fmt.Fprintf(w, "  warning: index moves are rarely accepted (%.4f): the chains mix slowly; check R-hat and ESS with epmc diagnose, and prefer --bandwidth auto, which widens h until every shard contributes enough draws\n", worst)
	}
	fmt.Fprintf(w, "  wrote %s\n", out)
}

func shardName(shards []*shardInput, m int) string {
	if m < len(shards) {
		if s := shards[m].draws.Meta; s.Shards > 0 {
			return fmt.Sprintf("shard %d, %s", s.Shard, filepath.Base(shards[m].files[0]))
		}
		return filepath.Base(shards[m].files[0])
	}
	return "?"
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " ")
}

func joinRates(v []float64) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = fmt.Sprintf("%.3f", x)
	}
	return strings.Join(s, " ")
}
