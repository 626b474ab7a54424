package data

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"
)

// readBatch is the number of rows read from Parquet at a time.
const readBatch = 64 << 10

// loadArrow reads the selected columns of an Arrow IPC file or stream or a
// Parquet file one record batch at a time. The Arrow and Parquet readers
// may panic on corrupt input; the panic becomes an error naming the file.
func loadArrow(path string, format Format, columns []string) (t *Table, err error) {
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%s: corrupt %s file (%v)", path, format, r)
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	mem := memory.DefaultAllocator
	var c *collector
	switch format {
	case ArrowFile:
		r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", path, format, err)
		}
		defer r.Close()
		if c, err = newCollector(path, r.Schema(), columns); err != nil {
			return nil, err
		}
		for i := 0; i < r.NumRecords(); i++ {
			rec, err := r.RecordAt(i)
			if err != nil {
				return nil, fmt.Errorf("%s: record batch %d: %w", path, i+1, err)
			}
			err = c.add(rec)
			rec.Release()
			if err != nil {
				return nil, err
			}
		}
	case ArrowStream:
		r, err := ipc.NewReader(f, ipc.WithAllocator(mem))
		if err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", path, format, err)
		}
		defer r.Release()
		if c, err = newCollector(path, r.Schema(), columns); err != nil {
			return nil, err
		}
		for r.Next() {
			if err := c.add(r.Record()); err != nil {
				return nil, err
			}
		}
		if err := r.Err(); err != nil {
			return nil, fmt.Errorf("%s: reading %s: %w", path, format, err)
		}
	case Parquet:
		pf, err := file.NewParquetReader(f)
		if err != nil {
			return nil, fmt.Errorf("%s: reading Parquet: %w", path, err)
		}
		defer pf.Close()
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatch}, mem)
		if err != nil {
			return nil, fmt.Errorf("%s: reading Parquet: %w", path, err)
		}
		schema, err := fr.Schema()
		if err != nil {
			return nil, fmt.Errorf("%s: reading Parquet schema: %w", path, err)
		}
		names, idx, err := selectColumns(path, fieldNames(schema), columns)
		if err != nil {
			return nil, err
		}
		// Read only the leaf columns of the selected fields.
		leaves := make([]int, len(idx))
		for k, i := range idx {
			sf := fr.Manifest.Fields[i]
			if !sf.IsLeaf() {
				return nil, fmt.Errorf("%s: column %q has type %s, not a number", path, names[k], schema.Field(i).Type)
			}
			leaves[k] = sf.ColIndex
		}
		if pf.NumRows() == 0 {
			return nil, fmt.Errorf("%s: no data rows", path)
		}
		rr, err := fr.GetRecordReader(context.Background(), leaves, nil)
		if err != nil {
			return nil, fmt.Errorf("%s: reading Parquet: %w", path, err)
		}
		defer rr.Release()
		if c, err = newCollector(path, rr.Schema(), names); err != nil {
			return nil, err
		}
		for rr.Next() {
			if err := c.add(rr.Record()); err != nil {
				return nil, err
			}
		}
		if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: reading Parquet: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("%s: %v is not an Arrow or Parquet format", path, format)
	}
	if c.rows == 0 {
		return nil, fmt.Errorf("%s: no data rows", path)
	}
	if len(c.cols) == 0 {
		return nil, fmt.Errorf("%s: no columns", path)
	}
	return &Table{Path: path, Names: c.names, Cols: c.cols}, nil
}

func fieldNames(s *arrow.Schema) []string {
	names := make([]string, s.NumFields())
	for i := range names {
		names[i] = s.Field(i).Name
	}
	return names
}

// collector appends the selected columns of record batches to float64
// columns.
type collector struct {
	path  string
	names []string
	idx   []int // field positions in the batches' schema
	cols  [][]float64
	rows  int
}

func newCollector(path string, schema *arrow.Schema, columns []string) (*collector, error) {
	names, idx, err := selectColumns(path, fieldNames(schema), columns)
	if err != nil {
		return nil, err
	}
	for k, i := range idx {
		if !convertible(schema.Field(i).Type) {
			return nil, fmt.Errorf("%s: column %q has type %s, not a number", path, names[k], schema.Field(i).Type)
		}
	}
	return &collector{path: path, names: names, idx: idx, cols: make([][]float64, len(idx))}, nil
}

func (c *collector) add(rec arrow.Record) error {
	for k, i := range c.idx {
		var err *cellError
		c.cols[k], err = appendArray(c.cols[k], rec.Column(i))
		if err != nil {
			return fmt.Errorf("%s: row %d, column %q: %s", c.path, c.rows+err.row+1, c.names[k], err.msg)
		}
	}
	c.rows += int(rec.NumRows())
	return nil
}

// cellError is a bad value at a 0-based row of one array.
type cellError struct {
	row int
	msg string
}

