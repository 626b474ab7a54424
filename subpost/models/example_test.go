package models_test

import (
	"fmt"
	"log"
	"math"
	"os"
	"path/filepath"

	"github.com/epmc/epmc/chains"
	"github.com/epmc/epmc/rng"
	"github.com/epmc/epmc/subpost"
	"github.com/epmc/epmc/subpost/data"
	"github.com/epmc/epmc/subpost/models"
)

// waiting is a user's own model of exponential waiting times t_i with an
// unknown rate λ > 0 and a Gamma(2, 1) prior: λ is sampled as θ = log λ
// (Stan's lower-bound transform), so LogPrior adds the log Jacobian θ.
// Densities are fully normalised, so lp__ means the same as for the
// built-in models.
type waiting struct{ t []float64 }

func (m *waiting) Dim() int { return 1 }

func (m *waiting) Params() []chains.Param {
	return []chains.Param{{Name: "lambda", Transform: chains.Transform{Kind: chains.Lower}}}
}

// LogPrior: log Gamma(λ | 2, 1) + θ = log λ − λ + θ (Γ(2) = 1).
func (m *waiting) LogPrior(theta, grad []float64) float64 {
	lambda := math.Exp(theta[0])
	if grad != nil {
		grad[0] = 2 - lambda
	}
	return 2*theta[0] - lambda
}

// LogLik: Σ log(λ e^{−λ t_i}) = n·θ − λ·Σt_i.
func (m *waiting) LogLik(theta, grad []float64) float64 {
	lambda := math.Exp(theta[0])
	sum := 0.0
	for _, t := range m.t {
		sum += t
	}
	n := float64(len(m.t))
	if grad != nil {
		grad[0] = n - lambda*sum
	}
	return n*theta[0] - lambda*sum
}

// Plug your own Go model into the sharded workflow: load the data with
// data.Load, take this process's rows from a data.Partition (the same
// computation epmc sample does, so every process agrees), and build the
// model of those rows. subpost.Subposterior then gives the target a sampler
// draws from (subpost.Run samples it and writes the draws file). The
// product of the M subposteriors is the full posterior: their log
// densities add up to the full one.
func Example_ownModel() {
	dir, _ := os.MkdirTemp("", "own-model")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "waits.csv")
	r := rng.NewRand(1)
	waits := &data.Table{Names: []string{"wait"}, Cols: [][]float64{make([]float64, 100)}}
	for i := range waits.Cols[0] {
		waits.Cols[0][i] = r.ExpFloat64() / 3 // true rate 3
	}
	if err := data.WriteFile(path, waits, data.CSV); err != nil {
		log.Fatal(err)
	}

	full, err := data.Load(path, []string{"wait"})
	if err != nil {
		log.Fatal(err)
	}
	const shards = 4
	p := data.Partition{Scheme: data.Hash, Seed: 1, Shards: shards}
	theta := []float64{math.Log(2.5)}
	sum := 0.0
	for m := 0; m < shards; m++ {
		shard := full.Subset(p.Rows(full.NumRows(), m))
		model := &waiting{t: shard.Cols[0]}
		sum += subpost.Subposterior(model, shards).LogDensity(theta, nil)
		fmt.Printf("shard %d: %d rows\n", m, shard.NumRows())
	}
	whole := subpost.Subposterior(&waiting{t: full.Cols[0]}, 1).LogDensity(theta, nil)
	fmt.Printf("Σ shard log densities %.6f, full posterior %.6f\n", sum, whole)
	fmt.Println("fingerprint:", data.Fingerprint(full, p)[:15]+"…")
	// Output:
	// shard 0: 25 rows
	// shard 1: 25 rows
	// shard 2: 25 rows
	// shard 3: 25 rows
	// Σ shard log densities 18.348884, full posterior 18.348884
	// fingerprint: sha256:55a54910…
}

// Build the built-in logistic regression of shard 0 of 4 of a simulated
// data set; the spec is what epmc sample records as the model metadata.
func ExampleBuild() {
	tab, truth, err := models.Simulate("logistic", models.SimConfig{N: 1000, D: 2, Seed: 7})
	if err != nil {
		log.Fatal(err)
	}
	opts := models.Options{X: []string{"x1", "x2"}, Standardize: true}
	cols, _ := models.Columns("logistic", opts)
	fmt.Println("columns:", cols)
	rows := data.Partition{Seed: 1, Shards: 4}.Rows(tab.NumRows(), 0)
	_, _, err = models.Build("logistic", tab.Subset(nil), nil, opts)
	fmt.Println("empty shard:", err)
	m, spec, err := models.Build("logistic", tab, rows, opts)
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range m.Params() {
		fmt.Println(p.Name, p.ScalarNames())
	}
	fmt.Printf("%.100s…\n", spec)
	fmt.Println("truth:", truth.Names)
	// Output:
	// columns: [y x1 x2]
	// empty shard: data: the shard has no rows (use fewer shards)
	// alpha [alpha]
	// beta [beta[1] beta[2]]
	// {"model":"logistic","y":["y"],"x":["x1","x2"],"intercept":true,"priors":{"alpha":"normal(0, 5)","bet…
	// truth: [alpha beta[1] beta[2]]
}
