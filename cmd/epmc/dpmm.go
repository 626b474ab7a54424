package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/epmc/epmc/auxdp"
	"github.com/epmc/epmc/internal/atomicfile"
	"github.com/epmc/epmc/internal/progress"
	"github.com/epmc/epmc/subpost/data"
)

func init() {
	register(&command{
		name:    "dpmm",
		summary: "sample a Dirichlet-process or Pitman–Yor mixture in parallel (auxiliary-variable sampler)",
		usage:   "epmc dpmm --data FILE [--cols A,B,...] [--likelihood niw|diag|multinomial] [--process dp|py] [--procs P] [--iters N] [--burn B] [--thin K] [--alpha A | --alpha-prior a,b] [--discount d] --seed S -o OUT [--labels LABELS.csv] [--predict FILE]",
		help: `
Samples the posterior of a Dirichlet-process (or Pitman–Yor) mixture of
conjugate components with the exact auxiliary-variable parallel sampler of
Williamson, Dubey & Xing (2013): the data's clusters are spread over P
processors, each processor runs collapsed Gibbs sweeps on its own points with
concentration α/P (in parallel), and a global step moves whole clusters
between processors. P = 1 is the ordinary serial collapsed Gibbs sampler.
The output is the same for any --workers.

Likelihoods: niw (Gaussian, full covariance, Normal–inverse-Wishart base),
diag (Gaussian, diagonal covariance, Normal–Gamma base) and multinomial
(non-negative integer counts, Dirichlet base). Unless given by flags, the
Gaussian base measure is set from the data (Fraley & Raftery 2007): prior
mean = data mean, kappa = 0.01, nu = d+2 (diag: shape 1.5), and a prior
guess of a cluster's covariance equal to the data covariance / G^(2/d)
with G = --groups.

Writes OUT (an Arrow draws file with one row per iteration: K, alpha or
theta and discount, largest cluster, lp__ = log joint, max_share__ = the
busiest processor's share of the points, moves, split–merge counts,
seconds__ and per-processor point and cluster counts; "epmc summary OUT"
reads it) and OUT's sibling NAME.assign.arrow (the saved partitions, one
row per draw, labels in a list column z). Prints a summary of the last
state. --labels writes, for every data row, its cluster in the last state
and its most probable cluster over the saved draws (each draw's clusters
named after the last-state cluster they share the most points with, which
undoes label switching). --predict evaluates the posterior predictive
density and cluster probabilities of new rows.

Example:
  epmc dpmm --data faithful.csv --procs 2 --iters 2000 --split-merge --seed 1 -o faithful.arrow --labels faithful-labels.csv
`,
		setup: setupDPMM,
	})
}

type dpmmFlags struct {
	data, cols, likelihood, process   string
	procs, workers, iters, burn, thin int
	sweeps                            int
	alpha                             float64
	alphaPrior, discountPrior         string
	discount                          float64
	placement                         string
	moveFraction                      float64
	splitMerge                        bool
	smProposals                       int
	groups, kappa, nu, shape, beta    float64
	mean, scale                       string
	seed                              uint64
	out, labels, predict, predictOut  string
}

