package data

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apache/arrow/go/v15/arrow"
	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/apache/arrow/go/v15/arrow/compute"
	"github.com/apache/arrow/go/v15/arrow/ipc"
	"github.com/apache/arrow/go/v15/arrow/memory"
	"github.com/apache/arrow/go/v15/parquet"
	"github.com/apache/arrow/go/v15/parquet/compress"
	"github.com/apache/arrow/go/v15/parquet/file"
	"github.com/apache/arrow/go/v15/parquet/pqarrow"

	"github.com/epmc/epmc/internal/atomicfile"
)

// ShardPath returns the name of shard (0-based) of shards split from the
// data file input, in directory dir: "<base>.shard-0003-of-0008<ext>",
// with the input's base name and extension.
func ShardPath(dir, input string, shard, shards int) string {
	base, ext := baseName(input)
	return filepath.Join(dir, fmt.Sprintf("%s.shard-%04d-of-%04d%s", base, shard, shards, ext))
}

// SplitFile writes the shards of the data file in as files of the same
// format, shard m to out(m). Each file holds every column of the input
// (strings and any other types too) and exactly the rows that
// Partition.Rows(n, m) gives for the input's n rows, in the same order, so
// that loading a shard file gives the rows Load(in)…Subset(rows) gives.
// CSV rows are copied byte for byte; Arrow and Parquet rows are taken from
// the input's record batches, with the schema and its metadata kept.
//
// All files appear atomically when every shard is written; on error or
// cancellation none of them does. SplitFile returns the number of rows of
// the input.
func SplitFile(ctx context.Context, in string, p Partition, out func(shard int) string) (rows int, err error) {
	if err := p.Validate(); err != nil {
		return 0, err
	}
	format, err := Detect(in)
	if err != nil {
		return 0, err
	}
	inAbs, _ := filepath.Abs(in)
	for m := 0; m < p.Shards; m++ {
		if o, _ := filepath.Abs(out(m)); o == inAbs {
			return 0, fmt.Errorf("shard %d would overwrite the input %s", m, in)
		}
	}
	s := &splitter{ctx: ctx, in: in, p: p, out: out}
	switch format {
	case CSV:
		err = s.csv()
	case ArrowFile, ArrowStream, Parquet:
		err = s.arrow(format)
	}
	if err != nil {
		return 0, err
	}
	return len(s.assign), nil
}

type splitter struct {
	ctx    context.Context
	in     string
	p      Partition
	out    func(int) string
	files  []*atomicfile.File
	assign []int32
}

// partition computes the shard of each of n rows.
func (s *splitter) partition(n int) error {
	if n == 0 {
		return fmt.Errorf("%s: no data rows", s.in)
	}
	if n < s.p.Shards {
		return fmt.Errorf("%s has %d rows, fewer than the %d shards", s.in, n, s.p.Shards)
	}
	s.assign = s.p.Assign(n)
	return nil
}

// create opens the temporary files of every shard.
func (s *splitter) create() error {
	s.files = make([]*atomicfile.File, s.p.Shards)
	for m := range s.files {
		f, err := createShared(s.out(m))
		if err != nil {
			s.abort()
			return err
		}
		s.files[m] = f
	}
	return nil
}

func (s *splitter) abort() {
	for _, f := range s.files {
		if f != nil {
			f.Abort()
		}
	}
}

// commit renames every temporary file into place. If one fails, the shard
// files committed before it are removed again, so that no incomplete set is
// left behind.
func (s *splitter) commit() error {
	for m, f := range s.files {
		if err := f.Commit(); err != nil {
			for _, g := range s.files[:m] {
				os.Remove(g.Path())
			}
			s.abort()
			return err
		}
	}
	return nil
}

// recorder keeps the bytes read through it until they are released, so
// that the raw text of each CSV record can be copied.
type recorder struct {
	r     io.Reader
	buf   []byte
	start int   // buf[start:] is unreleased
	base  int64 // input offset of buf[start]
}

func (rc *recorder) Read(p []byte) (int, error) {
	n, err := rc.r.Read(p)
	if rc.start > 0 && rc.start >= len(rc.buf)/2 {
		rc.buf = append(rc.buf[:0], rc.buf[rc.start:]...)
		rc.start = 0
	}
	rc.buf = append(rc.buf, p[:n]...)
	return n, err
}

// take returns the bytes up to input offset end and releases them.
func (rc *recorder) take(end int64) []byte {
	k := int(end - rc.base)
	b := rc.buf[rc.start : rc.start+k]
	rc.start += k
	rc.base = end
	return b
}

