package chains

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"

	"github.com/epmc/epmc/internal/atomicfile"
)

// Compression selects the compression of record batch bodies.
type Compression int

const (
	// Uncompressed files are readable by every Arrow implementation and can
	// be memory-mapped.
	Uncompressed Compression = iota
	// Zstd shrinks files several-fold; JavaScript readers need a codec.
	Zstd
)

// WriteOptions configures a draws-file writer. The zero value writes
// uncompressed record batches of 1024 rows.
type WriteOptions struct {
	Compression Compression
	// BatchRows is the number of rows per record batch (default 1024).
	BatchRows int
}

func (o WriteOptions) batchRows() int {
	if o.BatchRows > 0 {
		return o.BatchRows
	}
	return 1024
}

var arrowMagic = []byte("ARROW1")

// Writer streams draws to an Arrow IPC file. Each chain appends rows
// through its own ChainWriter, from its own goroutine if it likes; rows are
// spilled to per-chain temporary files in batches, so memory stays bounded.
// Close assembles the chains in order into the final file, which appears
// under its name only then: the bytes do not depend on how the chains were
// scheduled. Abort (or a failed Close) leaves nothing under the name.
type Writer struct {
	path   string
	names  []string
	meta   Meta
	warmup int
	opts   WriteOptions
	schema *arrow.Schema // value columns only, as spilled
	chains []*ChainWriter
	mem    memory.Allocator
	closed bool
}

// ChainWriter appends the rows of one chain.
type ChainWriter struct {
	w       *Writer
	index   int
	spill   *os.File
	sw      *ipc.Writer
	builder *array.RecordBuilder
	cols    []*array.Float64Builder
	pending int
	rows    int
	err     error
}

// Create starts a draws file at path for nchains chains of the named
// variables. warmup is the number of leading rows of every chain that are
// saved warmup draws (0 if none are saved).
func Create(path string, names []string, meta Meta, nchains, warmup int, opts WriteOptions) (*Writer, error) {
	probe := &Draws{Names: names, Values: make([][][]float64, nchains)}
	for c := range probe.Values {
		probe.Values[c] = make([][]float64, len(names))
	}
	if err := probe.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fields := make([]arrow.Field, len(names))
	for i, n := range names {
		fields[i] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64}
	}
	w := &Writer{
		path: path, names: append([]string(nil), names...), meta: meta, warmup: warmup, opts: opts,
		schema: arrow.NewSchema(fields, nil), mem: memory.NewGoAllocator(),
	}
	for c := range nchains {
		f, err := atomicfile.Temp(path, fmt.Sprintf(".chain%d", c+1))
		if err != nil {
			w.Abort()
			return nil, err
		}
		cw := &ChainWriter{w: w, index: c, spill: f}
		cw.sw = ipc.NewWriter(f, ipc.WithSchema(w.schema), ipc.WithAllocator(w.mem))
		cw.builder = array.NewRecordBuilder(w.mem, w.schema)
		for j := range names {
			cw.cols = append(cw.cols, cw.builder.Field(j).(*array.Float64Builder))
		}
		w.chains = append(w.chains, cw)
	}
	return w, nil
}

// SetMeta replaces the metadata the file will carry; call it before Close
// (samplers record adapted values known only at the end of a run).
func (w *Writer) SetMeta(m Meta) { w.meta = m }

// Chain returns the writer of chain c (0-based).
func (w *Writer) Chain(c int) *ChainWriter { return w.chains[c] }

// Append adds one row: the values of every variable, in the order of the
// names given to Create. A NaN or infinite value is an error naming the
// column, chain and row, and so is every later call and Close: a draws
// file holds finite values only (docs/FORMAT.md), and every epmc reader
// would reject the file.
func (cw *ChainWriter) Append(row []float64) error {
	if cw.err != nil {
		return cw.err
	}
	if len(row) != len(cw.cols) {
		return fmt.Errorf("row has %d values, want %d", len(row), len(cw.cols))
	}
	for j, v := range row {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			cw.err = fmt.Errorf("%s: chain %d, row %d: %s is %g, but a draws file holds finite values only", cw.w.path, cw.index+1, cw.rows+1, cw.w.names[j], v)
			return cw.err
		}
	}
	for j, v := range row {
		cw.cols[j].Append(v)
	}
	cw.pending++
	cw.rows++
	if cw.pending >= cw.w.opts.batchRows() {
		cw.flush()
	}
	return cw.err
}

