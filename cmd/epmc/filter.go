package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"golang.org/x/sync/errgroup"

	"github.com/epmc/epmc"
	"github.com/epmc/epmc/internal/atomicfile"
	"github.com/epmc/epmc/internal/progress"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/sis"
	"github.com/epmc/epmc/subpost/data"
)

func init() {
	register(&command{
		name:    "filter",
		summary: "particle filtering of a state-space model (log-evidence, filtering means and variances)",
		usage:   "epmc filter [--model lgss|stochvol] [--params K=V,...] (--data SERIES [--column NAME] | --simulate T) [--particles N] [--resample SCHEME] [--threshold T] [--proposal bootstrap|guided] [--replicates R] [--seed S] [-o OUT] [--format text|json]",
		help: `
Run a particle filter (sequential importance sampling with resampling) on a
time series y_0, ..., y_{T-1} under a built-in state-space model, print the
estimate of the log-evidence log p(y_0:T-1), and write the filtering means
and variances of the hidden state per time step.

Models (--params gives any of the listed parameters; the rest keep these
defaults):
  lgss      linear Gaussian: X_0 ~ N(0, sigma_0^2), X_t = rho X_{t-1} + sigma_x U_t,
            Y_t = X_t + sigma_y V_t; rho=0.9,sigma_x=1,sigma_y=0.2, and sigma_0
            = sigma_x/sqrt(1-rho^2) (stationary) unless given. The exact Kalman
            filter runs beside the particle filter for comparison.
  stochvol  stochastic volatility (Pitt & Shephard 1999): X_0 ~ N(mu,
            sigma^2/(1-rho^2)), X_t = mu + rho (X_{t-1} - mu) + sigma U_t,
            Y_t ~ N(0, exp(X_t)); mu=-1.02,rho=0.9702,sigma=0.178.

The bootstrap filter proposes from the state transition; --proposal guided
uses the locally optimal Gaussian proposal (lgss) or a Laplace-type
Gaussian proposal (stochvol), far less noisy. Particles are resampled when
the effective sample size falls below --threshold x N (1 resamples at
every step) with one of the O(N) schemes ssp (Gerber, Chopin & Whiteley
2019; default), systematic, stratified, residual or multinomial.

The series comes from a column of a CSV (header row), Arrow or Parquet file
(--data, --column; without --column a column named y or a file's only
column is used), or is simulated: --simulate T draws T steps of the model
and writes t, x (the hidden state) and y to -o (CSV, or Arrow/Parquet by
extension; standard output without -o) instead of filtering. Values must
be finite.

-o OUT writes one row per replicate and time step, with columns replicate,
t (from 0), mean, var (filtering mean and variance), ess, resampled (the
particles at t descend from a resampling at t-1), log_evidence (log p(y_0:t)
so far) and, for lgss, kalman_mean, kalman_var, kalman_log_evidence. OUT is
an Arrow IPC file, or CSV if it ends in .csv. --replicates R runs R
independent filters in parallel and reports the mean log-evidence with its
Monte Carlo standard error; log Z-hat is biased down by about half its
variance, Z-hat itself is unbiased. Results depend on --seed, not on
--workers.

Examples:
  epmc filter --simulate 100 --model lgss --params rho=0.9,sigma_x=1,sigma_y=0.2 -o series.csv
  epmc filter --model lgss --data series.csv --particles 10000 -o filtered.arrow
  epmc filter --model lgss --data series.csv --replicates 100 --format json
  epmc filter --model stochvol --data returns.csv --column r --proposal guided
`,
		setup: setupFilter,
	})
}

type filterFlags struct {
	model, params, data, column   string
	resample, proposal, out, form string
	simulate, particles, reps     int
	workers                       int
	threshold                     float64
	seed                          uint64
}

