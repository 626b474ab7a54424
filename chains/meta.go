package chains

import (
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/epmc/epmc"
)

// FormatVersion is the version of the draws-file format written by this
// package. Readers accept files of this version or older.
const FormatVersion = 1

// Kind says what a draws file holds.
type Kind string

const (
	KindSubposterior Kind = "subposterior" // one shard's subposterior
	KindFull         Kind = "full"         // the full-data posterior
	KindCombined     Kind = "combined"     // the output of a combination method
	KindStan         Kind = "stan"         // read from Stan CSV output
	KindDraws        Kind = "draws"        // draws of unknown provenance
)

// Convention says how a shard's target splits the full posterior.
type Convention string

const (
	// ConventionProduct: p_m(θ) ∝ p(θ)^{1/M} p(x_m | θ), so the full
	// posterior is the product of the subposteriors.
	ConventionProduct Convention = "product"
	// ConventionTempered: p_m(θ) ∝ p(θ) p(x_m | θ)^{N/N_m}; combined by
	// barycentres, not products.
	ConventionTempered Convention = "tempered-likelihood"
)

// Meta is the typed metadata of a draws file.
type Meta struct {
	Kind Kind
	// Shard is the 0-based shard index, meaningful when Shards > 0.
	Shard  int
	Shards int
	// PriorPower is the power of the prior in the sampled target (1/M for
	// product-form shards, 1 for the full posterior); 0 when unknown.
	PriorPower float64
	Convention Convention
	// Model, Sampler and Combine are JSON objects whose content belongs to
	// the producer: the model and its priors, data columns and
	// standardisation; sampler settings and adapted step size and metric;
	// combination method, settings and acceptance rates.
	Model   json.RawMessage
	Sampler json.RawMessage
	Combine json.RawMessage
	// DataFingerprint identifies the data and the partition; shards of
	// different data must not be combined.
	DataFingerprint string
	Partition       string
	Seed            *uint64
	// Params records each parameter block's shape and transform.
	Params  []Param
	Version string
	// Extra holds any other epmc.* keys found in a file, without the prefix.
	Extra map[string]string
}

const metaPrefix = "epmc."

// Schema metadata keys, without the "epmc." prefix.
const (
	keyFormat      = "format_version"
	keyKind        = "kind"
	keyShard       = "shard"
	keyShards      = "shards"
	keyPriorPower  = "prior_power"
	keyConvention  = "convention"
	keyModel       = "model"
	keySampler     = "sampler"
	keyCombine     = "combine"
	keyFingerprint = "data_fingerprint"
	keyPartition   = "partition"
	keySeed        = "seed"
	keyParams      = "params"
	keyVersion     = "version"
	keyWarmup      = "saved_warmup"
)

// encodeMeta returns the schema metadata of a file holding draws with this
// metadata and warmup count, keys sorted.
func encodeMeta(m Meta, warmup int) (keys, values []string) {
	kv := map[string]string{
		keyFormat: strconv.Itoa(FormatVersion),
	}
	for k, v := range m.Extra {
		kv[k] = v
	}
	kv[keyKind] = string(m.Kind)
	if m.Kind == "" {
		kv[keyKind] = string(KindDraws)
	}
	if m.Shards > 0 {
		kv[keyShard] = strconv.Itoa(m.Shard)
		kv[keyShards] = strconv.Itoa(m.Shards)
	}
	if m.PriorPower != 0 {
		kv[keyPriorPower] = strconv.FormatFloat(m.PriorPower, 'g', -1, 64)
	}
	set := func(k, v string) {
		if v != "" {
			kv[k] = v
		}
	}
	set(keyConvention, string(m.Convention))
	set(keyModel, string(m.Model))
	set(keySampler, string(m.Sampler))
	set(keyCombine, string(m.Combine))
	set(keyFingerprint, m.DataFingerprint)
	set(keyPartition, m.Partition)
	if m.Seed != nil {
		kv[keySeed] = strconv.FormatUint(*m.Seed, 10)
	}
	if len(m.Params) > 0 {
		b, _ := json.Marshal(m.Params)
		kv[keyParams] = string(b)
	}
	kv[keyVersion] = m.Version
	if m.Version == "" {
		kv[keyVersion] = epmc.Version
	}
	if warmup > 0 {
		kv[keyWarmup] = strconv.Itoa(warmup)
	}
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		values = append(values, kv[k])
		keys[i] = metaPrefix + k
	}
	return keys, values
}

// maxParamSize bounds the number of scalars in one parameter block read
// from a file, so that a corrupt shape cannot ask for unbounded memory.
const maxParamSize = 1 << 28

