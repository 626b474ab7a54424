package data

import (
	"cmp"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/epmc/epmc/rng"
)

// Partition schemes.
const (
	// Hash deals the rows, in a pseudo-random order fixed by the seed, to
	// the shards in turn: shards are balanced (sizes differ by at most one)
	// and every shard is a random sample of the rows, whatever order the
	// file is in.
	Hash = "hash"
	// Block gives each shard a contiguous run of rows; sizes differ by at
	// most one. Use it when the file's order matters (or is already random).
	Block = "block"
)

// Partition assigns rows to shards deterministically, so every process
// computes the same partition from the number of rows alone.
//
// The hash scheme orders the rows by the key
//
//	h(i) = splitmix64(splitmix64(seed) XOR splitmix64(i)),
//
// i the 0-based row index and splitmix64 the finaliser of Steele, Lea &
// Flood's SplitMix64 generator, rng.SplitMix64 (ties, which do not happen
// in practice, by row index), and deals them to shards 0, 1, …, M−1, 0, 1, … in that order:
// row i goes to shard rank(i) mod M. The rule is easy to reproduce in any
// language. The block scheme gives shard m the rows ⌊m·n/M⌋ … ⌊(m+1)·n/M⌋−1.
type Partition struct {
	Scheme string // "hash" (default when empty) or "block"
	Seed   uint64 // hash seed (the --partition-seed flag); ignored by block
	Shards int
}

func (p Partition) scheme() string {
	if p.Scheme == "" {
		return Hash
	}
	return p.Scheme
}

// DefaultPartitionSeed is the default of the --partition-seed flag of
// epmc sample and epmc split, which must agree so that split files hold
// the rows a shard samples.
const DefaultPartitionSeed = 1

// AddFlags declares --partition (the scheme, default hash) and
// --partition-seed (default DefaultPartitionSeed, unless p.Seed is set)
// on fs, bound to p, so that every command that partitions data (epmc
// sample, epmc split) has the same flags and defaults. The caller sets
// Shards.
func (p *Partition) AddFlags(fs *flag.FlagSet) {
	if p.Scheme == "" {
		p.Scheme = Hash
	}
	if p.Seed == 0 {
		p.Seed = DefaultPartitionSeed
	}
	fs.StringVar(&p.Scheme, "partition", p.Scheme, "partition `scheme`: hash (balanced pseudo-random rows) or block (contiguous rows)")
	fs.Uint64Var(&p.Seed, "partition-seed", p.Seed, "`seed` of the hash partition (every shard must use the same)")
}

// Validate reports an unknown scheme or a shard count below 1.
func (p Partition) Validate() error {
	switch p.scheme() {
	case Hash, Block:
	default:
		return fmt.Errorf("unknown partition scheme %q (want hash or block)", p.Scheme)
	}
	if p.Shards < 1 {
		return fmt.Errorf("the number of shards must be at least 1, have %d", p.Shards)
	}
	return nil
}

// String returns the spec recorded in metadata: "hash:seed=1:shards=8" or
// "block:shards=8". ParsePartition reads it back.
func (p Partition) String() string {
	if p.scheme() == Block {
		return fmt.Sprintf("block:shards=%d", p.Shards)
	}
	return fmt.Sprintf("%s:seed=%d:shards=%d", p.scheme(), p.Seed, p.Shards)
}

// ParsePartition parses a spec written by Partition.String.
func ParsePartition(spec string) (Partition, error) {
	parts := strings.Split(spec, ":")
	p := Partition{Scheme: parts[0]}
	for _, kv := range parts[1:] {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return Partition{}, fmt.Errorf("partition spec %q: %q is not key=value", spec, kv)
		}
		var err error
		switch k {
		case "seed":
			p.Seed, err = strconv.ParseUint(v, 10, 64)
		case "shards":
			p.Shards, err = strconv.Atoi(v)
		default:
			return Partition{}, fmt.Errorf("partition spec %q: unknown key %q", spec, k)
		}
		if err != nil {
			return Partition{}, fmt.Errorf("partition spec %q: bad %s: %w", spec, k, err)
		}
	}
	if err := p.Validate(); err != nil {
		return Partition{}, fmt.Errorf("partition spec %q: %w", spec, err)
	}
	return p, nil
}