func setupFilter(fs *flag.FlagSet) func(e *env, args []string) error {
	f := &filterFlags{}
	fs.StringVar(&f.model, "model", "lgss", "state-space `MODEL`: lgss or stochvol")
	fs.StringVar(&f.params, "params", "", "model parameters as `K=V,...` (lgss: rho, sigma_x, sigma_y, sigma_0; stochvol: mu, rho, sigma)")
	fs.StringVar(&f.data, "data", "", "`SERIES` file (CSV with a header row, Arrow IPC or Parquet)")
	fs.StringVar(&f.column, "column", "", "column `NAME` of the series (default: y, or the file's only column)")
	fs.IntVar(&f.simulate, "simulate", 0, "simulate `T` steps of the model and write them to -o instead of filtering")
	fs.IntVar(&f.particles, "particles", 1000, "number of particles `N` (at least 2)")
	fs.StringVar(&f.resample, "resample", "ssp", "resampling `SCHEME`: ssp, systematic, stratified, residual or multinomial")
	fs.Float64Var(&f.threshold, "threshold", 0.5, "resample when ESS < `T`·N; T in (0, 1]")
	fs.StringVar(&f.proposal, "proposal", "bootstrap", "bootstrap or guided")
	fs.IntVar(&f.reps, "replicates", 1, "number `R` of independent filters")
	fs.Uint64Var(&f.seed, "seed", 1, "random seed")
	fs.IntVar(&f.workers, "workers", 0, "goroutines (default: the number of CPUs); does not change the result")
	fs.StringVar(&f.out, "o", "", "output `FILE`: per-step results (Arrow, or CSV if .csv); with --simulate the series")
	fs.StringVar(&f.form, "format", "text", "summary on standard output: text or json")
	return func(e *env, args []string) error { return runFilter(e, f, args) }
}

// ssmParams holds a model's parameters by name, in a fixed order.
type ssmParams struct {
	names  []string
	values map[string]float64
}

func (p ssmParams) String() string {
	parts := make([]string, 0, len(p.names))
	for _, n := range p.names {
		if v, ok := p.values[n]; ok {
			parts = append(parts, n+"="+strconv.FormatFloat(v, 'g', -1, 64))
		}
	}
	return strings.Join(parts, ",")
}

// parseParams parses --params for the model, starting from its defaults.
func parseParams(model, spec string) (ssmParams, error) {
	var p ssmParams
	switch model {
	case "lgss":
		p = ssmParams{names: []string{"rho", "sigma_x", "sigma_y", "sigma_0"}, values: map[string]float64{"rho": 0.9, "sigma_x": 1, "sigma_y": 0.2}}
	case "stochvol":
		p = ssmParams{names: []string{"mu", "rho", "sigma"}, values: map[string]float64{"mu": -1.02, "rho": 0.9702, "sigma": 0.178}}
	default:
		return p, usagef("--model %q: want lgss or stochvol", model)
	}
	seen := map[string]bool{}
	for _, kv := range strings.Split(spec, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok {
			return p, usagef("--params: %q is not NAME=VALUE", kv)
		}
		if !slices.Contains(p.names, k) {
			return p, usagef("--params: model %s has no parameter %q (it has %s)", model, k, strings.Join(p.names, ", "))
		}
		if seen[k] {
			return p, usagef("--params: %s given twice", k)
		}
		seen[k] = true
		x, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		if err != nil || math.IsNaN(x) || math.IsInf(x, 0) {
			return p, usagef("--params: %s = %q is not a finite number", k, strings.TrimSpace(v))
		}
		p.values[k] = x
	}
	return p, nil
}

// buildModel returns the model with observations y, checking the
// parameters (with a placeholder series when y is nil).
func buildModel(model string, p ssmParams, y []float64) (sis.Guided, func(int, uint64) ([]float64, []float64), error) {
	check := y
	if check == nil {
		check = []float64{0}
	}
	v := p.values
	switch model {
	case "lgss":
		m := &sis.LinearGauss{Rho: v["rho"], SigmaX: v["sigma_x"], SigmaY: v["sigma_y"], Sigma0: v["sigma_0"], Y: check}
		if err := m.Validate(); err != nil {
			return nil, nil, usagef("--params: %v", err)
		}
		m.Y = y
		return m, func(T int, seed uint64) ([]float64, []float64) { return m.Simulate(T, rng.NewRand(seed)) }, nil
	default:
		m := &sis.StochVol{Mu: v["mu"], Rho: v["rho"], Sigma: v["sigma"], Y: check}
		if err := m.Validate(); err != nil {
			return nil, nil, usagef("--params: %v", err)
		}
		m.Y = y
		return m, func(T int, seed uint64) ([]float64, []float64) { return m.Simulate(T, rng.NewRand(seed)) }, nil
	}
}

