package chains

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ReadStanCSV reads the Stan CSV output files of one MCMC run, one chain
// per file, as CmdStan writes them (output_N.csv) and as rstan writes them
// with sampling(..., sample_file = f) (f_1.csv, f_2.csv, …).
//
// Column names in Stan's dotted form (beta.1, Sigma.1.2) become
// posterior's bracket form (beta[1], Sigma[1,2]); names already in bracket
// form are kept. Meta.Params gets one block per variable with the shape
// read off the names and the identity transform: Stan CSV holds values on
// the constrained scale and says nothing about the transforms. Saved warmup
// draws (save_warmup) become Draws.Warmup: they are the rows before the
// "# Adaptation terminated" comment, or, without adaptation, as many as
// num_warmup and thin imply. Meta.Kind is KindStan; Meta.Seed is the seed
// when every file has the same one; Meta.Sampler is a JSON object with the
// run's settings (model, num_warmup, num_samples, save_warmup, thin,
// max_depth, adapt_delta, metric, …), the whole configuration comment block
// of the first file, and per chain the adapted step size, the inverse
// metric (a vector for diag_e, a matrix for dense_e) and the elapsed
// times. docs/FORMAT.md lists the fields.
//
// The files must hold the same columns and the same numbers of warmup and
// post-warmup rows; errors name the file that differs. A file with fewer
// rows than its configuration promises (a run that was cut short), a row
// with the wrong number of fields, a value that is not a number, NaN or
// infinite, or output of a method other than sampling is an error naming
// the file and the line.
func ReadStanCSV(paths ...string) (*Draws, error) {
	if len(paths) == 0 {
		return nil, errors.New("ReadStanCSV: no files")
	}
	files := make([]*stanFile, len(paths))
	for i, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return nil, err
		}
		sf, err := parseStanCSV(f)
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		sf.file = filepath.Base(p)
		files[i] = sf
	}
	return stanDraws(paths, files)
}

// stanFile is one parsed Stan CSV file.
type stanFile struct {
	file   string
	header []string
	// config holds the comment lines "key = value" before the header, by
	// their path (CmdStan nests them by indentation: sample.adapt.delta),
	// and leaf by the last path element (first occurrence wins).
	config     map[string]string
	configKeys []string
	leaf       map[string]string
	cols       [][]float64 // by column, all rows
	rows       int
	// adaptRow is the number of rows before "# Adaptation terminated", or
	// -1 without that comment.
	adaptRow  int
	stepsize  *float64
	metric    string // "diag" or "dense" from the adaptation block
	invMetric [][]float64
	timing    map[string]float64
	line      int // lines read
}

func parseStanCSV(r io.Reader) (*stanFile, error) {
	sf := &stanFile{config: map[string]string{}, leaf: map[string]string{}, adaptRow: -1}
	br := bufio.NewReaderSize(r, 256<<10)
	var stack []string // section names by indentation level
	inMetric := false
	lastEnded := true
	for {
		s, rerr := br.ReadString('\n')
		if s == "" && rerr != nil {
			if rerr != io.EOF {
				return nil, rerr
			}
			break
		}
		sf.line++
		lastEnded = strings.HasSuffix(s, "\n")
		s = strings.TrimRight(s, "\r\n")
		if strings.HasPrefix(s, "#") {
			body := s[1:]
			if sf.header == nil {
				stack = sf.configLine(body, stack)
				continue
			}
			if err := sf.commentAfterHeader(body, &inMetric); err != nil {
				return nil, fmt.Errorf("line %d: %w", sf.line, err)
			}
			continue
		}
		inMetric = false
		if strings.TrimSpace(s) == "" {
			continue
		}
		if sf.header == nil {
			if err := sf.setHeader(s); err != nil {
				return nil, fmt.Errorf("line %d: %w", sf.line, err)
			}
			continue
		}
		if !lastEnded {
			return nil, fmt.Errorf("line %d: the last row has no newline (file cut short?)", sf.line)
		}
		if err := sf.addRow(s); err != nil {
			return nil, fmt.Errorf("line %d: %w", sf.line, err)
		}
	}
	switch {
	case sf.line == 0:
		return nil, errors.New("empty file")
	case sf.header == nil:
		return nil, errors.New("no header line (a Stan CSV file has a line of column names such as lp__,accept_stat__,…)")
	case sf.rows == 0:
		return nil, fmt.Errorf("no draws after the header (line %d)", sf.line)
	}
	if m := sf.leaf["method"]; m != "" && firstWord(m) != "sample" {
		return nil, fmt.Errorf("method = %s: not MCMC output (only method = sample files hold draws)", printable(firstWord(m)))
	}
	return sf, nil
}

