package chains_test

import (
	"fmt"
	"math/rand/v2"
	"os"

	"github.com/epmc/epmc/chains"
)

// arChains returns m chains of n draws of an AR(1) process with
// coefficient phi, shifted by shift[c] in chain c when shift is given.
func arChains(seed uint64, m, n int, phi float64, shift []float64) [][]float64 {
	rnd := rand.New(rand.NewPCG(seed, 1))
	x := make([][]float64, m)
	for c := range x {
		x[c] = make([]float64, n)
		v := 0.0
		for i := range x[c] {
			v = phi*v + rnd.NormFloat64()
			x[c][i] = v
			if shift != nil {
				x[c][i] += shift[c]
			}
		}
	}
	return x
}

func ExampleEssBulk() {
	// Four chains of 1000 draws of an AR(1) process with coefficient 0.9:
	// in theory 4000·(1 − 0.9)/(1 + 0.9) ≈ 210 independent draws, and an
	// estimate from this much autocorrelated output is itself noisy.
	x := arChains(1, 4, 1000, 0.9, nil)
	fmt.Printf("bulk-ESS %.0f, tail-ESS %.0f\n", chains.EssBulk(x), chains.EssTail(x))
	// Output:
	// bulk-ESS 291, tail-ESS 527
}

func ExampleRhat() {
	// Chains that agree give R-hat near 1; a chain stuck elsewhere does not.
	good := arChains(2, 4, 500, 0.5, nil)
	bad := arChains(2, 4, 500, 0.5, []float64{0, 0, 0, 2})
	fmt.Printf("mixed %.3f, one chain off %.2f\n", chains.Rhat(good), chains.Rhat(bad))
	// Output:
	// mixed 1.002, one chain off 1.23
}

func ExampleDiagnostics() {
	// A Diagnostics shares the sort, the ranks and the autocovariances
	// between the measures of one variable, and its buffers between
	// variables.
	var g chains.Diagnostics
	for _, phi := range []float64{0, 0.5, 0.9} {
		g.Reset(arChains(3, 4, 1000, phi, nil))
		fmt.Printf("phi %.1f: rhat %.3f ess_bulk %4.0f mcse_mean %.3f mcse_q5 %.3f\n",
			phi, g.Rhat(), g.EssBulk(), g.McseMean(), g.McseQuantile(0.05))
	}
	// Output:
	// phi 0.0: rhat 1.001 ess_bulk 4041 mcse_mean 0.016 mcse_q5 0.040
	// phi 0.5: rhat 1.000 ess_bulk 1440 mcse_mean 0.030 mcse_q5 0.050
	// phi 0.9: rhat 1.009 ess_bulk  208 mcse_mean 0.157 mcse_q5 0.304
}

func ExampleSummarise() {
	d := chains.New([]string{"lp__", "mu", "sigma"}, 4, 1000)
	for c := range 4 {
		mu := arChains(uint64(10+c), 1, 1000, 0.6, nil)[0]
		sigma := arChains(uint64(20+c), 1, 1000, 0.3, nil)[0]
		for i := range 1000 {
			d.Values[c][1][i] = 1 + 0.1*mu[i]
			d.Values[c][2][i] = 2 + 0.05*sigma[i]
			d.Values[c][0][i] = -(mu[i]*mu[i] + sigma[i]*sigma[i]) / 2
		}
	}
	rows, err := chains.Summarise(d, chains.SummaryOptions{Probs: []float64{0.05, 0.5, 0.95}})
	if err != nil {
		fmt.Println(err)
		return
	}
	chains.WriteSummaryTable(os.Stdout, rows, []float64{0.05, 0.5, 0.95}, chains.TableOptions{NoFooter: true})
	// Output:
	//        Mean    MCSE  StdDev    MAD    5%    50%     95%  ESS_bulk  ESS_tail  R_hat
	// lp__   -1.3   0.031     1.4   0.93  -4.0  -0.89  -0.067      2316      2728   1.00
	//
	// mu      1.0  0.0040    0.12   0.12  0.80    1.0     1.2       980      1668   1.01
	// sigma   2.0  0.0011   0.053  0.053   1.9    2.0     2.1      2384      3188   1.00
}
