package chains

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Format names a kind of draws file.
type Format int

const (
	// FormatArrow is an Arrow IPC file (Feather v2), epmc's own format.
	FormatArrow Format = iota + 1
	// FormatCSV is CSV in R posterior's draws_df layout (.chain,
	// .iteration, .draw, then variables), as written by WriteCSV.
	FormatCSV
	// FormatStanCSV is a Stan CSV output file of CmdStan or rstan, one
	// chain per file.
	FormatStanCSV
)

func (f Format) String() string {
	switch f {
	case FormatArrow:
		return "Arrow draws file"
	case FormatCSV:
		return "draws_df CSV"
	case FormatStanCSV:
		return "Stan CSV"
	}
	return "unknown format"
}

// maxHeaderBytes bounds how much of a text file Detect reads looking for
// the header line after the leading comment lines.
const maxHeaderBytes = 64 << 20

// Detect tells the format of the draws file at path from its content: the
// ARROW1 magic for Arrow; for text files, the first line that is not a
// "#" comment is the column header, and a header with a .chain column
// means draws_df CSV, a header with lp__ (or Stan's stan_version comment
// lines) means Stan CSV.
func Detect(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	format, err := detect(f)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return format, nil
}

var gzipMagic = []byte{0x1f, 0x8b}

func detect(r io.Reader) (Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(len(arrowMagic))
	switch {
	case len(head) == 0:
		return 0, errors.New("empty file")
	case bytes.HasPrefix(head, arrowMagic):
		return FormatArrow, nil
	case bytes.HasPrefix(head, gzipMagic):
		return 0, errors.New("gzip-compressed file: decompress it first (gunzip)")
	}
	stanComments := false
	read := 0
	for {
		line, err := br.ReadString('\n')
		read += len(line)
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			if strings.Contains(trimmed, "stan_version") {
				stanComments = true
			}
		case trimmed != "":
			return classifyHeader(trimmed, stanComments)
		}
		if err != nil || read > maxHeaderBytes {
			break
		}
	}
	if stanComments {
		return 0, errors.New("Stan CSV file without a header line (did the run write any draws?)")
	}
	return 0, errors.New("no header line after the comments: not a draws file")
}

func classifyHeader(line string, stanComments bool) (Format, error) {
	cr := csv.NewReader(strings.NewReader(line))
	cr.LazyQuotes = true
	fields, err := cr.Read()
	if err != nil || bytes.ContainsRune([]byte(line), 0) {
		return 0, errors.New("not a draws file: neither Arrow IPC (ARROW1 magic) nor a CSV header")
	}
	hasChain, hasLP := false, false
	for _, f := range fields {
		switch strings.TrimSpace(f) {
		case ColChain:
			hasChain = true
		case LP:
			hasLP = true
		}
	}
	switch {
	case hasChain:
		return FormatCSV, nil
	case stanComments || hasLP:
		return FormatStanCSV, nil
	}
	return 0, fmt.Errorf("not a draws file: the CSV header has neither a %s column (draws_df CSV) nor %s (Stan CSV), and the file is not Arrow IPC", ColChain, LP)
}

// ReadFile reads draws from an Arrow IPC draws file, a CSV file of draws in
// R posterior's draws_df layout or a Stan CSV output file (one chain),
// telling them apart by their content (see Detect). Use ReadStanCSV to
// read several Stan CSV files as the chains of one run.
func ReadFile(path string) (*Draws, error) {
	format, err := Detect(path)
	if err != nil {
		return nil, err
	}
	switch format {
	case FormatArrow:
		return ReadArrow(path)
	case FormatCSV:
		return ReadCSV(path)
	default:
		return ReadStanCSV(path)
	}
}

// drawKey locates a row: chain and iteration as written in the file.
type drawKey struct{ chain, iter int64 }

// assemble builds draws from rows given in any order: keys[i] is row i's
// chain and iteration, vals[v][i] its value of variable v. Chains must be
// numbered 1..C and each chain's iterations 1..n, all chains of equal
// length; errors say which chain or iteration breaks the rule.
func assemble(names []string, keys []drawKey, vals [][]float64, meta Meta, warmup int) (*Draws, error) {
	if len(keys) == 0 {
		return nil, errors.New("no rows")
	}
	order := make([]int, len(keys))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool {
		ka, kb := keys[order[a]], keys[order[b]]
		if ka.chain != kb.chain {
			return ka.chain < kb.chain
		}
		return ka.iter < kb.iter
	})
	var lengths []int
	for pos, i := range order {
		k := keys[i]
		want := drawKey{int64(len(lengths)), 0}
		if len(lengths) > 0 {
			want.iter = int64(lengths[len(lengths)-1]) + 1
		}
		switch {
		case k.chain <= 0:
			return nil, fmt.Errorf("chain numbers must start at 1, found %d", k.chain)
		case want.chain > 0 && k.chain == want.chain && k.iter == want.iter:
			lengths[len(lengths)-1]++
		case k.chain == want.chain+1 && k.iter == 1:
			lengths = append(lengths, 1)
		case k.chain == want.chain && k.iter < want.iter:
			return nil, fmt.Errorf("chain %d has iteration %d more than once", k.chain, k.iter)
		case k.chain == want.chain:
			return nil, fmt.Errorf("chain %d jumps from iteration %d to %d", k.chain, want.iter-1, k.iter)
		case pos == 0 && k.chain != 1:
			return nil, fmt.Errorf("chain numbers must start at 1, found %d", k.chain)
		case k.chain > want.chain+1:
			return nil, fmt.Errorf("chain %d is missing (found chain %d)", want.chain+1, k.chain)
		default:
			return nil, fmt.Errorf("chain %d starts at iteration %d, not 1", k.chain, k.iter)
		}
	}
	for c := 1; c < len(lengths); c++ {
		if lengths[c] != lengths[0] {
			return nil, fmt.Errorf("%w: chain 1 has %d, chain %d has %d", ErrUnequalChains, lengths[0], c+1, lengths[c])
		}
	}
	n := lengths[0]
	d := New(names, len(lengths), n)
	for c, ch := range d.Values {
		for v, s := range ch {
			for i := range s {
				s[i] = vals[v][order[c*n+i]]
			}
		}
	}
	d.Meta = meta
	d.Warmup = warmup
	if err := d.Validate(); err != nil {
		return nil, err
	}
	return d, nil
}
