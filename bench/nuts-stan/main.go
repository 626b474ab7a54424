// Command nuts-stan is the Go half of the side-by-side benchmark of epmc's
// NUTS against rstan on one logistic regression (N = 5,000 rows, 25
// predictors, normal(0, 5) priors, 4 chains × 1,000 warmup + 1,000 draws,
// chains one after another). run.sh drives it:
//
//	nuts-stan gen -o data.csv          simulate the data set once
//	nuts-stan go -data data.csv -o go.json
//	Rscript stan.R data.csv stan.json SEED
//	nuts-stan compare go.json [stan.json]
//
// Both halves write the same JSON: per-parameter mean, MCSE and bulk ESS
// (R posterior's definitions), leapfrog steps after warmup and per-chain
// warmup and sampling seconds. compare prints posterior-mean agreement
// (within 4 combined MCSE), ESS per leapfrog step and per gradient
// evaluation (Stan evaluates one more gradient per iteration than it
// reports in n_leapfrog__; epmc keeps the accepted point's), and ESS per
// second of sampling.
package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// result is what each half writes.
type result struct {
	Sampler         string    `json:"sampler"`
	Version         string    `json:"version,omitempty"`
	Variables       []string  `json:"variables"`
	Mean            []float64 `json:"mean"`
	McseMean        []float64 `json:"mcse_mean"`
	EssBulk         []float64 `json:"ess_bulk"`
	NumLeapfrog     float64   `json:"n_leapfrog"`
	Divergent       float64   `json:"divergent"`
	StepSize        []float64 `json:"stepsize"`
	WarmupSeconds   []float64 `json:"warmup_seconds"`
	SamplingSeconds []float64 `json:"sampling_seconds"`
	// TimesAreCPU says that the seconds above are CPU time (rstan 2.21
	// measures with std::clock()); epmc's are wall-clock, and its CPU
	// times per chain thread go in the two fields below.
	TimesAreCPU        bool      `json:"times_are_cpu,omitempty"`
	WarmupCPUSeconds   []float64 `json:"warmup_cpu_seconds,omitempty"`
	SamplingCPUSeconds []float64 `json:"sampling_cpu_seconds,omitempty"`
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: nuts-stan gen|go|compare [flags]")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "gen":
		err = gen(os.Args[2:])
	case "go":
		err = runGo(os.Args[2:])
	case "compare":
		err = compare(os.Args[2:])
	default:
		err = fmt.Errorf("unknown subcommand %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "nuts-stan:", err)
		os.Exit(1)
	}
}

// gen simulates the data set with the models package's logistic
// simulator (models.Simulate: alpha = 0.5, beta_j ~ normal(0, 2/√D),
// independent standard normal predictors, so the linear predictor has
// sd ≈ 2) and writes it as CSV with columns y, x1…xD.
func gen(args []string) error {
	fs := flag.NewFlagSet("gen", flag.ExitOnError)
	n := fs.Int("n", 5000, "rows")
	d := fs.Int("d", 25, "predictors")
	seed := fs.Uint64("seed", 1, "seed")
	out := fs.String("o", "data.csv", "output CSV")
	fs.Parse(args)
	tab, _, err := models.Simulate("logistic", models.SimConfig{N: *n, D: *d, Seed: *seed})
	if err != nil {
		return err
	}
	return data.WriteFile(*out, tab, data.CSV)
}

