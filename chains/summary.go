package chains

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"

	"golang.org/x/sync/errgroup"
)

// Summary is one variable's row of a summary of draws: the measures of
// R posterior's summarise_draws with its default summary and MCSE
// measures, computed over the post-warmup draws exactly as posterior 1.4.0
// computes them (see the diagnostics functions of the same names).
type Summary struct {
	Variable     string
	Mean, Median float64
	Sd           float64 // n − 1 denominator
	Mad          float64 // 1.4826·median|x − median|
	// Quantiles holds the type-7 quantiles at the probabilities the
	// summary was made with (SummaryOptions.Probs), in that order.
	Quantiles []float64
	Rhat      float64 // rank-normalised split R-hat, max of bulk and folded
	EssBulk   float64
	EssTail   float64
	McseMean  float64 // sd/√ess_mean, with split chains as in posterior
	McseMedian,
	McseSd float64
	// McseQuantiles holds the Monte Carlo standard errors of Quantiles.
	McseQuantiles []float64
}

// SummaryOptions configures Summarise. The zero value summarises every
// variable except .log_weight, with the 5% and 95% quantiles, on all CPUs,
// and refuses weighted draws.
type SummaryOptions struct {
	// Probs are the probabilities of the quantiles (default 0.05, 0.95,
	// posterior's q5 and q95).
	Probs []float64
	// Variables selects the columns of the Draws to summarise, in the
	// order given (default: all but .log_weight, in column order).
	Variables []int
	// Workers bounds the number of goroutines (default GOMAXPROCS). The
	// results do not depend on it.
	Workers int
	// IgnoreWeights summarises draws that carry a .log_weight column as
	// if they were unweighted, which is what posterior 1.4.0's
	// summarise_draws does silently. Without it Summarise refuses such
	// draws with ErrWeighted rather than ignore the weights unasked.
	IgnoreWeights bool
}

// DefaultProbs are the quantile probabilities of a summary by default, as
// in posterior::summarise_draws (q5 and q95).
var DefaultProbs = []float64{0.05, 0.95}

// ErrWeighted is returned (wrapped) by Summarise for draws with a
// .log_weight column unless SummaryOptions.IgnoreWeights is set.
var ErrWeighted = errors.New("the draws carry importance weights (.log_weight)")

// Summarise returns a summary row for each selected variable of d, in the
// order of opts.Variables. See SummariseContext.
func Summarise(d *Draws, opts SummaryOptions) ([]Summary, error) {
	return SummariseContext(context.Background(), d, opts)
}

