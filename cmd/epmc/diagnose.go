package main

import (
	"flag"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/epmc/epmc/chains"
)

func init() {
	register(&command{
		name:    "diagnose",
		summary: "check draws for divergences, tree depth, E-BFMI, R-hat and ESS",
		usage:   "epmc diagnose [flags] FILE...",
		help: `
Check the post-warmup draws of each FILE (Arrow draws, draws_df CSV or Stan
CSV) as CmdStan's diagnose does, and print what it finds with CmdStan's
advice:

  - divergent transitions (divergent__);
  - transitions that hit the maximum tree depth (treedepth__; the limit is
    "max_depth" from the file's sampler metadata, else 10, or --max-depth);
  - E-BFMI below 0.3 in any chain (energy__; also shown pooled over chains
    as CmdStan computes it);
  - rank-normalised split R-hat above 1.01;
  - bulk- or tail-ESS below 100 per chain (Vehtari et al. 2021).

Checks whose sampler column is missing are reported as not done. The exit
status is 0 whatever is found; with --strict it is 1 when a problem is
found. "Processing complete, no problems detected." marks a clean file.
Each FILE is checked on its own; --as-chains reads Stan CSV files of one run
(one chain per file) as one set of chains.

Example:
  epmc diagnose --strict shard-0.arrow
`,
		setup: setupDiagnose,
	})
}

func setupDiagnose(fs *flag.FlagSet) func(e *env, args []string) error {
	strict := fs.Bool("strict", false, "exit with status 1 when any problem is found")
	maxDepth := fs.Int("max-depth", 0, "maximum tree `depth` of the sampler (default: the file's sampler metadata, else 10)")
	rhatMax := fs.Float64("rhat-max", 1.01, "flag R-hat above this `value`")
	essPerChain := fs.Float64("ess-per-chain", 100, "flag bulk- or tail-ESS below this `number` per chain")
	ebfmiMin := fs.Float64("ebfmi-min", 0.3, "flag chains with E-BFMI below this `value`")
	asChains := fs.Bool("as-chains", false, "read the FILEs, Stan CSV files of one run, as its chains and check them together, as CmdStan's diagnose does")
	return func(e *env, args []string) error {
		if len(args) == 0 {
			return usagef("no draws file given")
		}
		switch {
		case *maxDepth < 0:
			return usagef("--max-depth %d: want a positive depth", *maxDepth)
		case !(*rhatMax > 1):
			return usagef("--rhat-max %v: want a value above 1", *rhatMax)
		case !(*essPerChain > 0):
			return usagef("--ess-per-chain %v: want a positive number", *essPerChain)
		case !(*ebfmiMin > 0):
			return usagef("--ebfmi-min %v: want a positive value", *ebfmiMin)
		}
		opts := chains.CheckOptions{MaxTreeDepth: *maxDepth, RhatMax: *rhatMax, EssPerChain: *essPerChain, EBFMIMin: *ebfmiMin}
		var problems []string
		first := true
		err := eachInput(args, *asChains, func(path string, d *chains.Draws) error {
			r, err := chains.Check(e.ctx, d, opts)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			var b strings.Builder
			if len(args) > 1 && !*asChains {
				if !first {
					b.WriteString("\n")
				}
				fmt.Fprintf(&b, "==> %s <==\n", path)
			}
			first = false
			writeCheckReport(&b, r, d.Index(chains.LogWeight) >= 0)
			if _, err := io.WriteString(e.stdout, b.String()); err != nil {
				return err
			}
			if r.Problems() > 0 {
				problems = append(problems, path)
			}
			return nil
		})
		if err != nil {
			return err
		}
		if *strict && len(problems) > 0 {
			return fmt.Errorf("problems found in %s (--strict)", strings.Join(problems, ", "))
		}
		return nil
	}
}

