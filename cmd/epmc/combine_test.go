package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/combine"
	"github.com/epmc/epmc/rng"
)

// shardSpec describes a synthetic shard file: draws of mu (identity) and
// sigma (positive, a lower-bound transform) from a Gaussian subposterior in
// unconstrained space, centred per shard, with metadata that the tests
// then spoil one field at a time.
type shardSpec struct {
	shard, shards int
	priorPower    float64
	convention    chains.Convention
	fingerprint   string
	names         []string // default mu, sigma
	draws         int
}

func writeShard(t *testing.T, dir string, s shardSpec) string {
	t.Helper()
	if s.names == nil {
		s.names = []string{"mu", "sigma"}
	}
	if s.draws == 0 {
		s.draws = 1000
	}
	r := rng.NewRand(uint64(100+s.shard), uint64(s.shards))
	d := chains.New(append([]string{chains.LP}, s.names...), 2, s.draws/2)
	// Subposterior m: mu ~ N(0.1·m, 0.5²·M), log sigma ~ N(0.05·m, 0.2²·M).
	M := float64(max(s.shards, 1))
	for c := range d.Values {
		for i := range s.draws / 2 {
			mu := 0.1*float64(s.shard) + 0.5*math.Sqrt(M)*r.NormFloat64()
			ls := 0.05*float64(s.shard) + 0.2*math.Sqrt(M)*r.NormFloat64()
			d.Values[c][0][i] = -0.5 * mu * mu
			d.Values[c][1][i] = mu
			d.Values[c][2][i] = math.Exp(ls)
		}
	}
	d.Meta = chains.Meta{
		Kind: chains.KindSubposterior, Shard: s.shard, Shards: s.shards, PriorPower: s.priorPower,
		Convention: s.convention, DataFingerprint: s.fingerprint, Partition: "hash:8",
		Params: []chains.Param{{Name: s.names[0]}, {Name: s.names[1], Transform: chains.Transform{Kind: chains.Lower}}},
	}
	if s.shards == 0 {
		d.Meta.Kind, d.Meta.Partition = chains.KindDraws, ""
	}
	path := filepath.Join(dir, fmt.Sprintf("shard-%d.arrow", s.shard))
	if err := chains.WriteFile(path, d, chains.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	return path
}

// goodShards writes M consistent product-form shard files.
func goodShards(t *testing.T, dir string, M int) []string {
	var paths []string
	for m := range M {
		paths = append(paths, writeShard(t, dir, shardSpec{shard: m, shards: M, priorPower: 1 / float64(M),
			convention: chains.ConventionProduct, fingerprint: "sha256:abc"}))
	}
	return paths
}

func TestCombineCLI(t *testing.T) {
	dir := t.TempDir()
	paths := goodShards(t, dir, 4)
	out := filepath.Join(dir, "combined.arrow")
	// Shards in scrambled order: the metadata puts them right.
	args := []string{"combine", "--method", "consensus", paths[2], paths[0], "-o", out, paths[3], paths[1]}
	stdout, stderr, code := cli(t, args...)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if stdout != "" || !strings.Contains(stderr, "consensus of 4 shards (1000 draws each, 2 parameters): 4 chains × 1000 draws") {
		t.Errorf("stdout %q, stderr %q", stdout, stderr)
	}
	d, err := chains.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if d.Meta.Kind != chains.KindCombined || d.NumChains() != 4 || d.NumIter() != 1000 ||
		strings.Join(d.Names, ",") != "mu,sigma" || d.Meta.Seed == nil || *d.Meta.Seed != 1 ||
		d.Meta.PriorPower != 1 || d.Meta.DataFingerprint != "sha256:abc" || len(d.Meta.Params) != 2 ||
		d.Meta.Params[1].Transform.Kind != chains.Lower {
		t.Errorf("output %v, meta %+v", d.Names, d.Meta)
	}
	for _, s := range d.Pooled(1) {
		if !(s > 0) {
			t.Fatalf("sigma %g is not positive: not mapped back from the unconstrained space", s)
		}
	}
	var rec struct {
		Method string `json:"method"`
		Shards int    `json:"shards"`
		Inputs []struct {
			Files  []string `json:"files"`
			SHA256 []string `json:"sha256"`
			Shard  *int     `json:"shard"`
		} `json:"inputs"`
	}
	if err := json.Unmarshal(d.Meta.Combine, &rec); err != nil {
		t.Fatal(err)
	}
	if rec.Method != "consensus" || rec.Shards != 4 || len(rec.Inputs) != 4 || *rec.Inputs[2].Shard != 2 ||
		rec.Inputs[2].Files[0] != "shard-2.arrow" || len(rec.Inputs[2].SHA256[0]) != 64 {
		t.Errorf("combine metadata %s", d.Meta.Combine)
	}
	// The product of the shards' Gaussians: mu has precision Σ 1/(0.25·4)
	// = 4, so sd 0.5 and mean 0.15.
	mu := d.Pooled(0)
	mean, sd := meanSD(mu)
	if math.Abs(mean-0.15) > 0.06 || math.Abs(sd-0.5) > 0.04 {
		t.Errorf("mu: mean %.3f sd %.3f, want 0.15 and 0.5", mean, sd)
	}

	// Same inputs and seed: the same bytes.
	out2 := filepath.Join(dir, "again.arrow")
	if _, stderr, code := cli(t, "combine", "--method", "consensus", "-o", out2, paths[0], paths[1], paths[2], paths[3]); code != 0 {
		t.Fatal(stderr)
	}
	b1, _ := os.ReadFile(out)
	b2, _ := os.ReadFile(out2)
	if string(b1) != string(b2) {
		t.Error("same inputs and seed gave different files")
	}

	// A Markov-chain method reports its acceptance rates.
	semi := filepath.Join(dir, "semi.arrow")
	_, stderr, code = cli(t, "combine", "--method", "semiparametric", "--draws", "300", "--chains", "2", "--bandwidth", "silverman",
		"--burn", "500", "--zstd", "-o", semi, paths[0], paths[1], paths[2], paths[3])
	if code != 0 {
		t.Fatalf("semiparametric: %s", stderr)
	}
	for _, want := range []string{"semiparametric of 4 shards", "bandwidth silverman: h = ", "burn-in 500 sweeps", "index-move acceptance per chain: ", "per shard: lowest",
		"effective draws per shard in the product: lowest "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, stderr)
		}
	}
	// The default bandwidth reports where it started and what it reached.
	_, stderr, code = cli(t, "combine", "--method", "nonparametric", "--draws", "200", "--chains", "2", "-o", filepath.Join(dir, "np.arrow"), paths[0], paths[1], paths[2], paths[3])
	if code != 0 {
		t.Fatalf("nonparametric: %s", stderr)
	}
	for _, want := range []string{"bandwidth auto (from likelihood cross-validation, raised to 400 effective draws per shard): h = ", "effective draws per shard in the product: lowest "} {
		if !strings.Contains(stderr, want) {
			t.Errorf("report lacks %q:\n%s", want, stderr)
		}
	}
	ds, err := chains.ReadFile(semi)
	if err != nil || ds.NumChains() != 2 || ds.NumIter() != 300 {
		t.Fatalf("semiparametric output: %v", err)
	}

	// compare: table and JSON.
	stdout, stderr, code = cli(t, "compare", semi, out)
	if code != 0 || !strings.Contains(stdout, "mmtv") || !strings.Contains(stdout, "sigma") {
		t.Errorf("compare table: %d %s %s", code, stdout, stderr)
	}
	stdout, stderr, code = cli(t, "compare", "--format", "json", semi, out)
	if code != 0 {
		t.Fatalf("compare json: %s", stderr)
	}
	var js map[string]any
	if err := json.Unmarshal([]byte(stdout), &js); err != nil {
		t.Fatalf("compare json: %v\n%s", err, stdout)
	}
	for _, k := range []string{"max_mean_error_sd", "mahalanobis_mean_error", "cov_rel_error", "ks_max", "mmtv", "energy_distance"} {
		v, ok := js[k].(float64)
		if !ok {
			t.Errorf("json lacks %s", k)
		}
		if pp := js["per_parameter"].(map[string]any)["sigma"].(map[string]any); pp[k] == nil {
			t.Errorf("per_parameter.sigma lacks %s", k)
		}
		if k == "mmtv" && v > 0.1 {
			t.Errorf("semiparametric and consensus differ: MMTV %.3f", v)
		}
	}
}

