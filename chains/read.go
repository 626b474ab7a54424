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
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/apache/arrow/go/v15/arrow/memory"
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

var (
	gzipMagic    = []byte{0x1f, 0x8b}
	parquetMagic = []byte("PAR1")
)

// maxLineBytes bounds one line read while detecting a text format: a
// header of a hundred thousand columns fits, a binary file does not make
// Detect read it whole.
const maxLineBytes = 16 << 20

func detect(r io.Reader) (Format, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	switch {
	case len(head) == 0:
		return 0, errors.New("empty file")
	case bytes.HasPrefix(head, arrowMagic):
		return FormatArrow, nil
	case bytes.HasPrefix(head, gzipMagic):
		return 0, errors.New("gzip-compressed file: decompress it first (gunzip)")
	case bytes.HasPrefix(head, parquetMagic):
		return 0, errors.New("a Parquet file, not a draws file (draws files are Arrow IPC or CSV)")
	case bytes.IndexByte(head, 0) >= 0:
		return 0, errors.New("not a draws file: binary content, and not Arrow IPC (no ARROW1 magic)")
	}
	stanComments := false
	read := 0
	for {
		line, err := readLine(br, maxLineBytes)
		if read == 0 {
			line = strings.TrimPrefix(line, utf8BOM)
		}
		read += len(line)
		trimmed := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trimmed, "#"):
			if strings.Contains(trimmed, "stan_version") {
				stanComments = true
			}
		case trimmed != "":
			if err == errLongLine {
				return 0, fmt.Errorf("not a draws file: the first line after the comments is longer than %d bytes", maxLineBytes)
			}
			return classifyHeader(trimmed, stanComments)
		}
		if (err != nil && err != errLongLine) || read > maxHeaderBytes {
			break
		}
	}
	if stanComments {
		return 0, errors.New("Stan CSV file without a header line (did the run write any draws?)")
	}
	return 0, errors.New("no header line after the comments: not a draws file")
}

var errLongLine = errors.New("line too long")

// readLine reads a line of at most limit bytes; a longer line is cut
// there, the rest of it skipped, and errLongLine returned with the cut line.
func readLine(br *bufio.Reader, limit int) (string, error) {
	var b []byte
	for {
		frag, err := br.ReadSlice('\n')
		if len(b)+len(frag) > limit {
			b = append(b, frag[:limit-len(b)]...)
			for err == bufio.ErrBufferFull { // skip to the end of the line
				_, err = br.ReadSlice('\n')
			}
			return string(b), errLongLine
		}
		b = append(b, frag...)
		if err != bufio.ErrBufferFull {
			return string(b), err
		}
	}
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

// printable returns s for an error message: as it is when it holds only
// printable characters, quoted otherwise, so that messages stay on one line.
func printable(s string) string {
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return strconv.Quote(s)
		}
	}
	return s
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

// Guards for the Arrow IPC reader. arrow/go/v15 trusts the flatbuffer
// metadata of a file: counts and lengths read from a corrupt file go
// straight into make() and into allocations, so a few flipped bytes can
// make it allocate terabytes (a fatal out-of-memory that recover cannot
// catch) or recurse without end through a cyclic field tree (a fatal stack
// overflow). decodeArrow therefore checks the footer's flatbuffers before
// handing the bytes to the library, and gives the library an allocator
// with a budget; the remaining panics of the library on corrupt input
// (index out of range in flatbuffer accessors) are recovered.

// arrowMaxDepth bounds the nesting of fields in a schema; draws files are
// flat, and real nested data rarely goes past a handful of levels.
const arrowMaxDepth = 64

// arrowMaxFields bounds the number of fields visited in a schema.
const arrowMaxFields = 1 << 20

// fbuf reads a flatbuffer with bounds checks; every method reports
// out-of-range positions through ok.
type fbuf struct {
	b  []byte
	ok bool
}

func (f *fbuf) u32(p uint64) uint64 {
	if !f.ok || p+4 > uint64(len(f.b)) {
		f.ok = false
		return 0
	}
	return uint64(f.b[p]) | uint64(f.b[p+1])<<8 | uint64(f.b[p+2])<<16 | uint64(f.b[p+3])<<24
}

func (f *fbuf) u16(p uint64) uint64 {
	if !f.ok || p+2 > uint64(len(f.b)) {
		f.ok = false
		return 0
	}
	return uint64(f.b[p]) | uint64(f.b[p+1])<<8
}

func (f *fbuf) i64(p uint64) int64 {
	lo, hi := f.u32(p), f.u32(p+4)
	return int64(lo | hi<<32)
}

// field returns the position of a table's field in slot, or 0 when the
// field is absent.
func (f *fbuf) field(table uint64, slot int) uint64 {
	soff := int64(int32(uint32(f.u32(table))))
	vt := int64(table) - soff
	if !f.ok || vt < 0 {
		f.ok = false
		return 0
	}
	// As the flatbuffers library does: the field is present when its slot
	// lies within the vtable's declared size, wherever that points.
	vsize := f.u16(uint64(vt))
	voff := uint64(4 + 2*slot)
	if !f.ok || voff >= vsize {
		return 0
	}
	o := f.u16(uint64(vt) + voff)
	if o == 0 {
		return 0
	}
	return table + o
}

