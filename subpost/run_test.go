package subpost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
)

// normalMean is y_i ~ normal(mu, sigma) with sigma known and a
// normal(0, s0) prior on mu: conjugate, with every constant kept.
type normalMean struct {
	y         []float64
	sigma, s0 float64
}

func (m *normalMean) Dim() int               { return 1 }
func (m *normalMean) Params() []chains.Param { return []chains.Param{{Name: "mu"}} }

func (m *normalMean) LogPrior(theta, grad []float64) float64 {
	mu := theta[0]
	if grad != nil {
		grad[0] = -mu / (m.s0 * m.s0)
	}
	return -0.5*mu*mu/(m.s0*m.s0) - math.Log(m.s0) - 0.5*math.Log(2*math.Pi)
}

func (m *normalMean) LogLik(theta, grad []float64) float64 {
	mu := theta[0]
	s, g := 0.0, 0.0
	for _, y := range m.y {
		r := (y - mu) / m.sigma
		s += -0.5*r*r - math.Log(m.sigma) - 0.5*math.Log(2*math.Pi)
		g += r / m.sigma
	}
	if grad != nil {
		grad[0] = g
	}
	return s
}

// posterior returns the exact mean and variance of mu under the prior
// raised to the power 1/shards.
func (m *normalMean) posterior(shards int) (mean, variance float64) {
	prec := 1/(float64(shards)*m.s0*m.s0) + float64(len(m.y))/(m.sigma*m.sigma)
	sum := 0.0
	for _, y := range m.y {
		sum += y
	}
	return sum / (m.sigma * m.sigma) / prec, 1 / prec
}

// scaleModel has a location and a positive scale (lower-bound transform)
// and reports the scale doubled through Constrainer, to check that Run
// writes what Constrainer says.
type scaleModel struct {
	y       []float64
	doubled bool
}

func (m *scaleModel) Dim() int { return 2 }
func (m *scaleModel) Params() []chains.Param {
	return []chains.Param{{Name: "mu"}, {Name: "sigma", Transform: chains.Transform{Kind: chains.Lower}}}
}

func (m *scaleModel) LogPrior(theta, grad []float64) float64 {
	mu, ls := theta[0], theta[1]
	sigma := math.Exp(ls)
	// normal(0, 10) on mu, half-normal(0, 2) on sigma, plus log|dσ/dθ| = θ.
	if grad != nil {
		grad[0] = -mu / 100
		grad[1] = -sigma*sigma/4 + 1
	}
	return -0.5*mu*mu/100 - 0.5*sigma*sigma/4 + ls
}

func (m *scaleModel) LogLik(theta, grad []float64) float64 {
	mu, ls := theta[0], theta[1]
	sigma := math.Exp(ls)
	s, g0, g1 := 0.0, 0.0, 0.0
	for _, y := range m.y {
		r := (y - mu) / sigma
		s += -0.5*r*r - ls
		g0 += r / sigma
		g1 += r*r - 1
	}
	if grad != nil {
		grad[0], grad[1] = g0, g1
	}
	return s
}

type doubledScale struct{ *scaleModel }

func (m doubledScale) Constrain(x, theta []float64) {
	x[0] = theta[0]
	x[1] = 2 * math.Exp(theta[1])
}

func simulatedNormal(n int, mu, sigma float64, seed uint64) []float64 {
	r := rng.NewRand(seed)
	y := make([]float64, n)
	for i := range y {
		y[i] = mu + sigma*r.NormFloat64()
	}
	return y
}

// TestRunConjugate samples a conjugate normal-mean model as the full
// posterior (M = 1) and as shard 3 of M = 8 (prior precision divided by
// 8), with NUTS and RWM, and compares with the closed form within 4 MCSE.
func TestRunConjugate(t *testing.T) {
	y := simulatedNormal(80, 1.5, 2, 1)
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		shards  int
		sampler string
		draws   int
	}{
		{"nuts-M1", 1, "nuts", 2000},
		{"nuts-M8", 8, "nuts", 2000},
		{"rwm-M8", 8, "rwm", 10000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			shard := y
			if tc.shards > 1 {
				shard = y[30:40] // ten rows: a shard whose prior matters
			}
			m := &normalMean{y: shard, sigma: 2, s0: 1}
			out := filepath.Join(dir, tc.name+".arrow")
			cfg := Config{Shards: tc.shards, Shard: tc.shards - 1, Sampler: tc.sampler, Draws: tc.draws, Seed: 42}
			if err := Run(context.Background(), m, cfg, out); err != nil {
				t.Fatal(err)
			}
			d, err := chains.ReadArrow(out)
			if err != nil {
				t.Fatal(err)
			}
			mean, variance := m.posterior(tc.shards)
			x := d.Series(d.Index("mu"))
			got, se := mcseMean(x)
			if math.Abs(got-mean) > 4*se {
				t.Errorf("mean %.5g, want %.5g ± 4·%.3g", got, mean, se)
			}
			v, vse := mcseMean(squaredDeviations(x, got))
			if math.Abs(v-variance) > 4*vse {
				t.Errorf("variance %.5g, want %.5g ± 4·%.3g", v, variance, vse)
			}
			// lp__ is the log target: recompute it at the draws.
			target := Subposterior(m, tc.shards)
			lp := d.Series(d.Index(chains.LP))
			for c := range x {
				for i := 0; i < len(x[c]); i += 97 {
					if want := target.LogDensity([]float64{x[c][i]}, nil); math.Abs(lp[c][i]-want) > 1e-9*math.Abs(want) {
						t.Fatalf("lp__ = %.12g, log target = %.12g", lp[c][i], want)
					}
				}
			}
		})
	}
}

