package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"regexp"
	"text/tabwriter"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/combine"
)

func init() {
	register(&command{
		name:    "compare",
		summary: "distances between two draw sets (e.g. a combination and the full-data posterior)",
		usage:   "epmc compare [flags] A B",
		help: `
Measure how far the draws in A are from the reference draws in B (Arrow
draws, draws_df CSV or Stan CSV), on the constrained parameter columns
common to both, using the post-warmup draws of all chains:

  max_mean_error_sd       max over parameters of |mean_A − mean_B| / sd_B
  mahalanobis_mean_error  √(Δμᵀ Σ_B⁻¹ Δμ), the mean error under B's covariance
  cov_rel_error           ‖L⁻¹Σ_A L⁻ᵀ − I‖_F / √d with Σ_B = LLᵀ: the covariance
                          error in B's whitened coordinates (|var_A/var_B − 1| for
                          one parameter)
  ks_max                  largest two-sample Kolmogorov–Smirnov D over marginals
  mmtv                    mean marginal total variation ½∫|p_A − p_B|, marginal
                          densities by Gaussian KDE (R's bw.nrd0 bandwidth) on a
                          common grid spanning both samples ± 4 bandwidths, with
                          spacing ≤ a quarter bandwidth (≥ 512 points)
  energy_distance         √(2E‖X−Y‖ − E‖X−X'‖ − E‖Y−Y'‖) on coordinates scaled by
                          B's sds, from at most --energy-cap draws of each set
                          (a random subsample drawn with --seed)

Each figure is also given per parameter. Both files must have the same
parameters unless --params picks some that both have. MCMC draws are
autocorrelated, so KS p-values would mislead and are not given. Common
targets: mean error < 0.1 sd, MMTV < 0.05 for near-Gaussian problems.

Examples:
  epmc compare combined.arrow full.arrow
  epmc compare --format json --params '^beta' semi.arrow full.arrow | jq .mmtv
`,
		setup: setupCompare,
	})
}

func setupCompare(fs *flag.FlagSet) func(e *env, args []string) error {
	format := fs.String("format", "table", "output `format`: table or json")
	params := fs.String("params", "", "compare only parameters whose names match this regular `expression`")
	energyCap := fs.Int("energy-cap", 2000, "most draws of each set used by the energy distance")
	seed := fs.Uint64("seed", 1, "`seed` of the energy distance's subsample")
	return func(e *env, args []string) error {
		if len(args) != 2 {
			return usagef("want two draws files A and B, got %d argument(s)", len(args))
		}
		if *format != "table" && *format != "json" {
			return usagef("--format %q: want table or json", *format)
		}
		if *energyCap < 2 {
			return usagef("--energy-cap must be at least 2")
		}
		var re *regexp.Regexp
		if *params != "" {
			var err error
			if re, err = regexp.Compile(*params); err != nil {
				return usagef("--params %q is not a valid regular expression: %v", *params, err)
			}
		}
		a, err := readForCompare(args[0])
		if err != nil {
			return err
		}
		b, err := readForCompare(args[1])
		if err != nil {
			return err
		}
		names, err := compareNames(a, b, args[0], args[1], re, *params)
		if err != nil {
			return err
		}
		dist, err := combine.Compare(rowsOf(a, names), rowsOf(b, names), names,
			combine.CompareOptions{EnergyCap: *energyCap, Seed: *seed})
		if err != nil {
			return fmt.Errorf("comparing %s with %s: %w", args[0], args[1], err)
		}
		if *format == "json" {
			js, err := json.MarshalIndent(dist, "", "  ")
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", js)
			return err
		}
		return writeCompareTable(e.stdout, dist, args[0], args[1])
	}
}

func readForCompare(path string) (*chains.Draws, error) {
	d, err := chains.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if d.Index(chains.LogWeight) >= 0 {
		return nil, fmt.Errorf("%s has importance weights (%s), which compare does not use; resample the draws first", path, chains.LogWeight)
	}
	if d.NumDraws() < 2 {
		return nil, fmt.Errorf("%s has %d post-warmup draws; need at least 2", path, d.NumDraws())
	}
	return d, nil
}

