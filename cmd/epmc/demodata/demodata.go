// Package demodata holds the data set that epmc demo runs on, embedded in
// the binary so that the demo needs no files.
//
// Logistic.csv is a logistic regression with N = 20000 rows, an intercept
// and two correlated standard-normal predictors, made by
//
//	models.Simulate("logistic", demodata.Config)
//
// and written with data.Table.WriteCSV: alpha = 0.5 and beta_j drawn from
// normal(0, 2/√2) by the generator's root seed, corr(x1, x2) = 0.3, values
// rounded to 3 decimals. TestLogisticCSV regenerates the file and checks
// that it is byte-identical (go test ./cmd/epmc/demodata -update rewrites
// it).
package demodata

import (
	_ "embed"

	"github.com/epmc/epmc/subpost/models"
)

// Model is the model the data were simulated from and the demo fits.
const Model = "logistic"

// Config is the generator's configuration.
var Config = models.SimConfig{N: 20000, D: 2, Rho: 0.3, Seed: 1, Digits: 3}

// Predictors are the predictor columns of LogisticCSV; the response is y.
var Predictors = []string{"x1", "x2"}

// LogisticCSV is the data set: a header y,x1,x2 and Config.N rows.
//
//go:embed logistic.csv
var LogisticCSV []byte