func setupDPMM(fs *flag.FlagSet) func(e *env, args []string) error {
	f := &dpmmFlags{}
	fs.StringVar(&f.data, "data", "", "data `FILE` (CSV with a header row, Arrow IPC or Parquet)")
	fs.StringVar(&f.cols, "cols", "", "comma-separated `COLUMNS` to cluster (default: all)")
	fs.StringVar(&f.likelihood, "likelihood", "niw", "component `likelihood`: niw, diag or multinomial")
	fs.StringVar(&f.process, "process", "dp", "mixing `process`: dp (Dirichlet) or py (Pitman–Yor)")
	fs.IntVar(&f.procs, "procs", 1, "number of auxiliary processors `P` (statistical shards)")
	fs.IntVar(&f.workers, "workers", 0, "`W` goroutines for the local steps (default: the number of CPUs); does not change the result")
	fs.IntVar(&f.iters, "iters", 1000, "number of iterations `N`")
	f.burn = -1
	fs.Var((*optionalInt)(&f.burn), "burn", "`B` burn-in iterations, not saved (default: iters/2)")
	fs.IntVar(&f.thin, "thin", 1, "save every `K`-th iteration after burn-in (counting back from the last)")
	fs.IntVar(&f.sweeps, "sweeps", 1, "local Gibbs sweeps per iteration `L`")
	fs.Float64Var(&f.alpha, "alpha", 0, "fix the concentration α (DP) or strength θ (PY) at `A` instead of sampling it")
	fs.StringVar(&f.alphaPrior, "alpha-prior", "1,1", "gamma prior `shape,rate` of α (DP) or θ (PY)")
	fs.Float64Var(&f.discount, "discount", 0, "fix the Pitman–Yor discount at `d` in (0,1) instead of sampling it")
	fs.StringVar(&f.discountPrior, "discount-prior", "1,1", "beta prior `a,b` of the Pitman–Yor discount")
	fs.StringVar(&f.placement, "placement", "uniform", "global `step`: uniform (exact Gibbs redraw) or balanced (Metropolis–Hastings proposal favouring lightly loaded processors, with its Hastings correction)")
	fs.Float64Var(&f.moveFraction, "move-fraction", 1, "`fraction` of clusters the global step considers per iteration")
	fs.BoolVar(&f.splitMerge, "split-merge", false, "add sequentially-allocated split–merge moves within each processor (advised beyond a few dimensions or for well-separated clusters, where Gibbs moves alone keep merged clusters together for long)")
	fs.IntVar(&f.smProposals, "sm-proposals", 10, "split–merge proposals `M` per processor per iteration (with --split-merge)")
	fs.Float64Var(&f.groups, "groups", auxdp.DefaultGroups, "`G` of the empirical Gaussian base measure: prior cluster covariance = data covariance / G^(2/d)")
	fs.StringVar(&f.mean, "mean", "", "prior mean of the cluster means: one `value` or one per column (default: the data mean)")
	fs.StringVar(&f.scale, "scale", "", "prior guess of the within-cluster variances: one `value` or one per column (default: the empirical rule)")
	fs.Float64Var(&f.kappa, "kappa", 0.01, "prior sample size `kappa` of a cluster mean (niw, diag)")
	fs.Float64Var(&f.nu, "nu", 0, "inverse-Wishart degrees of freedom `nu` > d+1 (niw; default d+2)")
	fs.Float64Var(&f.shape, "shape", 1.5, "gamma `shape` of the precisions, > 1 (diag)")
	fs.Float64Var(&f.beta, "beta", 1, "symmetric Dirichlet parameter `beta` (multinomial)")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed `S`")
	fs.StringVar(&f.out, "o", "", "output trace `FILE` (Arrow); the assignments go to its .assign.arrow sibling")
	fs.StringVar(&f.labels, "labels", "", "write per-row cluster labels to this CSV `FILE`")
	fs.StringVar(&f.predict, "predict", "", "data `FILE` of new rows (same columns) to evaluate the posterior predictive on")
	fs.StringVar(&f.predictOut, "predict-out", "", "CSV `FILE` for the predictions (default: OUT's .predict.csv sibling)")
	return func(e *env, args []string) error {
		set := map[string]bool{}
		fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
		return runDPMM(e, f, set, args)
	}
}

// optionalInt is an int flag whose unset value (−1) is shown as no default.
type optionalInt int

func (o *optionalInt) String() string {
	if o == nil || *o < 0 {
		return ""
	}
	return strconv.Itoa(int(*o))
}

func (o *optionalInt) Set(s string) error {
	v, err := strconv.Atoi(s)
	if err != nil || v < 0 {
		return fmt.Errorf("want a non-negative integer, got %q", s)
	}
	*o = optionalInt(v)
	return nil
}