func runFilter(e *env, f *filterFlags, args []string) error {
	if len(args) > 0 {
		return usagef("unexpected argument %q (the series goes after --data)", args[0])
	}
	params, err := parseParams(f.model, f.params)
	if err != nil {
		return err
	}
	if f.simulate != 0 {
		if f.data != "" {
			return usagef("give either --data or --simulate, not both")
		}
		if f.simulate < 1 {
			return usagef("--simulate must be at least 1, got %d", f.simulate)
		}
		_, sim, err := buildModel(f.model, params, nil)
		if err != nil {
			return err
		}
		x, y := sim(f.simulate, f.seed)
		t := make([]float64, len(y))
		for i := range t {
			t[i] = float64(i)
		}
		tab := &data.Table{Names: []string{"t", "x", "y"}, Cols: [][]float64{t, x, y}}
		if f.out == "" || f.out == "-" {
			return tab.WriteCSV(e.stdout)
		}
		format := data.CSV
		switch strings.ToLower(filepath.Ext(f.out)) {
		case ".arrow", ".feather", ".ipc":
			format = data.ArrowFile
		case ".parquet":
			format = data.Parquet
		}
		if err := data.WriteFile(f.out, tab, format); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %d observations of %s(%s) to %s\n", len(y), f.model, params, f.out)
		return nil
	}
	if f.data == "" {
		return usagef("--data (a series to filter) or --simulate T is required")
	}
	if f.out != "" && sameFile(f.data, f.out) {
		return usagef("-o %s would overwrite the data file", f.out)
	}
	switch {
	case f.particles < 2:
		return usagef("--particles must be at least 2, got %d", f.particles)
	case !(f.threshold > 0 && f.threshold <= 1):
		return usagef("--threshold must be in (0, 1], got %v", f.threshold)
	case f.reps < 1:
		return usagef("--replicates must be at least 1, got %d", f.reps)
	case f.workers < 0:
		return usagef("--workers must not be negative, got %d", f.workers)
	case f.form != "text" && f.form != "json":
		return usagef("--format must be text or json, got %q", f.form)
	case f.proposal != "bootstrap" && f.proposal != "guided":
		return usagef("--proposal must be bootstrap or guided, got %q", f.proposal)
	}
	scheme, err := sis.ParseScheme(f.resample)
	if err != nil {
		return usagef("--resample: %v", err)
	}
	y, column, err := loadSeries(f.data, f.column)
	if err != nil {
		return err
	}
	model, _, err := buildModel(f.model, params, y)
	if err != nil {
		return err
	}
	var kalman *sis.KalmanResult
	if lg, ok := model.(*sis.LinearGauss); ok {
		k := lg.Kalman()
		kalman = &k
	}

	workers := f.workers
	if workers == 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	cfg := sis.FilterConfig{
		Particles: f.particles, Scheme: scheme, Threshold: f.threshold,
		Guided: f.proposal == "guided", Seed: f.seed,
		// Replicates run side by side; the workers of one filter share
		// what is left.
		Workers: max(1, workers/min(f.reps, workers)),
	}
	prog := progress.New(e.stderr, e.progress)
	var bar *progress.Bar
	if f.reps == 1 {
		bar = prog.Add("filter", len(y))
		cfg.Progress = func(int, int) { bar.Increment() }
	} else {
		bar = prog.Add("replicates", f.reps)
	}
	results := make([]*sis.FilterResult, f.reps)
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(workers)
	var failed atomic.Bool
	for r := range results {
		g.Go(func() error {
			if failed.Load() {
				return nil
			}
			c := cfg
			c.Stream = uint64(r)
			res, err := sis.RunFilter(e.ctx, model, c)
			if err != nil {
				failed.Store(true)
				return err
			}
			results[r] = res
			if f.reps > 1 {
				bar.Increment()
			}
			return nil
		})
	}
	err = g.Wait()
	if err != nil {
		bar.Abort()
	}
	prog.Wait()
	if err != nil {
		if e.ctx.Err() != nil {
			return e.ctx.Err()
		}
		return fmt.Errorf("%s: %w", f.data, err)
	}
	seconds := time.Since(start).Seconds()

	if f.out != "" {
		meta := filterMeta(f, params, scheme, column, results)
		if err := writeFilterOutput(f.out, results, kalman, meta); err != nil {
			return err
		}
	}
	return printFilterSummary(e.stdout, f, params, scheme, len(y), results, kalman, seconds)
}