// compareNames returns the parameters to compare, in A's order.
func compareNames(a, b *chains.Draws, pathA, pathB string, re *regexp.Regexp, pattern string) ([]string, error) {
	inB := map[string]bool{}
	for _, n := range b.ParamNames() {
		inB[n] = true
	}
	if re == nil {
		var onlyA, onlyB []string
		inA := map[string]bool{}
		for _, n := range a.ParamNames() {
			inA[n] = true
			if !inB[n] {
				onlyA = append(onlyA, n)
			}
		}
		for _, n := range b.ParamNames() {
			if !inA[n] {
				onlyB = append(onlyB, n)
			}
		}
		if len(onlyA)+len(onlyB) > 0 {
			return nil, fmt.Errorf("%s and %s have different parameters (only in %s: %s; only in %s: %s); choose common ones with --params",
				pathA, pathB, pathA, listNames(onlyA), pathB, listNames(onlyB))
		}
		if len(inA) == 0 {
			return nil, fmt.Errorf("%s has no parameter columns", pathA)
		}
		return a.ParamNames(), nil
	}
	var names, missing []string
	for _, n := range a.ParamNames() {
		if re.MatchString(n) {
			if inB[n] {
				names = append(names, n)
			} else {
				missing = append(missing, n)
			}
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("--params %q selects parameters of %s that %s lacks: %s", pattern, pathA, pathB, listNames(missing))
	}
	if len(names) == 0 {
		return nil, usagef("--params %q matches no parameter of %s", pattern, pathA)
	}
	return names, nil
}

// rowsOf returns the post-warmup draws of the named columns, one row per
// draw, chains one after another.
func rowsOf(d *chains.Draws, names []string) [][]float64 {
	cols := make([][]float64, len(names))
	for j, n := range names {
		cols[j] = d.Pooled(d.Index(n))
	}
	rows := make([][]float64, len(cols[0]))
	buf := make([]float64, len(rows)*len(names))
	for i := range rows {
		rows[i] = buf[i*len(names) : (i+1)*len(names)]
		for j := range names {
			rows[i][j] = cols[j][i]
		}
	}
	return rows
}

func writeCompareTable(w io.Writer, d *combine.Distances, pathA, pathB string) error {
	fmt.Fprintf(w, "A = %s (%d draws), reference B = %s (%d draws), %d parameters\n\n", pathA, d.NA, pathB, d.NB, len(d.Params))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "parameter\tmean err/sd\tvar ratio−1\tKS D\tTV\tenergy\t")
	for _, p := range d.Params {
		fmt.Fprintf(tw, "%s\t%.3f\t%+.3f\t%.3f\t%.3f\t%.3f\t\n", p.Name, p.MeanErrorSD, signedVarError(p), p.KS, p.TV, p.EnergyDistance)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nmax_mean_error_sd       %.4f\n", d.MaxMeanErrorSD)
	fmt.Fprintf(w, "mahalanobis_mean_error  %.4f\n", d.MahalanobisMeanError)
	fmt.Fprintf(w, "cov_rel_error           %.4f\n", d.CovRelError)
	fmt.Fprintf(w, "ks_max                  %.4f\n", d.KSMax)
	fmt.Fprintf(w, "mmtv                    %.4f\n", d.MMTV)
	_, err := fmt.Fprintf(w, "energy_distance         %.4f  (%d and %d draws)\n", d.EnergyDistance, d.EnergyDraws[0], d.EnergyDraws[1])
	return err
}

// signedVarError is var_A/var_B − 1 with its sign, for the table; the JSON
// gives its absolute value, cov_rel_error.
func signedVarError(p combine.ParamDistances) float64 { return p.VarRatio - 1 }
