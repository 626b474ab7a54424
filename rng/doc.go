// Package rng derives independent, reproducible random streams from one
// root seed.
//
// Every chain, shard, worker and particle block in epmc draws from its own
// stream, identified by a path of small integers (for example shard, chain).
// Streams depend only on the seed and the path, never on scheduling, so the
// same inputs give bit-identical results for any number of goroutines.
package rng
