package data

import (
	"bufio"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/epmc/epmc/internal/atomicfile"
)

// writeBatch is the number of rows per Arrow record batch or Parquet row
// group that WriteFile writes.
const writeBatch = 64 << 10

// WriteFile writes t to path in format f, atomically: CSV with the
// shortest decimal that reads back to the same float64 (so Load returns
// exactly t), or float64 columns in an Arrow IPC file or stream or a
// Parquet file (Snappy-compressed).
func WriteFile(path string, t *Table, f Format) error {
	if len(t.Names) != len(t.Cols) {
		return fmt.Errorf("writing %s: %d names for %d columns", path, len(t.Names), len(t.Cols))
	}
	for j, c := range t.Cols {
		if len(c) != t.NumRows() {
			return fmt.Errorf("writing %s: column %q has %d rows, want %d", path, t.Names[j], len(c), t.NumRows())
		}
	}
	if f < CSV || f > Parquet {
		return fmt.Errorf("writing %s: unknown format %v", path, f)
	}
	out, err := createShared(path)
	if err != nil {
		return err
	}
	defer out.Abort()
	if f == CSV {
		err = t.WriteCSV(out)
	} else {
		err = writeArrow(out, t, f)
	}
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return out.Commit()
}

// createShared opens an atomic output file readable by everyone, as data
// files usually are (temporary files are created private).
func createShared(path string) (*atomicfile.File, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, err
	}
	if err := f.Chmod(0o644); err != nil {
		f.Abort()
		return nil, fmt.Errorf("writing %s: %w", path, err)
	}
	return f, nil
}

// WriteCSV writes t as CSV with a header row. Numbers are written with the
// fewest digits that parse back to the same float64.
func (t *Table) WriteCSV(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	cw := csv.NewWriter(bw)
	if err := cw.Write(t.Names); err != nil {
		return err
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	// Numbers never need quoting: write the rows directly.
	var line []byte
	for i := 0; i < t.NumRows(); i++ {
		line = line[:0]
		for j, c := range t.Cols {
			if j > 0 {
				line = append(line, ',')
			}
			line = strconv.AppendFloat(line, c[i], 'g', -1, 64)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// noCloser hides the Close method of a writer from the Parquet writer,
// which would otherwise close the atomic file before it is committed.
type noCloser struct{ io.Writer }

func writeArrow(w io.Writer, t *Table, f Format) error {
	mem := memory.DefaultAllocator
	fields := make([]arrow.Field, len(t.Names))
	for j, n := range t.Names {
		fields[j] = arrow.Field{Name: n, Type: arrow.PrimitiveTypes.Float64}
	}
	schema := arrow.NewSchema(fields, nil)
	var (
		write func(arrow.Record) error
		close func() error
	)
	switch f {
	case ArrowFile:
		ws, ok := w.(io.WriteSeeker)
		if !ok {
			return fmt.Errorf("an Arrow IPC file needs a seekable writer")
		}
		fw, err := ipc.NewFileWriter(ws, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err != nil {
			return err
		}
		write, close = fw.Write, fw.Close
	case ArrowStream:
		sw := ipc.NewWriter(w, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		write, close = sw.Write, sw.Close
	case Parquet:
		// Dictionary encoding does not pay for float columns of mostly
		// distinct values and makes writing several times slower.
		props := parquet.NewWriterProperties(parquet.WithCompression(compress.Codecs.Snappy),
			parquet.WithDictionaryDefault(false), parquet.WithAllocator(mem))
		pw, err := pqarrow.NewFileWriter(schema, noCloser{w}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return err
		}
		write, close = pw.Write, pw.Close
	}
	n := t.NumRows()
	for lo := 0; lo < n || lo == 0; lo += writeBatch {
		hi := min(lo+writeBatch, n)
		cols := make([]arrow.Array, len(t.Cols))
		for j, c := range t.Cols {
			b := array.NewFloat64Builder(mem)
			b.AppendValues(c[lo:hi], nil)
			cols[j] = b.NewArray()
			b.Release()
		}
		rec := array.NewRecord(schema, cols, int64(hi-lo))
		for _, a := range cols {
			a.Release()
		}
		err := write(rec)
		rec.Release()
		if err != nil {
			close()
			return err
		}
		if n == 0 {
			break
		}
	}
	return close()
}