// configLine records one comment line of the configuration block.
func (sf *stanFile) configLine(body string, stack []string) []string {
	indent := len(body) - len(strings.TrimLeft(body, " "))
	level := 0
	if indent > 1 {
		level = (indent - 1) / 2
	}
	text := strings.TrimSpace(body)
	if text == "" {
		return stack
	}
	if len(stack) > level {
		stack = stack[:level]
	}
	for len(stack) < level {
		stack = append(stack, "")
	}
	i := strings.IndexByte(text, '=')
	if i < 0 {
		if !strings.ContainsAny(text, " \t") {
			stack = append(stack, text) // a section such as "sample" or "adapt"
		}
		return stack
	}
	key := strings.TrimSpace(text[:i])
	val := strings.TrimSpace(text[i+1:])
	val = strings.TrimSpace(strings.TrimSuffix(val, "(Default)"))
	if key == "" || strings.ContainsAny(key, " \t") {
		return stack
	}
	var path []string
	for _, p := range stack {
		if p != "" {
			path = append(path, p)
		}
	}
	full := strings.Join(append(path, key), ".")
	if _, dup := sf.config[full]; !dup {
		sf.configKeys = append(sf.configKeys, full)
	}
	sf.config[full] = val
	if _, ok := sf.leaf[key]; !ok {
		sf.leaf[key] = val
	}
	// "method = sample" opens the section "sample" one level down.
	return append(stack, key)
}

// commentAfterHeader interprets the adaptation and timing comments.
func (sf *stanFile) commentAfterHeader(body string, inMetric *bool) error {
	text := strings.TrimSpace(body)
	switch {
	case text == "Adaptation terminated":
		sf.adaptRow = sf.rows
		*inMetric = false
	case strings.HasPrefix(text, "Step size ="):
		v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimPrefix(text, "Step size =")), 64)
		if err != nil {
			return fmt.Errorf("bad step size in %q", text)
		}
		sf.stepsize = &v
	case text == "Diagonal elements of inverse mass matrix:":
		sf.metric, sf.invMetric, *inMetric = "diag", nil, true
	case text == "Elements of inverse mass matrix:":
		sf.metric, sf.invMetric, *inMetric = "dense", nil, true
	case strings.Contains(text, "seconds ("):
		*inMetric = false
		text = strings.TrimSpace(strings.TrimPrefix(text, "Elapsed Time:"))
		var v float64
		var phase string
		if _, err := fmt.Sscanf(text, "%g seconds (%s", &v, &phase); err == nil {
			phase = strings.ToLower(strings.TrimSuffix(phase, ")"))
			if phase == "warm-up" {
				phase = "warmup"
			}
			if sf.timing == nil {
				sf.timing = map[string]float64{}
			}
			sf.timing[phase] = v
		}
	case *inMetric && text != "":
		row, err := parseFloatList(text)
		if err != nil {
			return fmt.Errorf("inverse metric: %w", err)
		}
		sf.invMetric = append(sf.invMetric, row)
		if sf.metric == "diag" {
			*inMetric = false
		}
	default:
		*inMetric = false
	}
	return nil
}

func parseFloatList(s string) ([]float64, error) {
	parts := strings.Split(s, ",")
	out := make([]float64, len(parts))
	for i, p := range parts {
		v, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, fmt.Errorf("%q is not a number", strings.TrimSpace(p))
		}
		out[i] = v
	}
	return out, nil
}