// TestRunReproducible: the file is the same byte for byte whatever the
// number of threads (with timing left out); with timing the draws are.
func TestRunReproducible(t *testing.T) {
	m := &scaleModel{y: simulatedNormal(50, 3, 0.5, 2)}
	dir := t.TempDir()
	files := map[int][]byte{}
	for _, threads := range []int{1, 3, 8} {
		out := filepath.Join(dir, "t.arrow")
		cfg := Config{Chains: 5, Warmup: 200, Draws: 200, Seed: 9, Threads: threads, OmitTiming: true}
		if err := Run(context.Background(), m, cfg, out); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		files[threads] = b
	}
	if !bytes.Equal(files[1], files[3]) || !bytes.Equal(files[1], files[8]) {
		t.Error("files differ with the number of threads")
	}
	// Timing in the metadata changes the bytes but not the draws.
	out := filepath.Join(dir, "timed.arrow")
	if err := Run(context.Background(), m, Config{Chains: 5, Warmup: 200, Draws: 200, Seed: 9, Threads: 2}, out); err != nil {
		t.Fatal(err)
	}
	a, _ := chains.ReadArrow(out)
	b, _ := chains.ReadArrow(filepath.Join(dir, "t.arrow"))
	for c := range a.Values {
		for v := range a.Values[c] {
			for i, x := range a.Values[c][v] {
				if x != b.Values[c][v][i] {
					t.Fatalf("chain %d %s draw %d: %g vs %g", c+1, a.Names[v], i, x, b.Values[c][v][i])
				}
			}
		}
	}
	// Another seed gives other draws.
	if err := Run(context.Background(), m, Config{Chains: 5, Warmup: 200, Draws: 200, Seed: 10, OmitTiming: true}, out); err != nil {
		t.Fatal(err)
	}
	if other, _ := os.ReadFile(out); bytes.Equal(other, files[1]) {
		t.Error("seeds 9 and 10 gave the same file")
	}
}

