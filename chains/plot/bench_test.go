package plot

import (
	"io"
	"testing"
)

// The benchmarks draw 16 parameters from 8 files of 4 chains × 1000 draws.
// benchSets has 6 subposteriors, one combined set and a reference (the
// usual figure); benchShards has 8 subposteriors and nothing else, the
// worst case for Pairs, which then contours every set.
var (
	benchSets   = synth{d: 16, shards: 6, chains: 4, iters: 1000, seed: 5, methods: []string{"consensus"}, ref: true}
	benchShards = synth{d: 16, shards: 8, chains: 4, iters: 1000, seed: 5}
)

func benchFigure(b *testing.B, s synth, f func(io.Writer, []Set, Options) error) {
	sets := s.sets()
	if len(sets) != 8 {
		b.Fatalf("%d files, want 8", len(sets))
	}
	cpu0 := cpuTime()
	for b.Loop() {
		if err := f(io.Discard, sets, Options{}); err != nil {
			b.Fatal(err)
		}
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	}
}

func BenchmarkMarginals(b *testing.B)          { benchFigure(b, benchSets, Marginals) }
func BenchmarkPairs(b *testing.B)              { benchFigure(b, benchSets, Pairs) }
func BenchmarkPairsSubposteriors(b *testing.B) { benchFigure(b, benchShards, Pairs) }
