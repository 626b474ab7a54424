package auxdp

import (
	"testing"
	"time"
)

// BenchmarkCriticalPath estimates the per-iteration time on two dedicated
// cores when the machine is shared and a parallel wall-clock measurement
// means little: it runs the processors' local steps one after another on
// one goroutine, times each, packs them onto two workers by the sampler's
// LPT rule and adds the master's time. cp-ns/point-sweep is that critical
// path divided by N, seq-ns/point-sweep the sequential total; compare them
// across P. (Per-thread CPU clocks would be better but are tick-granular
// on some kernels. On an idle machine BenchmarkIteration is the real
// measure.)
func BenchmarkCriticalPath(b *testing.B) {
	benchBalanced(b, 1, func(b *testing.B, s *sampler, it int) {
		P := len(s.procs)
		var path, cpu time.Duration
		steps := 0
		cost := make([]time.Duration, P)
		for b.Loop() {
			for j, p := range s.procs {
				s.first[j], s.firstK[j] = len(p.points), p.k
			}
			for j, p := range s.procs {
				c0 := time.Now()
				p.local(it, false)
				cost[j] = time.Since(c0)
			}
			// The sampler's packing: LPT on N_j(K_j+1) onto 2 workers.
			var est [2]int
			var work [2]time.Duration
			for _, j := range lptOrder(s) {
				w := 0
				if est[1] < est[0] {
					w = 1
				}
				est[w] += s.first[j] * (s.firstK[j] + 1)
				work[w] += cost[j]
			}
			c0 := time.Now()
			s.gather()
			s.masterSrc.Seed(1, uint64(it))
			s.updateHyper(s.master)
			if s.nproc > 1 {
				s.global(s, s.master)
			}
			s.rebuild()
			m := time.Since(c0)
			path += max(work[0], work[1]) + m
			cpu += work[0] + work[1] + m
			it++
			steps++
		}
		b.ReportMetric(float64(path.Nanoseconds())/float64(steps)/float64(s.n), "cp-ns/point-sweep")
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(steps)/float64(s.n), "seq-ns/point-sweep")
	})
}

// lptOrder lists the processors by decreasing estimated cost, as
// localPhase packs them.
func lptOrder(s *sampler) []int {
	order := make([]int, s.nproc)
	for j := range order {
		order[j] = j
	}
	cost := func(j int) int { return s.first[j] * (s.firstK[j] + 1) }
	for a := 1; a < len(order); a++ {
		for b := a; b > 0 && cost(order[b]) > cost(order[b-1]); b-- {
			order[b], order[b-1] = order[b-1], order[b]
		}
	}
	return order
}