// parsePair parses "a,b" into two positive numbers.
func parsePair(flagName, s string) (float64, float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		return 0, 0, usagef("--%s wants two numbers a,b, got %q", flagName, s)
	}
	a, err1 := strconv.ParseFloat(strings.TrimSpace(parts[0]), 64)
	b, err2 := strconv.ParseFloat(strings.TrimSpace(parts[1]), 64)
	if err1 != nil || err2 != nil || !(a > 0) || !(b > 0) || math.IsInf(a+b, 0) {
		return 0, 0, usagef("--%s wants two positive numbers a,b, got %q", flagName, s)
	}
	return a, b, nil
}

// parseVector parses one value or d comma-separated values.
func parseVector(flagName, s string, d int) ([]float64, error) {
	parts := strings.Split(s, ",")
	if len(parts) != 1 && len(parts) != d {
		return nil, usagef("--%s wants one value or %d (one per column), got %d", flagName, d, len(parts))
	}
	out := make([]float64, d)
	for k := range d {
		p := parts[0]
		if len(parts) == d {
			p = parts[k]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, usagef("--%s: %q is not a number", flagName, p)
		}
		out[k] = v
	}
	return out, nil
}

func splitCols(s string) []string {
	if strings.TrimSpace(s) == "" {
		return nil
	}
	var cols []string
	for _, c := range strings.Split(s, ",") {
		cols = append(cols, strings.TrimSpace(c))
	}
	return cols
}

// rows turns a column table into rows.
func rows(t *data.Table) [][]float64 {
	n := t.NumRows()
	x := make([][]float64, n)
	flat := make([]float64, n*len(t.Cols))
	for i := range n {
		x[i] = flat[i*len(t.Cols) : (i+1)*len(t.Cols)]
		for j, c := range t.Cols {
			x[i][j] = c[i]
		}
	}
	return x
}

