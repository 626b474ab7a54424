package main

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epmc/epmc/chains"
)

// hmcDraws writes 4 chains × n draws with Stan's sampler columns. bad adds
// every problem diagnose looks for: divergences, tree depth at the limit,
// one chain with slowly varying energy, and a parameter whose chains
// disagree and mix slowly.
func hmcDraws(t *testing.T, dir, name string, n int, bad bool, sampler string) string {
	t.Helper()
	rnd := rand.New(rand.NewPCG(31, 32))
	names := []string{chains.LP, chains.AcceptStat, chains.TreeDepth, chains.Divergent, chains.Energy, "mu", "sigma", "fixed"}
	d := chains.New(names, 4, n)
	ar := func(phi float64) []float64 {
		x := make([]float64, n)
		v := 0.0
		for i := range x {
			v = phi*v + rnd.NormFloat64()
			x[i] = v
		}
		return x
	}
	for c := range 4 {
		mu, sigma := ar(0.1), ar(0.1)
		energy := ar(0.1)
		if bad && c == 3 {
			energy = ar(0.97)
		}
		if bad {
			sigma = ar(0.995)
			for i := range sigma {
				sigma[i] += 3 * float64(c)
			}
		}
		for i := range n {
			d.Values[c][0][i] = -(mu[i]*mu[i] + sigma[i]*sigma[i]) / 2
			d.Values[c][1][i] = 0.9
			d.Values[c][2][i] = 3
			d.Values[c][4][i] = energy[i]
			d.Values[c][5][i] = mu[i]
			d.Values[c][6][i] = sigma[i]
			d.Values[c][7][i] = 1
		}
	}
	if bad {
		for i := 0; i < 10; i++ {
			d.Values[1][3][i*7] = 1
		}
		for i := 0; i < 4; i++ {
			d.Values[2][2][i*11] = 6
		}
	}
	if sampler != "" {
		d.Meta.Sampler = json.RawMessage(sampler)
	}
	path := filepath.Join(dir, name)
	if err := chains.WriteFile(path, d, chains.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestDiagnoseClean(t *testing.T) {
	path := hmcDraws(t, t.TempDir(), "clean.arrow", 1000, false, "")
	out, errOut, code := cli(t, "diagnose", "--strict", path)
	want := `Checking sampler transitions treedepth.
Treedepth satisfactory for all transitions.

Checking sampler transitions for divergences.
No divergent transitions found.

Checking E-BFMI - sampler transitions HMC potential energy.
E-BFMI satisfactory.

Rank-normalized split effective sample size satisfactory for all parameters.

Rank-normalized split R-hat values satisfactory for all parameters.

R-hat or ESS is not defined (constant draws, non-finite values or too few draws) for:
  fixed

Processing complete, no problems detected.
`
	if code != 0 || errOut != "" || out != want {
		t.Errorf("code %d, stderr %q, output:\n%s\nwant:\n%s", code, errOut, out, want)
	}
}

func TestDiagnoseProblems(t *testing.T) {
	dir := t.TempDir()
	path := hmcDraws(t, dir, "bad.arrow", 1000, true, `{"name":"nuts","max_depth":6}`)
	out, errOut, code := cli(t, "diagnose", path)
	if code != 0 || errOut != "" {
		t.Fatalf("without --strict: code %d, stderr %q", code, errOut)
	}
	for _, want := range []string{
		"4 of 4000 (0.10%) transitions hit the maximum treedepth limit of 6, or 2^6 - 1 leapfrog steps.\n" +
			"Trajectories that are prematurely terminated due to this limit will result in slow exploration.\nFor optimal performance, increase this limit.\n",
		"10 of 4000 (0.25%) transitions ended with a divergence.\n" +
			"These divergent transitions indicate that HMC is not fully able to explore the posterior distribution.\n" +
			"Try increasing adapt delta closer to 1.\nIf this doesn't remove all divergences, try to reparameterize the model.\n",
		"Chain 4: E-BFMI = ",
		"which suggests that HMC may have trouble exploring the target distribution.\nIf possible, try to reparameterize the model.\n",
		"The following parameters had rank-normalized split bulk- or tail-ESS below 400 (100 per chain):\n  sigma (bulk ",
		"The following parameters had rank-normalized split R-hat greater than 1.01:\n  sigma (",
		"Such high values indicate incomplete mixing and biased estimation.\n",
		"\nProcessing complete.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "no problems detected") || strings.Contains(out, "  mu") {
		t.Errorf("clean verdict or mu flagged:\n%s", out)
	}

	_, errOut, code = cli(t, "diagnose", "--strict", path)
	if want := "epmc diagnose: problems found in " + path + " (--strict)\n"; code != 1 || errOut != want {
		t.Errorf("--strict: code %d, stderr %q, want %q", code, errOut, want)
	}
	// --max-depth overrides the metadata.
	out, _, _ = cli(t, "diagnose", "--max-depth", "7", path)
	if !strings.Contains(out, "Treedepth satisfactory for all transitions.") {
		t.Errorf("--max-depth 7:\n%s", out)
	}
}

func TestDiagnoseSeveralFilesAndMissingColumns(t *testing.T) {
	dir := t.TempDir()
	clean := hmcDraws(t, dir, "clean.arrow", 1000, false, "")
	plain := writeDraws(t, dir, "plain.arrow", []string{"a", "b"}, chains.Meta{})
	out, _, code := cli(t, "diagnose", clean, plain)
	if code != 0 || !strings.HasPrefix(out, "==> "+clean+" <==\nChecking") || !strings.Contains(out, "\n\n==> "+plain+" <==\n") {
		t.Fatalf("code %d:\n%s", code, out)
	}
	for _, want := range []string{"No treedepth__ column: tree depth not checked.", "No divergent__ column: divergences not checked.", "No energy__ column: E-BFMI not checked."} {
		if !strings.Contains(out, want) {
			t.Errorf("lacks %q", want)
		}
	}
}

func TestDiagnoseBadInput(t *testing.T) {
	dir := t.TempDir()
	good := hmcDraws(t, dir, "good.arrow", 100, false, "")
	missing := filepath.Join(dir, "missing.arrow")
	usage := "\n(run \"epmc diagnose --help\" for usage)\n"
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr string
	}{
		{"no file", nil, 2, "epmc diagnose: no draws file given" + usage},
		{"missing file", []string{missing}, 1, "epmc diagnose: open " + missing + ": no such file or directory\n"},
		{"bad rhat", []string{"--rhat-max", "0.9", good}, 2, "epmc diagnose: --rhat-max 0.9: want a value above 1" + usage},
		{"bad ess", []string{"--ess-per-chain", "-1", good}, 2, "epmc diagnose: --ess-per-chain -1: want a positive number" + usage},
		{"bad ebfmi", []string{"--ebfmi-min", "0", good}, 2, "epmc diagnose: --ebfmi-min 0: want a positive value" + usage},
		{"bad depth", []string{"--max-depth", "-3", good}, 2, "epmc diagnose: --max-depth -3: want a positive depth" + usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, errOut, code := cli(t, append([]string{"diagnose"}, tt.args...)...)
			if code != tt.code || errOut != tt.stderr || out != "" {
				t.Errorf("code %d (want %d), stdout %q\nstderr %q\n  want %q", code, tt.code, out, errOut, tt.stderr)
			}
		})
	}
}

func TestRhatText(t *testing.T) {
	for _, c := range []struct {
		x, max float64
		want   string
	}{
		{1.0532, 1.01, "1.05"},
		{1.0104, 1.01, "1.0104"},
		{1.0149, 1.01, "1.015"},
		{1.01000001, 1.01, "1.010000"},
		{1.7, 1.05, "1.70"},
	} {
		if got := rhatText(c.x, c.max); got != c.want {
			t.Errorf("rhatText(%v, %v) = %q, want %q", c.x, c.max, got, c.want)
		}
	}
}
