package chains

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/epmc/epmc/internal/atomicfile"
)

// WriteCSV writes d as CSV in R posterior's draws_df layout: a header
// ".chain,.iteration,.draw," followed by the variable names, then one row
// per iteration, chain after chain, with 1-based indices. Numbers are
// printed in the shortest form that parses back to the same float64
// (strconv 'g', -1). A NaN or infinite value is an error naming the
// column, chain and iteration, as in the Arrow writer: a draws file holds
// finite values only, and DecodeCSV would reject it.
//
// The metadata go first, one "# epmc.KEY=VALUE" comment line per key of
// the Arrow format's schema metadata (see docs/FORMAT.md), so that R's
// read.csv(f, comment.char = "#") and pandas' read_csv(f, comment="#")
// skip them while DecodeCSV restores them. A key or value that could not
// survive on one line (newlines, control characters, leading or trailing
// blanks, a leading double quote, '=' in a key) is written as a JSON
// string. Saved warmup draws follow the Arrow convention: epmc.saved_warmup
// gives their number, and they are the first rows of every chain.
func WriteCSV(w io.Writer, d *Draws) error {
	if err := d.Validate(); err != nil {
		return err
	}
	// Checked before anything is written, so that standard output does
	// not get half a file either.
	for c, ch := range d.Values {
		for v, s := range ch {
			for i, x := range s {
				if math.IsNaN(x) || math.IsInf(x, 0) {
					return fmt.Errorf("chain %d, iteration %d: %s is %g, but a draws file holds finite values only", c+1, i+1, d.Names[v], x)
				}
			}
		}
	}
	bw := bufio.NewWriterSize(w, 256<<10)
	keys, values := encodeMeta(d.Meta, d.Warmup)
	for i, k := range keys {
		if !utf8.ValidString(k) || !utf8.ValidString(values[i]) {
			return fmt.Errorf("metadata %q is not valid UTF-8 and cannot be written to CSV", k)
		}
	}
	for i, k := range keys {
		bw.WriteString("# ")
		bw.WriteString(metaToken(k, true))
		bw.WriteByte('=')
		bw.WriteString(metaToken(values[i], false))
		bw.WriteByte('\n')
	}
	bw.WriteString(ColChain + "," + ColIteration + "," + ColDraw)
	for _, n := range d.Names {
		bw.WriteByte(',')
		bw.WriteString(csvField(n))
	}
	bw.WriteByte('\n')
	buf := make([]byte, 0, 32*(len(d.Names)+3))
	for c, ch := range d.Values {
		n := len(ch[0])
		for i := range n {
			buf = buf[:0]
			buf = strconv.AppendInt(buf, int64(c+1), 10)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(i+1), 10)
			buf = append(buf, ',')
			buf = strconv.AppendInt(buf, int64(c*n+i+1), 10)
			for _, s := range ch {
				buf = append(buf, ',')
				buf = strconv.AppendFloat(buf, s[i], 'g', -1, 64)
			}
			buf = append(buf, '\n')
			if _, err := bw.Write(buf); err != nil {
				return err
			}
		}
	}
	return bw.Flush()
}

// WriteCSVFile writes d to path with WriteCSV, atomically: the file
// appears under its name only when complete.
func WriteCSVFile(path string, d *Draws) error {
	err := atomicfile.Write(path, func(w io.Writer) error { return WriteCSV(w, d) })
	if err != nil && !strings.Contains(err.Error(), path) {
		err = fmt.Errorf("%s: %w", path, err)
	}
	return err
}

// utf8BOM is the byte-order mark some programs put at the start of UTF-8
// text files.
const utf8BOM = "\ufeff"

// csvField quotes a header field when RFC 4180 requires it (Sigma[1,2]
// holds a comma) or when blanks at its ends would otherwise be lost.
func csvField(s string) string {
	if s == "" || strings.ContainsAny(s, ",\"\r\n") || strings.TrimSpace(s) != s || strings.HasPrefix(s, "#") {
		return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
	}
	return s
}

// metaToken returns s as written in a metadata comment line: verbatim when
// it is safe, otherwise as a JSON string.
func metaToken(s string, isKey bool) string {
	quote := strings.HasPrefix(s, `"`) || strings.TrimSpace(s) != s || !utf8.ValidString(s) ||
		(isKey && strings.Contains(s, "="))
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == '\u2028' || r == '\u2029' || r == '\u0085' {
			quote = true
			break
		}
	}
	if !quote {
		return s
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(s)
	return strings.TrimSuffix(b.String(), "\n")
}