func runDPMM(e *env, f *dpmmFlags, set map[string]bool, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q (the data file goes after --data)", args[0])
	}
	if f.data == "" {
		return usagef("--data is required")
	}
	if f.out == "" {
		return usagef("-o is required")
	}
	cfg := auxdp.Config{Workers: f.workers, Seed: f.seed, Sweeps: f.sweeps}
	switch {
	case f.procs < 1:
		return usagef("--procs must be at least 1, got %d", f.procs)
	case f.workers < 0:
		return usagef("--workers must not be negative, got %d", f.workers)
	case f.iters < 1:
		return usagef("--iters must be at least 1, got %d", f.iters)
	case f.thin < 1:
		return usagef("--thin must be at least 1, got %d", f.thin)
	case f.sweeps < 1:
		return usagef("--sweeps must be at least 1, got %d", f.sweeps)
	case f.burn >= f.iters:
		return usagef("--burn %d leaves no draws from --iters %d", f.burn, f.iters)
	case !(f.moveFraction > 0 && f.moveFraction <= 1):
		return usagef("--move-fraction must be in (0, 1], got %v", f.moveFraction)
	case f.splitMerge && f.smProposals < 1:
		return usagef("--sm-proposals must be at least 1, got %d", f.smProposals)
	case f.alpha < 0 || math.IsNaN(f.alpha) || math.IsInf(f.alpha, 0):
		return usagef("--alpha must be positive and finite, got %v", f.alpha)
	}
	cfg.Procs, cfg.Iters, cfg.Thin = f.procs, f.iters, f.thin
	cfg.Burn = f.burn
	if f.burn < 0 {
		cfg.Burn = f.iters / 2
	}
	if f.splitMerge {
		cfg.SplitMerge = f.smProposals
	}
	cfg.MoveFraction = f.moveFraction
	switch f.process {
	case "dp":
		cfg.Process = auxdp.DP
		if f.discount != 0 {
			return usagef("--discount needs --process py")
		}
	case "py":
		cfg.Process = auxdp.PY
		if !(f.discount >= 0 && f.discount < 1) {
			return usagef("--discount must be in (0, 1), got %v", f.discount)
		}
		cfg.Discount = f.discount
		a, b, err := parsePair("discount-prior", f.discountPrior)
		if err != nil {
			return err
		}
		cfg.DiscountPrior = auxdp.BetaPrior{A: a, B: b}
	default:
		return usagef("--process must be dp or py, got %q", f.process)
	}
	switch f.placement {
	case "uniform":
		cfg.Placement = auxdp.Uniform
	case "balanced":
		cfg.Placement = auxdp.Balanced
	default:
		return usagef("--placement must be uniform or balanced, got %q", f.placement)
	}
	if set["alpha"] && set["alpha-prior"] {
		return usagef("give either --alpha (fixed) or --alpha-prior (sampled), not both")
	}
	if set["discount"] && set["discount-prior"] {
		return usagef("give either --discount (fixed) or --discount-prior (sampled), not both")
	}
	if set["alpha"] && !(f.alpha > 0) {
		return usagef("--alpha must be positive, got %v", f.alpha)
	}
	if set["discount"] && !(f.discount > 0) {
		return usagef("--discount must be in (0, 1), got %v", f.discount)
	}
	cfg.Alpha = f.alpha
	a, b, err := parsePair("alpha-prior", f.alphaPrior)
	if err != nil {
		return err
	}
	cfg.AlphaPrior = auxdp.GammaPrior{Shape: a, Rate: b}

	tab, err := data.Load(f.data, splitCols(f.cols))
	if err != nil {
		return err
	}
	x := rows(tab)
	d := len(tab.Names)
	cfg.Names = tab.Names
	lik, err := dpmmLikelihood(f, x, d)
	if err != nil {
		var ue *usageError
		if errors.As(err, &ue) {
			return err
		}
		return fmt.Errorf("%s: %w", f.data, err)
	}
	cfg.Likelihood = lik

	var newX [][]float64
	if f.predict != "" {
		pt, err := data.Load(f.predict, tab.Names)
		if err != nil {
			return err
		}
		newX = rows(pt)
	}

	prog := progress.New(e.stderr, e.progress)
	bar := prog.Add("dpmm", cfg.Iters)
	cfg.OnIteration = func(auxdp.IterStats) { bar.Increment() }
	start := time.Now()
	res, err := auxdp.Run(e.ctx, x, cfg)
	if err != nil {
		bar.Abort()
		prog.Wait()
		if errors.Is(err, e.ctx.Err()) && e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		return fmt.Errorf("%s: %w", f.data, err)
	}
	prog.Wait()
	elapsed := time.Since(start)

	if err := res.Write(f.out, auxdp.WriteOptions{DataFingerprint: data.Fingerprint(tab, data.Partition{Shards: 1})}); err != nil {
		return err
	}
	if f.labels != "" {
		if err := writeLabels(f.labels, res); err != nil {
			return err
		}
	}
	predOut := ""
	if newX != nil {
		pred, err := res.Predict(e.ctx, newX, f.workers)
		if err != nil {
			return fmt.Errorf("%s: %w", f.predict, err)
		}
		predOut = f.predictOut
		if predOut == "" {
			predOut = strings.TrimSuffix(f.out, filepath.Ext(f.out)) + ".predict.csv"
		}
		if err := writePredictions(predOut, pred); err != nil {
			return err
		}
	}
	printDPMMSummary(e.stdout, f, res, tab, elapsed)
	fmt.Fprintf(e.stdout, "wrote %s (trace) and %s (%d saved partitions)", f.out, auxdp.AssignmentsPath(f.out), len(res.Draws))
	if f.labels != "" {
		fmt.Fprintf(e.stdout, ", %s", f.labels)
	}
	if predOut != "" {
		fmt.Fprintf(e.stdout, ", %s", predOut)
	}
	fmt.Fprintln(e.stdout)
	return nil
}