func meanSD(x []float64) (float64, float64) {
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return m, math.Sqrt(s / float64(len(x)-1))
}

// Every refusal has its exact message.
// When semiparametric returns its parametric start, the report says so
// and gives the note, without acceptance rates it does not have.
func TestReportParametricStart(t *testing.T) {
	var b strings.Builder
	reportCombine(&b, combine.Info{Method: "semiparametric", Shards: 8, ShardDraws: []int{100, 100}, Dim: 6, Chains: 4, DrawsPerChain: 10,
		BandwidthRule: "auto (…)", BandwidthLCV: 0.47, ParametricStart: true,
		Calibration: []combine.CalibrationStep{{Bandwidth: 1, EffectiveDraws: 3, Shard: 2}},
		Notes:       []string{"the KDE correction cannot be estimated"}}, nil, "out.arrow")
	want := "epmc combine: semiparametric of 8 shards (100 draws each, 6 parameters): 4 chains × 10 draws\n" +
		"  bandwidth auto (…): cross-validated h = 0.47; no h up to 1 gives enough effective draws\n" +
		"  note: the KDE correction cannot be estimated\n" +
		"  wrote out.arrow\n"
	if b.String() != want {
		t.Errorf("report\n%s\nwant\n%s", b.String(), want)
	}
}