// parseMetaLine parses the text of a "# epmc.KEY=VALUE" comment (without
// the "#"). ok is false for comments that are not epmc metadata.
func parseMetaLine(s string) (key, value string, ok bool, err error) {
	s = strings.TrimPrefix(s, " ")
	s = strings.TrimSuffix(s, "\r")
	var rest string
	switch {
	case strings.HasPrefix(s, `"`+metaPrefix):
		key, rest, err = jsonStringPrefix(s)
		if err != nil {
			return "", "", false, fmt.Errorf("metadata key: %w", err)
		}
		if !strings.HasPrefix(rest, "=") {
			return "", "", false, errors.New("metadata line: want KEY=VALUE")
		}
		rest = rest[1:]
	case strings.HasPrefix(s, metaPrefix):
		i := strings.IndexByte(s, '=')
		if i < 0 {
			return "", "", false, fmt.Errorf("metadata line %q: want KEY=VALUE", s)
		}
		key, rest = s[:i], s[i+1:]
	default:
		return "", "", false, nil
	}
	if strings.HasPrefix(rest, `"`) {
		var tail string
		value, tail, err = jsonStringPrefix(rest)
		if err == nil && tail != "" {
			err = fmt.Errorf("unexpected text %q after the quoted value", tail)
		}
		if err != nil {
			return "", "", false, fmt.Errorf("metadata %s: %w", printable(key), err)
		}
		return key, value, true, nil
	}
	return key, rest, true, nil
}

// jsonStringPrefix decodes the JSON string literal at the start of s and
// returns it with the rest of s.
func jsonStringPrefix(s string) (string, string, error) {
	// Find the closing quote: the first '"' not escaped by a backslash.
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			var v string
			if err := json.Unmarshal([]byte(s[:i+1]), &v); err != nil {
				return "", "", fmt.Errorf("bad JSON string %q: %w", s[:i+1], err)
			}
			return v, s[i+1:], nil
		}
	}
	return "", "", fmt.Errorf("unterminated JSON string %q", s)
}

// ReadCSV reads a CSV file of draws in R posterior's draws_df layout, such
// as WriteCSV writes (see DecodeCSV). Errors name the file.
func ReadCSV(path string) (*Draws, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	d, err := DecodeCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return d, nil
}