// loadSeries reads the series: the named column, or y, or the only column.
func loadSeries(path, column string) ([]float64, string, error) {
	if column != "" {
		t, err := data.Load(path, []string{column})
		if err != nil {
			return nil, "", err
		}
		return t.Cols[0], column, nil
	}
	t, err := data.Load(path, []string{"y"})
	if err == nil {
		return t.Cols[0], "y", nil
	}
	if !errors.Is(err, data.ErrNoColumn) {
		return nil, "", err
	}
	if t, err := data.Load(path, nil); err == nil && len(t.Names) == 1 {
		return t.Cols[0], t.Names[0], nil
	}
	return nil, "", usagef("--column is required: %v", err)
}

// filterSummary is the JSON summary of a filter run.
type filterSummary struct {
	Model             string    `json:"model"`
	Params            string    `json:"params"`
	Proposal          string    `json:"proposal"`
	T                 int       `json:"T"`
	Particles         int       `json:"particles"`
	Resample          string    `json:"resample"`
	Threshold         float64   `json:"threshold"`
	Replicates        int       `json:"replicates"`
	Seed              uint64    `json:"seed"`
	LogEvidenceMean   float64   `json:"log_evidence_mean"`
	LogEvidenceMCSE   *float64  `json:"log_evidence_mcse"`
	LogEvidenceSD     *float64  `json:"log_evidence_sd"`
	LogEvidences      []float64 `json:"log_evidences"`
	ResampledFraction float64   `json:"resampled_fraction"`
	KalmanLogEvidence *float64  `json:"kalman_log_evidence,omitempty"`
	Seconds           float64   `json:"seconds"`
	Output            string    `json:"output,omitempty"`
}

func printFilterSummary(w io.Writer, f *filterFlags, params ssmParams, scheme sis.Scheme, T int, results []*sis.FilterResult, kalman *sis.KalmanResult, seconds float64) error {
	s := filterSummary{
		Model: f.model, Params: params.String(), Proposal: f.proposal, T: T, Particles: f.particles,
		Resample: scheme.String(), Threshold: f.threshold, Replicates: len(results), Seed: f.seed, Seconds: seconds,
		Output: f.out,
	}
	resampled, steps := 0, 0
	for _, r := range results {
		s.LogEvidences = append(s.LogEvidences, r.LogEvidence)
		for _, b := range r.Resampled[1:] {
			if b {
				resampled++
			}
			steps++
		}
	}
	if steps > 0 {
		s.ResampledFraction = float64(resampled) / float64(steps)
	}
	mean := 0.0
	for _, v := range s.LogEvidences {
		mean += v
	}
	mean /= float64(len(results))
	s.LogEvidenceMean = mean
	if n := len(results); n > 1 {
		ss := 0.0
		for _, v := range s.LogEvidences {
			ss += (v - mean) * (v - mean)
		}
		sd := math.Sqrt(ss / float64(n-1))
		mcse := sd / math.Sqrt(float64(n))
		s.LogEvidenceSD, s.LogEvidenceMCSE = &sd, &mcse
	}
	if kalman != nil {
		s.KalmanLogEvidence = &kalman.LogLik
	}
	if f.form == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(w, "%s(%s): T = %d, %s filter, N = %d particles, %s resampling when ESS < %g·N (at %.0f%% of steps)\n",
		s.Model, s.Params, T, s.Proposal, s.Particles, s.Resample, s.Threshold, 100*s.ResampledFraction)
	if len(results) == 1 {
		fmt.Fprintf(w, "log-evidence %.4f\n", s.LogEvidenceMean)
	} else {
		fmt.Fprintf(w, "log-evidence mean %.4f, MCSE %.4f (sd %.4f over %d replicates)\n",
			s.LogEvidenceMean, *s.LogEvidenceMCSE, *s.LogEvidenceSD, len(results))
	}
	if kalman != nil {
		fmt.Fprintf(w, "Kalman log-evidence %.4f (exact)\n", kalman.LogLik)
	}
	fmt.Fprintf(w, "%.3g s\n", seconds)
	if f.out != "" {
		fmt.Fprintf(w, "wrote %s\n", f.out)
	}
	return nil
}