// writeCheckReport prints r in the words of CmdStan's diagnose.
func writeCheckReport(w *strings.Builder, r *chains.CheckReport, weighted bool) {
	o := r.Options
	pct := func(k int) float64 { return 100 * float64(k) / float64(r.Draws) }

	w.WriteString("Checking sampler transitions treedepth.\n")
	switch {
	case r.TreeDepthHits < 0:
		w.WriteString("No treedepth__ column: tree depth not checked.\n\n")
	case r.TreeDepthHits > 0:
		fmt.Fprintf(w, "%d of %d (%.2f%%) transitions hit the maximum treedepth limit of %d, or 2^%d - 1 leapfrog steps.\n",
			r.TreeDepthHits, r.Draws, pct(r.TreeDepthHits), o.MaxTreeDepth, o.MaxTreeDepth)
		w.WriteString("Trajectories that are prematurely terminated due to this limit will result in slow exploration.\n" +
			"For optimal performance, increase this limit.\n\n")
	default:
		w.WriteString("Treedepth satisfactory for all transitions.\n\n")
	}

	w.WriteString("Checking sampler transitions for divergences.\n")
	switch {
	case r.Divergences < 0:
		w.WriteString("No divergent__ column: divergences not checked.\n\n")
	case r.Divergences > 0:
		fmt.Fprintf(w, "%d of %d (%.2f%%) transitions ended with a divergence.\n", r.Divergences, r.Draws, pct(r.Divergences))
		w.WriteString("These divergent transitions indicate that HMC is not fully able to explore the posterior distribution.\n" +
			"Try increasing adapt delta closer to 1.\n" +
			"If this doesn't remove all divergences, try to reparameterize the model.\n\n")
	default:
		w.WriteString("No divergent transitions found.\n\n")
	}

	w.WriteString("Checking E-BFMI - sampler transitions HMC potential energy.\n")
	switch {
	case r.EBFMI == nil:
		w.WriteString("No energy__ column: E-BFMI not checked.\n\n")
	case len(r.LowEBFMI) > 0:
		for _, c := range r.LowEBFMI {
			fmt.Fprintf(w, "Chain %d: E-BFMI = %.2f\n", c+1, r.EBFMI[c])
		}
		fmt.Fprintf(w, "The E-BFMI of %d of %d chains is below the nominal threshold of %.2f (pooled over chains, as CmdStan computes it: %.2f),\n",
			len(r.LowEBFMI), r.Chains, o.EBFMIMin, r.EBFMIPooled)
		w.WriteString("which suggests that HMC may have trouble exploring the target distribution.\n" +
			"If possible, try to reparameterize the model.\n\n")
	default:
		w.WriteString("E-BFMI satisfactory.\n\n")
	}

	if len(r.LowESS) > 0 {
		fmt.Fprintf(w, "The following parameters had rank-normalized split bulk- or tail-ESS below %g (%g per chain):\n  ",
			o.EssPerChain*float64(r.Chains), o.EssPerChain)
		for i, p := range r.LowESS {
			if i > 0 {
				w.WriteString(", ")
			}
			fmt.Fprintf(w, "%s (bulk %s, tail %s)", p.Name, essText(p.EssBulk), essText(p.EssTail))
		}
		w.WriteString("\nSuch low values indicate that posterior means, medians, variances and tail quantiles may be unreliable.\n" +
			"Running the chains for more iterations may help.\n\n")
	} else {
		w.WriteString("Rank-normalized split effective sample size satisfactory for all parameters.\n\n")
	}

	if len(r.HighRhat) > 0 {
		fmt.Fprintf(w, "The following parameters had rank-normalized split R-hat greater than %g:\n  ", o.RhatMax)
		for i, p := range r.HighRhat {
			if i > 0 {
				w.WriteString(", ")
			}
			fmt.Fprintf(w, "%s (%s)", p.Name, rhatText(p.Rhat, o.RhatMax))
		}
		w.WriteString("\nSuch high values indicate incomplete mixing and biased estimation.\n" +
			"You should consider regularizing your model with additional prior information or a more effective parameterization.\n\n")
	} else {
		w.WriteString("Rank-normalized split R-hat values satisfactory for all parameters.\n\n")
	}

	if len(r.Undefined) > 0 {
		fmt.Fprintf(w, "R-hat or ESS is not defined (constant draws, non-finite values or too few draws) for:\n  %s\n\n",
			strings.Join(r.Undefined, ", "))
	}
	if weighted {
		w.WriteString("Note: the draws carry importance weights (.log_weight); R-hat and ESS describe the unweighted chains.\n\n")
	}
	if r.Problems() == 0 {
		w.WriteString("Processing complete, no problems detected.\n")
	} else {
		w.WriteString("Processing complete.\n")
	}
}

// rhatText prints an R-hat above max with two decimals, or with as many
// more (up to six) as it takes to show that it is above: 1.0104 against
// 1.01 prints 1.0104, not 1.01.
func rhatText(x, max float64) string {
	for d := 2; ; d++ {
		s := strconv.FormatFloat(x, 'f', d, 64)
		if v, _ := strconv.ParseFloat(s, 64); v > max || d == 6 {
			return s
		}
	}
}

func essText(x float64) string {
	if math.IsNaN(x) {
		return "NA"
	}
	return fmt.Sprintf("%.0f", x)
}
