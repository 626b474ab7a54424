package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/cmd/epmc/demodata"
	"github.com/epmc/epmc/combine"
	"github.com/epmc/epmc/internal/atomicfile"
)

func init() {
	register(&command{
		name:    "demo",
		summary: "the main job on an embedded data set: 4 shard processes, 4 methods, full-data reference, comparison, PNGs",
		usage:   "epmc demo [-o DIR] [-j N]",
		help: `
Runs the whole embarrassingly parallel job on a logistic regression data set
embedded in the binary (20000 rows, y on x1 and x2, simulated; see package
cmd/epmc/demodata for the generator), through the same code as epmc run:

  1. writes the data to DIR/data/logistic.csv;
  2. samples M = 4 subposteriors, each in its own epmc sample process, and
     the full-data posterior as the reference, -j processes at a time;
  3. combines the shards with consensus, parametric, semiparametric and
     nonparametric;
  4. prints a table of every method against the full-data posterior (mean
     error in posterior sds, covariance error, KS, MMTV, energy distance)
     and checks that consensus and semiparametric are within 0.15
     posterior sd of the full-data means (exit status 1 if not);
  5. draws DIR/plots/marginals.png, pairs.png and compare.png.

It prints the equivalent epmc run command, so the same job can be run on
your own data. Without -o it writes to a new directory epmc-demo (or
epmc-demo-2, ...) in the working directory, or in the temporary directory
if the working directory is not writable. With -o an existing demo
directory, finished shards are kept (resume).

Example:
  go run ./cmd/epmc demo
`,
		setup: setupDemo,
	})
}

// The demo's settings, chosen so that the run takes well under a minute on
// two cores and every shard's subposterior is close to Gaussian (5000 rows
// each), where consensus Monte Carlo is accurate.
const (
	demoShards = 4
	demoWarmup = 500 // Stan's windowed adaptation works well from 500 for 3 parameters
	demoSeed   = 1
	// demoLimit is the largest mean error, in posterior sds, that the demo
	// accepts for consensus and semiparametric.
	demoLimit = 0.15
)

// demoMethods are the combination methods of the demo, all with their
// default settings. (A fixed large semiparametric bandwidth, such as 4, is
// no help here: beyond h ≈ 1 the Hjort–Glad correction's weights are
// heavy-tailed and its error varied from 0.03 to 0.17 sd over data sets
// and seeds, while the automatic choice returns the Gaussian product when
// the correction cannot be estimated.)
var demoMethods = []string{"consensus", "parametric", "semiparametric", "nonparametric"}

// demoChecked are the methods whose mean error the demo checks.
var demoChecked = []string{"consensus", "semiparametric"}