func (cw *ChainWriter) flush() {
	if cw.pending == 0 || cw.err != nil {
		return
	}
	rec := cw.builder.NewRecord()
	defer rec.Release()
	cw.pending = 0
	if err := cw.sw.Write(rec); err != nil {
		cw.err = fmt.Errorf("%s: spilling chain %d: %w", cw.w.path, cw.index+1, err)
	}
}

// Close writes the file and renames it into place.
func (w *Writer) Close() error {
	if w.closed {
		return errors.New("chains: Writer closed twice")
	}
	defer w.Abort()
	n := -1
	for _, cw := range w.chains {
		cw.flush()
		if cw.err == nil {
			cw.err = cw.sw.Close()
		}
		if cw.err != nil {
			return cw.err
		}
		if n >= 0 && cw.rows != n {
			return fmt.Errorf("%s: %w: chain 1 has %d, chain %d has %d", w.path, ErrUnequalChains, n, cw.index+1, cw.rows)
		}
		n = cw.rows
	}
	if w.warmup > n {
		return fmt.Errorf("%s: warmup count %d exceeds the %d rows per chain", w.path, w.warmup, n)
	}
	out, err := atomicfile.Create(w.path)
	if err != nil {
		return err
	}
	defer out.Abort()
	keys, values := encodeMeta(w.meta, w.warmup)
	md := arrow.NewMetadata(keys, values)
	fields := []arrow.Field{
		{Name: ColChain, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColIteration, Type: arrow.PrimitiveTypes.Int32},
		{Name: ColDraw, Type: arrow.PrimitiveTypes.Int32},
	}
	fields = append(fields, w.schema.Fields()...)
	schema := arrow.NewSchema(fields, &md)
	opts := []ipc.Option{ipc.WithSchema(schema), ipc.WithAllocator(w.mem)}
	if w.opts.Compression == Zstd {
		opts = append(opts, ipc.WithZstd())
	}
	fw, err := ipc.NewFileWriter(out, opts...)
	if err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	for _, cw := range w.chains {
		if err := w.copyChain(fw, schema, cw, n); err != nil {
			return fmt.Errorf("%s: %w", w.path, err)
		}
	}
	if err := fw.Close(); err != nil {
		return fmt.Errorf("%s: %w", w.path, err)
	}
	if err := out.Commit(); err != nil {
		return err
	}
	w.closed = true
	return nil
}

// copyChain moves one chain's spilled batches into the final file, adding
// the index columns.
func (w *Writer) copyChain(fw *ipc.FileWriter, schema *arrow.Schema, cw *ChainWriter, n int) error {
	if _, err := cw.spill.Seek(0, io.SeekStart); err != nil {
		return err
	}
	r, err := ipc.NewReader(cw.spill, ipc.WithAllocator(w.mem))
	if err != nil {
		return fmt.Errorf("reading spill of chain %d: %w", cw.index+1, err)
	}
	defer r.Release()
	it := 0
	idx := array.NewInt32Builder(w.mem)
	defer idx.Release()
	for r.Next() {
		rec := r.Record()
		rows := int(rec.NumRows())
		cols := make([]arrow.Array, 0, 3+int(rec.NumCols()))
		for k := range 3 {
			for i := range rows {
				switch k {
				case 0:
					idx.Append(int32(cw.index + 1))
				case 1:
					idx.Append(int32(it + i + 1))
				case 2:
					idx.Append(int32(cw.index*n + it + i + 1))
				}
			}
			cols = append(cols, idx.NewArray())
		}
		cols = append(cols, rec.Columns()...)
		out := array.NewRecord(schema, cols, int64(rows))
		err := fw.Write(out)
		out.Release()
		for _, c := range cols[:3] {
			c.Release()
		}
		if err != nil {
			return err
		}
		it += rows
	}
	return r.Err()
}

