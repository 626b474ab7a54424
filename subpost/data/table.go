package data

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Table is a data set held by column.
type Table struct {
	Path  string      // where it came from (for messages)
	Names []string    // column names
	Cols  [][]float64 // Cols[j][i] = column j, row i
}

// NumRows returns the number of rows.
func (t *Table) NumRows() int {
	if len(t.Cols) == 0 {
		return 0
	}
	return len(t.Cols[0])
}

// Column returns the values of the named column (not a copy). The error
// names the table's file and lists the columns it has.
func (t *Table) Column(name string) ([]float64, error) {
	for j, n := range t.Names {
		if n == name {
			return t.Cols[j], nil
		}
	}
	return nil, noColumn(t.source(), name, t.Names)
}

// ErrNoColumn is returned (wrapped) by Load and Table.Column when a
// requested column is not in the data.
var ErrNoColumn = errors.New("no column")

// noColumn is the error for a column the source does not have; it names the
// column and lists the ones there are.
func noColumn(source, name string, have []string) error {
	return fmt.Errorf("%s: %w %q (columns: %s)", source, ErrNoColumn, name, listNames(have))
}

// Subset returns a new table holding the given rows of t, in the given
// order. Rows must be valid indices of t.
func (t *Table) Subset(rows []int) *Table {
	s := &Table{Path: t.Path, Names: append([]string(nil), t.Names...), Cols: make([][]float64, len(t.Cols))}
	for j, c := range t.Cols {
		out := make([]float64, len(rows))
		for i, r := range rows {
			out[i] = c[r]
		}
		s.Cols[j] = out
	}
	return s
}

func (t *Table) source() string {
	if t.Path == "" {
		return "data"
	}
	return t.Path
}

// listNames formats column names for an error message, eliding the middle
// of very long lists.
func listNames(names []string) string {
	const max = 20
	q := make([]string, 0, min(len(names), max+1))
	for i, n := range names {
		if i == max {
			q = append(q, fmt.Sprintf("… %d more", len(names)-max))
			break
		}
		q = append(q, strconv.Quote(n))
	}
	if len(q) == 0 {
		return "none"
	}
	return strings.Join(q, ", ")
}

// Format is a data file format.
type Format int

const (
	CSV         Format = iota + 1 // comma- (or tab-) separated values with a header row
	ArrowFile                     // Arrow IPC file format ("Feather v2"), magic ARROW1
	ArrowStream                   // Arrow IPC stream format
	Parquet                       // Apache Parquet, magic PAR1
)

// String returns the format's name.
func (f Format) String() string {
	switch f {
	case CSV:
		return "CSV"
	case ArrowFile:
		return "Arrow IPC file"
	case ArrowStream:
		return "Arrow IPC stream"
	case Parquet:
		return "Parquet"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// Ext returns the usual file extension of the format, with its dot.
func (f Format) Ext() string {
	switch f {
	case CSV:
		return ".csv"
	case ArrowFile:
		return ".arrow"
	case ArrowStream:
		return ".arrows"
	case Parquet:
		return ".parquet"
	}
	return ""
}

var (
	arrowMagic    = []byte("ARROW1")
	parquetMagic  = []byte("PAR1")
	streamMagic   = []byte{0xff, 0xff, 0xff, 0xff} // IPC continuation marker
	gzipMagic     = []byte{0x1f, 0x8b}
	zstdMagic     = []byte{0x28, 0xb5, 0x2f, 0xfd}
	errEmptyFile  = errors.New("empty file")
	errNotTabular = errors.New("not a CSV, Arrow IPC or Parquet file")
)

// Detect tells the format of the file at path from its first bytes: Arrow
// IPC files start with ARROW1, streams with the IPC continuation marker,
// Parquet files with PAR1; text is taken as CSV. Empty and compressed files
// are errors.
func Detect(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, openError(path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.IsDir() {
		return 0, fmt.Errorf("%s is a directory, not a data file", path)
	}
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	format, err := detect(head[:n])
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	return format, nil
}

func detect(head []byte) (Format, error) {
	switch {
	case len(head) == 0:
		return 0, errEmptyFile
	case bytes.HasPrefix(head, arrowMagic):
		return ArrowFile, nil
	case bytes.HasPrefix(head, streamMagic):
		return ArrowStream, nil
	case bytes.HasPrefix(head, parquetMagic):
		return Parquet, nil
	case bytes.HasPrefix(head, gzipMagic), bytes.HasPrefix(head, zstdMagic):
		return 0, errors.New("compressed file: decompress it first (CSV, Arrow IPC and Parquet are read)")
	case bytes.IndexByte(head, 0) >= 0:
		return 0, errNotTabular
	}
	return CSV, nil
}

func openError(path string, err error) error {
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("data file %s does not exist", path)
	}
	return err
}

// Load reads a CSV (header row), Arrow IPC (file or stream) or Parquet file,
// telling them apart by content. Only the named columns are loaded and
// checked (nil or empty: all columns), in the order given. A missing
// column, an empty file, a file without data rows, or a missing,
// non-numeric or non-finite value is a one-line error naming the file, the
// row (1-based data row, header excluded; CSV errors also give the line of
// the file) and the column.
//
// Numeric columns of any integer, floating-point or decimal type become
// float64, booleans 0 and 1; Arrow and Parquet string columns are parsed as
// numbers like CSV cells.
func Load(path string, columns []string) (*Table, error) {
	if len(columns) > 0 {
		seen := make(map[string]bool, len(columns))
		for _, c := range columns {
			if seen[c] {
				return nil, fmt.Errorf("%s: column %q requested twice", path, c)
			}
			seen[c] = true
		}
	}
	format, err := Detect(path)
	if err != nil {
		return nil, err
	}
	var t *Table
	switch format {
	case CSV:
		t, err = loadCSVFile(path, columns)
	case ArrowFile, ArrowStream, Parquet:
		t, err = loadArrow(path, format, columns)
	}
	if err != nil {
		return nil, err
	}
	t.Path = path
	return t, nil
}

// parseCell parses one text cell as a finite float64. Surrounding spaces
// are ignored. The error says what is wrong with the cell without naming
// it; callers add the file, row and column.
func parseCell(s string) (float64, error) {
	s = strings.TrimSpace(s)
	if isMissing(s) {
		if s == "" {
			return 0, errors.New("missing value (empty cell)")
		}
		return 0, fmt.Errorf("missing value (%s)", s)
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("value %s is out of the float64 range", quoteCell(s))
		}
		return 0, fmt.Errorf("%s is not a number", quoteCell(s))
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value %s is not finite", quoteCell(s))
	}
	return v, nil
}

// isMissing reports the usual spellings of a missing value in text data
// (R, pandas, SQL exports, SAS).
func isMissing(s string) bool {
	switch s {
	case "", "NA", "N/A", "n/a", "na", "null", "NULL", "Null", "None", "none", "nil", ".", "-", "?":
		return true
	}
	return false
}

// quoteCell quotes a cell for an error message, shortening long ones so the
// message stays on one line.
func quoteCell(s string) string {
	const max = 40
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return strconv.Quote(s)
}

// baseName is the file name of path without its last extension.
func baseName(path string) (base, ext string) {
	b := filepath.Base(path)
	ext = filepath.Ext(b)
	if ext == b { // ".hidden"
		ext = ""
	}
	return strings.TrimSuffix(b, ext), ext
}