// TestRunMetadata checks the columns, the metadata and saved warmup.
func TestRunMetadata(t *testing.T) {
	m := doubledScale{&scaleModel{y: simulatedNormal(40, 0, 3, 3)}}
	dir := t.TempDir()
	for _, tc := range []struct {
		sampler string
		metric  MetricKind
		stats   []string
	}{
		{"nuts", DiagMetric, nutsStatNames},
		{"nuts", DenseMetric, nutsStatNames},
		{"rwm", "", rwmStatNames},
	} {
		out := filepath.Join(dir, tc.sampler+string(tc.metric)+".arrow")
		cfg := Config{
			Chains: 2, Warmup: 300, Draws: 100, Seed: 5, Shards: 4, Shard: 2, Sampler: tc.sampler, Metric: tc.metric,
			SaveWarmup: true, Compression: chains.Zstd,
			Meta: chains.Meta{Model: json.RawMessage(`{"name":"test"}`), DataFingerprint: "sha256:abc", Partition: "hash:seed=1:shards=4"},
		}
		if err := Run(context.Background(), m, cfg, out); err != nil {
			t.Fatal(err)
		}
		d, err := chains.ReadArrow(out)
		if err != nil {
			t.Fatal(err)
		}
		want := append(append([]string(nil), tc.stats...), "mu", "sigma")
		if strings.Join(d.Names, ",") != strings.Join(want, ",") {
			t.Errorf("%s: columns %v, want %v", tc.sampler, d.Names, want)
		}
		if d.Warmup != 300 || d.NumIter() != 100 || d.NumChains() != 2 {
			t.Errorf("%s: warmup %d, iterations %d, chains %d", tc.sampler, d.Warmup, d.NumIter(), d.NumChains())
		}
		mt := d.Meta
		if mt.Kind != chains.KindSubposterior || mt.Shard != 2 || mt.Shards != 4 || mt.PriorPower != 0.25 ||
			mt.Convention != chains.ConventionProduct || mt.Seed == nil || *mt.Seed != 5 ||
			mt.DataFingerprint != "sha256:abc" || mt.Partition != "hash:seed=1:shards=4" || string(mt.Model) != `{"name":"test"}` ||
			len(mt.Params) != 2 || mt.Params[1].Transform.Kind != chains.Lower {
			t.Errorf("%s: metadata %+v", tc.sampler, mt)
		}
		var info SamplerInfo
		if err := json.Unmarshal(mt.Sampler, &info); err != nil {
			t.Fatal(err)
		}
		if info.Name != tc.sampler || info.NumWarmup != 300 || info.NumSamples != 100 || !info.SaveWarmup || len(info.Chains) != 2 {
			t.Errorf("sampler info %+v", info)
		}
		for _, ci := range info.Chains {
			if ci.WarmupSeconds == nil || ci.SamplingSeconds == nil {
				t.Errorf("%s chain %d: no timing", tc.sampler, ci.Chain)
			}
			switch {
			case tc.sampler == "rwm":
				if len(ci.ProposalCov) != 2 {
					t.Errorf("rwm chain %d: proposal covariance %v", ci.Chain, ci.ProposalCov)
				}
			case !(ci.StepSize > 0):
				t.Errorf("chain %d: step size %g", ci.Chain, ci.StepSize)
			case tc.metric == DenseMetric:
				if rows, ok := ci.InvMetric.([]any); !ok || len(rows) != 2 {
					t.Errorf("dense chain %d: inverse metric %v", ci.Chain, ci.InvMetric)
				}
			default:
				if v, ok := ci.InvMetric.([]any); !ok || len(v) != 2 {
					t.Errorf("diag chain %d: inverse metric %v", ci.Chain, ci.InvMetric)
				}
			}
		}
		if tc.sampler == "nuts" && (info.MaxDepth != 10 || info.AdaptDelta != 0.8 || info.Metric != tc.metric) {
			t.Errorf("nuts settings %+v", info)
		}
		// The reported scale is the Constrainer's (doubled), hence > 0
		// and, for these data (sd 3), near 6.
		s := d.Pooled(d.Index("sigma"))
		if mean := chainsMean([][]float64{s}); mean < 4 || mean > 9 {
			t.Errorf("%s: mean reported sigma %g, want ≈ 6", tc.sampler, mean)
		}
		// The NUTS stepsize column after warmup is the adapted step size.
		if tc.sampler == "nuts" {
			eps := d.Series(d.Index(chains.StepSize))
			for c, e := range eps {
				if e[0] != info.Chains[c].StepSize {
					t.Errorf("chain %d: stepsize__ %g, metadata %g", c+1, e[0], info.Chains[c].StepSize)
				}
			}
		}
	}
	// One shard: the full posterior.
	out := filepath.Join(dir, "full.arrow")
	if err := Run(context.Background(), m, Config{Chains: 1, Warmup: 50, Draws: 10}, out); err != nil {
		t.Fatal(err)
	}
	if d, _ := chains.ReadArrow(out); d.Meta.Kind != chains.KindFull || d.Meta.PriorPower != 1 || d.Meta.Shards != 1 {
		t.Errorf("full posterior metadata %+v", d.Meta)
	}
}

// blocked is a model whose log density waits on a channel, so a test can
// cancel a run while it is sampling.
type blocked struct {
	normalMean
	calls chan struct{}
}

func (m *blocked) LogLik(theta, grad []float64) float64 {
	select {
	case m.calls <- struct{}{}:
	default:
	}
	time.Sleep(10 * time.Microsecond)
	return m.normalMean.LogLik(theta, grad)
}

// TestRunCancel: cancelling the context stops every chain and leaves
// nothing in the output directory.
func TestRunCancel(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "x.arrow")
	m := &blocked{normalMean: normalMean{y: []float64{1, 2}, sigma: 1, s0: 1}, calls: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- Run(ctx, m, Config{Warmup: 100000, Draws: 100000}, out) }()
	for range 100 {
		<-m.calls
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v, want context.Canceled", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("left behind: %v", entries)
	}
}

// minusInf has no point of finite density.
type minusInf struct{ normalMean }

func (m *minusInf) LogLik(theta, grad []float64) float64 { return math.Inf(-1) }

func TestRunErrors(t *testing.T) {
	dir := t.TempDir()
	m := &normalMean{y: []float64{1}, sigma: 1, s0: 1}
	for _, tc := range []struct {
		name  string
		model Model
		cfg   Config
		want  string
	}{
		{"shard too large", m, Config{Shards: 2, Shard: 2}, "shard 2 is outside 0..1"},
		{"negative shard", m, Config{Shard: -1}, "shard -1"},
		{"sampler", m, Config{Sampler: "hmc"}, `unknown sampler "hmc"`},
		{"metric", m, Config{Metric: "full"}, `unknown metric "full"`},
		{"adapt delta", m, Config{AdaptDelta: 1}, "adapt delta"},
		{"max depth", m, Config{MaxDepth: -3}, "max depth"},
		{"chains", m, Config{Chains: -1}, "chains"},
		{"init", &minusInf{*m}, Config{Chains: 2, Warmup: 10, Draws: 10}, "initialisation between (-2, 2) failed after 100 attempts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(dir, "bad.arrow")
			err := Run(context.Background(), tc.model, tc.cfg, out)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to mention %q", err, tc.want)
			}
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("left behind: %v", entries)
			}
		})
	}
}