// Abort removes the temporary files. It is safe to call at any time and
// more than once; after a successful Close it does nothing.
func (w *Writer) Abort() {
	for _, cw := range w.chains {
		if cw.spill != nil {
			cw.builder.Release()
			cw.spill.Close()
			os.Remove(cw.spill.Name())
			cw.spill = nil
		}
	}
}

// WriteFile writes d to an Arrow draws file at path, atomically.
func WriteFile(path string, d *Draws, opts WriteOptions) error {
	if err := d.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	w, err := Create(path, d.Names, d.Meta, d.NumChains(), d.Warmup, opts)
	if err != nil {
		return err
	}
	defer w.Abort()
	row := make([]float64, len(d.Names))
	for c, ch := range d.Values {
		n := len(ch[0])
		for i := range n {
			for v := range ch {
				row[v] = ch[v][i]
			}
			if err := w.Chain(c).Append(row); err != nil {
				return err
			}
		}
	}
	return w.Close()
}

// ReadArrow reads an Arrow IPC draws file. Besides epmc's own files it
// accepts any Arrow IPC file with the index columns .chain and .iteration
// (.draw is optional) and numeric variable columns, such as a data frame
// from posterior::as_draws_df written with arrow::write_feather. Rows may
// come in any order. Anything it cannot trust is an error naming the file:
// missing or non-integer index columns, gaps or repeats in the iterations,
// nulls, NaN or infinite values, chains of different lengths, malformed
// epmc metadata.
func ReadArrow(path string) (*Draws, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	d, err := decodeArrow(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// decodeArrow parses the bytes of an Arrow IPC file. Malformed input can
// make the Arrow library panic; that is turned into an error.
func decodeArrow(data []byte) (d *Draws, err error) {
	defer func() {
		if r := recover(); r != nil {
			d, err = nil, fmt.Errorf("corrupt Arrow file (%v)", r)
		}
	}()
	if len(data) == 0 {
		return nil, errors.New("empty file")
	}
	if len(data) < 2*len(arrowMagic)+4 || !bytes.Equal(data[:len(arrowMagic)], arrowMagic) {
		return nil, errors.New("not an Arrow IPC file (no ARROW1 magic at the start)")
	}
	if !bytes.Equal(data[len(data)-len(arrowMagic):], arrowMagic) {
		return nil, errors.New("truncated Arrow IPC file (no ARROW1 magic at the end; was the writer interrupted?)")
	}
	if err := checkArrowFooter(data); err != nil {
		return nil, fmt.Errorf("corrupt Arrow file: %w", err)
	}
	mem := newBudgetAllocator(len(data))
	r, err := ipc.NewFileReader(bytes.NewReader(data), ipc.WithAllocator(mem))
	if err != nil {
		return nil, fmt.Errorf("reading Arrow footer: %w", err)
	}
	defer r.Close()
	schema := r.Schema()
	md := schema.Metadata()
	meta, warmup, err := decodeMeta(md.Keys(), md.Values())
	if err != nil {
		return nil, err
	}

	colChain, colIter := -1, -1
	var names []string
	var varCols []int
	for i, f := range schema.Fields() {
		switch f.Name {
		case ColChain:
			colChain = i
		case ColIteration:
			colIter = i
		case ColDraw:
		default:
			if !numericType(f.Type) {
				return nil, fmt.Errorf("column %q has type %s, want a numeric type", f.Name, f.Type)
			}
			names = append(names, f.Name)
			varCols = append(varCols, i)
		}
	}
	for _, c := range []struct {
		name string
		i    int
	}{{ColChain, colChain}, {ColIteration, colIter}} {
		if c.i < 0 {
			return nil, fmt.Errorf("missing index column %s", c.name)
		}
		if !integerType(schema.Field(c.i).Type) {
			return nil, fmt.Errorf("index column %s has type %s, want an integer type", c.name, schema.Field(c.i).Type)
		}
	}
	if len(names) == 0 {
		return nil, errors.New("no variable columns")
	}

	var keys []drawKey
	vals := make([][]float64, len(names)) // by variable, in row order
	for b := 0; b < r.NumRecords(); b++ {
		rec, err := r.RecordAt(b)
		if err != nil {
			return nil, fmt.Errorf("record batch %d: %w", b, err)
		}
		base := len(keys)
		ch, err := intValues(rec.Column(colChain), ColChain, base)
		if err == nil {
			var it []int64
			if it, err = intValues(rec.Column(colIter), ColIteration, base); err == nil {
				for i := range ch {
					keys = append(keys, drawKey{ch[i], it[i]})
				}
			}
		}
		for j, col := range varCols {
			if err == nil {
				vals[j], err = appendFloats(vals[j], rec.Column(col), names[j], base)
			}
		}
		rec.Release()
		if err != nil {
			return nil, err
		}
	}
	return assemble(names, keys, vals, meta, warmup)
}

func numericType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.FLOAT64, arrow.FLOAT32, arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64, arrow.BOOL:
		return true
	}
	return false
}