func TestCombineRefusals(t *testing.T) {
	dir := t.TempDir()
	good := shardSpec{shards: 3, priorPower: 1.0 / 3, convention: chains.ConventionProduct, fingerprint: "fp1"}
	type variant struct {
		shard int
		edit  func(s *shardSpec)
	}
	cases := []struct {
		name     string
		variants []variant // shards to write: index and how to spoil it
		flags    []string
		want     string
	}{
		{"different parameter names", []variant{{0, nil}, {1, func(s *shardSpec) { s.names = []string{"mu", "tau"} }}, {2, nil}}, nil,
			"S0 and S1 have different parameters (S0: mu, sigma; S1: mu, tau)"},
		{"different shard counts", []variant{{0, nil}, {1, func(s *shardSpec) { s.shards, s.priorPower = 4, 0.25 }}, {2, nil}}, nil,
			"different shard counts: S0 is one of 3 shards, S1 one of 4"},
		{"duplicate shard index", []variant{{0, nil}, {1, nil}, {1, nil}}, nil,
			"S1 and S1b are both shard 1 (shards are numbered 0 to 2)"},
		{"missing shard", []variant{{0, nil}, {2, nil}}, nil,
			"shard 1 of 0..2 missing (pass --allow-missing to combine the 2 present)"},
		{"different data", []variant{{0, nil}, {1, func(s *shardSpec) { s.fingerprint = "fp2" }}, {2, nil}}, nil,
			"S0 and S1 come from different data (fingerprints fp1 and fp2)"},
		{"different conventions", []variant{{0, nil}, {1, func(s *shardSpec) { s.convention = chains.ConventionTempered }}, {2, nil}}, nil,
			"S0 uses the product convention but S1 uses tempered-likelihood"},
		{"prior power", []variant{{0, nil}, {1, func(s *shardSpec) { s.priorPower = 0.5 }}, {2, nil}}, nil,
			"S1 has prior power 0.5 but is one of 3 shards (want 1/3 = 0.3333333333333333)"},
		{"tempered shards", []variant{{0, tempered}, {1, tempered}, {2, tempered}}, nil,
			"the shards use the tempered-likelihood convention, p(θ)·p(x_m | θ)^(N/N_m); every method here multiplies product-form subposteriors, p(θ)^(1/M)·p(x_m | θ), and would give a posterior about √M too narrow"},
		{"mixed metadata", []variant{{0, nil}, {1, func(s *shardSpec) { s.shards = 0 }}, {2, nil}}, nil,
			"S1 has no shard metadata but other inputs have: give only epmc shard files, or only files without shard metadata"},
	}
	for ci, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			sub := filepath.Join(dir, fmt.Sprint(ci))
			os.MkdirAll(sub, 0o755)
			var paths []string
			repl := map[string]string{}
			for i, v := range c.variants {
				s := good
				s.shard = v.shard
				if v.edit != nil {
					v.edit(&s)
				}
				d := filepath.Join(sub, fmt.Sprint(i))
				os.MkdirAll(d, 0o755)
				p := writeShard(t, d, s)
				paths = append(paths, p)
				label := fmt.Sprintf("S%d", v.shard)
				if _, dup := repl[label]; dup {
					label += "b"
				}
				repl[label] = p
			}
			want := c.want
			for _, label := range []string{"S1b", "S0", "S1", "S2"} {
				if p, ok := repl[label]; ok {
					want = strings.ReplaceAll(want, label, p)
				}
			}
			args := append([]string{"combine", "--method", "parametric", "-o", filepath.Join(sub, "out.arrow")}, c.flags...)
			_, stderr, code := cli(t, append(args, paths...)...)
			if code != 1 || stderr != "epmc combine: "+want+"\n" {
				t.Errorf("exit %d\n got: %q\nwant: %q", code, stderr, "epmc combine: "+want+"\n")
			}
			if _, err := os.Stat(filepath.Join(sub, "out.arrow")); err == nil {
				t.Error("an output was written")
			}
		})
	}
}

