package data

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

var utf8BOM = []byte{0xef, 0xbb, 0xbf}

// newCSVReader prepares r for encoding/csv: it drops a UTF-8 byte-order
// mark and picks the separator from the header line (tab when the header
// has tabs and no commas, otherwise comma). Records must all have as many
// fields as the header. Blank lines are skipped, as encoding/csv does.
func newCSVReader(r io.Reader) (*csv.Reader, *bufio.Reader) {
	br := bufio.NewReaderSize(r, 64<<10)
	if head, _ := br.Peek(3); bytes.Equal(head, utf8BOM) {
		br.Discard(3)
	}
	comma := ','
	head, _ := br.Peek(64 << 10) // short files: all of it
	if i := bytes.IndexByte(head, '\n'); i >= 0 {
		head = head[:i]
	}
	if bytes.IndexByte(head, ',') < 0 && bytes.IndexByte(head, '\t') >= 0 {
		comma = '\t'
	}
	cr := csv.NewReader(br)
	cr.Comma = comma
	cr.ReuseRecord = true
	return cr, br
}

// csvError turns an encoding/csv error into a one-line message naming the
// file and the line.
func csvError(name string, rec []string, header int, err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("%s: line %d: %d fields, but the header has %d", name, pe.StartLine, len(rec), header)
		}
		return fmt.Errorf("%s: line %d, column %d: %v", name, pe.Line, pe.Column, pe.Err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// readHeader reads and cleans the header record.
func readHeader(cr *csv.Reader, name string) ([]string, error) {
	rec, err := cr.Read()
	if err == io.EOF {
		return nil, fmt.Errorf("%s: %w", name, errEmptyFile)
	}
	if err != nil {
		return nil, csvError(name, rec, 0, err)
	}
	header := make([]string, len(rec))
	for i, h := range rec {
		header[i] = strings.TrimSpace(h)
	}
	return header, nil
}

// selectColumns maps the requested column names to their positions in
// header; nil or empty columns select every column, which must then have
// distinct, non-empty names.
func selectColumns(name string, header, columns []string) (names []string, idx []int, err error) {
	pos := make(map[string]int, len(header))
	second := make(map[string]int) // position of a name's second occurrence
	for i, h := range header {
		if _, ok := pos[h]; !ok {
			pos[h] = i
		} else if _, ok := second[h]; !ok {
			second[h] = i
		}
	}
	twice := func(h string) error {
		return fmt.Errorf("%s: column %q appears twice in the header (columns %d and %d)", name, h, pos[h]+1, second[h]+1)
	}
	if len(columns) == 0 {
		for i, h := range header {
			if h == "" {
				return nil, nil, fmt.Errorf("%s: column %d has no name", name, i+1)
			}
			if _, ok := second[h]; ok {
				return nil, nil, twice(h)
			}
		}
		return append([]string(nil), header...), seq(len(header)), nil
	}
	idx = make([]int, len(columns))
	for k, c := range columns {
		i, ok := pos[c]
		if !ok {
			return nil, nil, noColumn(name, c, header)
		}
		if _, ok := second[c]; ok {
			return nil, nil, twice(c)
		}
		idx[k] = i
	}
	return append([]string(nil), columns...), idx, nil
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

func loadCSVFile(path string, columns []string) (*Table, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, openError(path, err)
	}
	defer f.Close()
	return loadCSV(f, path, columns)
}

// loadCSV reads CSV from r, streaming: only the selected cells are parsed,
// and no strings are kept.
func loadCSV(r io.Reader, name string, columns []string) (*Table, error) {
	cr, _ := newCSVReader(r)
	header, err := readHeader(cr, name)
	if err != nil {
		return nil, err
	}
	names, idx, err := selectColumns(name, header, columns)
	if err != nil {
		return nil, err
	}
	cols := make([][]float64, len(idx))
	for row := 1; ; row++ {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(name, rec, len(header), err)
		}
		for k, i := range idx {
			v, err := parseCell(rec[i])
			if err != nil {
				line, _ := cr.FieldPos(i)
				return nil, fmt.Errorf("%s: row %d (line %d), column %q: %v", name, row, line, names[k], err)
			}
			cols[k] = append(cols[k], v)
		}
	}
	if len(cols) == 0 || len(cols[0]) == 0 {
		if len(cols) == 0 {
			// Every column was asked for and the header is empty.
			return nil, fmt.Errorf("%s: no columns", name)
		}
		return nil, fmt.Errorf("%s: no data rows (only a header)", name)
	}
	return &Table{Path: name, Names: names, Cols: cols}, nil
}
