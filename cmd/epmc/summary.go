package main

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/epmc/epmc/chains"
)

func init() {
	register(&command{
		name:    "summary",
		summary: "summarise draws: mean, quantiles, R-hat, bulk/tail ESS, MCSE",
		usage:   "epmc summary [flags] FILE...",
		help: `
Summarise the post-warmup draws of each FILE (Arrow draws, draws_df CSV or
Stan CSV) with the measures of R posterior's summarise_draws, computed as
posterior 1.4.0 computes them: mean, median, sd, mad, quantiles, rank-
normalised R-hat, bulk and tail ESS, and the Monte Carlo standard errors of
the mean, median, sd and quantiles (Vehtari et al. 2021).

--format table (the default) prints CmdStan stansummary's layout: Mean,
MCSE, StdDev, MAD, 5%, 50%, 95%, ESS_bulk, ESS_tail, R_hat, sampler
statistics first. --format csv and json use posterior's column names
(variable, mean, median, sd, mad, q5, q95, rhat, ess_bulk, ess_tail,
mcse_mean, mcse_median, mcse_sd, mcse_q5, mcse_q95) and print numbers that
read back exactly: NA (csv) or null (json) where posterior gives NA.
With several files each is summarised on its own: the table gets a heading
per file, csv and json a leading "file" column. --as-chains reads Stan CSV
files of one run (one chain per file) as one set of chains instead.

Draws with importance weights (a .log_weight column) are refused: posterior
1.4.0 summarises them as if unweighted, which --ignore-weights does on
request.

Example:
  epmc summary --params '^beta' --percentiles 10,50,90 combined.arrow
  epmc summary --format csv shard-*.arrow > summaries.csv
`,
		setup: setupSummary,
	})
}

func setupSummary(fs *flag.FlagSet) func(e *env, args []string) error {
	format := fs.String("format", "table", "output `format`: table, csv or json")
	params := fs.String("params", "", "summarise only variables whose names match this regular `expression` (Go syntax, matched anywhere in the name: '^beta\\[')")
	pcts := fs.String("percentiles", "", "comma-separated `list` of quantiles, strictly increasing integers in 1..99 (default 5,50,95 in the table; 5,95 in csv and json, as posterior's q5 and q95)")
	sigFigs := fs.Int("sig-figs", 2, "significant `digits` of the statistics in the table")
	ignoreWeights := fs.Bool("ignore-weights", false, "summarise draws with a .log_weight column as unweighted draws, as R posterior 1.4.0 does")
	asChains := fs.Bool("as-chains", false, "read the FILEs, Stan CSV files of one run, as its chains and summarise them together, as stansummary does")
	return func(e *env, args []string) error {
		if len(args) == 0 {
			return usagef("no draws file given")
		}
		if *format != "table" && *format != "csv" && *format != "json" {
			return usagef("--format %q: want table, csv or json", *format)
		}
		var re *regexp.Regexp
		if *params != "" {
			var err error
			if re, err = regexp.Compile(*params); err != nil {
				return usagef("--params %q is not a valid regular expression: %v", *params, err)
			}
		}
		probs := chains.DefaultProbs
		if *format == "table" {
			probs = []float64{0.05, 0.5, 0.95}
		}
		if *pcts != "" {
			var err error
			if probs, err = parsePercentiles(*pcts); err != nil {
				return usagef("--percentiles %q: %v", *pcts, err)
			}
		}
		if *sigFigs < 1 || *sigFigs > 15 {
			return usagef("--sig-figs %d: want 1..15", *sigFigs)
		}

		// Everything is summarised before anything is printed, so a bad
		// file does not leave half an output behind; only the summaries are
		// kept, not the draws.
		type result struct {
			path, headline string
			rows           []chains.Summary
		}
		var results []result
		err := eachInput(args, *asChains, func(path string, d *chains.Draws) error {
			vars, err := selectVariables(d, re, *params, path)
			if err != nil {
				return err
			}
			rows, err := chains.SummariseContext(e.ctx, d, chains.SummaryOptions{
				Probs: probs, Variables: vars, IgnoreWeights: *ignoreWeights,
			})
			if errors.Is(err, chains.ErrWeighted) {
				return fmt.Errorf("%s: %v (pass --ignore-weights to summarise them as unweighted draws)", path, chains.ErrWeighted)
			}
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			results = append(results, result{path, drawsHeadline(d, *ignoreWeights), rows})
			return nil
		})
		if err != nil {
			return err
		}

		several := len(results) > 1
		var b strings.Builder
		switch *format {
		case "csv":
			for i, r := range results {
				file := ""
				if several {
					file = r.path
				}
				var part strings.Builder
				if err := chains.WriteSummaryCSV(&part, r.rows, probs, file); err != nil {
					return err
				}
				s := part.String()
				if i > 0 { // one header line for the whole table
					s = s[strings.IndexByte(s, '\n')+1:]
				}
				b.WriteString(s)
			}
		case "json":
			out := []byte{'['}
			for _, r := range results {
				file := ""
				if several {
					file = r.path
				}
				if len(out) > 1 && len(r.rows) > 0 {
					out = append(out, ",\n"...)
				}
				out = chains.AppendSummaryJSON(out, r.rows, probs, file)
			}
			b.Write(append(out, "]\n"...))
		default:
			for i, r := range results {
				if several {
					if i > 0 {
						b.WriteString("\n")
					}
					fmt.Fprintf(&b, "==> %s <==\n", r.path)
				}
				b.WriteString(r.headline)
				b.WriteString("\n")
				err := chains.WriteSummaryTable(&b, r.rows, probs, chains.TableOptions{SigFigs: *sigFigs, NoFooter: i < len(results)-1})
				if err != nil {
					return err
				}
			}
		}
		_, err = fmt.Fprint(e.stdout, b.String())
		return err
	}
}