// Rows returns the ascending row indices of shard (0-based) among n rows.
// It panics if the partition is invalid or shard is out of range: callers
// check those first.
func (p Partition) Rows(n, shard int) []int {
	p.mustValidate(shard)
	if p.scheme() == Block {
		lo, hi := blockBounds(n, p.Shards, shard)
		return seqFrom(lo, hi)
	}
	order := p.hashOrder(n)
	rows := make([]int, 0, n/p.Shards+1)
	for r := shard; r < n; r += p.Shards {
		rows = append(rows, int(order[r]))
	}
	slices.Sort(rows)
	return rows
}

// Assign returns the shard of each of n rows, for callers that need every
// shard at once (splitting a file): Assign(n)[i] = m exactly when i is in
// Rows(n, m).
func (p Partition) Assign(n int) []int32 {
	p.mustValidate(0)
	shard := make([]int32, n)
	if p.scheme() == Block {
		for m := 0; m < p.Shards; m++ {
			lo, hi := blockBounds(n, p.Shards, m)
			for i := lo; i < hi; i++ {
				shard[i] = int32(m)
			}
		}
		return shard
	}
	for r, i := range p.hashOrder(n) {
		shard[i] = int32(r % p.Shards)
	}
	return shard
}

// Sizes returns the number of rows of each shard among n rows.
func (p Partition) Sizes(n int) []int {
	p.mustValidate(0)
	sizes := make([]int, p.Shards)
	for m := range sizes {
		if p.scheme() == Block {
			lo, hi := blockBounds(n, p.Shards, m)
			sizes[m] = hi - lo
		} else {
			sizes[m] = (n - m + p.Shards - 1) / p.Shards
		}
	}
	return sizes
}

func (p Partition) mustValidate(shard int) {
	if err := p.Validate(); err != nil {
		panic("data: " + err.Error())
	}
	if shard < 0 || shard >= p.Shards {
		panic(fmt.Sprintf("data: shard %d out of range [0, %d)", shard, p.Shards))
	}
}

func blockBounds(n, shards, m int) (lo, hi int) {
	// In uint64, n·(m+1) cannot overflow for any table that fits in memory.
	lo = int(uint64(n) * uint64(m) / uint64(shards))
	hi = int(uint64(n) * uint64(m+1) / uint64(shards))
	return lo, hi
}

func seqFrom(lo, hi int) []int {
	s := make([]int, hi-lo)
	for i := range s {
		s[i] = lo + i
	}
	return s
}

// hashOrder returns the row indices 0…n−1 sorted by their hash keys.
func (p Partition) hashOrder(n int) []uint32 {
	if n > math.MaxUint32 {
		panic("data: too many rows to partition")
	}
	type keyed struct {
		key uint64
		row uint32
	}
	k := rng.SplitMix64(p.Seed)
	rows := make([]keyed, n)
	for i := range rows {
		rows[i] = keyed{rng.SplitMix64(k ^ rng.SplitMix64(uint64(i))), uint32(i)}
	}
	slices.SortFunc(rows, func(a, b keyed) int {
		if c := cmp.Compare(a.key, b.key); c != 0 {
			return c
		}
		return cmp.Compare(a.row, b.row)
	})
	order := make([]uint32, n)
	for r, kr := range rows {
		order[r] = kr.row
	}
	return order
}

// Fingerprint identifies the data a shard was sampled from: the SHA-256,
// as "sha256:<hex>", of the table's column names and values (float64 bits,
// little-endian) and the partition spec. Shards of the same file, columns
// and partition have equal fingerprints; anything else differs.
func Fingerprint(t *Table, p Partition) string {
	h := sha256.New()
	var buf [8]byte
	word := func(v uint64) {
		binary.LittleEndian.PutUint64(buf[:], v)
		h.Write(buf[:])
	}
	str := func(s string) {
		word(uint64(len(s)))
		h.Write([]byte(s))
	}
	str("epmc-data-v1")
	word(uint64(len(t.Names)))
	word(uint64(t.NumRows()))
	block := make([]byte, 0, 8<<10)
	for j, name := range t.Names {
		str(name)
		for _, v := range t.Cols[j] {
			block = binary.LittleEndian.AppendUint64(block, math.Float64bits(v))
			if len(block) == cap(block) {
				h.Write(block)
				block = block[:0]
			}
		}
		h.Write(block)
		block = block[:0]
	}
	str(p.String())
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}
