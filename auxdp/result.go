package auxdp

import (
	"cmp"
	"errors"
	"slices"
)

// Draw is one saved state of the partition.
type Draw struct {
	Iteration int
	K         int
	Alpha     float64 // α (DP) or θ (PY)
	Discount  float64
	LogJoint  float64
	// Labels are the clusters of the points, 1..K in order of first
	// appearance (the canonical form of a set partition).
	Labels []int32
}

// Result is the outcome of Run: the per-iteration trace, the saved draws
// and the bound data, for summaries and prediction.
type Result struct {
	Config Config // with defaults filled in
	N, Dim int
	Trace  []IterStats
	Draws  []Draw
	fam    family
}

// Last returns the last saved draw (the last iteration is always saved).
func (r *Result) Last() *Draw { return &r.Draws[len(r.Draws)-1] }

// ClusterSummary describes one cluster of the last saved state.
type ClusterSummary struct {
	Label int // 1 = largest; the labels of PointLabels' last column
	Size  int
	// Weight is the posterior mean of the cluster's mixture weight given
	// the state, (n − d)/(N + α).
	Weight float64
	// Mean is the posterior mean of the component mean (Gaussian
	// likelihoods) or of the category probabilities (multinomial).
	Mean []float64
	// Cov is the posterior mean of the component covariance, d×d
	// row-major (diagonal for DiagNormalGamma); nil for the multinomial.
	Cov []float64
}

// Summary describes the last saved state.
type Summary struct {
	Iteration int
	K         int
	Alpha     float64
	Discount  float64
	LogJoint  float64
	// NewWeight is the predictive probability mass of a new cluster,
	// (α + d·K)/(N + α).
	NewWeight float64
	Clusters  []ClusterSummary // largest first
	// MeanMaxShare is the average over post-burn-in iterations of the
	// busiest processor's share of the points; 1/MeanMaxShare bounds the
	// speed-up of the local step.
	MeanMaxShare float64
}

// order returns, for the labels of a draw (1..K), the sizes and the rank of
// every label when clusters are sorted by size, largest first (ties by
// first appearance): rank[l] is the 1-based position of label l.
func order(labels []int32, k int) (sizes []int, rank []int) {
	sizes = make([]int, k+1)
	for _, l := range labels {
		sizes[l]++
	}
	byRank := make([]int, k)
	for i := range byRank {
		byRank[i] = i + 1
	}
	slices.SortStableFunc(byRank, func(a, b int) int { return cmp.Compare(sizes[b], sizes[a]) })
	rank = make([]int, k+1)
	for r, l := range byRank {
		rank[l] = r + 1
	}
	return sizes, rank
}

// Summary summarises the last saved state: cluster sizes, weights and
// posterior mean parameters given the state.
func (r *Result) Summary() Summary {
	last := r.Last()
	sizes, rank := order(last.Labels, last.K)
	sts := make([]stats, last.K+1)
	for l := 1; l <= last.K; l++ {
		sts[l] = r.fam.newStats()
	}
	for i, l := range last.Labels {
		sts[l].add(i)
	}
	den := float64(r.N) + last.Alpha
	sum := Summary{
		Iteration: last.Iteration, K: last.K, Alpha: last.Alpha, Discount: last.Discount, LogJoint: last.LogJoint,
		NewWeight: (last.Alpha + last.Discount*float64(last.K)) / den,
		Clusters:  make([]ClusterSummary, last.K),
	}
	for l := 1; l <= last.K; l++ {
		mean, cov := r.fam.params(sts[l])
		sum.Clusters[rank[l]-1] = ClusterSummary{
			Label: rank[l], Size: sizes[l], Weight: (float64(sizes[l]) - last.Discount) / den,
			Mean: mean, Cov: cov,
		}
	}
	var share float64
	var m int
	for _, t := range r.Trace {
		if t.Iteration > r.Config.Burn {
			share += t.MaxShare
			m++
		}
	}
	if m > 0 {
		sum.MeanMaxShare = share / float64(m)
	}
	return sum
}

// relabel maps every saved draw's clusters onto the last state's clusters:
// maps[s][k] is the size rank (1 = largest) of the last-state cluster that
// shares the most points with cluster k of draw s (ties: the larger
// last-state cluster). Naming each draw's clusters after a fixed reference
// partition makes cluster identities comparable across draws, which raw
// labels are not (label switching); the last state is the reference
// because it is the state the summary and the "last" labels describe.
func (r *Result) relabel() (maps [][]int32, lastRank []int32) {
	last := r.Last()
	_, rank := order(last.Labels, last.K)
	lastRank = make([]int32, r.N)
	for i, l := range last.Labels {
		lastRank[i] = int32(rank[l])
	}
	kl := last.K
	maps = make([][]int32, len(r.Draws))
	var tab []int32
	for s, dr := range r.Draws {
		ks := dr.K
		tab = slices.Grow(tab[:0], (ks+1)*(kl+1))[:(ks+1)*(kl+1)]
		clear(tab)
		for i, l := range dr.Labels {
			tab[int(l)*(kl+1)+int(lastRank[i])]++
		}
		m := make([]int32, ks+1)
		for k := 1; k <= ks; k++ {
			row := tab[k*(kl+1) : (k+1)*(kl+1)]
			best := 1
			for c := 2; c <= kl; c++ {
				if row[c] > row[best] {
					best = c
				}
			}
			m[k] = int32(best)
		}
		maps[s] = m
	}
	return maps, lastRank
}

// PointLabels returns, for every point, its cluster in the last saved state
// (1 = largest cluster, as in Summary), its most probable cluster over all
// saved draws, and the posterior probability of that cluster. Each draw's
// clusters are first renamed after the last-state cluster they share the
// most points with, so that "cluster 3" means the same group of points in
// every draw whatever labels the sampler used; the most probable cluster
// is then the name a point receives most often, and its probability is
// the fraction of draws giving that name.
func (r *Result) PointLabels() (last, mode []int, prob []float64) {
	maps, lastRank := r.relabel()
	k := r.Last().K
	last = make([]int, r.N)
	mode = make([]int, r.N)
	prob = make([]float64, r.N)
	votes := make([]int, k+1)
	for i := range r.N {
		last[i] = int(lastRank[i])
		best := 0
		for s, dr := range r.Draws {
			c := maps[s][dr.Labels[i]]
			votes[c]++
			if votes[c] > votes[best] || (votes[c] == votes[best] && int(c) < best) {
				best = int(c)
			}
		}
		mode[i] = best
		prob[i] = float64(votes[best]) / float64(len(r.Draws))
		for s, dr := range r.Draws {
			votes[maps[s][dr.Labels[i]]] = 0
		}
	}
	return last, mode, prob
}

// errNoDraws is returned by methods that need saved draws.
var errNoDraws = errors.New("no saved draws")