// eachInput reads each file with chains.ReadFile and hands it to f, one at
// a time; with asChains it reads the files together as the chains of one
// Stan run (chains.ReadStanCSV) and calls f once, with the file names
// joined as the name.
func eachInput(paths []string, asChains bool, f func(name string, d *chains.Draws) error) error {
	if asChains {
		for _, p := range paths {
			format, err := chains.Detect(p)
			if err != nil {
				return err
			}
			if format != chains.FormatStanCSV {
				return fmt.Errorf("%s: not a Stan CSV file (format: %s); --as-chains reads Stan CSV files only", p, format)
			}
		}
		d, err := chains.ReadStanCSV(paths...)
		if err != nil {
			return err
		}
		return f(strings.Join(paths, ", "), d)
	}
	for _, p := range paths {
		d, err := chains.ReadFile(p)
		if err != nil {
			return err
		}
		if err := f(p, d); err != nil {
			return err
		}
	}
	return nil
}

// parsePercentiles parses "5,50,95" into probabilities, as stansummary's
// --percentiles: integers in 1..99, strictly increasing.
func parsePercentiles(s string) ([]float64, error) {
	var probs []float64
	last := 0
	for _, f := range strings.Split(s, ",") {
		pct, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pct < 1 || pct > 99 || pct <= last {
			return nil, errors.New("want strictly increasing integers in 1..99, such as 5,50,95")
		}
		last = pct
		probs = append(probs, float64(pct)/100)
	}
	return probs, nil
}

// selectVariables returns the columns to summarise: every variable but
// .log_weight, or those matching re. A pattern that matches nothing is an
// error naming it and the file.
func selectVariables(d *chains.Draws, re *regexp.Regexp, pattern, path string) ([]int, error) {
	var vars []int
	for v, name := range d.Names {
		if chains.KindOf(name) == chains.Weight {
			continue
		}
		if re == nil || re.MatchString(name) {
			vars = append(vars, v)
		}
	}
	if re != nil && len(vars) == 0 {
		return nil, fmt.Errorf("%s: --params %q matches no variable", path, pattern)
	}
	return vars, nil
}

// drawsHeadline describes the draws in one or two lines above the table.
func drawsHeadline(d *chains.Draws, weightsIgnored bool) string {
	var b strings.Builder
	plural := func(n int, one, many string) string {
		if n == 1 {
			return fmt.Sprintf("%d %s", n, one)
		}
		return fmt.Sprintf("%d %s", n, many)
	}
	fmt.Fprintf(&b, "%s of %s (%s)", plural(d.NumChains(), "chain", "chains"),
		plural(d.NumIter(), "draw", "draws"), plural(d.NumDraws(), "draw", "draws"))
	if d.Warmup > 0 {
		fmt.Fprintf(&b, "; %s of saved warmup per chain left out", plural(d.Warmup, "draw", "draws"))
	}
	b.WriteString(".\n")
	if k := d.Meta.Kind; k != "" && k != chains.KindDraws {
		fmt.Fprintf(&b, "Kind: %s", k)
		if d.Meta.Shards > 0 {
			fmt.Fprintf(&b, ", shard %d of %d (numbered from 0)", d.Meta.Shard, d.Meta.Shards)
		}
		b.WriteString(".\n")
	}
	if weightsIgnored && d.Index(chains.LogWeight) >= 0 {
		b.WriteString("Importance weights (.log_weight) ignored: these are statistics of the unweighted draws.\n")
	}
	return b.String()
}