// DecodeCSV reads CSV draws in R posterior's draws_df layout: a header
// with the index columns .chain and .iteration (.draw is optional and
// ignored: it is implied by the other two) and one numeric column per
// variable, in any column order, with rows in any order. It reads what
// WriteCSV writes, restoring the metadata from the "# epmc.KEY=VALUE"
// comment lines before the header, and also what R writes with
// write.csv(as_draws_df(x), f) (quoted names and a leading row-name column
// are accepted). Missing values (NA or an empty field), NaN and infinite
// values are errors naming the line and column, as are chains that are not
// numbered 1..C, gaps or repeats in the iterations and chains of different
// lengths.
func DecodeCSV(r io.Reader) (*Draws, error) {
	lr := &lastByteReader{r: r}
	br := bufio.NewReaderSize(lr, 256<<10)
	var keys, values []string
	line := 0
	var header string
	for {
		s, err := br.ReadString('\n')
		if s == "" && err != nil {
			if err == io.EOF {
				if line == 0 {
					return nil, errors.New("empty file")
				}
				return nil, errors.New("no header line")
			}
			return nil, err
		}
		line++
		if line == 1 {
			s = strings.TrimPrefix(s, utf8BOM) // as spreadsheet programs save CSV
		}
		t := strings.TrimRight(s, "\r\n")
		if strings.HasPrefix(t, "#") {
			k, v, ok, perr := parseMetaLine(t[1:])
			if perr != nil {
				return nil, fmt.Errorf("line %d: %w", line, perr)
			}
			if ok {
				keys = append(keys, k)
				values = append(values, v)
			}
			continue
		}
		if strings.TrimSpace(t) == "" {
			if err != nil {
				return nil, errors.New("no header line")
			}
			continue
		}
		header = s
		break
	}
	meta, warmup, err := decodeMeta(keys, values)
	if err != nil {
		return nil, err
	}

	cr := csv.NewReader(io.MultiReader(strings.NewReader(header), br))
	cr.Comment = '#'
	cr.ReuseRecord = true
	headerLine := line
	lineOf := func(rec int) int { // line of field rec of the last record read
		l, _ := cr.FieldPos(rec)
		return headerLine - 1 + l
	}
	fields, err := cr.Read()
	if err != nil {
		return nil, csvError(err, headerLine-1, fields, len(fields))
	}
	nfields := len(fields)
	colChain, colIter := -1, -1
	var names []string
	var varCols []int
	seen := map[string]bool{}
	for j, f := range fields {
		switch {
		case f == ColChain:
			colChain = j
		case f == ColIteration:
			colIter = j
		case f == ColDraw:
		case f == "" && j == 0:
			// R's write.csv writes the row names as an unnamed first column.
		case f == "":
			return nil, fmt.Errorf("line %d: column %d has an empty name", headerLine, j+1)
		case seen[f]:
			return nil, fmt.Errorf("line %d: duplicate column %q", headerLine, f)
		default:
			seen[f] = true
			names = append(names, f)
			varCols = append(varCols, j)
		}
	}
	if colChain < 0 || colIter < 0 {
		missing := ColChain
		if colChain >= 0 {
			missing = ColIteration
		}
		return nil, fmt.Errorf("line %d: header has no %s column (not a draws_df CSV; Stan CSV files have lp__ and no index columns)", headerLine, missing)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("line %d: no variable columns", headerLine)
	}

	var dkeys []drawKey
	vals := make([][]float64, len(names))
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, csvError(err, headerLine-1, rec, nfields)
		}
		ch, err := parseIndex(rec[colChain], ColChain, lineOf(colChain))
		if err != nil {
			return nil, err
		}
		it, err := parseIndex(rec[colIter], ColIteration, lineOf(colIter))
		if err != nil {
			return nil, err
		}
		dkeys = append(dkeys, drawKey{ch, it})
		for v, j := range varCols {
			x, err := parseDrawValue(rec[j])
			if err != nil {
				return nil, fmt.Errorf("line %d, column %q: %w", lineOf(j), names[v], err)
			}
			vals[v] = append(vals[v], x)
		}
	}
	if lr.last != '\n' && len(dkeys) > 0 {
		l, _ := cr.FieldPos(0)
		return nil, fmt.Errorf("line %d: the file does not end with a newline (cut short by an interrupted writer?)", headerLine-1+l)
	}
	return assemble(names, dkeys, vals, meta, warmup)
}

// csvError rewrites encoding/csv's errors so that line numbers count from
// the top of the file; rec is the record returned with the error and want
// the header's field count.
func csvError(err error, offset int, rec []string, want int) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if errors.Is(pe.Err, csv.ErrFieldCount) {
			return fmt.Errorf("line %d: %d fields, but the header has %d (truncated or malformed row)", pe.Line+offset, len(rec), want)
		}
		return fmt.Errorf("line %d, field %d: %w", pe.StartLine+offset, pe.Column, pe.Err)
	}
	return err
}

// lastByteReader remembers the last byte read, to tell whether a file ends
// with a newline (a file cut short by an interrupted writer usually does
// not).
type lastByteReader struct {
	r    io.Reader
	last byte
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
	}
	return n, err
}

func parseIndex(s, col string, line int) (int64, error) {
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		if f, ferr := strconv.ParseFloat(strings.TrimSpace(s), 64); ferr == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), nil // "1.0" or "1e3" from tools that print doubles
		}
		return 0, fmt.Errorf("line %d, column %s: %q is not an integer", line, col, s)
	}
	return v, nil
}

// parseDrawValue parses one value; missing and non-finite values are
// errors, as in the Arrow reader.
func parseDrawValue(s string) (float64, error) {
	t := strings.TrimSpace(s)
	if t == "" || t == "NA" {
		return 0, errors.New("missing value")
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil {
		var ne *strconv.NumError
		if errors.As(err, &ne) && ne.Err == strconv.ErrRange {
			return 0, fmt.Errorf("%q is out of the float64 range", s)
		}
		return 0, fmt.Errorf("%q is not a number", s)
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, fmt.Errorf("value is %s", t)
	}
	return v, nil
}