func (sf *stanFile) setHeader(s string) error {
	names := strings.Split(s, ",")
	seen := make(map[string]bool, len(names))
	for i, n := range names {
		n = strings.TrimSpace(n)
		if n == "" {
			return fmt.Errorf("column %d of the header has no name", i+1)
		}
		if seen[n] {
			return fmt.Errorf("duplicate column %q in the header", n)
		}
		seen[n] = true
		names[i] = n
	}
	sf.header = names
	sf.cols = make([][]float64, len(names))
	return nil
}

func (sf *stanFile) addRow(s string) error {
	j := 0
	for {
		k := strings.IndexByte(s, ',')
		field := s
		if k >= 0 {
			field = s[:k]
		}
		if j >= len(sf.header) {
			return fmt.Errorf("more than the %d fields of the header", len(sf.header))
		}
		v, err := parseDrawValue(field)
		if err != nil {
			return fmt.Errorf("column %s: %w", printable(sf.header[j]), err)
		}
		sf.cols[j] = append(sf.cols[j], v)
		j++
		if k < 0 {
			break
		}
		s = s[k+1:]
	}
	if j != len(sf.header) {
		for c := range j { // drop the partial row
			sf.cols[c] = sf.cols[c][:sf.rows]
		}
		return fmt.Errorf("%d fields, but the header has %d (truncated row?)", j, len(sf.header))
	}
	sf.rows++
	return nil
}

func firstWord(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return s
}

// stanSettings are the run settings read from the configuration comments
// of CmdStan (nested "key = value") or rstan ("key=value") files.
type stanSettings struct {
	source      string
	version     string
	model       string
	algorithm   string
	engine      string
	metric      string
	numWarmup   *int
	numSamples  *int
	saveWarmup  *bool
	thin        *int
	maxDepth    *int
	adaptDelta  *float64
	adaptEngage *bool
	seed        string // as written; parsed into seedValue when it fits
	seedValue   *uint64
	id          *int
}

func (sf *stanFile) settings() (stanSettings, error) {
	var st stanSettings
	l := sf.leaf
	st.source = "stan csv"
	switch {
	case l["method"] != "":
		st.source = "cmdstan"
	case l["sampler_t"] != "" || l["chain_id"] != "" || l["iter"] != "":
		st.source = "rstan"
	}
	if l["stan_version_major"] != "" {
		st.version = l["stan_version_major"] + "." + l["stan_version_minor"] + "." + l["stan_version_patch"]
	}
	st.model = l["model"]
	st.algorithm = firstWord(l["algorithm"])
	st.engine = firstWord(l["engine"])
	st.metric = firstWord(l["metric"])
	if t := l["sampler_t"]; t != "" { // rstan: NUTS(diag_e), Fixed_param
		if i := strings.IndexByte(t, '('); i >= 0 && strings.HasSuffix(t, ")") {
			st.engine = strings.ToLower(t[:i])
			st.metric = t[i+1 : len(t)-1]
			st.algorithm = "hmc"
		} else {
			st.algorithm = strings.ToLower(t)
		}
	}
	// Stan names its metrics unit_e, diag_e and dense_e; epmc's samplers
	// write unit, diag and dense.
	st.metric = strings.TrimSuffix(st.metric, "_e")
	var err error
	integer := func(keys ...string) *int {
		for _, k := range keys {
			if v, ok := l[k]; ok && err == nil {
				n, e := strconv.Atoi(firstWord(v))
				if e != nil {
					err = fmt.Errorf("configuration %s = %q is not an integer", printable(k), v)
					return nil
				}
				return &n
			}
		}
		return nil
	}
	boolean := func(keys ...string) *bool {
		for _, k := range keys {
			if v, ok := l[k]; ok && err == nil {
				switch firstWord(v) {
				case "1", "true":
					b := true
					return &b
				case "0", "false":
					b := false
					return &b
				}
				err = fmt.Errorf("configuration %s = %q is not a boolean", printable(k), v)
				return nil
			}
		}
		return nil
	}
	st.numWarmup = integer("num_warmup", "warmup")
	st.numSamples = integer("num_samples")
	if st.numSamples == nil && st.numWarmup != nil {
		if iter := integer("iter"); iter != nil { // rstan: iter counts warmup too
			n := *iter - *st.numWarmup
			st.numSamples = &n
		}
	}
	st.saveWarmup = boolean("save_warmup")
	st.thin = integer("thin")
	st.maxDepth = integer("max_depth", "max_treedepth")
	st.adaptEngage = boolean("engaged", "adapt_engaged")
	st.id = integer("id", "chain_id")
	for _, k := range []string{"delta", "adapt_delta"} {
		if v, ok := l[k]; ok && err == nil {
			x, e := strconv.ParseFloat(firstWord(v), 64)
			if e != nil {
				err = fmt.Errorf("configuration %s = %q is not a number", printable(k), v)
			}
			st.adaptDelta = &x
			break
		}
	}
	st.seed = firstWord(l["seed"])
	if v, e := strconv.ParseUint(st.seed, 10, 64); e == nil {
		st.seedValue = &v
	}
	if err == nil && st.thin != nil && *st.thin < 1 {
		err = fmt.Errorf("configuration thin = %d must be at least 1", *st.thin)
	}
	if err == nil && ((st.numWarmup != nil && *st.numWarmup < 0) || (st.numSamples != nil && *st.numSamples < 0)) {
		err = errors.New("configuration: negative num_warmup or num_samples")
	}
	return st, err
}