// trimBlankLines drops the blank lines encoding/csv skips ("\n" or "\r\n")
// from the front of a record's raw text.
func trimBlankLines(b []byte) []byte {
	for {
		switch {
		case bytes.HasPrefix(b, []byte("\n")):
			b = b[1:]
		case bytes.HasPrefix(b, []byte("\r\n")):
			b = b[2:]
		default:
			return b
		}
	}
}

func (s *splitter) csv() error {
	// Pass 1: count the records (and check the file is well formed).
	f, err := os.Open(s.in)
	if err != nil {
		return openError(s.in, err)
	}
	cr, _ := newCSVReader(f)
	header, err := readHeader(cr, s.in)
	if err != nil {
		f.Close()
		return err
	}
	n := 0
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			f.Close()
			return csvError(s.in, rec, len(header), err)
		}
		n++
		if n%(64<<10) == 0 {
			if err := s.ctx.Err(); err != nil {
				f.Close()
				return err
			}
		}
	}
	f.Close()
	if err := s.partition(n); err != nil {
		return err
	}

	// Pass 2: copy the header to every shard and each record to its shard.
	f, err = os.Open(s.in)
	if err != nil {
		return openError(s.in, err)
	}
	defer f.Close()
	rc := &recorder{r: f}
	cr, br := newCSVReader(rc)
	// newCSVReader may have dropped a byte-order mark; keep it in the
	// output, in front of the header.
	skipped := int64(len(rc.buf) - br.Buffered())
	prefix := append([]byte(nil), rc.take(skipped)...)
	if _, err := cr.Read(); err != nil {
		return csvError(s.in, nil, len(header), err)
	}
	headerRaw := trimBlankLines(rc.take(skipped + cr.InputOffset()))
	eol := []byte("\n")
	if bytes.HasSuffix(headerRaw, []byte("\r\n")) {
		eol = []byte("\r\n")
	}
	if err := s.create(); err != nil {
		return err
	}
	defer s.abort()
	ws := make([]*bufio.Writer, len(s.files))
	for m, f := range s.files {
		ws[m] = bufio.NewWriterSize(f, 64<<10)
		ws[m].Write(prefix)
		ws[m].Write(headerRaw)
		if !bytes.HasSuffix(headerRaw, []byte("\n")) {
			ws[m].Write(eol)
		}
	}
	for i := 0; ; i++ {
		_, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return csvError(s.in, nil, len(header), err)
		}
		if i >= len(s.assign) {
			return fmt.Errorf("%s changed while it was being split", s.in)
		}
		raw := trimBlankLines(rc.take(skipped + cr.InputOffset()))
		w := ws[s.assign[i]]
		w.Write(raw)
		if !bytes.HasSuffix(raw, []byte("\n")) {
			w.Write(eol)
		}
		if i%(64<<10) == 0 {
			if err := s.ctx.Err(); err != nil {
				return err
			}
		}
	}
	for m, w := range ws {
		if err := w.Flush(); err != nil {
			return fmt.Errorf("writing %s: %w", s.files[m].Path(), err)
		}
	}
	return s.commit()
}

// batchSource yields the record batches of an Arrow or Parquet file.
type batchSource struct {
	schema *arrow.Schema
	next   func() (arrow.Record, error) // nil record at the end; caller releases
	close  func()
	codec  compress.Compression // Parquet input: the codec of its first column chunk
}