// convertible reports whether appendArray can turn arrays of type dt into
// numbers (strings are parsed cell by cell).
func convertible(dt arrow.DataType) bool {
	switch dt.ID() {
	case arrow.INT8, arrow.INT16, arrow.INT32, arrow.INT64,
		arrow.UINT8, arrow.UINT16, arrow.UINT32, arrow.UINT64,
		arrow.FLOAT16, arrow.FLOAT32, arrow.FLOAT64, arrow.BOOL,
		arrow.DECIMAL128, arrow.DECIMAL256, arrow.STRING, arrow.LARGE_STRING, arrow.NULL:
		return true
	case arrow.DICTIONARY:
		return convertible(dt.(*arrow.DictionaryType).ValueType)
	}
	return false
}

type number interface {
	~int8 | ~int16 | ~int32 | ~int64 | ~uint8 | ~uint16 | ~uint32 | ~uint64 | ~float32 | ~float64
}

// appendArray appends the values of a to dst as float64, failing at the
// first null or non-finite value.
func appendArray(dst []float64, a arrow.Array) ([]float64, *cellError) {
	switch a := a.(type) {
	case *array.Int8:
		return appendNumbers(dst, a.Int8Values(), a)
	case *array.Int16:
		return appendNumbers(dst, a.Int16Values(), a)
	case *array.Int32:
		return appendNumbers(dst, a.Int32Values(), a)
	case *array.Int64:
		return appendNumbers(dst, a.Int64Values(), a)
	case *array.Uint8:
		return appendNumbers(dst, a.Uint8Values(), a)
	case *array.Uint16:
		return appendNumbers(dst, a.Uint16Values(), a)
	case *array.Uint32:
		return appendNumbers(dst, a.Uint32Values(), a)
	case *array.Uint64:
		return appendNumbers(dst, a.Uint64Values(), a)
	case *array.Float32:
		return appendNumbers(dst, a.Float32Values(), a)
	case *array.Float64:
		return appendNumbers(dst, a.Float64Values(), a)
	}
	value, err := cellReader(a)
	if err != nil {
		return dst, &cellError{0, err.Error()}
	}
	for i := 0; i < a.Len(); i++ {
		if a.IsNull(i) {
			return dst, &cellError{i, "missing value (null)"}
		}
		v, err := value(i)
		if err != nil {
			return dst, &cellError{i, err.Error()}
		}
		dst = append(dst, v)
	}
	return dst, nil
}

func appendNumbers[T number](dst []float64, vals []T, a arrow.Array) ([]float64, *cellError) {
	nulls := a.NullN() > 0
	for i, v := range vals {
		if nulls && a.IsNull(i) {
			return dst, &cellError{i, "missing value (null)"}
		}
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dst, &cellError{i, fmt.Sprintf("value %v is not finite", f)}
		}
		dst = append(dst, f)
	}
	return dst, nil
}

// cellReader returns a function reading element i of a (not null) as a
// finite float64, for the array types without a plain value slice.
func cellReader(a arrow.Array) (func(i int) (float64, error), error) {
	finite := func(v float64) (float64, error) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("value %v is not finite", v)
		}
		return v, nil
	}
	switch a := a.(type) {
	case *array.Float16:
		return func(i int) (float64, error) { return finite(float64(a.Value(i).Float32())) }, nil
	case *array.Boolean:
		return func(i int) (float64, error) {
			if a.Value(i) {
				return 1, nil
			}
			return 0, nil
		}, nil
	case *array.Decimal128:
		scale := a.DataType().(*arrow.Decimal128Type).Scale
		return func(i int) (float64, error) { return finite(a.Value(i).ToFloat64(scale)) }, nil
	case *array.Decimal256:
		scale := a.DataType().(*arrow.Decimal256Type).Scale
		return func(i int) (float64, error) { return finite(a.Value(i).ToFloat64(scale)) }, nil
	case *array.String:
		return func(i int) (float64, error) { return parseCell(a.Value(i)) }, nil
	case *array.LargeString:
		return func(i int) (float64, error) { return parseCell(a.Value(i)) }, nil
	case *array.Null:
		return func(int) (float64, error) { return 0, errors.New("missing value (null)") }, nil
	case *array.Dictionary:
		dict := a.Dictionary()
		value, err := cellReader(dict)
		if err != nil {
			return nil, err
		}
		return func(i int) (float64, error) {
			j := a.GetValueIndex(i)
			if dict.IsNull(j) {
				return 0, errors.New("missing value (null)")
			}
			return value(j)
		}, nil
	case *array.Int8:
		return numberReader(a.Int8Values()), nil
	case *array.Int16:
		return numberReader(a.Int16Values()), nil
	case *array.Int32:
		return numberReader(a.Int32Values()), nil
	case *array.Int64:
		return numberReader(a.Int64Values()), nil
	case *array.Uint8:
		return numberReader(a.Uint8Values()), nil
	case *array.Uint16:
		return numberReader(a.Uint16Values()), nil
	case *array.Uint32:
		return numberReader(a.Uint32Values()), nil
	case *array.Uint64:
		return numberReader(a.Uint64Values()), nil
	case *array.Float32:
		return numberReader(a.Float32Values()), nil
	case *array.Float64:
		return numberReader(a.Float64Values()), nil
	}
	return nil, fmt.Errorf("type %s is not a number", a.DataType())
}

func numberReader[T number](vals []T) func(int) (float64, error) {
	return func(i int) (float64, error) {
		v := float64(vals[i])
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("value %v is not finite", v)
		}
		return v, nil
	}
}