// dpmmLikelihood builds the likelihood and base measure from the flags,
// filling what they leave out by the empirical rule.
func dpmmLikelihood(f *dpmmFlags, x [][]float64, d int) (auxdp.Likelihood, error) {
	switch f.likelihood {
	case "multinomial":
		if !(f.beta > 0) || math.IsInf(f.beta, 0) {
			return nil, usagef("--beta must be positive, got %v", f.beta)
		}
		beta := make([]float64, d)
		for k := range beta {
			beta[k] = f.beta
		}
		return auxdp.DirichletMultinomial{Beta: beta}, nil
	case "niw", "diag":
	default:
		return nil, usagef("--likelihood must be niw, diag or multinomial, got %q", f.likelihood)
	}
	if !(f.kappa > 0) || math.IsInf(f.kappa, 0) {
		return nil, usagef("--kappa must be positive, got %v", f.kappa)
	}
	if !(f.groups > 0) {
		return nil, usagef("--groups must be positive, got %v", f.groups)
	}
	if d > len(x) {
		return nil, fmt.Errorf("%d columns but only %d rows: a Gaussian mixture needs at least as many rows as columns", d, len(x))
	}
	// The prior guess of a cluster's covariance, S.
	var mean, guess []float64
	if f.mean != "" {
		var err error
		if mean, err = parseVector("mean", f.mean, d); err != nil {
			return nil, err
		}
	}
	if f.scale != "" {
		v, err := parseVector("scale", f.scale, d)
		if err != nil {
			return nil, err
		}
		guess = make([]float64, d*d)
		for k, s := range v {
			if !(s > 0) {
				return nil, usagef("--scale values must be positive, got %v", s)
			}
			guess[k*d+k] = s
		}
	}
	if mean == nil || guess == nil {
		emp, err := auxdp.EmpiricalNIW(x, f.groups)
		if err != nil {
			if f.scale == "" {
				return nil, fmt.Errorf("%w (or give --scale)", err)
			}
			return nil, err
		}
		if mean == nil {
			mean = emp.Mean
		}
		if guess == nil {
			guess = emp.Psi // E[Σ] = Ψ₀ at ν₀ = d+2
		}
	}
	if f.likelihood == "diag" {
		if !(f.shape > 1) {
			return nil, usagef("--shape must exceed 1 (so the prior mean variance exists), got %v", f.shape)
		}
		rate := make([]float64, d)
		for k := range d {
			rate[k] = guess[k*d+k] * (f.shape - 1)
		}
		return auxdp.DiagNormalGamma{Mean: mean, Kappa: f.kappa, Shape: f.shape, Rate: rate}, nil
	}
	nu := f.nu
	if nu == 0 {
		nu = float64(d) + 2
	}
	if !(nu > float64(d)+1) {
		return nil, usagef("--nu must exceed d+1 = %d (so the prior mean covariance exists), got %v", d+1, nu)
	}
	psi := make([]float64, d*d)
	for k := range psi {
		psi[k] = guess[k] * (nu - float64(d) - 1)
	}
	return auxdp.NIW{Mean: mean, Kappa: f.kappa, Nu: nu, Psi: psi}, nil
}

// writeLabels writes row, last-state cluster, most probable cluster and its
// probability for every data row.
func writeLabels(path string, res *auxdp.Result) error {
	last, mode, prob := res.PointLabels()
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		fmt.Fprintln(bw, "row,last,most_probable,probability")
		for i := range last {
			fmt.Fprintf(bw, "%d,%d,%d,%s\n", i+1, last[i], mode[i], strconv.FormatFloat(prob[i], 'g', 6, 64))
		}
		return bw.Flush()
	})
}