// warmupRows returns how many leading rows are saved warmup draws, and
// checks the row counts against the configuration.
func (sf *stanFile) warmupRows(st stanSettings) (int, error) {
	thin := 1
	if st.thin != nil {
		thin = *st.thin
	}
	ceilDiv := func(a int) int { return (a + thin - 1) / thin }
	save := st.saveWarmup != nil && *st.saveWarmup
	warm := 0
	switch {
	case sf.adaptRow >= 0:
		warm = sf.adaptRow
	case save && st.numWarmup != nil:
		warm = min(ceilDiv(*st.numWarmup), sf.rows)
	}
	if warm > 0 && st.saveWarmup != nil && !save {
		return 0, fmt.Errorf("%d rows come before the adaptation block, but save_warmup is off", warm)
	}
	if save && st.numWarmup != nil && warm != ceilDiv(*st.numWarmup) {
		return 0, fmt.Errorf("%d warmup rows, but num_warmup = %d and thin = %d make %d", warm, *st.numWarmup, thin, ceilDiv(*st.numWarmup))
	}
	post := sf.rows - warm
	if st.numSamples != nil && post != ceilDiv(*st.numSamples) {
		return 0, fmt.Errorf("%d draws after warmup, but num_samples = %d and thin = %d make %d (was the run cut short?)", post, *st.numSamples, thin, ceilDiv(*st.numSamples))
	}
	if post == 0 {
		return 0, errors.New("no draws after warmup")
	}
	return warm, nil
}

// stanChainInfo is the per-chain part of Meta.Sampler for Stan CSV input.
type stanChainInfo struct {
	File            string   `json:"file"`
	ID              *int     `json:"id,omitempty"`
	Seed            *uint64  `json:"seed,omitempty"`
	StepSize        *float64 `json:"stepsize,omitempty"`
	InvMetric       any      `json:"inv_metric,omitempty"`
	WarmupSeconds   *float64 `json:"warmup_seconds,omitempty"`
	SamplingSeconds *float64 `json:"sampling_seconds,omitempty"`
	TotalSeconds    *float64 `json:"total_seconds,omitempty"`
}