// decodeMeta parses the epmc.* entries of schema metadata; other keys are
// ignored. It returns the metadata and the saved-warmup count.
func decodeMeta(keys, values []string) (Meta, int, error) {
	var m Meta
	warmup := 0
	kv := map[string]string{}
	for i, k := range keys {
		if strings.HasPrefix(k, metaPrefix) {
			if !utf8.ValidString(k) || !utf8.ValidString(values[i]) {
				return Meta{}, 0, fmt.Errorf("metadata %q is not valid UTF-8", k)
			}
			kv[strings.TrimPrefix(k, metaPrefix)] = values[i]
		}
	}
	if len(kv) == 0 {
		m.Kind = KindDraws
		return m, 0, nil
	}
	bad := func(k string, err error) error {
		return fmt.Errorf("metadata %s%s = %q: %w", metaPrefix, k, kv[k], err)
	}
	integer := func(k string, lo int) (int, error) {
		v, err := strconv.Atoi(kv[k])
		if err == nil && v < lo {
			err = fmt.Errorf("must be at least %d", lo)
		}
		if err != nil {
			return 0, bad(k, err)
		}
		return v, nil
	}
	rawJSON := func(k string) (json.RawMessage, error) {
		s, ok := kv[k]
		if !ok {
			return nil, nil
		}
		if !json.Valid([]byte(s)) {
			return nil, bad(k, fmt.Errorf("not valid JSON"))
		}
		return json.RawMessage(s), nil
	}
	// In key order, so that a file with several bad keys always gets the
	// same error.
	var err error
	for _, k := range slices.Sorted(maps.Keys(kv)) {
		v := kv[k]
		switch k {
		case keyFormat:
			var fv int
			if fv, err = integer(k, 1); err == nil && fv > FormatVersion {
				err = bad(k, fmt.Errorf("this epmc reads format versions up to %d; upgrade epmc", FormatVersion))
			}
		case keyKind:
			m.Kind = Kind(v)
		case keyShard:
			m.Shard, err = integer(k, 0)
		case keyShards:
			m.Shards, err = integer(k, 1)
		case keyPriorPower:
			m.PriorPower, err = strconv.ParseFloat(v, 64)
			if err == nil && (m.PriorPower <= 0 || m.PriorPower > 1 || math.IsNaN(m.PriorPower)) {
				err = fmt.Errorf("must be in (0, 1]")
			}
			if err != nil {
				err = bad(k, err)
			}
		case keyConvention:
			m.Convention = Convention(v)
			if m.Convention != ConventionProduct && m.Convention != ConventionTempered {
				err = bad(k, fmt.Errorf("want %q or %q", ConventionProduct, ConventionTempered))
			}
		case keyModel:
			m.Model, err = rawJSON(k)
		case keySampler:
			m.Sampler, err = rawJSON(k)
		case keyCombine:
			m.Combine, err = rawJSON(k)
		case keyFingerprint:
			m.DataFingerprint = v
		case keyPartition:
			m.Partition = v
		case keySeed:
			var s uint64
			if s, err = strconv.ParseUint(v, 10, 64); err != nil {
				err = bad(k, err)
			} else {
				m.Seed = &s
			}
		case keyParams:
			if err = json.Unmarshal([]byte(v), &m.Params); err != nil {
				err = bad(k, err)
			}
			for i, p := range m.Params {
				if err != nil {
					break
				}
				if p.Name == "" {
					err = bad(k, fmt.Errorf("parameter %d has no name", i+1))
					break
				}
				size := 1
				for _, s := range p.Shape {
					if s < 1 || s > maxParamSize || size*s > maxParamSize {
						err = bad(k, fmt.Errorf("parameter %s: shape %v is not positive or too large", p.Name, p.Shape))
						break
					}
					size *= s
				}
				if len(p.Shape) == 0 {
					m.Params[i].Shape = nil // [] and absent both mean a scalar
				}
				if err == nil {
					if err = p.Transform.Validate(); err != nil {
						err = bad(k, fmt.Errorf("parameter %s: %w", p.Name, err))
					}
				}
			}
		case keyVersion:
			m.Version = v
		case keyWarmup:
			warmup, err = integer(k, 0)
		default:
			if m.Extra == nil {
				m.Extra = map[string]string{}
			}
			m.Extra[k] = v
		}
		if err != nil {
			return Meta{}, 0, err
		}
	}
	if _, hasShard := kv[keyShard]; hasShard != (m.Shards > 0) {
		return Meta{}, 0, fmt.Errorf("metadata: %s%s and %s%s must come together", metaPrefix, keyShard, metaPrefix, keyShards)
	}
	if m.Shards > 0 && m.Shard >= m.Shards {
		return Meta{}, 0, fmt.Errorf("metadata: shard %d is not below shard count %d", m.Shard, m.Shards)
	}
	if m.Kind == "" {
		m.Kind = KindDraws
	}
	return m, warmup, nil
}