// SummariseContext is Summarise with a context, checked between variables.
// The variables are shared out among opts.Workers goroutines, each with
// its own Diagnostics workspace; every row is computed by the same
// sequential code whatever the number of workers, so the output is
// bit-identical for any Workers.
func SummariseContext(ctx context.Context, d *Draws, opts SummaryOptions) ([]Summary, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	probs := opts.Probs
	if probs == nil {
		probs = DefaultProbs
	}
	for _, p := range probs {
		if !(p >= 0 && p <= 1) {
			return nil, fmt.Errorf("quantile probability %v is outside [0, 1]", p)
		}
	}
	if !opts.IgnoreWeights && d.Index(LogWeight) >= 0 {
		return nil, fmt.Errorf("%w: posterior 1.4.0's summarise_draws would ignore them; summarise them as unweighted draws only on purpose (IgnoreWeights)", ErrWeighted)
	}
	vars := opts.Variables
	if vars == nil {
		for v, name := range d.Names {
			if KindOf(name) != Weight {
				vars = append(vars, v)
			}
		}
	}
	for _, v := range vars {
		if v < 0 || v >= len(d.Names) {
			return nil, fmt.Errorf("variable index %d out of range (%d variables)", v, len(d.Names))
		}
	}
	out := make([]Summary, len(vars))
	err := forEachVariable(ctx, d, vars, opts.Workers, func(i int, g *Diagnostics) {
		out[i] = summarise(g, d.Names[vars[i]], probs)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// forEachVariable calls f(i, g) for every i in 0..len(vars)−1 with g reset
// to the post-warmup draws of column vars[i] of d. The variables are shared
// out among workers goroutines (≤ 0: GOMAXPROCS), each with its own
// Diagnostics workspace, so that going through many variables does not
// allocate; ctx is checked between variables. What f computes for i
// depends only on that variable, so results do not depend on workers.
func forEachVariable(ctx context.Context, d *Draws, vars []int, workers int, f func(i int, g *Diagnostics)) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, max(len(vars), 1))
	var next atomic.Int64
	eg, ctx := errgroup.WithContext(ctx)
	for range workers {
		eg.Go(func() error {
			var g Diagnostics
			x := make([][]float64, d.NumChains())
			for {
				i := int(next.Add(1)) - 1
				if i >= len(vars) {
					return nil
				}
				if err := ctx.Err(); err != nil {
					return err
				}
				for c, ch := range d.Values {
					x[c] = ch[vars[i]][d.Warmup:]
				}
				g.Reset(x)
				f(i, &g)
			}
		})
	}
	return eg.Wait()
}

func summarise(g *Diagnostics, name string, probs []float64) Summary {
	s := Summary{
		Variable:      name,
		Mean:          g.Mean(),
		Median:        g.Median(),
		Sd:            g.Sd(),
		Mad:           g.Mad(),
		Rhat:          g.Rhat(),
		EssBulk:       g.EssBulk(),
		EssTail:       g.EssTail(),
		McseMean:      g.McseMean(),
		McseMedian:    g.McseMedian(),
		McseSd:        g.McseSd(),
		Quantiles:     make([]float64, len(probs)),
		McseQuantiles: make([]float64, len(probs)),
	}
	for i, p := range probs {
		s.Quantiles[i] = g.Quantile(p)
		s.McseQuantiles[i] = g.McseQuantile(p)
	}
	return s
}

// probLabel is posterior's name for a probability in column names,
// paste0(probs * 100): 0.05 → "5", 0.025 → "2.5".
func probLabel(p float64) string {
	return strconv.FormatFloat(p*100, 'g', 15, 64)
}

// SummaryColumns returns R posterior's column names for a summary with
// quantiles at probs: variable, mean, median, sd, mad, q5, q95, rhat,
// ess_bulk, ess_tail, mcse_mean, mcse_median, mcse_sd, mcse_q5, mcse_q95
// for the default probabilities.
func SummaryColumns(probs []float64) []string {
	cols := []string{"variable", "mean", "median", "sd", "mad"}
	for _, p := range probs {
		cols = append(cols, "q"+probLabel(p))
	}
	cols = append(cols, "rhat", "ess_bulk", "ess_tail", "mcse_mean", "mcse_median", "mcse_sd")
	for _, p := range probs {
		cols = append(cols, "mcse_q"+probLabel(p))
	}
	return cols
}

// Values returns the numbers of s in the order of SummaryColumns (without
// the variable name).
func (s *Summary) Values() []float64 {
	v := []float64{s.Mean, s.Median, s.Sd, s.Mad}
	v = append(v, s.Quantiles...)
	v = append(v, s.Rhat, s.EssBulk, s.EssTail, s.McseMean, s.McseMedian, s.McseSd)
	return append(v, s.McseQuantiles...)
}

// FormatRNumber formats x so that it reads back exactly (shortest
// round-trip form), with R's spellings NA, Inf and -Inf for NaN and the
// infinities, as in posterior's CSV output.
func FormatRNumber(x float64) string {
	switch {
	case math.IsNaN(x):
		return "NA"
	case math.IsInf(x, 1):
		return "Inf"
	case math.IsInf(x, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// formatJSONNumber is FormatRNumber for JSON: null for NaN and ±Inf.
func formatJSONNumber(x float64) string {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return "null"
	}
	return strconv.FormatFloat(x, 'g', -1, 64)
}

// WriteSummaryCSV writes rows as CSV with posterior's column names
// (SummaryColumns), numbers that round-trip exactly and NA for NaN. A
// non-empty file adds a leading "file" column holding it, for tables that
// gather the summaries of several files.
func WriteSummaryCSV(w io.Writer, rows []Summary, probs []float64, file string) error {
	cw := csv.NewWriter(w)
	header := SummaryColumns(probs)
	if file != "" {
		header = append([]string{"file"}, header...)
	}
	if err := cw.Write(header); err != nil {
		return err
	}
	for i := range rows {
		rec := []string{rows[i].Variable}
		if file != "" {
			rec = append([]string{file}, rec...)
		}
		for _, v := range rows[i].Values() {
			rec = append(rec, FormatRNumber(v))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// AppendSummaryJSON appends rows to dst as JSON objects (one per row,
// comma-separated, without the enclosing brackets) with posterior's keys in
// SummaryColumns order, numbers that round-trip exactly and null for NaN.
// A non-empty file adds a leading "file" key.
func AppendSummaryJSON(dst []byte, rows []Summary, probs []float64, file string) []byte {
	cols := SummaryColumns(probs)
	for i := range rows {
		if i > 0 {
			dst = append(dst, ",\n"...)
		}
		dst = append(dst, '{')
		if file != "" {
			dst = append(dst, `"file":`...)
			dst = strconv.AppendQuote(dst, file)
			dst = append(dst, ',')
		}
		dst = append(dst, `"variable":`...)
		dst = strconv.AppendQuote(dst, rows[i].Variable)
		for j, v := range rows[i].Values() {
			dst = append(dst, ',')
			dst = strconv.AppendQuote(dst, cols[j+1])
			dst = append(dst, ':')
			dst = append(dst, formatJSONNumber(v)...)
		}
		dst = append(dst, '}')
	}
	return dst
}

// TableOptions configures WriteSummaryTable.
type TableOptions struct {
	// SigFigs is the number of significant figures of the statistics
	// (default 2, as in CmdStan's stansummary).
	SigFigs int
	// NoFooter leaves out the lines explaining the columns.
	NoFooter bool
}

// WriteSummaryTable writes rows as a fixed-width table in the layout of
// CmdStan's stansummary: Mean, MCSE, StdDev, MAD, the quantiles (labelled
// 5%, 50%, …), ESS_bulk, ESS_tail and R_hat; sampler statistics (names
// ending in "__") first, then the other variables, each group in the order
// given. Statistics are shown to opts.SigFigs significant figures (see
// formatSigFigs), ESS rounded to whole draws and R-hat with two decimals.
// MCSE is posterior's mcse_mean (split chains), which the footer says.
func WriteSummaryTable(w io.Writer, rows []Summary, probs []float64, opts TableOptions) error {
	sig := opts.SigFigs
	if sig <= 0 {
		sig = 2
	}
	var ordered []*Summary
	for i := range rows {
		if KindOf(rows[i].Variable) == SamplerStat {
			ordered = append(ordered, &rows[i])
		}
	}
	for i := range rows {
		if KindOf(rows[i].Variable) != SamplerStat {
			ordered = append(ordered, &rows[i])
		}
	}
	header := []string{"Mean", "MCSE", "StdDev", "MAD"}
	for _, p := range probs {
		header = append(header, probLabel(p)+"%")
	}
	header = append(header, "ESS_bulk", "ESS_tail", "R_hat")
	nq := len(probs)
	value := func(s *Summary, j int) float64 {
		switch {
		case j < 4:
			return [...]float64{s.Mean, s.McseMean, s.Sd, s.Mad}[j]
		case j < 4+nq:
			return s.Quantiles[j-4]
		}
		return [...]float64{s.EssBulk, s.EssTail, s.Rhat}[j-4-nq]
	}
	cells := make([][]string, len(ordered))
	for i := range cells {
		cells[i] = make([]string, len(header))
	}
	widths := make([]int, len(header))
	for j, h := range header {
		col := make([]float64, len(ordered))
		for i, s := range ordered {
			col[i] = value(s, j)
		}
		var strs []string
		switch h {
		case "ESS_bulk", "ESS_tail":
			strs = formatFixed(col, 0)
		case "R_hat":
			strs = formatFixed(col, 2)
		default:
			strs = formatSigFigs(col, sig)
		}
		widths[j] = len(h)
		for i, s := range strs {
			cells[i][j] = s
			widths[j] = max(widths[j], len(s))
		}
	}
	nameWidth := 0
	for _, s := range ordered {
		nameWidth = max(nameWidth, len(s.Variable))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s", nameWidth, "")
	for j, h := range header {
		fmt.Fprintf(&b, "  %*s", widths[j], h)
	}
	b.WriteString("\n")
	for i, s := range ordered {
		if i > 0 && KindOf(ordered[i-1].Variable) == SamplerStat && KindOf(s.Variable) != SamplerStat {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%-*s", nameWidth, s.Variable)
		for j := range header {
			fmt.Fprintf(&b, "  %*s", widths[j], cells[i][j])
		}
		b.WriteString("\n")
	}
	if !opts.NoFooter {
		b.WriteString("\n" + tableFooter)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

const tableFooter = `MCSE is the Monte Carlo standard error of the mean, sd/sqrt(ESS), with the
ESS of split chains as in R posterior's mcse_mean (CmdStan's stansummary uses
unsplit chains). MAD is 1.4826 * median |x - median|; quantiles are type 7.
ESS_bulk and ESS_tail are the rank-normalized split-chain effective sample
sizes of the bulk and of the 5% and 95% quantiles; R_hat is the larger of the
rank-normalized split R-hat and its folded version, close to 1.00 at
convergence (Vehtari et al. 2021). NA: not defined (constant or too few draws).
`

// formatFixed prints each value with a fixed number of decimals.
func formatFixed(col []float64, decimals int) []string {
	out := make([]string, len(col))
	for i, v := range col {
		if math.IsNaN(v) {
			out[i] = "NA"
			continue
		}
		out[i] = strconv.FormatFloat(v, 'f', decimals, 64)
	}
	return out
}

// formatSigFigs prints each value to sig significant figures: in fixed
// notation from 0.001 to below 10 million (more digits are kept for large
// values rather than rounding them away), in scientific notation outside
// that range. Unlike stansummary, which puts a whole column in scientific
// notation as soon as one value is wide, each value gets the notation that
// reads best, so one large parameter does not spoil the column.
func formatSigFigs(col []float64, sig int) []string {
	out := make([]string, len(col))
	for i, v := range col {
		a := math.Abs(v)
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			out[i] = FormatRNumber(v)
		case v == 0:
			out[i] = "0" // also for -0
		case a >= 1e7 || a < 1e-3:
			out[i] = strconv.FormatFloat(v, 'e', sig-1, 64)
		default:
			e := int(math.Floor(math.Log10(a)))
			out[i] = strconv.FormatFloat(v, 'f', max(0, sig-1-e), 64)
		}
	}
	return out
}