// stanSamplerJSON is Meta.Sampler for Stan CSV input.
type stanSamplerJSON struct {
	Name         string            `json:"name"`
	Source       string            `json:"source"`
	StanVersion  string            `json:"stan_version,omitempty"`
	Model        string            `json:"model,omitempty"`
	Algorithm    string            `json:"algorithm,omitempty"`
	Engine       string            `json:"engine,omitempty"`
	Metric       string            `json:"metric,omitempty"`
	NumWarmup    *int              `json:"num_warmup,omitempty"`
	NumSamples   *int              `json:"num_samples,omitempty"`
	SaveWarmup   *bool             `json:"save_warmup,omitempty"`
	Thin         *int              `json:"thin,omitempty"`
	MaxDepth     *int              `json:"max_depth,omitempty"`
	AdaptDelta   *float64          `json:"adapt_delta,omitempty"`
	AdaptEngaged *bool             `json:"adapt_engaged,omitempty"`
	Seed         *uint64           `json:"seed,omitempty"`
	Chains       []stanChainInfo   `json:"chains"`
	Config       map[string]string `json:"config,omitempty"`
}

func stanDraws(paths []string, files []*stanFile) (*Draws, error) {
	first := files[0]
	sets := make([]stanSettings, len(files))
	warm := make([]int, len(files))
	for i, sf := range files {
		var err error
		if sets[i], err = sf.settings(); err == nil {
			warm[i], err = sf.warmupRows(sets[i])
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", paths[i], err)
		}
		if i == 0 {
			continue
		}
		if err := sameColumns(first.header, sf.header, paths[0]); err != nil {
			return nil, fmt.Errorf("%s: %w", paths[i], err)
		}
		if warm[i] != warm[0] || sf.rows-warm[i] != first.rows-warm[0] {
			return nil, fmt.Errorf("%s: %w: %d warmup and %d post-warmup rows, but %s has %d and %d",
				paths[i], ErrUnequalChains, warm[i], sf.rows-warm[i], paths[0], warm[0], first.rows-warm[0])
		}
	}

	names := make([]string, len(first.header))
	for j, n := range first.header {
		names[j] = bracketName(n)
	}
	d := &Draws{Names: names, Warmup: warm[0], Values: make([][][]float64, len(files))}
	for c, sf := range files {
		d.Values[c] = sf.cols
	}
	if err := d.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", paths[0], err)
	}

	st := sets[0]
	js := stanSamplerJSON{
		Name: st.engine, Source: st.source, StanVersion: st.version, Model: st.model,
		Algorithm: st.algorithm, Engine: st.engine, Metric: st.metric,
		NumWarmup: st.numWarmup, NumSamples: st.numSamples, SaveWarmup: st.saveWarmup, Thin: st.thin,
		MaxDepth: st.maxDepth, AdaptDelta: st.adaptDelta, AdaptEngaged: st.adaptEngage,
		Config: first.config,
	}
	if js.Name == "" {
		js.Name = st.algorithm
	}
	if js.Name == "" {
		js.Name = "stan"
	}
	sameSeed := st.seed != ""
	for i, sf := range files {
		ci := stanChainInfo{File: sf.file, ID: sets[i].id, Seed: sets[i].seedValue, StepSize: sf.stepsize}
		switch {
		case sf.metric == "diag" && len(sf.invMetric) == 1:
			ci.InvMetric = sf.invMetric[0]
		case sf.metric == "dense" && len(sf.invMetric) > 0:
			ci.InvMetric = sf.invMetric
		}
		if t, ok := sf.timing["warmup"]; ok {
			ci.WarmupSeconds = &t
		}
		if t, ok := sf.timing["sampling"]; ok {
			ci.SamplingSeconds = &t
		}
		if t, ok := sf.timing["total"]; ok {
			ci.TotalSeconds = &t
		}
		js.Chains = append(js.Chains, ci)
		if sets[i].seed != st.seed {
			sameSeed = false
		}
	}
	if sameSeed && st.seedValue != nil {
		js.Seed = st.seedValue
		d.Meta.Seed = st.seedValue
	}
	var err error
	if d.Meta.Sampler, err = json.Marshal(js); err != nil {
		return nil, err
	}
	d.Meta.Kind = KindStan
	if st.model != "" {
		d.Meta.Model, _ = json.Marshal(map[string]string{"name": st.model, "language": "stan"})
	}
	d.Meta.Params = ParamsFromNames(d.Names)
	return d, nil
}