// deref follows the offset stored at p (to a table, vector or string).
func (f *fbuf) deref(p uint64) uint64 {
	if p == 0 {
		return 0
	}
	t := p + f.u32(p)
	if t >= uint64(len(f.b)) {
		f.ok = false
	}
	return t
}

// vector returns the start and length of the vector at v, checking that
// n elements of elemSize bytes fit in the buffer.
func (f *fbuf) vector(v uint64, elemSize uint64) (start, n uint64) {
	if v == 0 {
		return 0, 0
	}
	n = f.u32(v)
	if f.ok && v+4+n*elemSize > uint64(len(f.b)) {
		f.ok = false
	}
	if !f.ok {
		return 0, 0
	}
	return v + 4, n
}

// checkArrowFooter checks the footer of the Arrow IPC file data (whose
// magic numbers have been checked) so that the Arrow library can read it
// without unbounded allocation or recursion.
func checkArrowFooter(data []byte) error {
	n := len(data)
	size := int(uint32(data[n-10]) | uint32(data[n-9])<<8 | uint32(data[n-8])<<16 | uint32(data[n-7])<<24)
	if size <= 0 || size+2*len(arrowMagic)+4 > n {
		return fmt.Errorf("footer size %d does not fit a file of %d bytes", size, n)
	}
	f := &fbuf{b: data[n-10-size : n-10], ok: true}
	root := f.u32(0) // the root table's offset from the buffer start
	if root >= uint64(len(f.b)) {
		f.ok = false
	}
	// Footer: version(0) schema(1) dictionaries(2) recordBatches(3) custom_metadata(4).
	for _, slot := range []int{2, 3} {
		start, count := f.vector(f.deref(f.field(root, slot)), 24)
		for i := range count {
			b := start + 24*i
			off, meta, body := f.i64(b), int64(int32(uint32(f.u32(b+8)))), f.i64(b+16)
			if f.ok && (off < 0 || meta < 0 || body < 0 || off > int64(n) || meta > int64(n) || body > int64(n) || off+meta+body > int64(n)) {
				return fmt.Errorf("record batch block %d (offset %d, metadata %d, body %d bytes) lies outside the file of %d bytes", i, off, meta, body, n)
			}
		}
	}
	visited := 0
	var fields func(vec uint64, depth int) error
	kv := func(vec uint64) {
		start, count := f.vector(vec, 4)
		for i := range count {
			e := start + 4*i
			t := f.deref(e)
			for _, slot := range []int{0, 1} {
				f.vector(f.deref(f.field(t, slot)), 1)
			}
		}
	}
	fields = func(vec uint64, depth int) error {
		if depth > arrowMaxDepth {
			return fmt.Errorf("schema fields nested more than %d deep", arrowMaxDepth)
		}
		start, count := f.vector(vec, 4)
		for i := range count {
			if visited++; visited > arrowMaxFields {
				return fmt.Errorf("schema has more than %d fields", arrowMaxFields)
			}
			t := f.deref(start + 4*i)
			// Field: name(0) nullable(1) type_type(2) type(3) dictionary(4) children(5) custom_metadata(6).
			f.vector(f.deref(f.field(t, 0)), 1)
			kv(f.deref(f.field(t, 6)))
			if err := fields(f.deref(f.field(t, 5)), depth+1); err != nil {
				return err
			}
			if !f.ok {
				return nil
			}
		}
		return nil
	}
	if schema := f.deref(f.field(root, 1)); schema != 0 {
		// Schema: endianness(0) fields(1) custom_metadata(2) features(3).
		if err := fields(f.deref(f.field(schema, 1)), 0); err != nil {
			return err
		}
		kv(f.deref(f.field(schema, 2)))
	}
	kv(f.deref(f.field(root, 4)))
	if !f.ok {
		return errors.New("footer metadata point outside the footer")
	}
	return nil
}

// budgetAllocator is a Go allocator that refuses (by panicking, which
// decodeArrow recovers) to hand out more than a budget in total, so that
// lengths read from a corrupt file cannot exhaust memory.
type budgetAllocator struct {
	memory.Allocator
	left atomic.Int64
	file int
}

// newBudgetAllocator allows what a file of size bytes can plausibly need:
// the file itself a few times over plus what compressed buffers expand to
// (draws compress a few-fold, a constant column some hundred-fold).
func newBudgetAllocator(size int) *budgetAllocator {
	a := &budgetAllocator{Allocator: memory.NewGoAllocator(), file: size}
	a.left.Store(64<<20 + 1024*int64(size))
	return a
}

func (a *budgetAllocator) take(size int) {
	if size < 0 || a.left.Add(-int64(size)) < 0 {
		panic(fmt.Sprintf("the file asks for a %d-byte buffer, more than a %d-byte file can hold", size, a.file))
	}
}

func (a *budgetAllocator) Allocate(size int) []byte {
	a.take(size)
	return a.Allocator.Allocate(size)
}

func (a *budgetAllocator) Reallocate(size int, b []byte) []byte {
	a.take(size)
	return a.Allocator.Reallocate(size, b)
}
