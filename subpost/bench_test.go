package subpost

import (
	"runtime"
	"testing"
	"time"

	"github.com/epmc/epmc/rng"
)

// BenchmarkNUTSTransition measures a NUTS transition on a cheap target
// (iid standard normal, d = 10 and 100, step size giving trees of depth
// 3–4) and reports the sampler's own cost per leapfrog step: the time per
// step minus the time of the log density and gradient alone.
func BenchmarkNUTSTransition(b *testing.B) {
	for _, d := range []int{10, 100} {
		for _, kind := range []MetricKind{DiagMetric, DenseMetric} {
			b.Run(string(kind)+"-d"+itoa(d), func(b *testing.B) {
				target := isoNormal{d}
				s := NewNUTS(target, kind, rng.NewRand(1))
				x := make([]float64, d)
				if err := s.SetPosition(x); err != nil {
					b.Fatal(err)
				}
				s.StepSize = 0.5
				// CPU time of this thread as well as wall time: on a
				// shared machine the CPU figures are the stable ones.
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				leapfrogs := 0
				b.ReportAllocs()
				start := time.Now()
				cpu0, _ := threadCPU()
				for b.Loop() {
					leapfrogs += s.Transition().NumLeapfrog
				}
				cpu1, _ := threadCPU()
				perStep := float64(time.Since(start).Nanoseconds()) / float64(leapfrogs)
				perStepCPU := float64((cpu1 - cpu0).Nanoseconds()) / float64(leapfrogs)
				g := make([]float64, d)
				const n = 200000
				t0 := time.Now()
				c0, _ := threadCPU()
				for range n {
					target.LogDensity(x, g)
				}
				c1, _ := threadCPU()
				perGrad := float64(time.Since(t0).Nanoseconds()) / n
				perGradCPU := float64((c1 - c0).Nanoseconds()) / n
				b.ReportMetric(float64(leapfrogs)/float64(b.N), "leapfrogs/op")
				b.ReportMetric(perStep, "ns/leapfrog")
				b.ReportMetric(perStep-perGrad, "ns/leapfrog-overhead")
				b.ReportMetric(perStepCPU-perGradCPU, "cpu-ns/leapfrog-overhead")
			})
		}
	}
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	for ; n > 0; n /= 10 {
		s = string(rune('0'+n%10)) + s
	}
	return s
}