func setupDemo(fs *flag.FlagSet) func(e *env, args []string) error {
	out := fs.String("o", "", "output `DIR` (default: a new directory epmc-demo, epmc-demo-2, … in the working directory)")
	jobs := fs.Int("j", defaultJobs(), "sample processes run at once")
	return func(e *env, args []string) error {
		if len(args) > 0 {
			return usagef("unexpected argument %q", args[0])
		}
		if *jobs < 1 {
			return usagef("-j must be at least 1, have %d", *jobs)
		}
		dir, err := demoDir(*out)
		if err != nil {
			return err
		}
		dataPath := filepath.Join(dir, "data", "logistic.csv")
		if err := writeDemoData(dataPath); err != nil {
			return err
		}

		specs := demoMethods
		runArgs := []string{
			"--model", demodata.Model, "--data", dataPath, "--x", strings.Join(demodata.Predictors, ","),
			"--shards", strconv.Itoa(demoShards), "--warmup", strconv.Itoa(demoWarmup), "--seed", strconv.Itoa(demoSeed),
			"--methods", strings.Join(specs, ","), "--reference", "-j", strconv.Itoa(*jobs), "-o", dir,
		}
		w := e.stdout
		cfg := demodata.Config
		fmt.Fprintf(w, "epmc demo: logistic regression of y on %s, %d simulated rows, split into M = %d shards;\n",
			strings.Join(demodata.Predictors, " and "), cfg.N, demoShards)
		fmt.Fprintf(w, "each shard's subposterior p(θ)^(1/%d)·p(y_m | θ) is sampled by its own epmc sample process\n", demoShards)
		fmt.Fprintf(w, "(NUTS, 4 chains × %d warmup + 1000 draws), the full-data posterior too, as the reference.\n", demoWarmup)
		fmt.Fprintf(w, "Outputs go to %s. The same job on any data:\n\n  epmc run %s\n\n", dir, shellJoin(runArgs))

		rfs := newFlagSet(commands["run"])
		lf := declareRunFlags(rfs)
		if _, err := parseInterleaved(rfs, runArgs); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		l, err := newLauncher(e, lf)
		if err != nil {
			return err
		}
		res, err := l.run()
		if err != nil {
			return err
		}

		if parametricStart(res.combined["semiparametric"]) {
			semiLog := filepath.Join(dir, "logs", "combine-semiparametric.log")
			fmt.Fprintf(w, "\nNote: semiparametric's kernel-density correction could not be estimated from these shards'\n"+
				"draws (they overlap too little where the product lies; see %s),\n"+
				"so it returned its parametric start, the Gaussian product: its row equals parametric's.\n", semiLog)
		}
		fmt.Fprintf(w, "\nConsensus and semiparametric against the full-data means (limit %.2f posterior sd):\n", demoLimit)
		var bad []string
		for _, name := range demoChecked {
			for _, c := range res.compare {
				if c.Method != name {
					continue
				}
				verdict := "within"
				if !(c.Distances.MaxMeanErrorSD < demoLimit) {
					verdict = "NOT within"
					bad = append(bad, name)
				}
				fmt.Fprintf(w, "  %-15s max mean error %.3f sd: %s %.2f\n", name, c.Distances.MaxMeanErrorSD, verdict, demoLimit)
			}
		}
		fmt.Fprintf(w, "\nLook at %s and %s; then try\n  epmc summary %s\n  epmc plot --kind trace -o %s %s\n",
			filepath.Join(dir, "plots", "marginals.png"), filepath.Join(dir, "plots", "pairs.png"),
			filepath.Join(dir, "combined", "consensus.arrow"), filepath.Join(dir, "plots"), res.shards[0])
		if len(bad) > 0 {
			return fmt.Errorf("%s: mean error above %.2f posterior sd (see %s)", strings.Join(bad, ", "), demoLimit, filepath.Join(dir, "summary", "compare.txt"))
		}
		return nil
	}
}

// parametricStart reports whether the combined draws file at path records
// (epmc.combine's parametric_start) that the semiparametric method returned
// its parametric start, the Gaussian product.
func parametricStart(path string) bool {
	d, err := chains.ReadArrow(path)
	if err != nil {
		return false
	}
	var info combine.Info
	return json.Unmarshal(d.Meta.Combine, &info) == nil && info.ParametricStart
}

// demoDir returns the output directory: dir if given, else the first of
// epmc-demo, epmc-demo-2, … that does not exist yet (created), else a new
// temporary directory.
func demoDir(dir string) (string, error) {
	if dir != "" {
		if st, err := os.Stat(dir); err == nil && !st.IsDir() {
			return "", fmt.Errorf("output directory %s is a file", dir)
		}
		return dir, nil
	}
	for i := 1; i <= 1000; i++ {
		name := "epmc-demo"
		if i > 1 {
			name = fmt.Sprintf("epmc-demo-%d", i)
		}
		err := os.Mkdir(name, 0o755)
		if err == nil {
			return name, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			break
		}
	}
	return os.MkdirTemp("", "epmc-demo-")
}

// writeDemoData writes the embedded data set to path unless it is there.
func writeDemoData(path string) error {
	if b, err := os.ReadFile(path); err == nil && bytes.Equal(b, demodata.LogisticCSV) {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("output directory: %w", err)
	}
	return atomicfile.WriteFile(path, demodata.LogisticCSV)
}

// shellJoin quotes args for a POSIX shell where needed.
func shellJoin(args []string) string {
	q := make([]string, len(args))
	for i, a := range args {
		if a != "" && strings.IndexFunc(a, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./,:=+@%", r))
		}) < 0 {
			q[i] = a
			continue
		}
		q[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(q, " ")
}