func integerType(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64, arrow.UINT8, arrow.UINT16, arrow.UINT32:
		return true
	}
	return false
}

func intValues(a arrow.Array, name string, base int) ([]int64, error) {
	if i := firstNull(a); i >= 0 {
		return nil, fmt.Errorf("column %s row %d: missing value", name, base+i+1)
	}
	return appendArray[int64](nil, a), nil
}

func appendFloats(dst []float64, a arrow.Array, name string, base int) ([]float64, error) {
	if i := firstNull(a); i >= 0 {
		return nil, fmt.Errorf("column %q row %d: missing value", name, base+i+1)
	}
	n := len(dst)
	dst = appendArray(dst, a)
	for i, v := range dst[n:] {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("column %q row %d: value is %g", name, base+i+1, v)
		}
	}
	return dst, nil
}

// firstNull returns the index of a's first null, or -1.
func firstNull(a arrow.Array) int {
	if a.NullN() == 0 {
		return -1
	}
	for i := range a.Len() {
		if a.IsNull(i) {
			return i
		}
	}
	return -1
}

// appendArray appends the values of a numeric or boolean array (a type
// numericType accepts) to dst, converted to D, with one type switch per
// array rather than per value.
func appendArray[D int64 | float64](dst []D, a arrow.Array) []D {
	switch a := a.(type) {
	case *array.Float64:
		return appendAs(dst, a.Float64Values())
	case *array.Float32:
		return appendAs(dst, a.Float32Values())
	case *array.Int8:
		return appendAs(dst, a.Int8Values())
	case *array.Int16:
		return appendAs(dst, a.Int16Values())
	case *array.Int32:
		return appendAs(dst, a.Int32Values())
	case *array.Int64:
		return appendAs(dst, a.Int64Values())
	case *array.Uint8:
		return appendAs(dst, a.Uint8Values())
	case *array.Uint16:
		return appendAs(dst, a.Uint16Values())
	case *array.Uint32:
		return appendAs(dst, a.Uint32Values())
	case *array.Uint64:
		return appendAs(dst, a.Uint64Values())
	case *array.Boolean:
		for i := range a.Len() {
			var v D
			if a.Value(i) {
				v = 1
			}
			dst = append(dst, v)
		}
		return dst
	}
	panic(fmt.Sprintf("chains: no conversion from Arrow type %s", a.DataType()))
}

func appendAs[D int64 | float64, S int8 | int16 | int32 | int64 | uint8 | uint16 | uint32 | uint64 | float32 | float64](dst []D, src []S) []D {
	for _, v := range src {
		dst = append(dst, D(v))
	}
	return dst
}