func tempered(s *shardSpec) { s.convention = chains.ConventionTempered; s.priorPower = 1 }

func TestCombineAllowMissing(t *testing.T) {
	dir := t.TempDir()
	paths := goodShards(t, dir, 3)
	out := filepath.Join(dir, "out.arrow")
	_, stderr, code := cli(t, "combine", "--method", "parametric", "--allow-missing", "-o", out, paths[0], paths[2])
	if code != 0 {
		t.Fatal(stderr)
	}
	if !strings.Contains(stderr, "note: shard 1 of 0..2 missing: the result is the posterior given the other shards' data, with the prior raised to 2/3") {
		t.Errorf("stderr %q", stderr)
	}
	d, err := chains.ReadFile(out)
	if err != nil || math.Abs(d.Meta.PriorPower-2.0/3) > 1e-12 {
		t.Errorf("prior power %v (%v)", d.Meta.PriorPower, err)
	}
}

func TestCombineUsage(t *testing.T) {
	dir := t.TempDir()
	paths := goodShards(t, dir, 2)
	out := filepath.Join(dir, "out.arrow")
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"-o", out, paths[0]}, "--method is required"},
		{[]string{"--method", "magic", "-o", out, paths[0]}, `--method: unknown method "magic"`},
		{[]string{"--method", "consensus", paths[0]}, "-o OUT is required"},
		{[]string{"--method", "consensus", "-o", out}, "no input files"},
		{[]string{"--method", "consensus", "--bandwidth", "0.3", "-o", out, paths[0]}, "--bandwidth applies to the nonparametric and semiparametric methods, not consensus"},
		{[]string{"--method", "nonparametric", "--bandwidth", "wide", "-o", out, paths[0]}, `--bandwidth: bandwidth "wide": want auto, lcv, scott, silverman or a positive number`},
		{[]string{"--method", "nonparametric", "--effective-draws", "0", "-o", out, paths[0]}, "--effective-draws must be at least 1"},
		{[]string{"--method", "nonparametric", "--effective-draws", "many", "-o", out, paths[0]}, `--effective-draws "many": want auto or a non-negative integer`},
		{[]string{"--method", "semiparametric", "--bandwidth", "0.5", "--effective-draws", "100", "-o", out, paths[0]}, "--effective-draws sets the target of --bandwidth auto, not of --bandwidth 0.5"},
		{[]string{"--method", "swiss", "--effective-draws", "100", "-o", out, paths[0]}, "--effective-draws applies to the nonparametric and semiparametric methods, not swiss"},
		{[]string{"--method", "nonparametric", "--thin", "0", "-o", out, paths[0]}, "--thin must be at least 1"},
		{[]string{"--method", "consensus", "--group", "2", "-o", out, paths[0], paths[1], paths[0]}, "--group 2 does not divide the 3 input files"},
		{[]string{"--method", "consensus", "-o", paths[0], paths[0], paths[1]}, "is one of the inputs"},
		{[]string{"--method", "consensus", "--params", "^nothing", "-o", out, paths[0], paths[1]}, `--params "^nothing" matches no parameter`},
	}
	for _, c := range cases {
		_, stderr, code := cli(t, append([]string{"combine"}, c.args...)...)
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("%v: exit %d, %q; want %q", c.args, code, stderr, c.want)
		}
	}
	// --group with files that are not Stan CSV.
	_, stderr, code := cli(t, "combine", "--method", "consensus", "--group", "2", "-o", out, paths[0], paths[1])
	if code != 1 || !strings.Contains(stderr, "--group joins Stan CSV files (one chain each), but this is a Arrow draws file") {
		t.Errorf("group of Arrow files: %d %q", code, stderr)
	}
}