// sameColumns checks that header b has the columns of header a, which was
// read from file aPath.
func sameColumns(a, b []string, aPath string) error {
	if len(a) != len(b) {
		return fmt.Errorf("has %d columns, but %s has %d", len(b), aPath, len(a))
	}
	for i := range a {
		if a[i] != b[i] {
			return fmt.Errorf("column %d is %q, but %q in %s", i+1, b[i], a[i], aPath)
		}
	}
	return nil
}

// bracketName turns Stan's CSV names (beta.1, Sigma.1.2) into posterior's
// (beta[1], Sigma[1,2]). Names whose dotted parts are not all positive
// integers (complex parts such as z.real, tuple elements such as t:1) and
// names already in bracket form are kept as they are.
func bracketName(n string) string {
	if KindOf(n) != Parameter || strings.ContainsAny(n, "[]") {
		return n
	}
	parts := strings.Split(n, ".")
	if len(parts) < 2 || parts[0] == "" {
		return n
	}
	for _, p := range parts[1:] {
		if !positiveInt(p) {
			return n
		}
	}
	return parts[0] + "[" + strings.Join(parts[1:], ",") + "]"
}

func positiveInt(s string) bool {
	if s == "" || s[0] == '0' || len(s) > 9 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// splitIndexed splits "Sigma[1,2]" into "Sigma" and [1 2]; ok is false for
// names that are not a base followed by bracketed positive integers.
func splitIndexed(n string) (base string, idx []int, ok bool) {
	i := strings.IndexByte(n, '[')
	if i <= 0 || !strings.HasSuffix(n, "]") {
		return n, nil, !strings.ContainsAny(n, "[]")
	}
	base = n[:i]
	for _, p := range strings.Split(n[i+1:len(n)-1], ",") {
		p = strings.TrimSpace(p)
		if !positiveInt(p) {
			return "", nil, false
		}
		v, _ := strconv.Atoi(p)
		idx = append(idx, v)
	}
	return base, idx, true
}

// ParamsFromNames rebuilds parameter blocks from the parameter columns'
// names (sampler statistics and .log_weight are skipped): a scalar per
// plain name, and for names base[i,j,…] one block per base whose shape is
// the largest index in each position, provided the columns fill that
// shape exactly. Columns that do not form such a block (ragged or
// malformed indices) get no block; the transforms are the identity.
func ParamsFromNames(names []string) []Param {
	type block struct {
		name  string
		idx   [][]int
		bad   bool
		order int
	}
	blocks := map[string]*block{}
	var order []string
	for _, n := range names {
		if KindOf(n) != Parameter {
			continue
		}
		base, idx, ok := splitIndexed(n)
		if !ok {
			continue
		}
		b := blocks[base]
		if b == nil {
			b = &block{name: base}
			blocks[base] = b
			order = append(order, base)
		}
		if len(b.idx) > 0 && len(b.idx[0]) != len(idx) {
			b.bad = true
		}
		b.idx = append(b.idx, idx)
	}
	var params []Param
	for _, base := range order {
		b := blocks[base]
		if b.bad {
			continue
		}
		if len(b.idx[0]) == 0 {
			if len(b.idx) == 1 {
				params = append(params, Param{Name: base})
			}
			continue
		}
		shape := make([]int, len(b.idx[0]))
		for _, ix := range b.idx {
			for k, v := range ix {
				shape[k] = max(shape[k], v)
			}
		}
		size := 1
		for _, s := range shape {
			size *= s
			if size > len(b.idx) {
				break
			}
		}
		if size != len(b.idx) {
			continue
		}
		seen := make(map[string]bool, size)
		for _, ix := range b.idx {
			seen[fmt.Sprint(ix)] = true
		}
		if len(seen) != size {
			continue
		}
		params = append(params, Param{Name: base, Shape: shape})
	}
	return params
}