// filterMeta returns the schema metadata of the output file.
func filterMeta(f *filterFlags, params ssmParams, scheme sis.Scheme, column string, results []*sis.FilterResult) map[string]string {
	model, _ := json.Marshal(map[string]any{"model": f.model, "params": params.values, "data": f.data, "column": column})
	sampler, _ := json.Marshal(map[string]any{
		"filter": f.proposal, "particles": f.particles, "resample": scheme.String(),
		"threshold": f.threshold, "replicates": len(results), "block_size": sis.BlockSize,
	})
	lz := make([]float64, len(results))
	for i, r := range results {
		lz[i] = r.LogEvidence
	}
	lzJSON, _ := json.Marshal(lz)
	return map[string]string{
		"epmc.format_version": "1",
		"epmc.kind":           "filter",
		"epmc.model":          string(model),
		"epmc.sampler":        string(sampler),
		"epmc.seed":           strconv.FormatUint(f.seed, 10),
		"epmc.log_evidence":   string(lzJSON),
		"epmc.version":        epmc.Version,
	}
}

// writeFilterOutput writes one row per replicate and step: Arrow IPC, or
// CSV when path ends in .csv.
func writeFilterOutput(path string, results []*sis.FilterResult, kalman *sis.KalmanResult, meta map[string]string) error {
	names := []string{"replicate", "t", "mean", "var", "ess", "resampled", "log_evidence"}
	if kalman != nil {
		names = append(names, "kalman_mean", "kalman_var", "kalman_log_evidence")
	}
	// row returns the values of row t of replicate r (resampled as 0/1).
	row := func(r, t int, dst []float64) []float64 {
		res := results[r]
		dst = append(dst[:0], float64(r+1), float64(t), res.Mean(t, 0), res.Var(t, 0), res.ESS[t], 0, res.RunningLogEvidence[t])
		if res.Resampled[t] {
			dst[5] = 1
		}
		if kalman != nil {
			dst = append(dst, kalman.Means[t], kalman.Vars[t], kalman.RunningLogLik[t])
		}
		return dst
	}
	T := results[0].T
	if strings.EqualFold(filepath.Ext(path), ".csv") {
		return atomicfile.Write(path, func(w io.Writer) error {
			var b strings.Builder
			b.WriteString(strings.Join(names, ",") + "\n")
			var vals []float64
			for r := range results {
				for t := range T {
					vals = row(r, t, vals)
					for j, v := range vals {
						if j > 0 {
							b.WriteByte(',')
						}
						switch names[j] {
						case "replicate", "t":
							b.WriteString(strconv.Itoa(int(v)))
						case "resampled":
							b.WriteString(strconv.FormatBool(v == 1))
						default:
							b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
						}
					}
					b.WriteByte('\n')
				}
				if _, err := io.WriteString(w, b.String()); err != nil {
					return err
				}
				b.Reset()
			}
			return nil
		})
	}
	fields := make([]arrow.Field, len(names))
	for j, n := range names {
		switch n {
		case "replicate", "t":
			fields[j] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Int32}
		case "resampled":
			fields[j] = arrow.Field{Name: n, Type: arrow.FixedWidthTypes.Boolean}
		default:
			fields[j] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64}
		}
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	values := make([]string, len(keys))
	for i, k := range keys {
		values[i] = meta[k]
	}
	md := arrow.NewMetadata(keys, values)
	schema := arrow.NewSchema(fields, &md)
	out, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	mem := memory.NewGoAllocator()
	w, err := ipc.NewFileWriter(out, ipc.WithSchema(schema), ipc.WithAllocator(mem))
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	b := array.NewRecordBuilder(mem, schema)
	defer b.Release()
	var vals []float64
	for r := range results {
		for t := range T {
			vals = row(r, t, vals)
			for j, v := range vals {
				switch fb := b.Field(j).(type) {
				case *array.Int32Builder:
					fb.Append(int32(v))
				case *array.BooleanBuilder:
					fb.Append(v == 1)
				case *array.Float64Builder:
					fb.Append(v)
				}
			}
		}
		// One record batch per replicate.
		rec := b.NewRecord()
		err := w.Write(rec)
		rec.Release()
		if err != nil {
			return fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return out.Commit()
}