func (s *splitter) open(format Format) (src *batchSource, err error) {
	defer func() {
		if r := recover(); r != nil {
			src, err = nil, fmt.Errorf("%s: corrupt %s file (%v)", s.in, format, r)
		}
	}()
	f, err := os.Open(s.in)
	if err != nil {
		return nil, openError(s.in, err)
	}
	mem := memory.DefaultAllocator
	switch format {
	case ArrowFile:
		r, err := ipc.NewFileReader(f, ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: reading %s: %w", s.in, format, err)
		}
		i := 0
		return &batchSource{
			schema: r.Schema(),
			next: func() (arrow.Record, error) {
				if i == r.NumRecords() {
					return nil, nil
				}
				i++
				return r.RecordAt(i - 1)
			},
			close: func() { r.Close(); f.Close() },
		}, nil
	case ArrowStream:
		r, err := ipc.NewReader(f, ipc.WithAllocator(mem))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: reading %s: %w", s.in, format, err)
		}
		return &batchSource{
			schema: r.Schema(),
			next: func() (arrow.Record, error) {
				if !r.Next() {
					return nil, r.Err()
				}
				rec := r.Record()
				rec.Retain()
				return rec, nil
			},
			close: func() { r.Release(); f.Close() },
		}, nil
	case Parquet:
		pf, err := file.NewParquetReader(f)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("%s: reading Parquet: %w", s.in, err)
		}
		fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: readBatch}, mem)
		if err != nil {
			pf.Close()
			return nil, fmt.Errorf("%s: reading Parquet: %w", s.in, err)
		}
		schema, err := fr.Schema()
		if err != nil {
			pf.Close()
			return nil, fmt.Errorf("%s: reading Parquet schema: %w", s.in, err)
		}
		codec := compress.Codecs.Uncompressed
		if pf.NumRowGroups() > 0 && pf.MetaData().Schema.NumColumns() > 0 {
			if cc, err := pf.MetaData().RowGroup(0).ColumnChunk(0); err == nil {
				codec = cc.Compression()
			}
		}
		if pf.NumRows() == 0 {
			pf.Close()
			return &batchSource{schema: schema, next: func() (arrow.Record, error) { return nil, nil }, close: func() {}, codec: codec}, nil
		}
		rr, err := fr.GetRecordReader(s.ctx, nil, nil)
		if err != nil {
			pf.Close()
			return nil, fmt.Errorf("%s: reading Parquet: %w", s.in, err)
		}
		return &batchSource{
			schema: schema,
			next: func() (arrow.Record, error) {
				if !rr.Next() {
					if err := rr.Err(); err != nil && !errors.Is(err, io.EOF) {
						return nil, err
					}
					return nil, nil
				}
				rec := rr.Record()
				rec.Retain()
				return rec, nil
			},
			close: func() { rr.Release(); pf.Close() },
			codec: codec,
		}, nil
	}
	f.Close()
	return nil, fmt.Errorf("%s: %v is not an Arrow or Parquet format", s.in, format)
}

// each calls fn with every record batch of the input, recovering from
// panics of the readers.
func (s *splitter) each(src *batchSource, format Format, fn func(arrow.Record) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%s: corrupt %s file (%v)", s.in, format, r)
		}
	}()
	for {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		rec, err := src.next()
		if err != nil {
			return fmt.Errorf("%s: reading %s: %w", s.in, format, err)
		}
		if rec == nil {
			return nil
		}
		err = fn(rec)
		rec.Release()
		if err != nil {
			return err
		}
	}
}