func writePredictions(path string, p *auxdp.Prediction) error {
	return atomicfile.Write(path, func(w io.Writer) error {
		bw := bufio.NewWriter(w)
		fmt.Fprint(bw, "row,log_density")
		if len(p.Probs) > 0 {
			k := len(p.Probs[0]) - 1
			for c := 1; c <= k; c++ {
				fmt.Fprintf(bw, ",p_%d", c)
			}
			fmt.Fprint(bw, ",p_new")
		}
		fmt.Fprintln(bw)
		for i, ld := range p.LogDensity {
			fmt.Fprintf(bw, "%d,%s", i+1, strconv.FormatFloat(ld, 'g', 10, 64))
			for _, v := range p.Probs[i] {
				fmt.Fprintf(bw, ",%s", strconv.FormatFloat(v, 'g', 6, 64))
			}
			fmt.Fprintln(bw)
		}
		return bw.Flush()
	})
}

func printDPMMSummary(w io.Writer, f *dpmmFlags, res *auxdp.Result, tab *data.Table, elapsed time.Duration) {
	cfg := res.Config
	sum := res.Summary()
	name := "alpha"
	if cfg.Process == auxdp.PY {
		name = "theta"
	}
	fmt.Fprintf(w, "epmc dpmm: %d rows × %d columns of %s, %s likelihood, %s mixture, %d processor(s)\n",
		res.N, res.Dim, tab.Path, cfg.Likelihood.Name(), strings.ToUpper(cfg.Process.String()), cfg.Procs)
	fmt.Fprintf(w, "%d iterations (burn %d, thin %d) in %.2f s (%.3g ms/iteration); %d saved partitions\n",
		cfg.Iters, cfg.Burn, cfg.Thin, elapsed.Seconds(), elapsed.Seconds()*1000/float64(cfg.Iters), len(res.Draws))
	ks := make([]float64, len(res.Draws))
	for i, d := range res.Draws {
		ks[i] = float64(d.K)
	}
	slices.Sort(ks)
	var kmean float64
	for _, k := range ks {
		kmean += k
	}
	kmean /= float64(len(ks))
	q := func(p float64) float64 { return ks[min(len(ks)-1, int(p*float64(len(ks))))] }
	fmt.Fprintf(w, "clusters over saved draws: mean %.2f, 90%% interval [%g, %g]\n", kmean, q(0.05), q(0.95))
	fmt.Fprintf(w, "last state (iteration %d): K = %d, %s = %.4g", sum.Iteration, sum.K, name, sum.Alpha)
	if cfg.Process == auxdp.PY {
		fmt.Fprintf(w, ", discount = %.4g", sum.Discount)
	}
	fmt.Fprintf(w, ", log joint = %.6g\n", sum.LogJoint)
	if cfg.Procs > 1 {
		bound := float64(res.N) / float64(sum.Clusters[0].Size)
		fmt.Fprintf(w, "load: busiest processor holds %.1f%% of the points on average (local-step speed-up ≤ %.2f×); largest cluster %d points (N/largest = %.2f)\n",
			100*sum.MeanMaxShare, 1/sum.MeanMaxShare, sum.Clusters[0].Size, bound)
	}
	fmt.Fprintln(w, "clusters of the last state (posterior means given the state):")
	shown := min(len(sum.Clusters), 20)
	dims := min(res.Dim, 6)
	fmt.Fprintf(w, "  %5s %7s %7s", "label", "size", "weight")
	for k := range dims {
		fmt.Fprintf(w, " %10.10s", tab.Names[k])
	}
	if res.Dim > dims {
		fmt.Fprint(w, "  …")
	}
	fmt.Fprintln(w)
	for _, c := range sum.Clusters[:shown] {
		fmt.Fprintf(w, "  %5d %7d %7.4f", c.Label, c.Size, c.Weight)
		for k := range dims {
			fmt.Fprintf(w, " %10.4g", c.Mean[k])
		}
		fmt.Fprintln(w)
	}
	if len(sum.Clusters) > shown {
		fmt.Fprintf(w, "  … %d smaller clusters\n", len(sum.Clusters)-shown)
	}
	if cfg.Likelihood.Name() == "multinomial" {
		fmt.Fprintln(w, "  (means are category probabilities)")
	}
}