// Stan CSV shards: --group joins each run's chain files into one shard,
// and --params picks the parameters (here leaving out a generated
// quantity).
func TestCombineStanCSV(t *testing.T) {
	dir := t.TempDir()
	r := rng.NewRand(5)
	var paths []string
	for m := range 2 {
		for c := range 2 {
			var b strings.Builder
			b.WriteString("# stan_version_major = 2\nlp__,accept_stat__,mu,sigma,y_rep\n")
			for range 400 {
				mu := 0.2*float64(m) + r.NormFloat64()
				fmt.Fprintf(&b, "%g,0.9,%g,%g,%d\n", -mu*mu/2, mu, math.Exp(0.3*r.NormFloat64()), r.IntN(5))
			}
			p := filepath.Join(dir, fmt.Sprintf("s%d-%d.csv", m, c+1))
			os.WriteFile(p, []byte(b.String()), 0o644)
			paths = append(paths, p)
		}
	}
	out := filepath.Join(dir, "out.arrow")
	_, stderr, code := cli(t, append([]string{"combine", "--method", "consensus", "--group", "2", "--params", "^(mu|sigma)$", "-o", out}, paths...)...)
	if code != 0 {
		t.Fatal(stderr)
	}
	for _, want := range []string{"taking them as shards 0..1 in the order given", "Stan CSV files record no transforms: combining on the constrained scale", "consensus of 2 shards (800 draws each, 2 parameters)"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q: %s", want, stderr)
		}
	}
	d, err := chains.ReadFile(out)
	if err != nil || strings.Join(d.Names, ",") != "mu,sigma" {
		t.Fatalf("output %v %v", d, err)
	}
	var rec struct {
		Inputs []struct{ Files []string } `json:"inputs"`
	}
	json.Unmarshal(d.Meta.Combine, &rec)
	if len(rec.Inputs) != 2 || strings.Join(rec.Inputs[1].Files, " ") != "s1-1.csv s1-2.csv" {
		t.Errorf("inputs %s", d.Meta.Combine)
	}
}

func TestCompareCLIErrors(t *testing.T) {
	dir := t.TempDir()
	a := writeShard(t, dir, shardSpec{shard: 0})
	bdir := filepath.Join(dir, "b")
	os.MkdirAll(bdir, 0o755)
	b := writeShard(t, bdir, shardSpec{shard: 0, names: []string{"mu", "tau"}})
	_, stderr, code := cli(t, "compare", a, b)
	if code != 1 || stderr != fmt.Sprintf("epmc compare: %s and %s have different parameters (only in %s: sigma; only in %s: tau); choose common ones with --params\n", a, b, a, b) {
		t.Errorf("different names: %d %q", code, stderr)
	}
	stdout, stderr, code := cli(t, "compare", "--params", "^mu$", a, b)
	if code != 0 || !strings.Contains(stdout, "mu") {
		t.Errorf("--params: %d %q", code, stderr)
	}
	_, stderr, code = cli(t, "compare", "--params", "^s", a, b)
	if code != 1 || !strings.Contains(stderr, fmt.Sprintf(`--params "^s" selects parameters of %s that %s lacks: sigma`, a, b)) {
		t.Errorf("missing in B: %d %q", code, stderr)
	}
	for _, args := range [][]string{{a}, {"--format", "xml", a, b}, {"--params", "(", a, b}} {
		if _, _, code := cli(t, append([]string{"compare"}, args...)...); code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
	}
}

// --params may select part of a parameter block with an elementwise
// transform: the block is split into scalars that keep the transform.
func TestCombineParamsSplitsBlocks(t *testing.T) {
	dir := t.TempDir()
	var paths []string
	for m := range 2 {
		r := rng.NewRand(uint64(m))
		d := chains.New([]string{"alpha", "beta[1]", "beta[2]"}, 1, 500)
		for i := range 500 {
			d.Values[0][0][i] = r.NormFloat64()
			d.Values[0][1][i] = math.Exp(r.NormFloat64())
			d.Values[0][2][i] = math.Exp(r.NormFloat64())
		}
		d.Meta = chains.Meta{Kind: chains.KindSubposterior, Shard: m, Shards: 2, PriorPower: 0.5, Convention: chains.ConventionProduct,
			Params: []chains.Param{{Name: "alpha"}, {Name: "beta", Shape: []int{2}, Transform: chains.Transform{Kind: chains.Lower}}}}
		p := filepath.Join(dir, fmt.Sprintf("s%d.arrow", m))
		if err := chains.WriteFile(p, d, chains.WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	out := filepath.Join(dir, "out.arrow")
	if _, stderr, code := cli(t, "combine", "--method", "parametric", "--params", `^beta\[2\]$`, "-o", out, paths[0], paths[1]); code != 0 {
		t.Fatal(stderr)
	}
	d, err := chains.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(d.Names, ",") != "beta[2]" || len(d.Meta.Params) != 1 || d.Meta.Params[0].Name != "beta[2]" ||
		d.Meta.Params[0].Transform.Kind != chains.Lower {
		t.Errorf("names %v, params %+v", d.Names, d.Meta.Params)
	}
	for _, v := range d.Pooled(0) {
		if !(v > 0) {
			t.Fatalf("beta[2] = %g: the lower bound was not kept", v)
		}
	}
}