func (s *splitter) arrow(format Format) error {
	// Pass 1: count the rows.
	src, err := s.open(format)
	if err != nil {
		return err
	}
	n := 0
	err = s.each(src, format, func(rec arrow.Record) error { n += int(rec.NumRows()); return nil })
	src.close()
	if err != nil {
		return err
	}
	if err := s.partition(n); err != nil {
		return err
	}

	// Pass 2: take each shard's rows from every batch.
	if src, err = s.open(format); err != nil {
		return err
	}
	defer src.close()
	if err := s.create(); err != nil {
		return err
	}
	defer s.abort()
	sinks := make([]*shardSink, len(s.files))
	for m, f := range s.files {
		if sinks[m], err = newShardSink(f, src.schema, format, src.codec); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path(), err)
		}
	}
	defer func() {
		for _, k := range sinks {
			k.release()
		}
	}()
	mem := memory.DefaultAllocator
	idx := make([][]int64, len(s.files))
	base := 0
	err = s.each(src, format, func(rec arrow.Record) error {
		rows := int(rec.NumRows())
		if base+rows > len(s.assign) {
			return fmt.Errorf("%s changed while it was being split", s.in)
		}
		for m := range idx {
			idx[m] = idx[m][:0]
		}
		for i := 0; i < rows; i++ {
			m := s.assign[base+i]
			idx[m] = append(idx[m], int64(i))
		}
		base += rows
		for m, rowsOf := range idx {
			if len(rowsOf) == 0 {
				continue
			}
			b := array.NewInt64Builder(mem)
			b.AppendValues(rowsOf, nil)
			ia := b.NewArray()
			b.Release()
			out, err := compute.Take(s.ctx, compute.TakeOptions{BoundsCheck: false},
				&compute.RecordDatum{Value: rec}, &compute.ArrayDatum{Value: ia.Data()})
			ia.Release()
			if err != nil {
				return fmt.Errorf("%s: selecting rows: %w", s.in, err)
			}
			taken := out.(*compute.RecordDatum).Value
			taken.Retain()
			out.Release()
			if err := sinks[m].add(taken); err != nil {
				return fmt.Errorf("writing %s: %w", s.files[m].Path(), err)
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for m, k := range sinks {
		if err := k.close(); err != nil {
			return fmt.Errorf("writing %s: %w", s.files[m].Path(), err)
		}
	}
	return s.commit()
}

// shardSink gathers the rows of one shard into batches of about
// writeBatch rows and writes them in the input's format.
type shardSink struct {
	schema  *arrow.Schema
	pending []arrow.Record
	rows    int
	write   func(arrow.Record) error
	finish  func() error
	closed  bool
}

func newShardSink(f *atomicfile.File, schema *arrow.Schema, format Format, codec compress.Compression) (*shardSink, error) {
	mem := memory.DefaultAllocator
	k := &shardSink{schema: schema}
	switch format {
	case ArrowFile:
		w, err := ipc.NewFileWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		if err != nil {
			return nil, err
		}
		k.write, k.finish = w.Write, w.Close
	case ArrowStream:
		w := ipc.NewWriter(f, ipc.WithSchema(schema), ipc.WithAllocator(mem))
		k.write, k.finish = w.Write, w.Close
	case Parquet:
		// Keep the user's schema metadata; pqarrow stores the Arrow schema
		// itself again under ARROW:schema.
		md := schema.Metadata()
		var keys, vals []string
		for i, key := range md.Keys() {
			if key != "ARROW:schema" {
				keys, vals = append(keys, key), append(vals, md.Values()[i])
			}
		}
		meta := arrow.NewMetadata(keys, vals)
		schema = arrow.NewSchema(schema.Fields(), &meta)
		k.schema = schema
		// Dictionary-encode text columns only: for numeric columns of
		// mostly distinct values it does not pay and slows writing down.
		opts := []parquet.WriterProperty{parquet.WithCompression(codec), parquet.WithAllocator(mem), parquet.WithDictionaryDefault(false)}
		for _, f := range schema.Fields() {
			switch f.Type.ID() {
			case arrow.STRING, arrow.LARGE_STRING, arrow.BINARY, arrow.LARGE_BINARY, arrow.DICTIONARY:
				opts = append(opts, parquet.WithDictionaryFor(f.Name, true))
			}
		}
		props := parquet.NewWriterProperties(opts...)
		w, err := pqarrow.NewFileWriter(schema, noCloser{f}, props, pqarrow.NewArrowWriterProperties(pqarrow.WithStoreSchema()))
		if err != nil {
			return nil, err
		}
		k.write, k.finish = w.Write, w.Close
	default:
		return nil, errors.New("unsupported format")
	}
	return k, nil
}

// add takes ownership of rec.
func (k *shardSink) add(rec arrow.Record) error {
	k.pending = append(k.pending, rec)
	k.rows += int(rec.NumRows())
	if k.rows >= writeBatch {
		return k.flush()
	}
	return nil
}

func (k *shardSink) flush() error {
	if len(k.pending) == 0 {
		return nil
	}
	var rec arrow.Record
	if len(k.pending) == 1 {
		rec = k.pending[0]
		rec.Retain()
	} else {
		cols := make([]arrow.Array, k.schema.NumFields())
		parts := make([]arrow.Array, len(k.pending))
		for j := range cols {
			for i, p := range k.pending {
				parts[i] = p.Column(j)
			}
			c, err := array.Concatenate(parts, memory.DefaultAllocator)
			if err != nil {
				for _, c := range cols[:j] {
					c.Release()
				}
				return err
			}
			cols[j] = c
		}
		rec = array.NewRecord(k.schema, cols, int64(k.rows))
		for _, c := range cols {
			c.Release()
		}
	}
	for _, p := range k.pending {
		p.Release()
	}
	k.pending, k.rows = k.pending[:0], 0
	// The taken batches carry the input schema; give the record this
	// sink's (Parquet drops ARROW:schema from the metadata).
	if rec.Schema() != k.schema {
		r2 := array.NewRecord(k.schema, rec.Columns(), rec.NumRows())
		rec.Release()
		rec = r2
	}
	err := k.write(rec)
	rec.Release()
	return err
}

func (k *shardSink) close() error {
	if err := k.flush(); err != nil {
		return err
	}
	k.closed = true
	return k.finish()
}

// release frees pending batches of a sink that was not closed.
func (k *shardSink) release() {
	if k == nil {
		return
	}
	for _, p := range k.pending {
		p.Release()
	}
	k.pending = nil
	if !k.closed {
		k.closed = true
		k.finish()
	}
}