// runGo samples the data set with epmc's built-in logistic model and NUTS
// under the same settings as stan.R.
func runGo(args []string) error {
	fs := flag.NewFlagSet("go", flag.ExitOnError)
	path := fs.String("data", "data.csv", "data CSV")
	out := fs.String("o", "go.json", "output JSON")
	seed := fs.Uint64("seed", 1, "seed")
	threads := fs.Int("threads", 1, "chains at once (1: one after another, as stan.R)")
	keep := fs.String("draws", "", "also keep the draws file here")
	fs.Parse(args)

	head, err := header(*path)
	if err != nil {
		return err
	}
	var xs []string
	for _, h := range head {
		if strings.HasPrefix(h, "x") {
			xs = append(xs, h)
		}
	}
	opts := models.Options{Y: []string{"y"}, X: xs}
	cols, err := models.Columns("logistic", opts)
	if err != nil {
		return err
	}
	tab, err := data.Load(*path, cols)
	if err != nil {
		return err
	}
	rows := make([]int, tab.NumRows())
	for i := range rows {
		rows[i] = i
	}
	m, spec, err := models.Build("logistic", tab, rows, opts)
	if err != nil {
		return err
	}
	drawsPath := *keep
	if drawsPath == "" {
		dir, err := os.MkdirTemp("", "nuts-stan")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		drawsPath = filepath.Join(dir, "go.arrow")
	}
	cfg := subpost.Config{Chains: 4, Warmup: 1000, Draws: 1000, Seed: *seed, Threads: *threads, Meta: chains.Meta{Model: spec}}
	if err := subpost.Run(context.Background(), m, cfg, drawsPath); err != nil {
		return err
	}
	d, err := chains.ReadArrow(drawsPath)
	if err != nil {
		return err
	}
	res := result{Sampler: "epmc"}
	for _, v := range d.ParamIndices() {
		x := d.Series(v)
		res.Variables = append(res.Variables, d.Names[v])
		res.Mean = append(res.Mean, chains.Mean(x))
		res.McseMean = append(res.McseMean, chains.McseMean(x))
		res.EssBulk = append(res.EssBulk, chains.EssBulk(x))
	}
	for _, s := range d.Series(d.Index(chains.NumLeapfrog)) {
		for _, v := range s {
			res.NumLeapfrog += v
		}
	}
	for _, s := range d.Series(d.Index(chains.Divergent)) {
		for _, v := range s {
			res.Divergent += v
		}
	}
	var info subpost.SamplerInfo
	if err := json.Unmarshal(d.Meta.Sampler, &info); err != nil {
		return err
	}
	for _, c := range info.Chains {
		res.StepSize = append(res.StepSize, c.StepSize)
		if c.WarmupSeconds == nil || c.SamplingSeconds == nil {
			return errors.New("no timing in the draws file")
		}
		res.WarmupSeconds = append(res.WarmupSeconds, *c.WarmupSeconds)
		res.SamplingSeconds = append(res.SamplingSeconds, *c.SamplingSeconds)
		if c.WarmupCPUSeconds != nil && c.SamplingCPUSeconds != nil {
			res.WarmupCPUSeconds = append(res.WarmupCPUSeconds, *c.WarmupCPUSeconds)
			res.SamplingCPUSeconds = append(res.SamplingCPUSeconds, *c.SamplingCPUSeconds)
		}
	}
	b, err := json.MarshalIndent(res, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(*out, b, 0o644)
}

func header(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return csv.NewReader(f).Read()
}

func readResult(path string) (*result, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r result
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(r.Mean) != len(r.Variables) || len(r.McseMean) != len(r.Variables) || len(r.EssBulk) != len(r.Variables) {
		return nil, fmt.Errorf("%s: per-variable arrays of different lengths", path)
	}
	return &r, nil
}

func sum(v []float64) float64 {
	s := 0.0
	for _, x := range v {
		s += x
	}
	return s
}

func minOf(v []float64) float64 {
	m := math.Inf(1)
	for _, x := range v {
		m = math.Min(m, x)
	}
	return m
}

// figures are the per-run numbers of the comparison table. sampling and
// warmup are CPU seconds when the run recorded them (rstan always does:
// std::clock()), so that the comparison does not depend on machine load;
// wall is the wall-clock sampling time.
type figures struct {
	minESS, leapfrogs, gradients, sampling, warmup, wall float64
	cpu                                                  bool
}

func figuresOf(r *result, stan bool) figures {
	f := figures{minESS: minOf(r.EssBulk), leapfrogs: r.NumLeapfrog, sampling: sum(r.SamplingSeconds), warmup: sum(r.WarmupSeconds), cpu: r.TimesAreCPU}
	f.wall = f.sampling
	if len(r.SamplingCPUSeconds) > 0 {
		f.sampling, f.warmup, f.cpu = sum(r.SamplingCPUSeconds), sum(r.WarmupCPUSeconds), true
	}
	f.gradients = f.leapfrogs
	if stan {
		// Stan re-evaluates the gradient at the start of every
		// iteration: 4 chains × 1000 draws more than n_leapfrog__ says.
		f.gradients += 4000
	}
	return f
}

// compare prints the side-by-side table and reports failed targets.
func compare(args []string) error {
	if len(args) < 1 || len(args) > 2 {
		return errors.New("usage: nuts-stan compare go.json [stan.json]")
	}
	g, err := readResult(args[0])
	if err != nil {
		return err
	}
	gf := figuresOf(g, false)
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	if len(args) == 1 {
		fmt.Fprintln(w, "\tepmc\t")
		printRows(w, gf, nil)
		return w.Flush()
	}
	s, err := readResult(args[1])
	if err != nil {
		return err
	}
	sf := figuresOf(s, true)

	// Posterior means: epmc's variables in Stan's order (alpha, beta[1..D]).
	worst, worstName := 0.0, ""
	idx := map[string]int{}
	for i, v := range g.Variables {
		idx[v] = i
	}
	for j, v := range s.Variables {
		i, ok := idx[v]
		if !ok {
			return fmt.Errorf("variable %s of rstan's output is not in epmc's (%v)", v, g.Variables)
		}
		z := math.Abs(g.Mean[i]-s.Mean[j]) / math.Hypot(g.McseMean[i], s.McseMean[j])
		if z > worst {
			worst, worstName = z, v
		}
	}
	fmt.Fprintln(w, "\tepmc\trstan\tepmc/rstan\t")
	printRows(w, gf, &sf)
	if err := w.Flush(); err != nil {
		return err
	}
	fmt.Printf("\nposterior means: largest difference %.2f combined MCSE (%s) over %d parameters; target ≤ 4\n", worst, worstName, len(s.Variables))
	var fails []string
	if worst > 4 {
		fails = append(fails, "posterior means differ by more than 4 MCSE")
	}
	if r := (gf.minESS / gf.leapfrogs) / (sf.minESS / sf.leapfrogs); r < 0.85 {
		fails = append(fails, fmt.Sprintf("ESS per leapfrog step is %.0f%% of Stan's (target ≥ 85%%)", 100*r))
	}
	if r := (gf.minESS / gf.sampling) / (sf.minESS / sf.sampling); r < 1 {
		fails = append(fails, fmt.Sprintf("ESS per second of sampling is %.0f%% of Stan's (target ≥ 100%%)", 100*r))
	}
	if len(fails) > 0 {
		return errors.New(strings.Join(fails, "; "))
	}
	fmt.Println("all targets met")
	return nil
}

func printRows(w *tabwriter.Writer, g figures, s *figures) {
	row := func(name string, gv, sv float64, format string) {
		if s == nil {
			fmt.Fprintf(w, "%s\t"+format+"\t\n", name, gv)
			return
		}
		fmt.Fprintf(w, "%s\t"+format+"\t"+format+"\t%.2f\t\n", name, gv, sv, gv/sv)
	}
	pick := func(f func(figures) float64) float64 {
		if s == nil {
			return 0
		}
		return f(*s)
	}
	row("min ESS_bulk", g.minESS, pick(func(f figures) float64 { return f.minESS }), "%.0f")
	row("leapfrog steps (sampling)", g.leapfrogs, pick(func(f figures) float64 { return f.leapfrogs }), "%.0f")
	row("gradient evaluations (sampling)", g.gradients, pick(func(f figures) float64 { return f.gradients }), "%.0f")
	row("ESS_bulk per leapfrog step", g.minESS/g.leapfrogs, pick(func(f figures) float64 { return f.minESS / f.leapfrogs }), "%.3f")
	row("ESS_bulk per gradient", g.minESS/g.gradients, pick(func(f figures) float64 { return f.minESS / f.gradients }), "%.3f")
	unit := "CPU"
	if !g.cpu || (s != nil && !s.cpu) {
		unit = "wall/CPU mixed"
	}
	row("warmup "+unit+" seconds (sum of chains)", g.warmup, pick(func(f figures) float64 { return f.warmup }), "%.2f")
	row("sampling "+unit+" seconds (sum of chains)", g.sampling, pick(func(f figures) float64 { return f.sampling }), "%.2f")
	if s == nil {
		fmt.Fprintf(w, "sampling wall-clock seconds\t%.2f\t\n", g.wall)
	} else {
		fmt.Fprintf(w, "sampling wall-clock seconds (epmc)\t%.2f\t\t\t\n", g.wall)
	}
	row("µs per gradient (sampling)", 1e6*g.sampling/g.gradients, pick(func(f figures) float64 { return 1e6 * f.sampling / f.gradients }), "%.0f")
	row("ESS_bulk per second of sampling", g.minESS/g.sampling, pick(func(f figures) float64 { return f.minESS / f.sampling }), "%.0f")
	row("ESS_bulk per second (warmup + sampling)", g.minESS/(g.sampling+g.warmup), pick(func(f figures) float64 { return f.minESS / (f.sampling + f.warmup) }), "%.0f")
}
